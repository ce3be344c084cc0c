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
 * - The {@link Crd} service: `ensureCreated`, `ensureDeleted` and the storage-version `migrate`.
 * - {@link toYaml} and {@link toJson} for people who apply with kubectl (`npx operatorkit crd <module>`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as Stream from "effect/Stream"

import { Client, type ClientService } from "./Client.ts"
import * as CrdSchema from "./internal/crd/schema.ts"
import * as Yaml from "./internal/crd/yaml.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Patch from "./Patch.ts"

// ---------------------------------------------------------------------------------------------
// Schema helpers

/**
 * Kubernetes' IntOrString (`x-kubernetes-int-or-string`): an integer or a string, such as a port
 * number or name, or `"25%"`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Crd } from "operatorkit"
 *
 * const Spec = Schema.Struct({ maxUnavailable: Crd.IntOrString })
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
 * import { Crd } from "operatorkit"
 *
 * const Spec = Schema.Struct({ replicas: Schema.Int.pipe(Crd.withDefault(1)) })
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
 * import { Crd } from "operatorkit"
 *
 * const Ports = Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Int })).pipe(Crd.listMap(["name"]))
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
 * import { Crd } from "operatorkit"
 *
 * const Tags = Crd.listSet(Schema.Array(Schema.String))
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
 * import { Crd } from "operatorkit"
 *
 * const Args = Crd.listAtomic(Schema.Array(Schema.String))
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
 * import { Crd } from "operatorkit"
 *
 * const Spec = Schema.Struct({ values: Crd.preserveUnknownFields(Schema.Record(Schema.String, Schema.Unknown)) })
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
 * import { Crd, Kind } from "operatorkit"
 *
 * const Template = Crd.embeddedResource(Kind.Open({ apiVersion: Schema.String, kind: Schema.String }))
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
 * import { Crd } from "operatorkit"
 *
 * const Spec = Schema.Struct({ template: Crd.EmbeddedResource })
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
  /** `spec.conversion` as the API expects it (default: `strategy: None`, which only rewrites apiVersion). */
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
 * import { Crd, Kind } from "operatorkit"
 *
 * const Pair = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Pair", namespaced: true,
 *   spec: Schema.Struct({ value: Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.String })]) })
 * })
 * const result = Crd.make(Pair)
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
 * import { Crd, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Widget", namespaced: true, shortNames: ["wd"],
 *   spec: Schema.Struct({ size: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })) }),
 *   status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) }),
 *   subresources: { status: true }
 * })
 * const crd = Crd.make(Widget, { printerColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }] })
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
 * import { Crd, Kind } from "operatorkit"
 *
 * export const Tenant = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Tenant", namespaced: false,
 *   spec: Schema.Struct({ owner: Schema.String })
 * })
 * export const TenantCrd = Crd.makeUnsafe(Tenant)
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
 * import { Crd } from "operatorkit"
 *
 * Crd.isDefinition({}) // => false
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
 * import { Crd, Kind } from "operatorkit"
 *
 * const Note = Kind.custom({ group: "example.com", version: "v1", kind: "Note", namespaced: true, spec: Schema.Struct({ text: Schema.String }) })
 * JSON.parse(Crd.toJson(Crd.makeUnsafe(Note))).metadata.name // => "notes.example.com"
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
 * import { Crd, Kind } from "operatorkit"
 *
 * const Note = Kind.custom({ group: "example.com", version: "v1", kind: "Note", namespaced: true, spec: Schema.Struct({ text: Schema.String }) })
 * Crd.toYaml(Crd.makeUnsafe(Note)).startsWith("apiVersion: apiextensions.k8s.io/v1\n") // => true
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const toYaml = (definitions: Definition | ReadonlyArray<Definition>): string => {
  const list = isDefinition(definitions) ? [definitions] : definitions
  return list.map((d) => Yaml.stringify(d.manifest)).join("---\n")
}

// ---------------------------------------------------------------------------------------------
// Errors of the service

const ConditionFields = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String)
})

const conditionsText = (conditions: ReadonlyArray<typeof ConditionFields.Type>) =>
  conditions.length === 0
    ? "no conditions yet"
    : conditions.map((c) => `${c.type}=${c.status}${c.reason !== undefined ? ` (${c.reason}${c.message !== undefined ? `: ${c.message}` : ""})` : ""}`)
      .join("; ")

