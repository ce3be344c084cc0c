/**
 * Kubeconfig files read and merged exactly as kubectl (client-go's clientcmd) does:
 *
 * - Each file is YAML or JSON; an empty file is an empty config. A field of the wrong type fails the
 *   file (clientcmd decodes strictly typed structs); unknown cluster and context fields are ignored.
 * - Within one file a name may appear once per list (clusters, users, contexts).
 * - Across files (a `KUBECONFIG` list) the first file to define a cluster, user or context wins,
 *   whole: later definitions of the same name are ignored, not merged and not an error. The first
 *   non-empty `current-context` wins; a file without one is fine.
 * - Relative paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, and an
 *   exec `command` holding a path separator) are resolved against the directory of the file that
 *   defined them.
 * - Missing files in a `KUBECONFIG` list are skipped; the same file listed twice is read once.
 * @internal
 */
import * as Path from "node:path"
import * as Yaml from "effect/encoding/Yaml"

/** One definition and the file it came from (undefined for text not from a file). */
export interface Entry {
  readonly value: Readonly<Record<string, unknown>>
  readonly origin: string | undefined
}

export interface Config {
  readonly clusters: ReadonlyMap<string, Entry>
  readonly users: ReadonlyMap<string, Entry>
  readonly contexts: ReadonlyMap<string, Entry>
  readonly currentContext: string | undefined
}

export type Parsed = { readonly config: Config } | { readonly error: string }

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

type Check = (value: unknown) => string | undefined

const string: Check = (v) => (typeof v === "string" ? undefined : "must be a string")
const boolean: Check = (v) => (typeof v === "boolean" ? undefined : "must be true or false")
const base64: Check = (v) =>
  typeof v !== "string"
    ? "must be a base64 string"
    : /^[A-Za-z0-9+/]*={0,2}$/.test(v.replace(/[\r\n]/g, "")) && v.replace(/[\r\n]/g, "").length % 4 === 0
    ? undefined
    : "is not valid base64"
const stringList: Check = (v) => (Array.isArray(v) && v.every((s) => typeof s === "string") ? undefined : "must be a list of strings")
const stringMap = (inner: Check): Check => (v) => {
  if (!isRecord(v)) return "must be a map"
  for (const [k, x] of Object.entries(v)) {
    const e = inner(x)
    if (e !== undefined) return `.${k} ${e}`
  }
  return undefined
}
const list: Check = (v) => (Array.isArray(v) ? undefined : "must be a list")
const object = (fields: Readonly<Record<string, Check>>): Check => (v) => {
  if (!isRecord(v)) return "must be a map"
  for (const [k, check] of Object.entries(fields)) {
    if (v[k] === undefined || v[k] === null) continue
    const e = check(v[k])
    if (e !== undefined) return `.${k} ${e}`
  }
  return undefined
}

const clusterFields: Readonly<Record<string, Check>> = {
  server: string,
  "tls-server-name": string,
  "insecure-skip-tls-verify": boolean,
  "certificate-authority": string,
  "certificate-authority-data": base64,
  "proxy-url": string,
  "disable-compression": boolean,
  extensions: list
}

const execFields: Readonly<Record<string, Check>> = {
  command: string,
  args: stringList,
  env: (v) =>
    Array.isArray(v) && v.every((e) => isRecord(e) && typeof e["name"] === "string" && (e["value"] === undefined || typeof e["value"] === "string"))
      ? undefined
      : "must be a list of {name, value}",
  apiVersion: string,
  installHint: string,
  provideClusterInfo: boolean,
  interactiveMode: string
}

/** Every field of a kubeconfig user (clientcmd's AuthInfo), with its type. */
export const userFields: Readonly<Record<string, Check>> = {
  "client-certificate": string,
  "client-certificate-data": base64,
  "client-key": string,
  "client-key-data": base64,
  token: string,
  tokenFile: string,
  as: string,
  "as-uid": string,
  "as-groups": stringList,
  "as-user-extra": stringMap(stringList),
  username: string,
  password: string,
  "auth-provider": object({ name: string, config: stringMap(string) }),
  exec: object(execFields),
  extensions: list
}

