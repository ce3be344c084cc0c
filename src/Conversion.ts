/**
 * Conversion of a CRD's objects between its versions, from the Schemas that decode them: the
 * ConversionReview handler of a conversion webhook.
 *
 * - A {@link step} joins two adjacent versions with an Effect Schema transformation between their
 *   decoded objects (`decode` older → newer, `encode` back). {@link make} takes a step for each two
 *   adjacent versions of a `CrdDefinition` (oldest first); versions further apart convert through
 *   the ones between.
 * - **Lossless.** What version B cannot hold of an object in version A is kept on the B object in
 *   the annotation `conversion.<group>/<A>` (as Kubernetes' own conversions keep fields in
 *   annotations) and restored when the object goes back to A. A field is restored only where the
 *   plain conversion back still gives what it gave when the field was kept, so a change made
 *   through version B wins. Nothing is kept when the plain round trip already gives the object
 *   back, so round trips add no annotation.
 * - Metadata passes through untouched but for labels and annotations (the API server refuses any
 *   other metadata change from a conversion webhook).
 * - Steps are pure and synchronous: the API server converts any object at any time (every read in
 *   a version other than the stored one).
 * - {@link handle} answers a ConversionReview v1 (`/convert`, as controller-runtime names it):
 *   every object converted, or the review failed naming the object and why.
 *
 * The `Webhooks` module serves it and writes `conversion: Webhook` into the CRD.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type * as CrdDefinition from "./CrdDefinition.ts"
import * as Converter from "./internal/webhook/conversion.ts"
import type * as Kind from "./Kind.ts"

/**
 * A conversion between two adjacent versions of a kind (`decode`: older → newer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Step extends Converter.Step {}

/**
 * A step between two adjacent versions: an Effect Schema transformation between their decoded
 * objects (`decode` from the older to the newer, `encode` back), or the two functions. It must be
 * pure and synchronous.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Conversion, Kind } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const v1ToV2 = Conversion.step(V1, V2, {
 *   decode: (team) => ({ ...team, spec: { owners: [team.spec.owner] } }),
 *   encode: (team) => ({ ...team, spec: { owner: team.spec.owners[0] ?? "" } })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const step: {
  <From extends Kind.Any, To extends Kind.Any>(
    from: From,
    to: To,
    functions: { readonly decode: (older: Kind.Type<From>) => Kind.Type<To>; readonly encode: (newer: Kind.Type<To>) => Kind.Type<From> }
  ): Step
  <From extends Kind.Any, To extends Kind.Any>(
    from: From,
    to: To,
    transformation: SchemaTransformation.Transformation<Kind.Type<To>, Kind.Type<From>>
  ): Step
} = (from: Kind.Any, to: Kind.Any, transformation: unknown): Step => ({
  from,
  to,
  transformation: (SchemaTransformation.isTransformation(transformation)
    ? transformation
    : SchemaTransformation.transform(transformation as { decode: (o: any) => any; encode: (n: any) => any })) as Step["transformation"]
})

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Conversion"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Conversion"

/**
 * The conversion of a CRD's objects between its versions (made by {@link make}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Conversion {
  readonly [TypeId]: TypeId
  readonly definition: CrdDefinition.Definition
  readonly steps: ReadonlyArray<Step>
  /** The annotation that keeps what `version` had and another version cannot hold. */
  readonly annotation: (version: string) => string
}

// the converter of each Conversion, kept off its public shape
const converterOf = new WeakMap<Conversion, Converter.Converter>()

/**
 * The steps do not join each two adjacent versions of the CRD: each issue says what is wrong.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("ConversionDefinitionError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConversionDefinitionError extends Schema.TaggedError<ConversionDefinitionError>()("ConversionDefinitionError", {
  crd: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `cannot convert ${this.crd}:\n${this.issues.map((i) => `  - ${i}`).join("\n")}`
  }
}

/**
 * An object could not be converted: which one, to which version, and why (its own version's
 * Schema refuses it, or a step fails).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("ConversionError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConversionError extends Schema.TaggedError<ConversionError>()("ConversionError", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/**
 * The conversion of a CRD with several versions: a {@link step} for each two adjacent versions,
 * in the order of the definition's versions (oldest first). What a version cannot hold is kept in
 * the annotation `<annotationPrefix>/<version>` (default prefix `conversion.<group>`).
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Conversion, CrdDefinition, Kind } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
 * const conversion = Conversion.make(TeamCrd, [
 *   Conversion.step(V1, V2, {
 *     decode: (team) => ({ ...team, spec: { owners: [team.spec.owner] } }),
 *     encode: (team) => ({ ...team, spec: { owner: team.spec.owners[0] ?? "" } })
 *   })
 * ])
 * Result.isSuccess(conversion) // => true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  definition: CrdDefinition.Definition,
  steps: ReadonlyArray<Step>,
  options: { readonly annotationPrefix?: string } = {}
): Result.Result<Conversion, ConversionDefinitionError> => {
  const made = Converter.make(definition.kinds, steps, options)
  if (!("convert" in made)) return Result.fail(new ConversionDefinitionError({ crd: definition.name, issues: [...made] }))
  const conversion: Conversion = { [TypeId]: TypeId, definition, steps, annotation: made.annotation }
  converterOf.set(conversion, made)
  return Result.succeed(conversion)
}

/**
 * Like {@link make}, but throws the {@link ConversionDefinitionError}: for conversions exported
 * from a module.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Conversion, CrdDefinition, Kind } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
 * export const TeamConversion = Conversion.makeUnsafe(TeamCrd, [
 *   Conversion.step(V1, V2, {
 *     decode: (team) => ({ ...team, spec: { owners: [team.spec.owner] } }),
 *     encode: (team) => ({ ...team, spec: { owner: team.spec.owners[0] ?? "" } })
 *   })
 * ])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe = (
  definition: CrdDefinition.Definition,
  steps: ReadonlyArray<Step>,
  options: { readonly annotationPrefix?: string } = {}
): Conversion => {
  const result = make(definition, steps, options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/**
 * Whether a value is a {@link Conversion}.
 *
 * @example
 * ```ts
 * import { Conversion } from "operatorkit"
 *
 * Conversion.isConversion({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isConversion = (u: unknown): u is Conversion =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * Converts an object (JSON, as the API server holds it, in any version of the CRD) to `version`.
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Conversion, CrdDefinition, Kind } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const conversion = Conversion.makeUnsafe(CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] }), [
 *   Conversion.step(V1, V2, {
 *     decode: (team) => ({ ...team, spec: { owners: [team.spec.owner] } }),
 *     encode: (team) => ({ ...team, spec: { owner: team.spec.owners[0] ?? "" } })
 *   })
 * ])
 * const v2 = Conversion.convert(conversion, { apiVersion: "example.com/v1", kind: "Team", metadata: { name: "a" }, spec: { owner: "ann" } }, "v2")
 * // Result.getOrThrow(v2).spec => { owners: ["ann"] }
 * ```
 *
 * @since 0.1.0
 * @category converting
 */
