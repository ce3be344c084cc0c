/**
 * Typed descriptors of Kubernetes API kinds: where their objects live (group, version, plural,
 * scope) and the Schema they decode with. Every object Schema here keeps the fields it does not
 * model, so a read-modify-write never drops data.
 *
 * @since 0.1.0
 */
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Kind"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Kind"

/**
 * A Struct that keeps every field it does not declare (decoded as `unknown`, encoded back as is).
 * Use it for each level of an object you read and write back.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * const Spec = Kind.Open({ replicas: Schema.Int })
 * Schema.decodeUnknownSync(Spec)({ replicas: 1, extra: true }) // => { replicas: 1, extra: true }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Open = <const F extends Schema.Struct.Fields>(fields: F) =>
  Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)]).annotate({
    "x-kubernetes-preserve-unknown-fields": true
  })

const StringMap = Schema.Record(Schema.String, Schema.String)
const opt = Schema.optionalKey

/**
 * An owner reference (`metadata.ownerReferences[]`).
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const ref: Kind.OwnerReference = { apiVersion: "v1", kind: "ConfigMap", name: "a", uid: "…", controller: true }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OwnerReference = Open({
  apiVersion: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  uid: Schema.String,
  controller: opt(Schema.Boolean),
  blockOwnerDeletion: opt(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category models
 */
export type OwnerReference = typeof OwnerReference.Type

/**
 * `metadata` of every object. Timestamps stay RFC 3339 strings, as on the wire.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * Schema.decodeUnknownSync(Kind.ObjectMeta)({ name: "a", labels: { app: "x" } }).labels // => { app: "x" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ObjectMeta = Open({
  name: Schema.String,
  generateName: opt(Schema.String),
  namespace: opt(Schema.String),
  uid: opt(Schema.String),
  resourceVersion: opt(Schema.String),
  generation: opt(Schema.Number),
  creationTimestamp: opt(Schema.String),
  deletionTimestamp: opt(Schema.String),
  deletionGracePeriodSeconds: opt(Schema.Number),
  labels: opt(StringMap),
  annotations: opt(StringMap),
  finalizers: opt(Schema.Array(Schema.String)),
  ownerReferences: opt(Schema.Array(OwnerReference)),
  managedFields: opt(Schema.Array(Schema.Unknown))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ObjectMeta = typeof ObjectMeta.Type

/**
 * What every Kubernetes object has.
 *
 * @since 0.1.0
 * @category models
 */
export interface KubeObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata: ObjectMeta
}

/**
 * The descriptor of an API kind whose objects decode to `A`. `Builtin` is true for kinds the API
 * server compiles in (they accept strategic merge patches) and false for custom resources.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kind<out A extends KubeObject = KubeObject, out Builtin extends boolean = boolean> extends Pipeable {
  readonly [TypeId]: TypeId
  /** "" for the core group. */
  readonly group: string
  readonly version: string
  /** "v1" or "group/version". */
  readonly apiVersion: string
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly listKind: string
  readonly namespaced: boolean
  readonly builtin: Builtin
  readonly shortNames: ReadonlyArray<string>
  readonly categories: ReadonlyArray<string>
  readonly subresources: { readonly status: boolean; readonly scale: boolean }
  /** Decodes objects of this kind; encodes them before they are sent. */
  readonly schema: Schema.Codec<A, any>
}

/**
 * The decoded object type of a kind.
 *
 * @since 0.1.0
 * @category models
 */
export type Type<K> = K extends Kind<infer A, any> ? A : never

/**
 * Any kind, whatever its object type.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Kind<any, boolean>

/**
 * Options for {@link make} and {@link custom}.
 *
 * @since 0.1.0
 * @category models
 */
export interface KindOptions<S extends Schema.Codec<any, any>> {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly namespaced: boolean
  readonly schema: S
  /** Default: the kind in lower case, made plural by English rules (`Policy` → `policies`). */
  readonly plural?: string
  readonly singular?: string
  readonly listKind?: string
  readonly shortNames?: ReadonlyArray<string>
  readonly categories?: ReadonlyArray<string>
  readonly subresources?: { readonly status?: boolean; readonly scale?: boolean }
}

