/**
 * Typed descriptors of Kubernetes API kinds: where their objects live (group, version, plural,
 * scope) and the Schema they decode with. Every object Schema here keeps the fields it does not
 * model, so a read-modify-write never drops data.
 *
 * The built-in kinds are generated from the Kubernetes OpenAPI document into `src/kinds/`, one
 * module per API group and version (`operatorkit/kinds/apps/v1`, …, see docs/kinds.md); this module
 * re-exports the common ones (`Kind.ConfigMap`, `Kind.Deployment`, …) and builds custom kinds.
 *
 * @since 0.1.0
 */
import type { Pipeable } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import * as internal from "./internal/kind.ts"
import * as metaV1 from "./kinds/meta/v1.ts"

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = internal.TypeId

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
export const Open: <const F extends Schema.Struct.Fields>(
  fields: F
) => Schema.StructWithRest<Schema.Struct<F>, readonly [Schema.$Record<Schema.String, Schema.Unknown>]> = internal.Open

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
export const OwnerReference: Schema.Codec<OwnerReference> = metaV1.OwnerReference

/**
 * @since 0.1.0
 * @category models
 */
export type OwnerReference = metaV1.OwnerReference

/**
 * `metadata` of a stored object (its name is always set). Timestamps stay RFC 3339 strings, as on
 * the wire. Generated from the Kubernetes OpenAPI document, like the built-in kinds (see
 * `operatorkit/kinds/meta/v1`, whose `ObjectMeta` leaves the name optional, as in object templates).
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
export const ObjectMeta: Schema.Codec<ObjectMeta> = metaV1.NamedObjectMeta

/**
 * @since 0.1.0
 * @category models
 */
export type ObjectMeta = metaV1.NamedObjectMeta

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
  /**
   * True for a kind made by {@link metadataOnly}: every call asks the API server for the objects'
   * metadata only (`PartialObjectMetadata`).
   */
  readonly metadataOnly?: boolean | undefined
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
export const make: <S extends Schema.Codec<any, any>>(options: KindOptions<S>) => Kind<S["Type"], true> = internal.builtin

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
): Kind<CustomObject<Spec["Type"], Status["Type"]>, false> & {
  readonly specSchema: Spec
  readonly statusSchema: Status | undefined
} => {
  const { spec, status, ...rest } = options
  const schema = Open({
    apiVersion: opt(Schema.String),
    kind: opt(Schema.String),
    metadata: ObjectMeta,
    spec: spec as Spec,
    status: opt((status ?? Schema.Never) as Status)
  })
  // the parts are kept for the CRD generator
  return Object.assign(internal.build({ ...rest, schema }, false), { specSchema: spec, statusSchema: status }) as
    & Kind<CustomObject<Spec["Type"], Status["Type"]>, false>
    & { readonly specSchema: Spec; readonly statusSchema: Status | undefined }
}

/**
 * An object of a custom kind made with {@link custom}: its `spec`, an optional `status`, and every
 * field the Schema does not model. (Written out so the declaration files check without
 * `skipLibCheck`: the inferred Schema type did not satisfy `KubeObject` there.)
 *
 * @since 0.1.0
 * @category models
 */
export type CustomObject<Spec, Status> = {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: ObjectMeta
  readonly spec: Spec
  readonly status?: Status
} & { readonly [key: string]: unknown }

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
  internal.build(options, false)