/**
 * The API server did not accept the CRD's names (`NamesAccepted=False`): another CRD of the group
 * already uses the plural, singular, kind, list kind or a short name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("CrdNameConflict", (e) => Effect.logError(`rename ${e.crd}: ${e.detail}`))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdNameConflict extends Schema.TaggedError<CrdNameConflict>()("CrdNameConflict", {
  crd: Schema.String,
  reason: Schema.String,
  /** The API server's message, such as `"Widget" is already in use`. */
  detail: Schema.String
}) {
  override get message(): string {
    return `CRD ${this.crd}: names not accepted (${this.reason}): ${this.detail}`
  }
}

/**
 * The CRD did not become Established (or did not go away) within the deadline. `conditions` are
 * the last ones the server reported.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("CrdTimeout", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdTimeout extends Schema.TaggedError<CrdTimeout>()("CrdTimeout", {
  crd: Schema.String,
  waitingFor: Schema.Literals(["Established", "Deleted"]),
  timeoutMillis: Schema.Number,
  conditions: Schema.Array(ConditionFields)
}) {
  override get message(): string {
    const what = this.waitingFor === "Established" ? "established" : "deleted"
    return `CRD ${this.crd} was not ${what} within ${this.timeoutMillis} ms; last conditions: ${conditionsText(this.conditions)}`
  }
}

/**
 * A storage-version migration could not go on. `reason`:
 * - `StorageVersionMismatch`: the CRD on the server stores another version than the definition says
 *   (apply the definition with `ensureCreated` first);
 * - `StorageVersionChanged`: the storage version changed while the migration ran;
 * - `ConflictsExhausted`: an object kept changing under every retry.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("MigrationError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class MigrationError extends Schema.TaggedError<MigrationError>()("MigrationError", {
  crd: Schema.String,
  reason: Schema.Literals(["StorageVersionMismatch", "StorageVersionChanged", "ConflictsExhausted"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `migration of ${this.crd} stopped (${this.reason}): ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// The service

/**
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** How long to wait for the CRD to be Established (or gone). Default 60 seconds. */
  readonly timeout?: Duration.Input
  /** How often to look. Default 200 milliseconds. */
  readonly pollInterval?: Duration.Input
}

/**
 * What `ensureCreated` did, and the CRD as the server holds it once Established.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnsureCreatedResult {
  readonly action: "created" | "updated" | "unchanged"
  readonly crd: CustomResourceDefinition
}

/**
 * How far a migration got. Reported after each page is listed (before its objects are written) and
 * after each page is written, and once at the end with `done: true`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MigrationProgress {
  readonly crd: string
  readonly storageVersion: string
  readonly phase: "listed" | "rewritten" | "done"
  /** Pages listed so far (in this run). */
  readonly pages: number
  /** Objects listed so far. */
  readonly listed: number
  /** Objects written back in the storage version. */
  readonly rewritten: number
  /** Objects an interrupted earlier run had already written (see `migrate`'s resume). */
  readonly skipped: number
  /** Objects deleted between the list and their write. */
  readonly gone: number
  /** Writes refused because the object had changed; each was retried after a fresh read. */
  readonly conflicts: number
  /** The last object (`namespace/name`, or `name`) of the last completed page. */
  readonly checkpoint: string | undefined
  readonly done: boolean
}

/**
 * The outcome of a migration.
 *
 * @since 0.1.0
 * @category models
 */