const pluralize = (singular: string) =>
  /(s|x|z|ch|sh)$/.test(singular)
    ? `${singular}es`
    : /[^aeiou]y$/.test(singular)
    ? `${singular.slice(0, -1)}ies`
    : `${singular}s`

const KindProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toString(this: Kind) {
    return `${this.kind}.${this.apiVersion}`
  }
}

const build = <S extends Schema.Codec<any, any>, B extends boolean>(
  options: KindOptions<S>,
  builtin: B
): Kind<S["Type"], B> => {
  const singular = options.singular ?? options.kind.toLowerCase()
  return Object.assign(Object.create(KindProto), {
    group: options.group,
    version: options.version,
    apiVersion: options.group === "" ? options.version : `${options.group}/${options.version}`,
    kind: options.kind,
    plural: options.plural ?? pluralize(singular),
    singular,
    listKind: options.listKind ?? `${options.kind}List`,
    namespaced: options.namespaced,
    builtin,
    shortNames: options.shortNames ?? [],
    categories: options.categories ?? [],
    subresources: { status: options.subresources?.status ?? false, scale: options.subresources?.scale ?? false },
    schema: options.schema
  })
}

/**
 * Describes a built-in kind (one the API server compiles in; strategic merge patches allowed).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * const PriorityClass = Kind.make({
 *   group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", namespaced: false,
 *   schema: Kind.object({ value: Schema.Number, description: Schema.optionalKey(Schema.String) })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <S extends Schema.Codec<any, any>>(options: KindOptions<S>): Kind<S["Type"], true> =>
  build(options, true)

/**
 * The Schema of a whole object: `apiVersion`, `kind`, `metadata` and the given top-level fields,
 * keeping fields it does not model.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * const Widget = Kind.object({ spec: Kind.Open({ size: Schema.Int }) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const object = <const F extends Schema.Struct.Fields>(fields: F) =>
  Open({
    apiVersion: opt(Schema.String),
    kind: opt(Schema.String),
    metadata: ObjectMeta,
    ...fields
  })

/**
 * Options for {@link custom}: either the `spec` (and `status`) Schemas, or a whole object `schema`.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomOptions<Spec extends Schema.Codec<any, any>, Status extends Schema.Codec<any, any>> =
  & Omit<KindOptions<any>, "schema">
  & { readonly spec: Spec; readonly status?: Status }

/**
 * Describes a custom resource from its `spec` and `status` Schemas. The same Schemas generate the
 * CRD's `openAPIV3Schema` (see `Crd`). `status` is optional on objects; `spec` is required.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * const Tenant = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Tenant", namespaced: false,
 *   spec: Schema.Struct({ owner: Schema.String }),
 *   status: Schema.Struct({ phase: Schema.optionalKey(Schema.String) }),
 *   subresources: { status: true }
 * })
 * type Tenant = Kind.Type<typeof Tenant> // { metadata, spec: { owner: string }, status?: { phase?: string }, … }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom = <Spec extends Schema.Codec<any, any>, Status extends Schema.Codec<any, any> = typeof Schema.Never>(
  options: CustomOptions<Spec, Status>
) => {
  const { spec, status, ...rest } = options
  const schema = Open({
    apiVersion: opt(Schema.String),
    kind: opt(Schema.String),
    metadata: ObjectMeta,
    spec: spec as Spec,
    status: opt((status ?? Schema.Never) as Status)
  })
  // the parts are kept for the CRD generator
  return Object.assign(build({ ...rest, schema }, false), { specSchema: spec, statusSchema: status }) as
    & Kind<typeof schema.Type, false>
    & { readonly specSchema: Spec; readonly statusSchema: Status | undefined }
}

/**
 * Describes a custom resource from a whole object Schema (use {@link object} to build one).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * const Note = Kind.customSchema({
 *   group: "example.com", version: "v1", kind: "Note", namespaced: true,
 *   schema: Kind.object({ text: Schema.String })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const customSchema = <S extends Schema.Codec<any, any>>(options: KindOptions<S>): Kind<S["Type"], false> =>
  build(options, false)

/**
 * Whether a value is a {@link Kind}.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * Kind.isKind(Kind.ConfigMap) // => true
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isKind = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * The collection path of a kind: `/api/v1/namespaces/a/configmaps`, `/apis/apps/v1/deployments`, …
 * (no namespace segment for cluster-scoped kinds or lists across namespaces).
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * Kind.collectionPath(Kind.Deployment, "web") // => "/apis/apps/v1/namespaces/web/deployments"
 * Kind.collectionPath(Kind.Namespace) // => "/api/v1/namespaces"
 * ```
 *
 * @since 0.1.0
 * @category paths
 */
