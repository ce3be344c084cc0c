/**
 * CustomResourceDefinitions from the Schemas that decode their objects: one Effect Schema types the
 * objects, decodes them, and becomes the CRD's structural `openAPIV3Schema`.
 *
 * - {@link make} builds an `apiextensions.k8s.io/v1` CRD (every version, one storage version, names,
 *   scope, subresources, printer columns); a Schema that cannot be expressed structurally is a
 *   {@link CrdDefinitionError} naming the path.
 * - Helpers for the Kubernetes-specific constructs: {@link IntOrString}, {@link withDefault},
 *   {@link listMap}, {@link listSet}, {@link listAtomic}, {@link preserveUnknownFields},
 *   {@link embeddedResource}.
 * - {@link toYaml} and {@link toJson} for people who apply with kubectl (`npx operatorkit crd <module>`).
 *
 * Installing a definition on a cluster is the `Crd` service's (`Crd.ts`); moving its stored objects
 * to a new storage version is `CrdMigration`'s.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"

import * as CrdSchema from "./internal/crd/schema.ts"
import * as Yaml from "./internal/crd/yaml.ts"
import * as Kind from "./Kind.ts"

// ---------------------------------------------------------------------------------------------
// Schema helpers

/**
 * Kubernetes' IntOrString (`x-kubernetes-int-or-string`): an integer or a string, such as a port
 * number or name, or `"25%"`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Spec = Schema.Struct({ maxUnavailable: CrdDefinition.IntOrString })
 * Schema.decodeUnknownSync(Spec)({ maxUnavailable: "25%" }) // => { maxUnavailable: "25%" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const IntOrString = Schema.Union([Schema.Int, Schema.String]).annotate({
  "x-kubernetes-int-or-string": true
})

/**
 * A default for a field: the key may be missing from what the server sends (the decoder fills the
 * value in) and the CRD declares `default`, so the API server fills it in too. `value` is the
 * encoded (JSON) form.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Spec = Schema.Struct({ replicas: Schema.Int.pipe(CrdDefinition.withDefault(1)) })
 * Schema.decodeUnknownSync(Spec)({}) // => { replicas: 1 }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const withDefault: {
  <S extends Schema.Top>(value: S["Encoded"]): (self: S) => Schema.decodeTo<S, Schema.optionalKey<Schema.toEncoded<S>>>
  <S extends Schema.Top>(self: S, value: S["Encoded"]): Schema.decodeTo<S, Schema.optionalKey<Schema.toEncoded<S>>>
} = dual(2, <S extends Schema.Top>(self: S, value: S["Encoded"]) =>
  // the default sits on the encoded side, which is what the CRD describes
  Schema.optionalKey(Schema.toEncoded(self).annotate({ default: value })).pipe(
    Schema.decodeTo(self, {
      decode: SchemaGetter.withDefault(Effect.succeed(value)),
      encode: SchemaGetter.passthrough()
    })
  ))

/**
 * Marks a list of objects as a map keyed by `keys` (`x-kubernetes-list-type: map`): server-side apply
 * merges its elements by key, and two elements with the same keys are refused. The keys must be
 * required fields (or have a {@link withDefault}) of scalar type; the types check that they are fields
 * the elements always have.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Ports = Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Int })).pipe(CrdDefinition.listMap(["name"]))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const listMap: {
  <const K extends string>(
    keys: readonly [K, ...Array<K>]
  ): <S extends Schema.Top & { readonly Type: ReadonlyArray<{ readonly [k in K]: unknown }> }>(self: S) => S["Rebuild"]
  <S extends Schema.Top & { readonly Type: ReadonlyArray<{ readonly [k in K]: unknown }> }, const K extends string>(
    self: S,
    keys: readonly [K, ...Array<K>]
  ): S["Rebuild"]
} = dual(
  2,
  (self: Schema.Top, keys: ReadonlyArray<string>) =>
    self.annotate({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [...keys] })
)

/**
 * Marks a list of scalars as a set (`x-kubernetes-list-type: set`): duplicates are refused and
 * server-side apply merges the elements. `Schema.isUnique()` on a list of scalars says the same.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Tags = CrdDefinition.listSet(Schema.Array(Schema.String))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const listSet = <S extends Schema.Top>(self: S): S["Rebuild"] => self.annotate({ "x-kubernetes-list-type": "set" })

/**
 * Marks a list as atomic (`x-kubernetes-list-type: atomic`): server-side apply replaces it whole.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Args = CrdDefinition.listAtomic(Schema.Array(Schema.String))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const listAtomic = <S extends Schema.Top>(self: S): S["Rebuild"] =>
  self.annotate({ "x-kubernetes-list-type": "atomic" })

/**
 * Tells the API server to keep fields the Schema does not declare
 * (`x-kubernetes-preserve-unknown-fields`); on a value of no fixed shape it accepts any JSON. For an
 * object whose undeclared fields the decoder should keep as well, use `Kind.Open`, which carries
 * this annotation.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Spec = Schema.Struct({ values: CrdDefinition.preserveUnknownFields(Schema.Record(Schema.String, Schema.Unknown)) })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const preserveUnknownFields = <S extends Schema.Top>(self: S): S["Rebuild"] =>
  self.annotate({ "x-kubernetes-preserve-unknown-fields": true })

/**
 * Marks an object as a whole Kubernetes object embedded in this one (`x-kubernetes-embedded-resource`),
 * like a Pod template: the server checks its `apiVersion`, `kind` and `metadata`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * const Template = CrdDefinition.embeddedResource(Kind.Open({ apiVersion: Schema.String, kind: Schema.String }))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const embeddedResource = <S extends Schema.Top>(self: S): S["Rebuild"] =>
  self.annotate({ "x-kubernetes-embedded-resource": true })

/**
 * Any Kubernetes object embedded in another (`x-kubernetes-embedded-resource`, keeping every field).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition } from "operatorkit"
 *
 * const Spec = Schema.Struct({ template: CrdDefinition.EmbeddedResource })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddedResource = embeddedResource(Kind.Open({
  apiVersion: Schema.String,
  kind: Schema.String,
  metadata: Schema.optionalKey(Kind.Open({
    name: Schema.optionalKey(Schema.String),
    namespace: Schema.optionalKey(Schema.String),
    labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
    annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
  }))
}))

// ---------------------------------------------------------------------------------------------
// Definitions

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Crd/Definition"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Crd/Definition"

/**
 * A custom kind: what `Kind.custom` and `Kind.customSchema` return.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomKind = Kind.Kind<any, false>

/**
 * An additional printer column (`kubectl get` shows it).
 *
 * @since 0.1.0
 * @category models
 */
