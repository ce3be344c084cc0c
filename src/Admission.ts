/**
 * Admission webhooks from the Schema that decodes a kind's objects: the AdmissionReview handlers
 * of a validating and a mutating webhook.
 *
 * - **Validation** (`validate`): the kind's Schema decode (every failing field) plus your Effect,
 *   which may read the cluster through the `Client` (uniqueness, references). A rejection names
 *   every failing field as kube-apiserver names its own validation errors (`spec.size: Invalid
 *   value: 11: must be at most 10`, a 422 Status with `details.causes`), so `kubectl apply` prints
 *   them usefully. Fields marked {@link deprecated}, and your {@link warn}, become admission
 *   warnings.
 * - **Defaulting** (`default`): the Schema's defaults plus your Effect, answered with the JSON Patch
 *   of exactly the difference between the object sent and the object defaulted (fields the Schema
 *   does not model are left alone: pruning is the API server's).
 * - A check that cannot run (your Effect fails or dies) answers HTTP 500: the API server applies
 *   the webhook's failure policy.
 *
 * {@link handle} answers a review; the `Webhooks` module serves the handlers over HTTPS and
 * generates the webhook configurations from {@link make}'s call options.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type * as Kind from "./Kind.ts"
import * as Review from "./internal/webhook/admission.ts"
import * as FieldErrors from "./internal/webhook/fieldErrors.ts"

// ---------------------------------------------------------------------------------------------
// Field errors

/**
 * A validation error of one field, as Kubernetes reports them (`field.Error` in Go): its type,
 * its path (`spec.items[0].name`, `metadata.labels[app]`), the offending value and a detail.
 *
 * @since 0.1.0
 * @category models
 */
export interface FieldError extends FieldErrors.FieldError {}

/**
 * The type of a {@link FieldError}: `Required` prints as `Required value`, `Invalid` as
 * `Invalid value`, `NotSupported` as `Unsupported value`, and so on, as the API server prints them.
 *
 * @since 0.1.0
 * @category models
 */
export type FieldErrorType = FieldErrors.ErrorType

/**
 * A required field is missing.
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.required("spec.owner")) // => "spec.owner: Required value"
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const required = (field: string, detail?: string): FieldError => ({ type: "Required", field, ...(detail !== undefined ? { detail } : {}) })

/**
 * A field's value is invalid.
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.invalid("spec.size", 11, "must be at most 10"))
 * // => "spec.size: Invalid value: 11: must be at most 10"
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: "Invalid", field, value, detail })

/**
 * A field's value is not one of those supported.
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.notSupported("spec.tier", "bronze", ["gold", "silver"]))
 * // => 'spec.tier: Unsupported value: "bronze": supported values: "gold", "silver"'
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const notSupported = (field: string, value: unknown, supported: ReadonlyArray<string>): FieldError => ({
  type: "NotSupported",
  field,
  value,
  detail: `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`
})

/**
 * A field may not be set (or not changed, or not to that value).
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.forbidden("spec.owner", "may not change"))
 * // => "spec.owner: Forbidden: may not change"
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const forbidden = (field: string, detail: string): FieldError => ({ type: "Forbidden", field, detail })

/**
 * A value that must be unique is not (in a list, or across objects).
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.duplicate("spec.owner", "alice")) // => 'spec.owner: Duplicate value: "alice"'
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const duplicate = (field: string, value: unknown, detail?: string): FieldError => ({
  type: "Duplicate",
  field,
  value,
  ...(detail !== undefined ? { detail } : {})
})

/**
 * A field refers to something that does not exist.
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.notFound("spec.secretRef", "db")) // => 'spec.secretRef: Not found: "db"'
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const notFound = (field: string, value: unknown): FieldError => ({ type: "NotFound", field, value })

/**
 * A field error as the API server prints it (`<field>: <type>: <value>: <detail>`).
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.formatFieldError(Admission.required("spec.owner")) // => "spec.owner: Required value"
 * ```
 *
 * @since 0.1.0
 * @category field errors
 */
export const formatFieldError = (error: FieldError): string => FieldErrors.format(error)

/**
 * Marks a field deprecated: an object that sets it is admitted with this admission warning
 * (`kubectl` prints `Warning: spec.owner: use spec.owners`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission } from "operatorkit"
 *
 * const Spec = Schema.Struct({ owner: Schema.optionalKey(Schema.String.pipe(Admission.deprecated("use spec.owners"))) })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const deprecated = (message: string) => <S extends Schema.Top>(self: S): S["Rebuild"] =>
  self.annotate({ [Review.DEPRECATED]: message })

/**
 * Adds a warning to the admission review being answered (a no-op elsewhere). The API server
 * passes warnings on to the client: `kubectl` prints them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Admission } from "operatorkit"
 *
 * const check = Effect.andThen(Admission.warn("spec.size above 8 costs extra"), Effect.succeed([]))
 * ```
 *
 * @since 0.1.0
 * @category admission
 */
export const warn = (message: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const warnings = yield* Review.CurrentWarnings
    warnings?.push(message)
  })

// ---------------------------------------------------------------------------------------------
// Admission

/**
 * An operation an admission webhook is called for.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = "CREATE" | "UPDATE" | "DELETE"

/**
 * What an admission review says about the request, with the old object decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request<A> extends Review.Request<A> {}

/**
 * A label selector of a webhook configuration (`namespaceSelector`, `objectSelector`).
 *
 * @since 0.1.0
 * @category models
 */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>
  readonly matchExpressions?: ReadonlyArray<{
    readonly key: string
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist"
    readonly values?: ReadonlyArray<string>
  }>
}

