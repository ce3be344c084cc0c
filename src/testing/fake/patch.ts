/**
 * The patch formats of the in-memory API server: JSON patch (RFC 6902), JSON merge patch
 * (RFC 7386) and strategic merge patch for built-in kinds.
 *
 * Strategic merge: maps merge as in a merge patch; lists are replaced, except the lists below,
 * which merge by key as kube-apiserver's struct tags say (`patchMergeKey`): containers,
 * initContainers, ephemeralContainers, env, volumes, imagePullSecrets, secrets (by `name`),
 * volumeMounts (`mountPath`), volumeDevices (`devicePath`), ports (`containerPort`, or `port` for a
 * Service's), conditions (`type`), ownerReferences (`uid`), hostAliases (`ip`),
 * topologySpreadConstraints (`topologyKey`), and `metadata.finalizers` (a set of strings). The
 * directives `$patch: delete | replace | merge`, `$deleteFromPrimitiveList/<field>`,
 * `$setElementOrder/<field>` and `$retainKeys` are understood.
 * @internal
 */
import { clone, deepEqual, isObject, type JsonObject } from "./status.ts"

// ---------------------------------------------------------------------------------------------
// RFC 6902

export class PatchError extends Error {}

const unescapePointer = (segment: string) => segment.replace(/~1/g, "/").replace(/~0/g, "~")