export interface PrinterColumn {
  readonly name: string
  readonly type: "integer" | "number" | "string" | "boolean" | "date"
  /** A JSONPath into the object, such as `.spec.replicas`. */
  readonly jsonPath: string
  readonly description?: string
  readonly format?: string
  /** 0 shows the column always, higher numbers only with `-o wide`. */
  readonly priority?: number
}

/**
 * Where the scale subresource finds the replica counts. Defaults: `.spec.replicas`, `.status.replicas`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ScaleOptions {
  readonly specReplicasPath?: string
  readonly statusReplicasPath?: string
  /** Needed for a HorizontalPodAutoscaler: where the label selector string is, such as `.status.selector`. */
  readonly labelSelectorPath?: string
}

/**
 * How one version of a CRD is served.
 *
 * @since 0.1.0
 * @category models
 */
export interface VersionOptions {
  /** Default true. */
  readonly served?: boolean
  /** Exactly one version stores objects; with a single version it is that one. */
  readonly storage?: boolean
  readonly deprecated?: boolean
  readonly deprecationWarning?: string
  readonly printerColumns?: ReadonlyArray<PrinterColumn>
  /** Enables the scale subresource (also enabled by the kind's `subresources.scale`). */
  readonly scale?: ScaleOptions
}

/**
 * One version of a CRD: its kind (whose `version` names it) and how it is served.
 *
 * @since 0.1.0
 * @category models
 */
export interface Version extends VersionOptions {
  readonly kind: CustomKind
}

/**
 * What goes into the CRD besides its versions.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  readonly labels?: Record<string, string>
  readonly annotations?: Record<string, string>
  /**
   * `spec.conversion` as the API expects it. Without it a new CRD gets `strategy: None` (which only
   * rewrites apiVersion) and `Crd.ensureCreated` leaves an existing CRD's conversion as it is (the
   * `Webhooks` layer keeps it; `Webhooks.crd` states it); a webhook without `caBundle` keeps the
   * server's.
   */
  readonly conversion?: unknown
  /**
   * Checks of the Schemas that the manifest cannot state (see {@link Definition.decoderOnlyChecks}):
   * `"list"` (the default) lists them in the definition; `"fail"` makes each one an issue of
   * {@link CrdDefinitionError}, so the CRD never lets the API server accept an object the operator
   * then cannot decode.
   */
  readonly decoderOnlyChecks?: "list" | "fail"
}