/**
 * An object's metadata without the rest, as the API server sends it to a client that asks for
 * `PartialObjectMetadata` (`apiVersion: meta.k8s.io/v1`); what a {@link metadataOnly} kind decodes to.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 *
 * const meta: Kind.PartialObjectMetadata = { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: { name: "a" } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PartialObjectMetadata extends KubeObject {}

/**
 * The Schema of {@link PartialObjectMetadata}: `apiVersion`, `kind` and `metadata`, keeping any
 * other field.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind } from "operatorkit"
 *
 * Schema.decodeUnknownSync(Kind.PartialObjectMetadataSchema)({ metadata: { name: "a" } }).metadata.name // => "a"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const PartialObjectMetadataSchema: Schema.Codec<PartialObjectMetadata> = object({})

/**
 * The same kind, but every call asks the API server for the objects' metadata only
 * (`Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`, and
 * `…;as=PartialObjectMetadataList;…` on lists): an informer, Store or controller watch of it keeps
 * names, labels, annotations, owner references, finalizers and versions, not `spec`, `data` or
 * `status`. Use it where only metadata matters (owned objects, Secrets, Pods by label): the server
 * sends, and the process holds, a fraction of the bytes. Patches and deletes work as on the full kind
 * (answered with metadata); create and replace would send only metadata.
 *
 * @example
 * ```ts
 * import { Informer, Kind, Watch } from "operatorkit"
 *
 * const PodMeta = Kind.metadataOnly(Kind.Pod)
 * const pods = Informer.make(PodMeta, { namespace: "web", labelSelector: "app=web" })
 * const owned = Watch.owns(Kind.metadataOnly(Kind.Secret))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const metadataOnly = <B extends boolean>(kind: Kind<any, B>): Kind<PartialObjectMetadata, B> =>
  kind.metadataOnly === true
    ? kind
    : internal.build({
      group: kind.group,
      version: kind.version,
      kind: kind.kind,
      namespaced: kind.namespaced,
      plural: kind.plural,
      singular: kind.singular,
      listKind: kind.listKind,
      shortNames: kind.shortNames,
      categories: kind.categories,
      subresources: kind.subresources,
      schema: PartialObjectMetadataSchema
    }, kind.builtin, true)

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
// Built-in kinds: generated from the Kubernetes OpenAPI document into src/kinds/<group>/<version>.ts
// (each importable on its own as operatorkit/kinds/<group>/<version>); the common ones re-exported here.

export {
  /** core/v1 ConfigMap. */
  ConfigMap,
  /** core/v1 Endpoints. */
  Endpoints,
  /** core/v1 Event (what `kubectl describe` shows). */
  Event,
  /** core/v1 Namespace. */
  Namespace,
  /** core/v1 Node. */
  Node,
  /** core/v1 PersistentVolume. */
  PersistentVolume,
  /** core/v1 PersistentVolumeClaim. */
  PersistentVolumeClaim,
  /** core/v1 Pod. */
  Pod,
  /** core/v1 ResourceQuota. */
  ResourceQuota,
  /** core/v1 Secret (`data` values are base64, as on the wire). */
  Secret,
  /** core/v1 Service. */
  Service,
  /** core/v1 ServiceAccount. */
  ServiceAccount
} from "./kinds/core/v1.ts"
export {
  /** apps/v1 DaemonSet. */
  DaemonSet,
  /** apps/v1 Deployment. */
  Deployment,
  /** apps/v1 ReplicaSet. */
  ReplicaSet,
  /** apps/v1 StatefulSet. */
  StatefulSet
} from "./kinds/apps/v1.ts"
export {
  /** coordination.k8s.io/v1 Lease (leader election). */
  Lease
} from "./kinds/coordination/v1.ts"
export {
  /** rbac.authorization.k8s.io/v1 ClusterRole. */
  ClusterRole,
  /** rbac.authorization.k8s.io/v1 ClusterRoleBinding. */
  ClusterRoleBinding,
  /** rbac.authorization.k8s.io/v1 Role. */
  Role,
  /** rbac.authorization.k8s.io/v1 RoleBinding. */
  RoleBinding
} from "./kinds/rbac/v1.ts"
export {
  /** apiextensions.k8s.io/v1 CustomResourceDefinition. */
  CustomResourceDefinition
} from "./kinds/apiextensions/v1.ts"

const Condition = Open({
  type: Schema.String,
  status: Schema.String,
  reason: opt(Schema.String),
  message: opt(Schema.String),
  lastTransitionTime: opt(Schema.String),
  observedGeneration: opt(Schema.Number)
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