/**
 * How the API server calls an admission webhook (each field of the webhook configuration).
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Default `["CREATE", "UPDATE"]`. On DELETE the check gets the object being deleted. */
  readonly operations?: ReadonlyArray<Operation>
  /** What the API server does when the webhook cannot be called or fails: `Fail` (the default) refuses the request, `Ignore` admits it. */
  readonly failurePolicy?: "Fail" | "Ignore"
  /** Default `None`: the check writes nothing outside the object (dry runs call it too). */
  readonly sideEffects?: "None" | "NoneOnDryRun"
  /** Seconds the API server waits (1 to 30; default 10). */
  readonly timeoutSeconds?: number
  readonly namespaceSelector?: LabelSelector
  readonly objectSelector?: LabelSelector
}

/**
 * What an admission webhook does for a kind: `validate` (the Schema decode is always checked
 * first), `default` (`true` for the Schema's defaults alone), and how it is called.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A, E, R> extends CallOptions {
  /**
   * Checks a decoded object (on UPDATE `request.oldObject` is the current one). Field errors
   * refuse it; an empty list (or nothing) admits it. A failure or defect means the check could
   * not run: the webhook answers HTTP 500 and the API server applies the failure policy.
   */
  readonly validate?: (object: A, request: Request<A>) => Effect.Effect<ReadonlyArray<FieldError> | void, E, R>
  /** Returns the object with its defaults; the answer is the JSON Patch from the request's object to it. */
  readonly default?: true | ((object: A, request: Request<A>) => Effect.Effect<A, E, R>)
}

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Admission"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Admission"

/**
 * The admission webhooks of one kind (made by {@link make}). `R` is what its Effects need.
 *
 * @since 0.1.0
 * @category models
 */
export interface Admission<out R = never> {
  readonly [TypeId]: TypeId
  readonly kind: Kind.Any
  readonly validating: boolean
  readonly mutating: boolean
  readonly call: Required<Pick<CallOptions, "operations" | "failurePolicy" | "sideEffects" | "timeoutSeconds">> & Pick<CallOptions, "namespaceSelector" | "objectSelector">
  /** `/validate-<group>-<version>-<kind>`, as controller-runtime names it. */
  readonly validatePath: string
  /** `/mutate-<group>-<version>-<kind>`. */
  readonly mutatePath: string
  /** @internal */
  readonly "~R"?: (_: never) => R
}

// the compiled handlers of each Admission, kept off its public shape
const handlersOf = new WeakMap<Admission<any>, ReturnType<typeof Review.compile>>()

const pathSegment = (kind: Kind.Any) => `${kind.group.replace(/\./g, "-")}-${kind.version}-${kind.kind.toLowerCase()}`

/**
 * The admission webhooks of a kind: validation, defaulting, or both.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Admission, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Widget", namespaced: true,
 *   spec: Schema.Struct({ size: Schema.Int, max: Schema.Int })
 * })
 * const widgetAdmission = Admission.make(Widget, {
 *   validate: (widget) =>
 *     Effect.succeed(widget.spec.size > widget.spec.max ? [Admission.invalid("spec.size", widget.spec.size, "must not exceed spec.max")] : []),
 *   failurePolicy: "Fail"
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K extends Kind.Any, E = never, R = never>(
  kind: K,
  options: Options<Kind.Type<K>, E, R>
): Admission<R> => {
  const admission: Admission<R> = {
    [TypeId]: TypeId,
    kind,
    validating: true,
    mutating: options.default !== undefined,
    call: {
      operations: options.operations ?? ["CREATE", "UPDATE"],
      failurePolicy: options.failurePolicy ?? "Fail",
      sideEffects: options.sideEffects ?? "None",
      timeoutSeconds: options.timeoutSeconds ?? 10,
      ...(options.namespaceSelector !== undefined ? { namespaceSelector: options.namespaceSelector } : {}),
      ...(options.objectSelector !== undefined ? { objectSelector: options.objectSelector } : {})
    },
    validatePath: `/validate-${pathSegment(kind)}`,
    mutatePath: `/mutate-${pathSegment(kind)}`
  }
  handlersOf.set(admission, Review.compile({
    kind,
    validate: options.validate as Review.Spec["validate"],
    default: options.default as Review.Spec["default"]
  }))
  return admission
}

/**
 * Whether a value is an {@link Admission}.
 *
 * @example
 * ```ts
 * import { Admission } from "operatorkit"
 *
 * Admission.isAdmission({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isAdmission = (u: unknown): u is Admission<unknown> =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * The answer to a review: its HTTP status (200 for every review answered, allowed or not; 400 for
 * a body that is no AdmissionReview v1; 500 when a check could not run) and its JSON body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly body: unknown
}

/**
 * Answers an AdmissionReview (admission.k8s.io/v1, parsed from JSON) with the admission's
 * validating (`"validate"`) or mutating (`"default"`) webhook, as kube-apiserver expects it. An
 * admission without `default` admits every review sent to its mutating webhook unchanged.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Admission, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const answer = Admission.handle(Admission.make(Widget, {}), "validate", {
 *   apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
 *   request: { uid: "1", operation: "CREATE", object: { metadata: { name: "a" }, spec: { size: "big" } } }
 * })
 * // Effect.runSync(answer).body.response.allowed => false
 * ```
 *
 * @since 0.1.0
 * @category handling
 */
export const handle = <R>(admission: Admission<R>, webhook: "validate" | "default", body: unknown): Effect.Effect<Answer, never, R> => {
  const request = Review.parseReview(body)
  if ("outcome" in request) return Effect.succeed(request as Review.Answer)
  const handlers = handlersOf.get(admission)!
  const run = webhook === "validate" ? handlers.validate : handlers.mutate
  return run(request) as Effect.Effect<Answer, never, R>
}

