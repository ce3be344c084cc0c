/**
 * Requests to the in-memory API server as kube-apiserver reads them: the path (group, version,
 * namespace, resource, name, subresource), the verb, continue tokens, and generated identities.
 * @internal
 */
import type { Resource } from "./kinds.ts"
import { type Answer, isObject, type JsonObject } from "./status.ts"

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection"

export interface Target {
  readonly group: string
  readonly version: string
  readonly plural: string
  readonly namespace: string | undefined
  readonly name: string | undefined
  readonly subresource: string | undefined
  readonly query: URLSearchParams
}

export interface Request {
  readonly method: string
  readonly path: string
  readonly body?: unknown
  readonly contentType?: string | undefined
  /** The Accept header (see metadata.ts): JSON, or objects' metadata only. */
  readonly accept?: string | undefined
}

/** The manager kube-apiserver derives from the Client's User-Agent (`operatorkit/0.1.0`). */
export const DEFAULT_MANAGER = "operatorkit"

/**
 * Parsed paths, by path: one request parses its path several times (faults, conversion, the
 * representation, the handler) and clients ask for the same paths over and over. Targets are
 * read, never changed; the cache is dropped whole when it fills.
 */
const parsed = new Map<string, Target | undefined>()

export const parsePath = (path: string): Target | undefined => {
  if (parsed.has(path)) return parsed.get(path)
  if (parsed.size >= 4096) parsed.clear()
  const target = parse(path)
  parsed.set(path, target)
  return target
}

const parse = (path: string): Target | undefined => {
  const url = new URL(path, "http://fake.invalid")
  let segments: Array<string>
  try {
    segments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent)
  } catch {
    return undefined
  }
  let group: string
  let rest: Array<string>
  if (segments[0] === "api" && segments.length >= 3) {
    group = ""
    rest = segments.slice(1)
  } else if (segments[0] === "apis" && segments.length >= 4) {
    group = segments[1]!
    rest = segments.slice(2)
  } else {
    return undefined
  }
  const version = rest[0]!
  rest = rest.slice(1)
  let namespace: string | undefined
  if (rest[0] === "namespaces" && rest.length >= 3 && rest[2] !== "status" && rest[2] !== "finalize") {
    namespace = rest[1]
    rest = rest.slice(2)
  }
  if (rest.length < 1 || rest.length > 3) return undefined
  // the query apart from its URL: a cached target holds no URL
  return { group, version, plural: rest[0]!, namespace, name: rest[1], subresource: rest[2], query: new URLSearchParams(url.search) }
}

export const verbOf = (method: string, target: Target | undefined): Verb => {
  switch (method) {
    case "POST":
      return "create"
    case "PUT":
      return "update"
    case "PATCH":
      return "patch"
    case "DELETE":
      return target?.name === undefined ? "deletecollection" : "delete"
    default:
      return target?.name !== undefined ? "get" : isTrue(target?.query.get("watch")) ? "watch" : "list"
  }
}

export const isTrue = (v: string | null | undefined) => v === "1" || v === "true"

export interface Context {
  readonly now: number
  /** Uniform in [0, 1). */
  readonly random: () => number
  /** Admission (fake/webhooks.ts): the object to store, or the answer refusing the write. */
  readonly admit?: ((attempt: Attempt) => Admitted) | undefined
}

/** What admission makes of a write: the object to store, or the answer refusing it. */
export type Admitted = { readonly object: JsonObject } | { readonly refused: Answer }

/** A write to a main resource at the point where kube-apiserver calls admission webhooks. */
export interface Attempt {
  readonly operation: "CREATE" | "UPDATE"
  readonly resource: Resource
  /** The version the request used. */
  readonly version: string
  readonly namespace: string | undefined
  /** The object as it would be stored, and the stored one (UPDATE). */
  readonly object: JsonObject
  readonly oldObject: JsonObject | undefined
  readonly dryRun: boolean
}

const hex = (random: () => number, n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("")

export const uuid = (random: () => number) =>
  `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${"89ab"[Math.floor(random() * 4)]}${hex(random, 3)}-${hex(random, 12)}`

/** kube-apiserver's alphabet for generated name suffixes (no vowels, no look-alikes). */
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

export const suffix = (random: () => number) =>
  Array.from({ length: 5 }, () => SUFFIX_ALPHABET[Math.floor(random() * SUFFIX_ALPHABET.length)]).join("")


export interface ContinueToken {
  readonly rv: number
  readonly start: string
}

export const encodeContinue = (token: ContinueToken) => Buffer.from(JSON.stringify(token)).toString("base64url")

export const decodeContinue = (text: string): ContinueToken | undefined => {
  try {
    const t = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown
    return isObject(t) && typeof t["rv"] === "number" && typeof t["start"] === "string" ? { rv: t["rv"], start: t["start"] } : undefined
  } catch {
    return undefined
  }
}