export interface MigrationReport extends MigrationProgress {
  readonly storedVersionsBefore: ReadonlyArray<string>
  readonly storedVersionsAfter: ReadonlyArray<string>
  /** Nothing to do: only the storage version was in `status.storedVersions`. */
  readonly alreadyMigrated: boolean
  /** The run continued after the checkpoint of an interrupted earlier run. */
  readonly resumed: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MigrateOptions<E = never, R = never> {
  /** Objects per list page (and per checkpoint). Default 500. */
  readonly pageSize?: number
  /** Writes in flight at once. Default 8. */
  readonly concurrency?: number
  /** Fresh reads and writes tried for an object that keeps changing. Default 10. */
  readonly conflictRetries?: number
  /** Called as the migration goes; its failure stops the migration (the checkpoint stays). */
  readonly onProgress?: (progress: MigrationProgress) => Effect.Effect<void, E, R>
}

/**
 * The CRD operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrdService {
  /**
   * Creates the CRD, or updates an existing one whose spec (or labels and annotations from the
   * definition) differ, then waits until it is Established. Updating an unchanged CRD writes nothing
   * (`action: "unchanged"`, same resourceVersion). A conflict of names is a {@link CrdNameConflict};
   * a deadline miss a {@link CrdTimeout}. It never deletes a CRD: a change the server refuses (such
   * as dropping a version still in `status.storedVersions`) is its `Invalid` error.
   */
  readonly ensureCreated: (
    definition: Definition,
    options?: WaitOptions
  ) => Effect.Effect<EnsureCreatedResult, KubeError.KubeError | CrdNameConflict | CrdTimeout>
  /**
   * Deletes the CRD (and with it every object of its kind) and waits until it is gone. A CRD that
   * does not exist is success.
   */
  readonly ensureDeleted: (
    definition: Definition | string,
    options?: WaitOptions
  ) => Effect.Effect<void, KubeError.KubeError | CrdTimeout>
  /**
   * Rewrites every stored object in the storage version, then leaves only that version in
   * `status.storedVersions`, so older versions can be removed from the CRD.
   *
   * How: the API server encodes an object in the current storage version whenever it writes it, and
   * it writes on every update whose encoding differs from the stored bytes, so an unchanged PUT of
   * an object stored in an older version rewrites it in the new one (this is how
   * kube-storage-version-migrator works; checked on kube-apiserver 1.20.2 by reading etcd: an
   * object created as v1 stays v1 after the storage version moves to v2, one unchanged PUT stores
   * it as v2 with a new resourceVersion, and a second unchanged PUT writes nothing). The objects are
   * listed in pages; each is written back with its resourceVersion as a precondition; a conflict is
   * retried after a fresh read (the other writer's change is kept); an object deleted meanwhile is
   * skipped. Then `status.storedVersions` is set through the `/status` subresource. An object the
   * storage version's schema refuses stops the migration with that `Invalid` error, which names it;
   * fix the object and run again.
   *
   * Resume: after each page the last object's key (`namespace/name`, in the API server's list
   * order, which is etcd's key order) is recorded with the storage version in the CRD's annotation
   * `<the CRD's group>/storage-migration` ({@link checkpointAnnotation}; a checkpoint under
   * operatorkit 0.1's `operatorkit.giantswarm.io/storage-migration` is read too, and removed). A later run for the same storage version lists
   * from the start again but does not write objects at or before that key; everything after it,
   * including the page that was in flight when the run stopped, is written again (harmless: writes
   * are unchanged PUTs). A checkpoint for another storage version is ignored. The annotation is
   * removed when the migration completes; once `storedVersions` holds only the storage version, a
   * run does nothing. Objects created or modified after the storage version changed are already
   * stored in it, so a checkpoint never hides an object that needs a write.
   *
   * With several API servers, make sure every one of them serves the new storage version before
   * migrating (one still on the old CRD could write the old version).
   */
  readonly migrate: <E = never, R = never>(
    definition: Definition,
    options?: MigrateOptions<E, R>
  ) => Effect.Effect<MigrationReport, KubeError.KubeError | MigrationError | E, R>
}