export const collectionPath = (kind: Any, namespace?: string): string => {
  const base = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`
  return kind.namespaced && namespace !== undefined && namespace !== ""
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    : `${base}/${kind.plural}`
}

/**
 * The path of one object, optionally of a subresource.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * Kind.objectPath(Kind.ConfigMap, "a", "b") // => "/api/v1/namespaces/a/configmaps/b"
 * Kind.objectPath(Kind.Namespace, undefined, "a", "status") // => "/api/v1/namespaces/a/status"
 * ```
 *
 * @since 0.1.0
 * @category paths
 */
export const objectPath = (kind: Any, namespace: string | undefined, name: string, subresource?: string): string =>
  `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}${subresource !== undefined ? `/${subresource}` : ""}`

// ---------------------------------------------------------------------------------------------
// Built-in kinds. Only what operators commonly read is modelled; every level keeps the rest.

const Condition = Open({
  type: Schema.String,
  status: Schema.String,
  reason: opt(Schema.String),
  message: opt(Schema.String),
  lastTransitionTime: opt(Schema.String),
  observedGeneration: opt(Schema.Number)
})

const LabelSelector = Open({
  matchLabels: opt(StringMap),
  matchExpressions: opt(Schema.Array(Schema.Unknown))
})

const core = <S extends Schema.Codec<any, any>>(
  kind: string,
  namespaced: boolean,
  schema: S,
  extra: Partial<Omit<KindOptions<any>, "schema">> = {}
) => make({ group: "", version: "v1", kind, namespaced, schema, ...extra })

/**
 * core/v1 Namespace.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const ns: Kind.Type<typeof Kind.Namespace> = { metadata: { name: "team-a" } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Namespace = make({
  group: "",
  version: "v1",
  kind: "Namespace",
  namespaced: false,
  subresources: { status: true },
  schema: object({
    spec: opt(Open({ finalizers: opt(Schema.Array(Schema.String)) })),
    status: opt(Open({ phase: opt(Schema.String) }))
  })
})

/**
 * core/v1 ConfigMap.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const cm: Kind.Type<typeof Kind.ConfigMap> = { metadata: { name: "settings", namespace: "a" }, data: { mode: "fast" } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const ConfigMap = core("ConfigMap", true, object({
  data: opt(StringMap),
  binaryData: opt(StringMap),
  immutable: opt(Schema.Boolean)
}))

/**
 * core/v1 Secret (`data` values are base64, as on the wire).
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const s: Kind.Type<typeof Kind.Secret> = { metadata: { name: "creds", namespace: "a" }, stringData: { password: "…" } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Secret = core("Secret", true, object({
  type: opt(Schema.String),
  data: opt(StringMap),
  stringData: opt(StringMap),
  immutable: opt(Schema.Boolean)
}))

/**
 * core/v1 ServiceAccount.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const sa: Kind.Type<typeof Kind.ServiceAccount> = { metadata: { name: "operator", namespace: "a" } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const ServiceAccount = core("ServiceAccount", true, object({
  secrets: opt(Schema.Array(Schema.Unknown)),
  automountServiceAccountToken: opt(Schema.Boolean)
}))

/**
 * core/v1 Service.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const svc: Kind.Type<typeof Kind.Service> = { metadata: { name: "web", namespace: "a" }, spec: { selector: { app: "web" }, ports: [{ port: 80 }] } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Service = core("Service", true, object({
  spec: opt(Open({
    type: opt(Schema.String),
    selector: opt(StringMap),
    ports: opt(Schema.Array(Open({ port: Schema.Number, name: opt(Schema.String), protocol: opt(Schema.String) }))),
    clusterIP: opt(Schema.String)
  })),
  status: opt(Open({}))
}), { subresources: { status: true } })

/**
 * core/v1 Pod.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const pod: Kind.Type<typeof Kind.Pod> = { metadata: { name: "p", namespace: "a" }, spec: { containers: [{ name: "c", image: "busybox" }] } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Pod = core("Pod", true, object({
  spec: opt(Open({
    containers: Schema.Array(Open({ name: Schema.String, image: opt(Schema.String) })),
    nodeName: opt(Schema.String),
    serviceAccountName: opt(Schema.String)
  })),
  status: opt(Open({ phase: opt(Schema.String), conditions: opt(Schema.Array(Condition)) }))
}), { subresources: { status: true } })

/**
 * core/v1 Event (what `kubectl describe` shows).
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const e: Kind.Type<typeof Kind.Event> = {
 *   metadata: { name: "x.1", namespace: "a" },
 *   involvedObject: { kind: "ConfigMap", name: "x", namespace: "a" }, reason: "Synced", message: "ok", type: "Normal"
 * }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Event = core("Event", true, object({
  involvedObject: Open({
    apiVersion: opt(Schema.String),
    kind: opt(Schema.String),
    name: opt(Schema.String),
    namespace: opt(Schema.String),
    uid: opt(Schema.String),
    resourceVersion: opt(Schema.String)
  }),
  reason: opt(Schema.String),
  message: opt(Schema.String),
  type: opt(Schema.String),
  count: opt(Schema.Number),
  firstTimestamp: opt(Schema.NullOr(Schema.String)),
  lastTimestamp: opt(Schema.NullOr(Schema.String)),
  eventTime: opt(Schema.NullOr(Schema.String)),
  source: opt(Open({ component: opt(Schema.String), host: opt(Schema.String) })),
  reportingComponent: opt(Schema.String),
  reportingInstance: opt(Schema.String)
}))

/**
 * core/v1 ResourceQuota.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const q: Kind.Type<typeof Kind.ResourceQuota> = { metadata: { name: "q", namespace: "a" }, spec: { hard: { pods: "10" } } }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const ResourceQuota = core("ResourceQuota", true, object({
  spec: opt(Open({ hard: opt(StringMap) })),
  status: opt(Open({ hard: opt(StringMap), used: opt(StringMap) }))
}), { subresources: { status: true } })

/**
 * apps/v1 Deployment.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const replicas = (d: Kind.Type<typeof Kind.Deployment>) => d.spec?.replicas ?? 1
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Deployment = make({
  group: "apps",
  version: "v1",
  kind: "Deployment",
  namespaced: true,
  subresources: { status: true, scale: true },
  schema: object({
    spec: opt(Open({
      replicas: opt(Schema.Number),
      selector: opt(LabelSelector),
      template: opt(Open({ metadata: opt(Open({})), spec: opt(Open({})) }))
    })),
    status: opt(Open({
      replicas: opt(Schema.Number),
      readyReplicas: opt(Schema.Number),
      availableReplicas: opt(Schema.Number),
      observedGeneration: opt(Schema.Number),
      conditions: opt(Schema.Array(Condition))
    }))
  })
})

/**
 * coordination.k8s.io/v1 Lease (leader election).
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const holder = (l: Kind.Type<typeof Kind.Lease>) => l.spec?.holderIdentity
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Lease = make({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  namespaced: true,
  schema: object({
    spec: opt(Open({
      holderIdentity: opt(Schema.NullOr(Schema.String)),
      leaseDurationSeconds: opt(Schema.NullOr(Schema.Number)),
      acquireTime: opt(Schema.NullOr(Schema.String)),
      renewTime: opt(Schema.NullOr(Schema.String)),
      leaseTransitions: opt(Schema.NullOr(Schema.Number))
    }))
  })
})

const PolicyRule = Open({
  apiGroups: opt(Schema.Array(Schema.String)),
  resources: opt(Schema.Array(Schema.String)),
  verbs: Schema.Array(Schema.String),
  resourceNames: opt(Schema.Array(Schema.String)),
  nonResourceURLs: opt(Schema.Array(Schema.String))
})
const RoleRef = Open({ apiGroup: Schema.String, kind: Schema.String, name: Schema.String })
const Subject = Open({
  kind: Schema.String,
  name: Schema.String,
  apiGroup: opt(Schema.String),
  namespace: opt(Schema.String)
})
const rbac = <S extends Schema.Codec<any, any>>(kind: string, namespaced: boolean, schema: S) =>
  make({ group: "rbac.authorization.k8s.io", version: "v1", kind, namespaced, schema })

/**
 * rbac.authorization.k8s.io/v1 Role.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const r: Kind.Type<typeof Kind.Role> = { metadata: { name: "read", namespace: "a" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const Role = rbac("Role", true, object({ rules: opt(Schema.Array(PolicyRule)) }))

/**
 * rbac.authorization.k8s.io/v1 ClusterRole.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const r: Kind.Type<typeof Kind.ClusterRole> = { metadata: { name: "read-all" }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["get"] }] }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const ClusterRole = rbac("ClusterRole", false, object({
  rules: opt(Schema.Array(PolicyRule)),
  aggregationRule: opt(Open({}))
}))

/**
 * rbac.authorization.k8s.io/v1 RoleBinding.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const rb: Kind.Type<typeof Kind.RoleBinding> = {
 *   metadata: { name: "read", namespace: "a" },
 *   roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read" },
 *   subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const RoleBinding = rbac("RoleBinding", true, object({ roleRef: RoleRef, subjects: opt(Schema.Array(Subject)) }))

/**
 * rbac.authorization.k8s.io/v1 ClusterRoleBinding.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const crb: Kind.Type<typeof Kind.ClusterRoleBinding> = {
 *   metadata: { name: "read-all" },
 *   roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "read-all" },
 *   subjects: [{ kind: "ServiceAccount", name: "operator", namespace: "ops" }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const ClusterRoleBinding = rbac("ClusterRoleBinding", false, object({
  roleRef: RoleRef,
  subjects: opt(Schema.Array(Subject))
}))

/**
 * apiextensions.k8s.io/v1 CustomResourceDefinition.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const established = (crd: Kind.Type<typeof Kind.CustomResourceDefinition>) =>
 *   crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ?? false
 * ```
 *
 * @since 0.1.0
 * @category kinds
 */
export const CustomResourceDefinition = make({
  group: "apiextensions.k8s.io",
  version: "v1",
  kind: "CustomResourceDefinition",
  namespaced: false,
  subresources: { status: true },
  schema: object({
    spec: Open({
      group: Schema.String,
      scope: Schema.String,
      names: Open({
        plural: Schema.String,
        kind: Schema.String,
        singular: opt(Schema.String),
        listKind: opt(Schema.String),
        shortNames: opt(Schema.Array(Schema.String)),
        categories: opt(Schema.Array(Schema.String))
      }),
      versions: Schema.Array(Open({ name: Schema.String, served: Schema.Boolean, storage: Schema.Boolean })),
      conversion: opt(Open({}))
    }),
    // a CRD just created answers `conditions: null`
    status: opt(Open({
      conditions: opt(Schema.NullOr(Schema.Array(Condition))),
      acceptedNames: opt(Open({})),
      storedVersions: opt(Schema.NullOr(Schema.Array(Schema.String)))
    }))
  })
})

/**
 * A condition as most kinds carry them in `status.conditions`.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const ready: Kind.Condition = { type: "Ready", status: "True", reason: "Reconciled", observedGeneration: 3 }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConditionSchema = Condition

/**
 * @since 0.1.0
 * @category models
 */
export type Condition = typeof Condition.Type