/**
 * Options of a CRD with several versions.
 *
 * @since 0.1.0
 * @category models
 */
export interface DefinitionOptions extends CommonOptions {
  readonly versions: readonly [Version, ...Array<Version>]
}

/**
 * The object type of a CustomResourceDefinition.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomResourceDefinition = Kind.Type<typeof Kind.CustomResourceDefinition>

/**
 * A CRD, ready to apply: its names and the generated manifest.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition extends Pipeable {
  readonly [TypeId]: TypeId
  /** `<plural>.<group>`, the CRD's object name. */
  readonly name: string
  readonly group: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
  /** Version names, in the order given. */
  readonly versions: ReadonlyArray<string>
  readonly storageVersion: string
  /** The kind of each version, in the order given. */
  readonly kinds: ReadonlyArray<CustomKind>
  readonly storageKind: CustomKind
  /** The `apiextensions.k8s.io/v1` CustomResourceDefinition. */
  readonly manifest: CustomResourceDefinition
  /**
   * Checks of the Schemas that the manifest cannot state, so only the decoder enforces them: custom
   * filters, `Schema.isPattern` with a RegExp whose flags change what it matches (or without the
   * `u` flag), constraints on map keys (a key Schema's checks, `Schema.isPropertyNames`), checks on
   * the decoded side of a transformation (`Schema.NumberFromString.check(…)`). Listed so nothing
   * is dropped silently (the CLI prints them on stderr); the `decoderOnlyChecks: "fail"` option
   * makes them an error.
   */
  readonly decoderOnlyChecks: ReadonlyArray<{ readonly version: string; readonly path: string; readonly check: string }>
}

