/**
 * The typed errors of every Kubernetes API call, built from the API server's `Status` answers and
 * from transport failures. Each carries the request it belongs to (verb, kind, namespace, name, path)
 * so a person can act on it without a debugger.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * What was asked of the API server when an error happened.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const request: KubeError.RequestInfo = { verb: "get", path: "/api/v1/namespaces/a/configmaps/b", kind: "ConfigMap", namespace: "a", name: "b" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const RequestInfo = Schema.Struct({
  verb: Schema.String,
  path: Schema.String,
  kind: Schema.optionalKey(Schema.String),
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type RequestInfo = typeof RequestInfo.Type

/**
 * One cause of an Invalid (422) or Conflict (409) answer: which field and why.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const cause: KubeError.StatusCause = { reason: "FieldValueInvalid", field: "spec.replicas", message: "must be >= 0" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const StatusCause = Schema.Struct({
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  field: Schema.optionalKey(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type StatusCause = typeof StatusCause.Type

const where = (r: RequestInfo) =>
  [r.kind, r.namespace !== undefined ? `${r.namespace}/${r.name ?? ""}` : r.name].filter((s) => s !== undefined && s !== "")
    .join(" ")

const describe = (r: RequestInfo) => {
  const target = where(r)
  return `${r.verb} ${target !== "" ? target : r.path}`
}

const apiFields = {
  request: RequestInfo,
  /** The API server's own message. */
  detail: Schema.String,
  causes: Schema.Array(StatusCause)
}

const causesText = (causes: ReadonlyArray<StatusCause>) =>
  causes.length === 0 ? "" : "\n" + causes.map((c) => `  - ${c.field ?? "?"}: ${c.message ?? c.reason ?? ""}`).join("\n")

/**
 * 404: the object (or the kind, or the namespace) does not exist. `missing` says which: `object`
 * (the object, or its namespace), `kind` (the API server does not serve that kind: a custom
 * resource whose CRD is not installed, or an API version this Kubernetes does not have), or
 * `statusSubresource` (the kind has no `/status`: its CRD does not enable the status subresource).
 * The message says how to fix the last two.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Client, Kind } from "operatorkit"
 *
 * const maybe = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   return yield* client.get(Kind.ConfigMap, { namespace: "a", name: "b" }).pipe(
 *     Effect.map(Option.some),
 *     Effect.catchTag("NotFound", () => Effect.succeedNone)
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  ...apiFields,
  missing: Schema.optionalKey(Schema.Literals(["object", "kind", "statusSubresource"]))
}) {
  override get message(): string {
    const detail = this.detail.trim()
    const target = parsePath(this.request.path)
    if (this.missing === "kind" && target !== undefined) {
      const resource = target.group === "" ? target.plural : `${target.plural}.${target.group}`
      const served = `${target.group === "" ? "" : `${target.group}/`}${target.version}`
      return `${describe(this.request)}: the API server does not serve ${resource} (${served}) (404: ${detail}). ` +
        (target.group.includes(".")
          ? `Is its CustomResourceDefinition installed? Install it with the Crd service (crds.ensureCreated(<your Crd definition>)) ` +
            "or with `npx operatorkit crd <module> | kubectl apply -f -`; if it is installed, check that it serves " +
            `version ${target.version}.`
          : `This Kubernetes does not serve ${served}: check the kind's apiVersion against \`kubectl api-versions\`.`)
    }
    if (this.missing === "statusSubresource" && target !== undefined) {
      const resource = target.group === "" ? target.plural : `${target.plural}.${target.group}`
      return `${describe(this.request)}: the API server does not serve the status subresource of ${resource} (404: ${detail}). ` +
        "Its CustomResourceDefinition does not enable it: declare `subresources: { status: true }` in Kind.custom " +
        "and update the CRD (the Crd service's ensureCreated updates it), or write `.status` with the object itself " +
        "(replace or patch instead of replaceStatus or patchStatus)."
    }
    return `${describe(this.request)}: not found (${detail})`
  }
}

/** The parts of an API path: `/apis/<group>/<version>/[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]`. */
const parsePath = (path: string) => {
  const parts = path.split("?")[0]!.split("/").filter((p) => p !== "")
  const [root, ...rest] = parts
  const [group, version, ...tail] = root === "api" ? ["", ...rest] : root === "apis" ? rest : []
  if (version === undefined || group === undefined) return undefined
  const afterNamespace = tail[0] === "namespaces" && tail.length >= 3 ? tail.slice(2) : tail
  const [plural, name, subresource] = afterNamespace
  return plural === undefined ? undefined : { group, version, plural, name, subresource }
}