export const convert = (
  conversion: Conversion,
  object: unknown,
  version: string
): Result.Result<{ readonly [key: string]: unknown }, ConversionError> => {
  const out = converterOf.get(conversion)!.convert(object, version)
  return Converter.isFailure(out) ? Result.fail(new ConversionError({ detail: out.message })) : Result.succeed(out)
}

/**
 * The path a conversion webhook serves, as controller-runtime names it.
 *
 * @example
 * ```ts
 * import { Conversion } from "operatorkit"
 *
 * Conversion.path // => "/convert"
 * ```
 *
 * @since 0.1.0
 * @category handling
 */
export const path = "/convert"

/**
 * The answer to a review: its HTTP status and JSON body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly body: unknown
}

const isObject = (u: unknown): u is { readonly [k: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Answers a ConversionReview (apiextensions.k8s.io/v1, parsed from JSON) with the conversions of
 * several CRDs (one `/convert` path serves them all, chosen by each object's group and kind).
 * Every object is converted, or the review's `result` is a `Failure` naming the first object that
 * is not and why; a body that is no ConversionReview answers HTTP 400.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Conversion, CrdDefinition, Kind } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const conversion = Conversion.makeUnsafe(CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] }), [
 *   Conversion.step(V1, V2, {
 *     decode: (team) => ({ ...team, spec: { owners: [team.spec.owner] } }),
 *     encode: (team) => ({ ...team, spec: { owner: team.spec.owners[0] ?? "" } })
 *   })
 * ])
 * const answer = Conversion.handle([conversion], {
 *   apiVersion: "apiextensions.k8s.io/v1", kind: "ConversionReview",
 *   request: { uid: "1", desiredAPIVersion: "example.com/v2", objects: [{ apiVersion: "example.com/v1", kind: "Team", metadata: { name: "a" }, spec: { owner: "ann" } }] }
 * })
 * // Effect.runSync(answer).body.response.result.status => "Success"
 * ```
 *
 * @since 0.1.0
 * @category handling
 */
export const handle = (conversions: ReadonlyArray<Conversion>, body: unknown): Effect.Effect<Answer> =>
  Effect.sync(() => {
    if (!isObject(body) || body["kind"] !== "ConversionReview" || !isObject(body["request"])) {
      return { status: 400, body: { message: "the body is not a ConversionReview" } }
    }
    const request = body["request"]
    const apiVersion = typeof body["apiVersion"] === "string" ? body["apiVersion"] : "apiextensions.k8s.io/v1"
    const uid = typeof request["uid"] === "string" ? request["uid"] : ""
    const desired = typeof request["desiredAPIVersion"] === "string" ? request["desiredAPIVersion"] : ""
    const objects = Array.isArray(request["objects"]) ? request["objects"] : []
    const answer = (result: { status: "Success" } | { status: "Failure"; message: string }, converted: ReadonlyArray<unknown>): Answer => ({
      status: 200,
      body: { apiVersion, kind: "ConversionReview", response: { uid, convertedObjects: converted, result } }
    })
    const slash = desired.lastIndexOf("/")
    const group = slash < 0 ? "" : desired.slice(0, slash)
    const version = desired.slice(slash + 1)
    const converted: Array<unknown> = []
    for (const object of objects) {
      const kind = isObject(object) && typeof object["kind"] === "string" ? object["kind"] : ""
      const conversion = conversions.find((c) => c.definition.group === group && c.definition.kind === kind)
      if (conversion === undefined) return answer({ status: "Failure", message: `this webhook does not convert ${kind}.${group}` }, [])
      const out = converterOf.get(conversion)!.convert(object, version)
      if (Converter.isFailure(out)) return answer({ status: "Failure", message: out.message }, [])
      converted.push(out)
    }
    return answer({ status: "Success" }, converted)
  })