/**
 * The Crd service.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Crd, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Widget", namespaced: true,
 *   spec: Schema.Struct({ size: Schema.Int })
 * })
 * const WidgetCrd = Crd.makeUnsafe(Widget)
 *
 * const install = Effect.gen(function*() {
 *   const crds = yield* Crd.Crd
 *   const { action } = yield* crds.ensureCreated(WidgetCrd, { timeout: "30 seconds" })
 *   yield* Effect.log(`CRD ${WidgetCrd.name}: ${action}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Crd extends Context.Service<Crd, CrdService>()("operatorkit/Crd") {}

/**
 * The annotation that records a migration's checkpoint on the CRD: named after the CRD's own API
 * group, a domain of the user's.
 *
 * @example
 * ```ts
 * import { Crd } from "operatorkit"
 *
 * Crd.checkpointAnnotation("tenancy.example.com") // => "tenancy.example.com/storage-migration"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const checkpointAnnotation = (group: string): string => `${group}/storage-migration`

// where operatorkit 0.1 recorded it: read, and removed
const legacyCheckpointAnnotation = "operatorkit.giantswarm.io/storage-migration"

const CRD = Kind.CustomResourceDefinition

const conditionsOf = (crd: CustomResourceDefinition | undefined): Array<typeof ConditionFields.Type> =>
  (crd?.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {})
  }))

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

const objectKey = (o: Kind.KubeObject) =>
  o.metadata.namespace !== undefined && o.metadata.namespace !== "" ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name

const storageOf = (crd: CustomResourceDefinition) => crd.spec.versions.find((v) => v.storage)?.name

const parseCheckpoint = (value: string | undefined): { readonly storageVersion: string; readonly after: string } | undefined => {
  if (value === undefined) return undefined
  try {
    const parsed = JSON.parse(value) as { storageVersion?: unknown; after?: unknown }
    return typeof parsed.storageVersion === "string" && typeof parsed.after === "string"
      ? { storageVersion: parsed.storageVersion, after: parsed.after }
      : undefined
  } catch {
    return undefined
  }
}

/** A kind for the storage version that keeps every field as it is, whatever the version's Schema. */
const rawKind = (definition: Definition, version: string) =>
  Kind.customSchema({
    group: definition.group,
    version,
    kind: definition.kind,
    plural: definition.plural,
    singular: definition.storageKind.singular,
    listKind: definition.storageKind.listKind,
    namespaced: definition.namespaced,
    schema: Kind.object({})
  })