/** The API server's answer when it serves no such resource (or subresource) in a group it serves. */
const noSuchResource = "the server could not find the requested resource"

/**
 * 409 AlreadyExists: a create found an object of that name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KubeError } from "operatorkit"
 *
 * const ignoreExisting = <A, R>(create: Effect.Effect<A, KubeError.KubeError, R>) =>
 *   create.pipe(Effect.asVoid, Effect.catchTag("AlreadyExists", () => Effect.void))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class AlreadyExists extends Schema.TaggedError<AlreadyExists>()("AlreadyExists", apiFields) {
  override get message(): string {
    return `${describe(this.request)}: already exists`
  }
}

/**
 * 409 Conflict: a write carried a stale resourceVersion, or (server-side apply) another field manager
 * owns fields this one set; `causes` then lists those fields.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KubeError } from "operatorkit"
 *
 * const fields = (e: KubeError.Conflict) => e.causes.map((c) => c.field)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", apiFields) {
  override get message(): string {
    return `${describe(this.request)}: conflict: ${this.detail}${causesText(this.causes)}`
  }
}

/**
 * 422 Invalid: the object breaks the kind's validation; `causes` names each field.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const fields = (e: KubeError.Invalid) => e.causes.map((c) => `${c.field}: ${c.message}`)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Invalid extends Schema.TaggedError<Invalid>()("Invalid", apiFields) {
  override get message(): string {
    // the server's detail repeats every cause; list them one per line instead when there are any
    return this.causes.length > 0
      ? `${describe(this.request)}: invalid:${causesText(this.causes)}`
      : `${describe(this.request)}: invalid: ${this.detail}`
  }
}

/**
 * 403 Forbidden: RBAC refused the request. `verb`, `resource` and `namespace` say what to grant.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const rule = (e: KubeError.Forbidden) => ({ verbs: [e.verb], resources: [e.resource], namespace: e.namespace })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  ...apiFields,
  verb: Schema.String,
  resource: Schema.String,
  namespace: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    const scope = this.namespace !== undefined ? ` in namespace "${this.namespace}"` : " at cluster scope"
    return `forbidden: RBAC does not allow "${this.verb}" on "${this.resource}"${scope} (${this.detail})`
  }
}

/**
 * 401 Unauthorized: the credentials were refused (expired token, wrong certificate).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("Unauthorized", (e) => Effect.logError(`check the kubeconfig's user: ${e.message}`))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", apiFields) {
  override get message(): string {
    return `${describe(this.request)}: unauthorized: the API server refused the credentials (${this.detail})`
  }
}

/**
 * 410 Gone / Expired: a watch or list asked for a resourceVersion that etcd already compacted.
 * Informers relist on it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const relistOnGone = Effect.catchTag("Gone", () => Effect.succeed("relist" as const))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Gone extends Schema.TaggedError<Gone>()("Gone", apiFields) {
  override get message(): string {
    return `${describe(this.request)}: resourceVersion expired (${this.detail})`
  }
}

/**
 * 429 TooManyRequests, after the client's own bounded retries honouring `Retry-After`.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 *
 * const backOff = Effect.catchTag("TooManyRequests", (e) => Effect.sleep(Duration.seconds(e.retryAfterSeconds)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", {
  ...apiFields,
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `${describe(this.request)}: too many requests (retry after ${this.retryAfterSeconds} s): ${this.detail}`
  }
}

/**
 * The API server could not answer in time or at all: 500, 503, 504 and the `ServerTimeout`,
 * `Timeout`, `InternalError` and `ServiceUnavailable` reasons. Worth a retry.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 *
 * const retryServer = Effect.retry({ while: (e: { _tag: string }) => e._tag === "ServerError", schedule: Schedule.exponential("100 millis"), times: 3 })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  ...apiFields,
  code: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `${describe(this.request)}: server error ${this.code} ${this.reason}: ${this.detail}`
  }
}

/**
 * Any other refusal (400 BadRequest, 405, 406, 413, 415 UnsupportedMediaType, …) with its code and reason.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const isUnsupportedPatch = (e: KubeError.ApiError) => e.code === 415
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  ...apiFields,
  code: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `${describe(this.request)}: ${this.code} ${this.reason}: ${this.detail}${causesText(this.causes)}`
  }
}

/**
 * The request did not complete within its deadline (client side); the connection was closed.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 *
 * const quick = Client.Client.use((c) => c.list(Kind.Pod, { namespace: "a", timeout: "2 seconds" })).pipe(
 *   Effect.catchTag("RequestTimeout", (e) => Effect.logWarning(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  request: RequestInfo,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `${describe(this.request)}: no complete answer within ${this.timeoutMillis} ms`
  }
}

/**
 * The connection failed: refused, reset, TLS verification, DNS. `code` is Node's error code.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const refused = (e: KubeError.TransportError) => e.code === "ECONNREFUSED"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  request: RequestInfo,
  code: Schema.optionalKey(Schema.String),
  detail: Schema.String
}) {
  override get message(): string {
    return `${describe(this.request)}: transport failed${this.code !== undefined ? ` (${this.code})` : ""}: ${this.detail}`
  }
}

/**
 * An object from the API server does not match its kind's Schema.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const where = (e: KubeError.DecodeError) => `${e.kind} ${e.namespace ?? ""}/${e.name ?? ""}: ${e.issue}`
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  kind: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  /** The formatted Schema issue, paths included. */
  issue: Schema.String
}) {
  override get message(): string {
    const ns = this.namespace !== undefined ? `${this.namespace}/` : ""
    return `${this.kind} ${ns}${this.name ?? "<no name>"} does not match its Schema:\n${this.issue}`
  }
}