const contextFields: Readonly<Record<string, Check>> = {
  cluster: string,
  user: string,
  namespace: string,
  extensions: list
}

const resolve = (origin: string | undefined, path: unknown) =>
  origin === undefined || typeof path !== "string" || path === "" || Path.isAbsolute(path)
    ? path
    : Path.join(Path.dirname(Path.resolve(origin)), path)

/** Relative file references of a definition, resolved against the file it came from. */
const resolvePaths = (kind: "cluster" | "user", value: Record<string, unknown>, origin: string | undefined) => {
  if (origin === undefined) return value
  const out: Record<string, unknown> = { ...value }
  if (kind === "cluster") {
    if (out["certificate-authority"] !== undefined) out["certificate-authority"] = resolve(origin, out["certificate-authority"])
    return out
  }
  for (const key of ["client-certificate", "client-key", "tokenFile"]) {
    if (out[key] !== undefined) out[key] = resolve(origin, out[key])
  }
  const exec = out["exec"]
  // only a command given as a path; a bare name is looked up on PATH
  if (isRecord(exec) && typeof exec["command"] === "string" && exec["command"].includes(Path.sep)) {
    out["exec"] = { ...exec, command: resolve(origin, exec["command"]) }
  }
  return out
}

const sections = [
  ["clusters", "cluster", clusterFields],
  ["users", "user", userFields],
  ["contexts", "context", contextFields]
] as const

/** Reads one file's text. `origin` is its path (for relative paths and messages). */
export const parse = (text: string, origin: string | undefined): Parsed => {
  let doc: unknown
  try {
    doc = text.trim() === "" ? null : Yaml.parse(text)
  } catch (e) {
    return { error: `not valid YAML or JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  if (doc === null || doc === undefined) {
    return { config: { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined } }
  }
  if (!isRecord(doc)) return { error: "not a kubeconfig: the document is not a map" }
  const maps: Record<string, Map<string, Entry>> = {}
  for (const [section, field, fields] of sections) {
    const entries = new Map<string, Entry>()
    maps[section] = entries
    const items = doc[section]
    if (items === undefined || items === null) continue
    if (!Array.isArray(items)) return { error: `${section} must be a list` }
    for (let i = 0; i < items.length; i++) {
      const item: unknown = items[i]
      if (!isRecord(item)) return { error: `${section}[${i}] must be a map` }
      const name = item["name"]
      if (typeof name !== "string" || name === "") return { error: `${section}[${i}].name must be a non-empty string` }
      const value = item[field] ?? {}
      const problem = object(fields)(value)
      if (problem !== undefined) return { error: `${section}[${i}] ("${name}").${field}${problem}` }
      if (entries.has(name)) return { error: `${section} has "${name}" twice` }
      entries.set(name, {
        value: field === "context" ? value as Record<string, unknown> : resolvePaths(field, value as Record<string, unknown>, origin),
        origin
      })
    }
  }
  const current = doc["current-context"]
  if (current !== undefined && current !== null && typeof current !== "string") return { error: "current-context must be a string" }
  return {
    config: {
      clusters: maps["clusters"]!,
      users: maps["users"]!,
      contexts: maps["contexts"]!,
      currentContext: typeof current === "string" && current !== "" ? current : undefined
    }
  }
}

/** Merges configs in order: the first to define a name (or a current-context) wins. */
export const merge = (configs: ReadonlyArray<Config>): Config => {
  const clusters = new Map<string, Entry>()
  const users = new Map<string, Entry>()
  const contexts = new Map<string, Entry>()
  let currentContext: string | undefined
  for (const c of configs) {
    for (const [k, v] of c.clusters) if (!clusters.has(k)) clusters.set(k, v)
    for (const [k, v] of c.users) if (!users.has(k)) users.set(k, v)
    for (const [k, v] of c.contexts) if (!contexts.has(k)) contexts.set(k, v)
    currentContext ??= c.currentContext
  }
  return { clusters, users, contexts, currentContext }
}