const makeService = (client: ClientService): CrdService => {
  const getCrd = (name: string) =>
    client.get(CRD, { name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )

  const waitEstablished = (name: string, options: WaitOptions | undefined) =>
    Effect.suspend(() => {
      const timeoutMillis = millis(options?.timeout ?? "60 seconds")
      const interval = options?.pollInterval ?? "200 millis"
      let last: CustomResourceDefinition | undefined
      const poll: Effect.Effect<CustomResourceDefinition, KubeError.KubeError | CrdNameConflict> = Effect.gen(function*() {
        while (true) {
          const crd = yield* client.get(CRD, { name })
          last = crd
          const conditions = crd.status?.conditions ?? []
          const names = conditions.find((c) => c.type === "NamesAccepted")
          if (names?.status === "False") {
            return yield* new CrdNameConflict({
              crd: name,
              reason: names.reason ?? "NamesNotAccepted",
              detail: names.message ?? "the names are not accepted"
            })
          }
          if (conditions.some((c) => c.type === "Established" && c.status === "True")) return crd
          yield* Effect.sleep(interval)
        }
      })
      return poll.pipe(Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMillis),
        orElse: () =>
          Effect.fail(new CrdTimeout({ crd: name, waitingFor: "Established", timeoutMillis, conditions: conditionsOf(last) }))
      }))
    })

  const merged = (current: Record<string, string> | undefined, desired: Record<string, string> | undefined) =>
    desired === undefined ? current : { ...current, ...desired }

  /** PUTs the desired spec over the current object; an unchanged object keeps its resourceVersion. */
  const update = (definition: Definition): Effect.Effect<EnsureCreatedResult, KubeError.KubeError> =>
    Effect.gen(function*() {
      const desired = definition.manifest
      for (let attempt = 1;; attempt++) {
        const current = yield* client.get(CRD, { name: definition.name })
        const labels = merged(current.metadata.labels, desired.metadata.labels)
        const annotations = merged(current.metadata.annotations, desired.metadata.annotations)
        const candidate: CustomResourceDefinition = {
          ...current,
          metadata: {
            ...current.metadata,
            ...(labels !== undefined ? { labels } : {}),
            ...(annotations !== undefined ? { annotations } : {})
          },
          spec: desired.spec
        }
        const result = yield* client.replace(CRD, candidate).pipe(
          Effect.map(Option.some),
          Effect.catchTag("Conflict", (e) => (attempt < 5 ? Effect.succeedNone : Effect.fail(e)))
        )
        if (Option.isSome(result)) {
          const crd = result.value
          return { action: crd.metadata.resourceVersion === current.metadata.resourceVersion ? "unchanged" : "updated", crd }
        }
      }
    })

  const ensureCreated = Effect.fn("Crd.ensureCreated")(function*(definition: Definition, options?: WaitOptions) {
    yield* Effect.annotateCurrentSpan("k8s.crd", definition.name)
    const existing = yield* getCrd(definition.name)
    let result: EnsureCreatedResult | undefined
    if (Option.isNone(existing)) {
      const created = yield* client.create(CRD, definition.manifest).pipe(
        Effect.map(Option.some),
        // created by someone else meanwhile: update it like any existing one
        Effect.catchTag("AlreadyExists", () => Effect.succeedNone)
      )
      if (Option.isSome(created)) result = { action: "created", crd: created.value }
    }
    result ??= yield* update(definition)
    const crd = yield* waitEstablished(definition.name, options)
    return { action: result.action, crd }
  })

  const ensureDeleted = Effect.fn("Crd.ensureDeleted")(function*(definition: Definition | string, options?: WaitOptions) {
    const name = typeof definition === "string" ? definition : definition.name
    yield* Effect.annotateCurrentSpan("k8s.crd", name)
    yield* client.delete(CRD, { name }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone))
    const timeoutMillis = millis(options?.timeout ?? "60 seconds")
    const interval = options?.pollInterval ?? "200 millis"
    let last: CustomResourceDefinition | undefined
    yield* Effect.gen(function*() {
      while (true) {
        const crd = yield* getCrd(name)
        if (Option.isNone(crd)) return
        last = crd.value
        yield* Effect.sleep(interval)
      }
    }).pipe(Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMillis),
      orElse: () => Effect.fail(new CrdTimeout({ crd: name, waitingFor: "Deleted", timeoutMillis, conditions: conditionsOf(last) }))
    }))
  })

  const migrate = Effect.fn("Crd.migrate")(function*<E = never, R = never>(definition: Definition, options?: MigrateOptions<E, R>) {
    const name = definition.name
    yield* Effect.annotateCurrentSpan("k8s.crd", name)
    const pageSize = options?.pageSize ?? 500
    const concurrency = options?.concurrency ?? 8
    const conflictRetries = options?.conflictRetries ?? 10
    const onProgress: (progress: MigrationProgress) => Effect.Effect<void, E, R> = options?.onProgress ?? (() => Effect.void)

    const crd = yield* client.get(CRD, { name })
    const storageVersion = storageOf(crd)
    if (storageVersion !== definition.storageVersion) {
      return yield* new MigrationError({
        crd: name,
        reason: "StorageVersionMismatch",
        detail: `the CRD on the server stores ${storageVersion ?? "no version"}, the definition ${definition.storageVersion}; ` +
          "apply the definition (ensureCreated) before migrating"
      })
    }
    const storedVersionsBefore = crd.status?.storedVersions ?? []
    const annotation = checkpointAnnotation(crd.spec.group)
    const checkpoint = parseCheckpoint(crd.metadata.annotations?.[annotation] ?? crd.metadata.annotations?.[legacyCheckpointAnnotation])
    const hadLegacy = crd.metadata.annotations?.[legacyCheckpointAnnotation] !== undefined
    let resumeAfter = checkpoint?.storageVersion === storageVersion ? checkpoint.after : undefined
    const resumed = resumeAfter !== undefined

    let progress: MigrationProgress = {
      crd: name,
      storageVersion,
      phase: "listed",
      pages: 0,
      listed: 0,
      rewritten: 0,
      skipped: 0,
      gone: 0,
      conflicts: 0,
      checkpoint: resumeAfter,
      done: false
    }
    const report = (alreadyMigrated: boolean, storedVersionsAfter: ReadonlyArray<string>): MigrationReport => ({
      ...progress,
      phase: "done",
      done: true,
      storedVersionsBefore,
      storedVersionsAfter,
      alreadyMigrated,
      resumed
    })
    const bump = (patch: Partial<MigrationProgress>) => (progress = { ...progress, ...patch })

    if (storedVersionsBefore.length === 1 && storedVersionsBefore[0] === storageVersion) {
      const final = report(true, storedVersionsBefore)
      yield* onProgress(final)
      return final
    }

    const raw = rawKind(definition, storageVersion)
    type RawObject = Kind.Type<typeof raw>

    const rewrite = (object: RawObject): Effect.Effect<void, KubeError.KubeError | MigrationError> =>
      Effect.gen(function*() {
        let current = object
        for (let attempt = 0;; attempt++) {
          const outcome = yield* client.replace(raw, current).pipe(
            Effect.as("rewritten" as const),
            Effect.catchTag("NotFound", () => Effect.succeed("gone" as const)),
            Effect.catchTag("Conflict", () => Effect.succeed("conflict" as const))
          )
          if (outcome === "rewritten") return void bump({ rewritten: progress.rewritten + 1 })
          if (outcome === "gone") return void bump({ gone: progress.gone + 1 })
          bump({ conflicts: progress.conflicts + 1 })
          if (attempt >= conflictRetries) {
            return yield* new MigrationError({
              crd: name,
              reason: "ConflictsExhausted",
              detail: `${objectKey(current)} changed under each of ${attempt + 1} writes`
            })
          }
          const fresh = yield* client.get(raw, current.metadata).pipe(
            Effect.map(Option.some),
            Effect.catchTag("NotFound", () => Effect.succeedNone)
          )
          if (Option.isNone(fresh)) return void bump({ gone: progress.gone + 1 })
          current = fresh.value
        }
      })

    const saveCheckpoint = (after: string) =>
      client.patch(CRD, { name }, Patch.merge({
        metadata: {
          annotations: {
            [annotation]: JSON.stringify({ storageVersion, after }),
            ...(hadLegacy ? { [legacyCheckpointAnnotation]: null } : {})
          }
        }
      })).pipe(Effect.asVoid)

    const page = (items: ReadonlyArray<RawObject>) =>
      Effect.gen(function*() {
        const todo = resumeAfter === undefined ? items : items.filter((o) => objectKey(o) > resumeAfter!)
        bump({
          phase: "listed",
          pages: progress.pages + 1,
          listed: progress.listed + items.length,
          skipped: progress.skipped + items.length - todo.length
        })
        yield* onProgress(progress)
        yield* Effect.forEach(todo, rewrite, { concurrency, discard: true })
        if (items.length > 0) {
          const last = objectKey(items[items.length - 1]!)
          yield* saveCheckpoint(last)
          bump({ checkpoint: last })
        }
        bump({ phase: "rewritten" })
        yield* onProgress(progress)
        yield* Effect.logDebug(`Crd.migrate ${name}: ${progress.rewritten} rewritten, ${progress.skipped} skipped after ${progress.pages} pages`)
      })

    const listAll = client.listPages(raw, { limit: pageSize }).pipe(
      Stream.runForEach((p) => p.invalid.length > 0 ? Effect.fail(p.invalid[0]!.error) : page(p.items))
    )
    // a continue token expires with etcd's compaction (410): list again, skipping what is done
    for (let restarts = 0;; restarts++) {
      const listed = yield* listAll.pipe(
        Effect.as(true),
        Effect.catchIf(
          (e): e is KubeError.Gone => (e as { _tag?: unknown })._tag === "Gone" && restarts < 3,
          () => Effect.succeed(false)
        )
      )
      if (listed) break
      resumeAfter = progress.checkpoint
    }

    // every object is written in the storage version: only it remains in storedVersions
    let storedVersionsAfter: ReadonlyArray<string> = []
    for (let attempt = 1;; attempt++) {
      const fresh = yield* client.get(CRD, { name })
      if (storageOf(fresh) !== storageVersion) {
        return yield* new MigrationError({
          crd: name,
          reason: "StorageVersionChanged",
          detail: `the storage version moved from ${storageVersion} to ${storageOf(fresh) ?? "none"} during the migration; run it again`
        })
      }
      const updated = yield* client.replaceStatus(CRD, {
        ...fresh,
        status: { ...fresh.status, storedVersions: [storageVersion] }
      }).pipe(
        Effect.map(Option.some),
        Effect.catchTag("Conflict", (e) => (attempt < 5 ? Effect.succeedNone : Effect.fail(e)))
      )
      if (Option.isSome(updated)) {
        storedVersionsAfter = updated.value.status?.storedVersions ?? []
        break
      }
    }
    yield* client.patch(CRD, { name }, Patch.merge({
      metadata: { annotations: { [annotation]: null, ...(hadLegacy ? { [legacyCheckpointAnnotation]: null } : {}) } }
    }))
    const final = report(false, storedVersionsAfter)
    yield* onProgress(final)
    return final
  })

  return { ensureCreated, ensureDeleted, migrate }
}

/**
 * The Crd service over the Client in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Crd, KubeConfig } from "operatorkit"
 *
 * const CrdLive = Crd.layer.pipe(Layer.provide(Client.layer), Layer.provide(KubeConfig.layerDefault))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Crd, never, Client> = Layer.effect(
  Crd,
  Effect.gen(function*() {
    return makeService(yield* Client)
  })
)