/**
 * A request the client refused to send: it could not be right (strategic merge on a custom kind,
 * apply without a field manager, a namespaced kind without a namespace, …).
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const e = new KubeError.InvalidRequest({ request: { verb: "patch", path: "/" }, detail: "no field manager" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  request: RequestInfo,
  detail: Schema.String
}) {
  override get message(): string {
    return `${describe(this.request)}: not sent: ${this.detail}`
  }
}

/**
 * Every error a Client call can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type KubeError =
  | NotFound
  | AlreadyExists
  | Conflict
  | Invalid
  | Forbidden
  | Unauthorized
  | Gone
  | TooManyRequests
  | ServerError
  | ApiError
  | RequestTimeout
  | TransportError
  | DecodeError
  | InvalidRequest

const tags = new Set<string>([
  "NotFound",
  "AlreadyExists",
  "Conflict",
  "Invalid",
  "Forbidden",
  "Unauthorized",
  "Gone",
  "TooManyRequests",
  "ServerError",
  "ApiError",
  "RequestTimeout",
  "TransportError",
  "DecodeError",
  "InvalidRequest"
])

/**
 * Whether a value is one of the {@link KubeError}s.
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * KubeError.isKubeError(new Error("x")) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isKubeError = (u: unknown): u is KubeError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether trying the same request again may succeed without changing it: server errors, timeouts,
 * transport failures, 429. Conflicts are not: they need a fresh read first.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { KubeError } from "operatorkit"
 *
 * const resilient = <A, R>(call: Effect.Effect<A, KubeError.KubeError, R>) =>
 *   call.pipe(Effect.retry({ while: KubeError.isRetryable, schedule: Schedule.exponential("200 millis"), times: 5 }))
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryable = (e: KubeError): boolean =>
  e._tag === "ServerError" || e._tag === "RequestTimeout" || e._tag === "TransportError" ||
  e._tag === "TooManyRequests"

interface Status {
  readonly kind?: unknown
  readonly code?: unknown
  readonly reason?: unknown
  readonly message?: unknown
  readonly details?: { readonly causes?: ReadonlyArray<StatusCause>; readonly kind?: unknown; readonly group?: unknown }
}

/**
 * Builds the typed error for a non-2xx answer (`body` is the parsed Status when the server sent one).
 *
 * @example
 * ```ts
 * import { KubeError } from "operatorkit"
 *
 * const e = KubeError.fromStatus(404, { reason: "NotFound", message: "configmaps \"b\" not found" }, { verb: "get", path: "/api/v1/namespaces/a/configmaps/b" })
 * e._tag // => "NotFound"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStatus = (
  httpCode: number,
  body: unknown,
  request: RequestInfo,
  retryAfterSeconds?: number
): KubeError => {
  const status: Status = Predicate.isObject(body) ? body as Status : {}
  const code = typeof status.code === "number" ? status.code : httpCode
  const reason = typeof status.reason === "string" ? status.reason : ""
  const detail = typeof status.message === "string"
    ? status.message
    : typeof body === "string" && body !== ""
    ? body.slice(0, 500)
    : `HTTP ${httpCode}`
  const causes = Array.isArray(status.details?.causes)
    ? status.details.causes.map((c) => ({
      ...(typeof c.reason === "string" ? { reason: c.reason } : {}),
      ...(typeof c.message === "string" ? { message: c.message } : {}),
      ...(typeof c.field === "string" ? { field: c.field } : {})
    }))
    : []
  const fields = { request, detail, causes }
  switch (true) {
    case code === 404 || reason === "NotFound": {
      // a group/version nobody serves answers a plain-text "404 page not found"; a resource the
      // served group does not have answers the generic message with empty details
      const subresource = parsePath(request.path)?.subresource
      const missing = typeof body === "string"
        ? "kind"
        : detail === noSuchResource
        ? subresource === "status" ? "statusSubresource" : "kind"
        : "object"
      return new NotFound({ ...fields, missing })
    }
    case reason === "AlreadyExists":
      return new AlreadyExists(fields)
    case code === 409 || reason === "Conflict":
      return new Conflict(fields)
    case code === 422 || reason === "Invalid":
      return new Invalid(fields)
    case code === 403 || reason === "Forbidden":
      return forbidden(fields, status)
    case code === 401 || reason === "Unauthorized":
      return new Unauthorized(fields)
    case code === 410 || reason === "Expired" || reason === "Gone":
      return new Gone(fields)
    case code === 429 || reason === "TooManyRequests":
      return new TooManyRequests({ ...fields, retryAfterSeconds: retryAfterSeconds ?? 1 })
    case code >= 500 || reason === "ServerTimeout" || reason === "Timeout" || reason === "InternalError" ||
      reason === "ServiceUnavailable":
      return new ServerError({ ...fields, code, reason: reason !== "" ? reason : `HTTP ${code}` })
    default:
      return new ApiError({ ...fields, code, reason: reason !== "" ? reason : `HTTP ${code}` })
  }
}

// `configmaps is forbidden: User "u" cannot list resource "configmaps" in API group "" in the namespace "a"`
const forbiddenRe = /cannot (\S+) resource "([^"]*)" in API group "([^"]*)"(?: in the namespace "([^"]*)")?/

const forbidden = (fields: { request: RequestInfo; detail: string; causes: ReadonlyArray<StatusCause> }, status: Status) => {
  const m = forbiddenRe.exec(fields.detail)
  const group = m?.[3] ?? (typeof status.details?.group === "string" ? status.details.group : "")
  const plural = m?.[2] ?? (typeof status.details?.kind === "string" ? status.details.kind : fields.request.kind ?? "")
  const namespace = m !== null ? m[4] : fields.request.namespace
  return new Forbidden({
    ...fields,
    verb: m?.[1] ?? fields.request.verb,
    resource: group !== "" ? `${plural}.${group}` : plural,
    ...(namespace !== undefined ? { namespace } : {})
  })
}