const parsePointer = (pointer: string): Array<string> => {
  if (pointer === "") return []
  if (!pointer.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`)
  return pointer.slice(1).split("/").map(unescapePointer)
}

const arrayIndex = (array: Array<unknown>, segment: string, forAdd: boolean): number => {
  if (segment === "-" && forAdd) return array.length
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) throw new PatchError(`invalid array index ${segment}`)
  const index = Number(segment)
  if (index > array.length || (!forAdd && index === array.length)) throw new PatchError(`index ${index} out of range`)
  return index
}

/** The parent container and last segment of a path (throws when the parent does not exist). */
const locate = (doc: unknown, path: Array<string>): { parent: unknown; key: string } => {
  let current = doc
  for (const segment of path.slice(0, -1)) {
    if (Array.isArray(current)) current = current[arrayIndex(current, segment, false)]
    else if (isObject(current) && Object.hasOwn(current, segment)) current = current[segment]
    else throw new PatchError(`missing path /${path.join("/")}`)
  }
  return { parent: current, key: path[path.length - 1]! }
}

const getAt = (doc: unknown, path: Array<string>): unknown => {
  if (path.length === 0) return doc
  const { key, parent } = locate(doc, path)
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)]
  if (isObject(parent) && Object.hasOwn(parent, key)) return parent[key]
  throw new PatchError(`missing path /${path.join("/")}`)
}

const addAt = (doc: unknown, path: Array<string>, value: unknown): unknown => {
  if (path.length === 0) return value
  const { key, parent } = locate(doc, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value)
  else if (isObject(parent)) parent[key] = value
  else throw new PatchError(`cannot add at /${path.join("/")}`)
  return doc
}

const removeAt = (doc: unknown, path: Array<string>): unknown => {
  if (path.length === 0) throw new PatchError("cannot remove the whole document")
  const { key, parent } = locate(doc, path)
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, false), 1)
  else if (isObject(parent) && Object.hasOwn(parent, key)) delete parent[key]
  else throw new PatchError(`missing path /${path.join("/")}`)
  return doc
}

/** Applies RFC 6902 operations to a copy of `doc`; throws PatchError when one fails. */
export const applyJsonPatch = (doc: unknown, operations: unknown): unknown => {
  if (!Array.isArray(operations)) throw new PatchError("a JSON patch is an array of operations")
  let result = clone(doc)
  for (const raw of operations) {
    if (!isObject(raw) || typeof raw["path"] !== "string") throw new PatchError("an operation needs a path")
    const path = parsePointer(raw["path"])
    const from = () => {
      if (typeof raw["from"] !== "string") throw new PatchError(`${String(raw["op"])} needs from`)
      return parsePointer(raw["from"])
    }
    const value = () => {
      if (!Object.hasOwn(raw, "value")) throw new PatchError(`${String(raw["op"])} needs a value`)
      return clone(raw["value"])
    }
    switch (raw["op"]) {
      case "add":
        result = addAt(result, path, value())
        break
      case "remove":
        result = removeAt(result, path)
        break
      case "replace":
        getAt(result, path)
        result = path.length === 0 ? value() : addAt(removeAt(result, path), path, value())
        break
      case "move": {
        const source = from()
        const moved = getAt(result, source)
        result = addAt(removeAt(result, source), path, moved)
        break
      }
      case "copy":
        result = addAt(result, path, clone(getAt(result, from())))
        break
      case "test":
        if (!deepEqual(getAt(result, path), value())) throw new PatchError(`test failed at ${raw["path"]}`)
        break
      default:
        throw new PatchError(`unknown operation ${JSON.stringify(raw["op"])}`)
    }
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// RFC 7386

export const applyMergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return clone(patch)
  const result: JsonObject = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}

// ---------------------------------------------------------------------------------------------
// Strategic merge

const mergeKeys: Readonly<Record<string, string>> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  imagePullSecrets: "name",
  secrets: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  conditions: "type",
  ownerReferences: "uid",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey"
}

/** The merge key of a list field, "" for a merged set of primitives, undefined when replaced. */
const mergeKeyOf = (path: ReadonlyArray<string>, field: string, items: ReadonlyArray<unknown>): string | undefined => {
  if (field === "finalizers" && path.length === 1 && path[0] === "metadata") return ""
  if (field === "ports") return items.some((i) => isObject(i) && "containerPort" in i) ? "containerPort" : "port"
  return mergeKeys[field]
}

const keyOf = (item: unknown, mergeKey: string): unknown => (mergeKey === "" ? item : isObject(item) ? item[mergeKey] : undefined)

const sameKey = (a: unknown, b: unknown, mergeKey: string) => deepEqual(keyOf(a, mergeKey), keyOf(b, mergeKey))

const indexIn = (list: ReadonlyArray<unknown>, item: unknown, mergeKey: string) =>
  list.findIndex((x) => sameKey(x, item, mergeKey))

/**
 * kube-apiserver's order for a merged list: the patch's items in patch order (or
 * `$setElementOrder`), interleaved with the items only the server has, in server order.
 */
const mergeOrder = (
  patched: ReadonlyArray<unknown>,
  serverOnly: ReadonlyArray<unknown>,
  server: ReadonlyArray<unknown>,
  mergeKey: string
): Array<unknown> => {
  const out: Array<unknown> = []
  let i = 0
  let j = 0
  while (i < patched.length || j < serverOnly.length) {
    if (i >= patched.length) out.push(serverOnly[j++])
    else if (j >= serverOnly.length) out.push(patched[i++])
    else {
      const li = indexIn(server, patched[i], mergeKey)
      const ri = indexIn(server, serverOnly[j], mergeKey)
      if (li >= 0 && ri >= 0 && li > ri) out.push(serverOnly[j++])
      else out.push(patched[i++])
    }
  }
  return out
}

const mergeList = (
  path: ReadonlyArray<string>,
  field: string,
  original: unknown,
  patch: ReadonlyArray<unknown>,
  order: ReadonlyArray<unknown> | undefined,
  deletions: ReadonlyArray<unknown>
): unknown => {
  const server = Array.isArray(original) ? original : []
  if (patch.some((p) => isObject(p) && p["$patch"] === "replace")) {
    return patch.filter((p) => !(isObject(p) && p["$patch"] === "replace"))
  }
  const mergeKey = mergeKeyOf(path, field, [...server, ...patch])
  if (mergeKey === undefined) return clone(patch)
  const deleted = patch.filter((p) => isObject(p) && p["$patch"] === "delete")
  const updates = patch.filter((p) => !(isObject(p) && p["$patch"] === "delete"))
  const gone = (item: unknown) =>
    deleted.some((d) => sameKey(d, item, mergeKey)) || (mergeKey === "" && deletions.some((d) => deepEqual(d, item)))
  const patched: Array<unknown> = []
  for (const p of updates) {
    if (patched.some((x) => sameKey(x, p, mergeKey))) continue
    const existing = server.find((s) => sameKey(s, p, mergeKey))
    patched.push(mergeKey === "" ? p : strategicMerge(existing, p, [...path, field]))
  }
  const sortedPatched = order === undefined
    ? patched
    : [...patched].sort((a, b) => indexIn(order, a, mergeKey) - indexIn(order, b, mergeKey))
  const serverOnly = server.filter((s) => !gone(s) && !patched.some((p) => sameKey(p, s, mergeKey)))
  return mergeOrder(sortedPatched, serverOnly, order ?? server, mergeKey)
}

/** Applies a strategic merge patch (see the module comment for what is understood). */
export const strategicMerge = (original: unknown, patch: unknown, path: ReadonlyArray<string> = []): unknown => {
  if (!isObject(patch)) return clone(patch)
  if (patch["$patch"] === "delete") return undefined
  const replace = patch["$patch"] === "replace"
  const result: JsonObject = isObject(original) && !replace ? { ...original } : {}
  const retain = Array.isArray(patch["$retainKeys"]) ? patch["$retainKeys"] as ReadonlyArray<string> : undefined
  for (const [key, value] of Object.entries(patch)) {
    if (key === "$patch" || key === "$retainKeys" || key.startsWith("$setElementOrder/") || key.startsWith("$deleteFromPrimitiveList/")) {
      continue
    }
    if (value === null) {
      delete result[key]
    } else if (Array.isArray(value)) {
      const order = patch[`$setElementOrder/${key}`]
      const deletions = patch[`$deleteFromPrimitiveList/${key}`]
      result[key] = mergeList(path, key, result[key], value, Array.isArray(order) ? order : undefined, Array.isArray(deletions) ? deletions : [])
    } else {
      const merged = strategicMerge(replace ? undefined : result[key], value, [...path, key])
      if (merged === undefined) delete result[key]
      else result[key] = merged
    }
  }
  for (const key of Object.keys(patch)) {
    const field = key.startsWith("$deleteFromPrimitiveList/") ? key.slice("$deleteFromPrimitiveList/".length) : undefined
    if (field !== undefined && !Array.isArray(patch[field]) && Array.isArray(result[field])) {
      const deletions = patch[key] as ReadonlyArray<unknown>
      result[field] = (result[field] as Array<unknown>).filter((x) => !deletions.some((d) => deepEqual(d, x)))
    }
  }
  if (retain !== undefined) {
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key]
  }
  return result
}