/**
 * The Schema (or the definition options) cannot become a CRD. Each issue names the version and the
 * path in the object (`spec.items[*].name`; `[*]` is any list element, `.*` any map value).
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * const Pair = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Pair", namespaced: true,
 *   spec: Schema.Struct({ value: Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.String })]) })
 * })
 * const result = CrdDefinition.make(Pair)
 * Result.isFailure(result) && result.failure.issues[0]?.path // => "spec.value"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdDefinitionError extends Schema.TaggedError<CrdDefinitionError>()("CrdDefinitionError", {
  crd: Schema.String,
  issues: Schema.Array(Schema.Struct({
    version: Schema.optionalKey(Schema.String),
    path: Schema.String,
    message: Schema.String
  }))
}) {
  override get message(): string {
    return `cannot define the CRD ${this.crd}:\n` +
      this.issues.map((i) => `  - ${i.version !== undefined ? `${i.version} ` : ""}${i.path}: ${i.message}`).join("\n")
  }
}

const DefinitionProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toString(this: Definition) {
    return `CustomResourceDefinition ${this.name}`
  }
}

type Issue = { version?: string; path: string; message: string }

const nameFields = ["group", "kind", "plural", "singular", "listKind", "namespaced"] as const

const build = (options: DefinitionOptions): Result.Result<Definition, CrdDefinitionError> => {
  const versions = options.versions
  const first = versions[0].kind
  const name = `${first.plural}.${first.group}`
  const issues: Array<Issue> = []

  const seen = new Set<string>()
  for (const v of versions) {
    const k = v.kind
    if (k.builtin) issues.push({ version: k.version, path: "kind", message: `${k.kind} is a built-in kind, not a custom one` })
    if (seen.has(k.version)) issues.push({ version: k.version, path: "version", message: "the version is given twice" })
    seen.add(k.version)
    for (const field of nameFields) {
      if (k[field] !== first[field]) {
        issues.push({
          version: k.version,
          path: field,
          message: `is ${JSON.stringify(k[field])} but ${JSON.stringify(first[field])} in ${first.version}: every version of a CRD shares its group, names and scope`
        })
      }
    }
    for (const field of ["shortNames", "categories"] as const) {
      if (!CrdSchema.jsonEqual(k[field], first[field])) {
        issues.push({ version: k.version, path: field, message: `differs from ${first.version}: every version of a CRD shares its names` })
      }
    }
  }

  const explicit = versions.filter((v) => v.storage === true)
  const storage = versions.length === 1 && versions[0].storage !== false ? versions[0] : explicit.length === 1 ? explicit[0] : undefined
  if (storage === undefined) {
    issues.push({
      path: "versions",
      message: explicit.length === 0
        ? "no version is the storage version: mark exactly one with `storage: true`"
        : `${explicit.map((v) => v.kind.version).join(", ")} are all marked as storage versions: mark exactly one`
    })
  }

  const decoderOnlyChecks: Array<{ version: string; path: string; check: string }> = []
  const specVersions = versions.map((v) => {
    const k = v.kind
    const schemaIssues: Array<CrdSchema.Issue> = []
    const custom = k as CustomKind & { readonly specSchema?: Schema.Top; readonly statusSchema?: Schema.Top | undefined }
    const openAPIV3Schema = custom.specSchema !== undefined
      ? CrdSchema.objectSchema({ _tag: "Parts", spec: custom.specSchema, status: custom.statusSchema }, schemaIssues)
      : CrdSchema.objectSchema({ _tag: "Whole", schema: k.schema as Schema.Top }, schemaIssues)
    for (const i of schemaIssues) issues.push({ version: k.version, path: i.path, message: i.message })
    const unstated = custom.specSchema !== undefined
      ? [
        ...CrdSchema.decoderOnlyChecks(custom.specSchema, "spec"),
        ...(custom.statusSchema !== undefined ? CrdSchema.decoderOnlyChecks(custom.statusSchema, "status") : [])
      ]
      : CrdSchema.decoderOnlyChecks(k.schema as Schema.Top, "")
    for (const c of unstated) decoderOnlyChecks.push({ version: k.version, ...c })
    const scale = v.scale !== undefined || k.subresources.scale
      ? {
        specReplicasPath: v.scale?.specReplicasPath ?? ".spec.replicas",
        statusReplicasPath: v.scale?.statusReplicasPath ?? ".status.replicas",
        ...(v.scale?.labelSelectorPath !== undefined ? { labelSelectorPath: v.scale.labelSelectorPath } : {})
      }
      : undefined
    const subresources = k.subresources.status || scale !== undefined
      ? { ...(k.subresources.status ? { status: {} } : {}), ...(scale !== undefined ? { scale } : {}) }
      : undefined
    return {
      name: k.version,
      served: v.served ?? true,
      storage: v === storage,
      ...(v.deprecated !== undefined ? { deprecated: v.deprecated } : {}),
      ...(v.deprecationWarning !== undefined ? { deprecationWarning: v.deprecationWarning } : {}),
      schema: { openAPIV3Schema },
      ...(subresources !== undefined ? { subresources } : {}),
      ...(v.printerColumns !== undefined && v.printerColumns.length > 0
        ? { additionalPrinterColumns: v.printerColumns.map((c) => ({ ...c })) }
        : {})
    }
  })

  if (options.decoderOnlyChecks === "fail") {
    for (const c of decoderOnlyChecks) {
      issues.push({
        version: c.version,
        path: c.path,
        message: `${c.check}: the CRD cannot state this check, so the API server would accept values the decoder refuses`
      })
    }
  }
  if (issues.length > 0) return Result.fail(new CrdDefinitionError({ crd: name, issues }))

  const manifest = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name,
      ...(options.labels !== undefined ? { labels: { ...options.labels } } : {}),
      ...(options.annotations !== undefined ? { annotations: { ...options.annotations } } : {})
    },
    spec: {
      group: first.group,
      names: {
        plural: first.plural,
        singular: first.singular,
        kind: first.kind,
        listKind: first.listKind,
        ...(first.shortNames.length > 0 ? { shortNames: [...first.shortNames] } : {}),
        ...(first.categories.length > 0 ? { categories: [...first.categories] } : {})
      },
      scope: first.namespaced ? "Namespaced" : "Cluster",
      versions: specVersions,
      ...(options.conversion !== undefined ? { conversion: options.conversion } : {})
    }
  } as unknown as CustomResourceDefinition

  const definition: Definition = Object.assign(Object.create(DefinitionProto), {
    name,
    group: first.group,
    kind: first.kind,
    plural: first.plural,
    namespaced: first.namespaced,
    versions: versions.map((v) => v.kind.version),
    storageVersion: storage!.kind.version,
    kinds: versions.map((v) => v.kind),
    storageKind: storage!.kind,
    manifest,
    decoderOnlyChecks
  })
  return Result.succeed(definition)
}

/**
 * Builds a CRD from a custom kind (one version), or from several versions of one kind. The
 * `openAPIV3Schema` of each version comes from the kind's Schemas (`spec` and `status` for
 * `Kind.custom`, every top-level field for `Kind.customSchema`), as a structural schema:
 *
 * - descriptions, `Schema.Literals` (enum), numeric bounds, string patterns (a RegExp needs the `u`
 *   flag for Effect to export it) and lengths, list lengths, required fields, defaults
 *   ({@link withDefault});
 * - `Kind.Open` and `Schema.Unknown` → `x-kubernetes-preserve-unknown-fields`; `X | null` and
 *   `Schema.optional(X)` → `nullable` (prefer `Schema.optionalKey`); `Int | String` → int-or-string;
 *   `Schema.isUnique()` on scalars → a set; the list and embedding markers of this module.
 *
 * What cannot be said structurally (recursive Schemas, unions of objects or of different types,
 * tuples, declared fields next to a typed index signature) fails with {@link CrdDefinitionError}
 * naming every path. Checks the manifest cannot state (custom filters, constraints on map keys, a
 * pattern without the `u` flag, checks on the decoded side of a transformation) stay with the
 * decoder and are listed in `decoderOnlyChecks`, or fail the definition with
 * `decoderOnlyChecks: "fail"`.
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Widget", namespaced: true, shortNames: ["wd"],
 *   spec: Schema.Struct({ size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })) }),
 *   status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) }),
 *   subresources: { status: true }
 * })
 * const crd = CrdDefinition.make(Widget, { printerColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }] })
 * Result.isSuccess(crd) && crd.success.name // => "widgets.example.com"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (kind: CustomKind, options?: VersionOptions & CommonOptions): Result.Result<Definition, CrdDefinitionError>
  (options: DefinitionOptions): Result.Result<Definition, CrdDefinitionError>
} = (kindOrOptions: CustomKind | DefinitionOptions, options?: VersionOptions & CommonOptions) => {
  if (!Kind.isKind(kindOrOptions)) return build(kindOrOptions)
  const { labels, annotations, conversion, decoderOnlyChecks, ...version } = options ?? {}
  return build({
    versions: [{ ...version, kind: kindOrOptions }],
    ...(labels !== undefined ? { labels } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(conversion !== undefined ? { conversion } : {}),
    ...(decoderOnlyChecks !== undefined ? { decoderOnlyChecks } : {})
  })
}

/**
 * Like {@link make}, but throws the {@link CrdDefinitionError}: for definitions exported from a
 * module, which fail when the module is loaded.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * export const Tenant = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Tenant", namespaced: false,
 *   spec: Schema.Struct({ owner: Schema.String })
 * })
 * export const TenantCrd = CrdDefinition.makeUnsafe(Tenant)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe: {
  (kind: CustomKind, options?: VersionOptions & CommonOptions): Definition
  (options: DefinitionOptions): Definition
} = (kindOrOptions: CustomKind | DefinitionOptions, options?: VersionOptions & CommonOptions): Definition => {
  const result = Kind.isKind(kindOrOptions) ? make(kindOrOptions, options) : make(kindOrOptions)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/**
 * Whether a value is a {@link Definition}.
 *
 * @example
 * ```ts
 * import { CrdDefinition } from "operatorkit"
 *
 * CrdDefinition.isDefinition({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isDefinition = (u: unknown): u is Definition =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * The manifests as JSON: one object for one definition, a `v1` `List` for several.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * const Note = Kind.custom({ group: "example.com", version: "v1", kind: "Note", namespaced: true, spec: Schema.Struct({ text: Schema.String }) })
 * JSON.parse(CrdDefinition.toJson(CrdDefinition.makeUnsafe(Note))).metadata.name // => "notes.example.com"
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const toJson = (definitions: Definition | ReadonlyArray<Definition>, indent = 2): string => {
  const list = isDefinition(definitions) ? [definitions] : definitions
  const value = list.length === 1 ? list[0]!.manifest : { apiVersion: "v1", kind: "List", items: list.map((d) => d.manifest) }
  return JSON.stringify(value, null, indent) + "\n"
}

/**
 * The manifests as YAML documents separated by `---`, for `kubectl apply -f -`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { CrdDefinition, Kind } from "operatorkit"
 *
 * const Note = Kind.custom({ group: "example.com", version: "v1", kind: "Note", namespaced: true, spec: Schema.Struct({ text: Schema.String }) })
 * CrdDefinition.toYaml(CrdDefinition.makeUnsafe(Note)).startsWith("apiVersion: apiextensions.k8s.io/v1\n") // => true
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const toYaml = (definitions: Definition | ReadonlyArray<Definition>): string => {
  const list = isDefinition(definitions) ? [definitions] : definitions
  return list.map((d) => Yaml.stringify(d.manifest)).join("---\n")
}
