/**
 * The answers of the in-memory API server: Status objects shaped exactly as kube-apiserver 1.20
 * writes them, and small JSON helpers shared by the fake's modules.
 * @internal
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = Record<string, unknown>

/** What the fake answers to one request. */
export interface Answer {
  readonly status: number
  readonly body: unknown
  readonly retryAfter?: number
}

export const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A deep copy. Bodies are JSON values (plain objects, arrays, primitives), copied by hand:
 * structuredClone's serializer costs several times more on objects this small, and the server
 * copies on every answer and watch event. Anything else goes through structuredClone.
 */
export const clone = <A>(value: A): A => copy(value) as A

const copy = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return typeof value === "function" || typeof value === "symbol" ? structuredClone(value) : value
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i])
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return structuredClone(value)
  const out: Record<string, unknown> = {}
  for (const key in value) out[key] = copy((value as Record<string, unknown>)[key])
  return out
}

export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

/** Which API resource an error is about, as the server names it. */
export interface ResourceName {
  readonly group: string
  readonly plural: string
  readonly kind: string
  /** kube-apiserver's own kinds name themselves `Kind.group` in Invalid errors; the rest `plural.group`. */
  readonly groupKindInErrors: boolean
}

const qualified = (r: ResourceName) => (r.group === "" ? r.plural : `${r.plural}.${r.group}`)
const groupKind = (r: ResourceName) => (r.group === "" ? r.kind : `${r.kind}.${r.group}`)
const groupOf = (r: ResourceName) => (r.group === "" ? {} : { group: r.group })

export const failure = (code: number, reason: string | undefined, message: string, details?: JsonObject): Answer => ({
  status: code,
  body: {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    ...(reason !== undefined ? { reason } : {}),
    ...(details !== undefined ? { details } : {}),
    code
  }
})

export const success = (r: ResourceName, name: string, uid: string): Answer => ({
  status: 200,
  body: {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { name, ...groupOf(r), kind: r.plural, uid }
  }
})

export const notFound = (r: ResourceName, name: string) =>
  failure(404, "NotFound", `${qualified(r)} "${name}" not found`, { name, ...groupOf(r), kind: r.plural })

export const namespaceNotFound = (name: string) =>
  failure(404, "NotFound", `namespaces "${name}" not found`, { name, kind: "namespaces" })

/** A path no registered resource serves (the group/version exists). */
export const noSuchResource = () => failure(404, "NotFound", "the server could not find the requested resource", {})

/** A group/version nobody serves: the API server's mux answers plain text. */
export const pageNotFound = (): Answer => ({ status: 404, body: "404 page not found\n" })

export const alreadyExists = (r: ResourceName, name: string) =>
  failure(409, "AlreadyExists", `${qualified(r)} "${name}" already exists`, { name, ...groupOf(r), kind: r.plural })

export const conflict = (r: ResourceName, name: string) =>
  failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, ...groupOf(r), kind: r.plural }
  )

/** Where kube-apiserver keeps a resource's objects in etcd (as its storage errors name them). */
const registryPrefix = (r: ResourceName & { readonly builtin?: boolean }) =>
  r.plural === "services" && r.group === "" ? "services/specs" : r.builtin === false ? `${r.group}/${r.plural}` : r.plural

/** A storage precondition (a PUT's uid) that does not hold: 409, as the storage layer words it. */
export const storagePrecondition = (r: ResourceName & { readonly builtin?: boolean }, name: string, namespace: string | undefined, detail: string) =>
  failure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": StorageError: invalid object, Code: 4, Key: /registry/${registryPrefix(r)}/${namespace !== undefined ? `${namespace}/` : ""}${name}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: ${detail}`,
    { name, ...groupOf(r), kind: r.plural }
  )

export const preconditionFailed = (r: ResourceName, name: string, detail: string) =>
  failure(409, "Conflict", `Operation cannot be fulfilled on ${groupKind(r)} "${name}": ${detail}`, {
    name,
    ...groupOf(r),
    kind: r.kind
  })

export interface Cause {
  readonly reason: string
  readonly message: string
  readonly field: string
}

export const invalid = (r: ResourceName, name: string, causes: ReadonlyArray<Cause>) => {
  const label = r.groupKindInErrors ? groupKind(r) : qualified(r)
  const parts = causes.map((c) => `${c.field}: ${c.message}`)
  const list = parts.length === 1 ? parts[0]! : `[${parts.join(", ")}]`
  return failure(422, "Invalid", `${label} "${name}" is invalid: ${list}`, {
    ...(name !== "" ? { name } : {}),
    ...groupOf(r),
    kind: r.groupKindInErrors ? r.kind : r.plural,
    causes
  })
}

export const fieldInvalid = (field: string, value: string, detail: string): Cause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  field
})

export const fieldRequired = (field: string, detail: string): Cause => ({
  reason: "FieldValueRequired",
  message: `Required value: ${detail}`,
  field
})

export const badRequest = (message: string) => failure(400, "BadRequest", message)

/** What the API server answers when a JSON patch cannot be applied (a failed `test` included). */
export const patchRejected = () => failure(422, "Invalid", "the server rejected our request due to an error in our request", {})

export const expired = (message: string, metadata?: JsonObject): Answer => ({
  status: 410,
  body: {
    kind: "Status",
    apiVersion: "v1",
    metadata: metadata ?? {},
    status: "Failure",
    message,
    reason: "Expired",
    code: 410
  }
})

export const methodNotAllowed = (message: string, details?: JsonObject) => failure(405, "MethodNotAllowed", message, details)

/** The default reason of an HTTP code, as the API server would pick it. */
export const reasonOf = (code: number): string => {
  switch (code) {
    case 400:
      return "BadRequest"
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 404:
      return "NotFound"
    case 405:
      return "MethodNotAllowed"
    case 409:
      return "Conflict"
    case 410:
      return "Expired"
    case 415:
      return "UnsupportedMediaType"
    case 422:
      return "Invalid"
    case 429:
      return "TooManyRequests"
    case 503:
      return "ServiceUnavailable"
    case 504:
      return "Timeout"
    default:
      return code >= 500 ? "InternalError" : "Unknown"
  }
}
