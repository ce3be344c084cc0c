/**
 * Field ownership of the in-memory API server (`metadata.managedFields`) and server-side apply.
 *
 * Ownership is tracked per field manager and operation (Apply or Update) at the level of leaf
 * fields: a map is walked into, everything else (strings, numbers, lists, empty maps) is one
 * field. Lists are atomic: kube-apiserver tracks the items of keyed lists (containers by name, …)
 * and sets (finalizers) one by one; here the whole list is one field. An Update entry also owns
 * the maps it created (`"."` in FieldsV1), as the real server records them.
 * @internal
 */
import { clone, deepEqual, isObject, type JsonObject } from "./status.ts"

type Path = ReadonlyArray<string>

const NODE = "."

const systemMetadata = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink"
])

const ignored = (path: Path) =>
  (path.length === 1 && (path[0] === "apiVersion" || path[0] === "kind")) ||
  (path.length === 2 && path[0] === "metadata" && systemMetadata.has(path[1]!))

const keyOf = (path: Path) => JSON.stringify(path)

/** A set of field paths; a path ending in "." is a map the manager created. */
export class FieldSet {
  private readonly paths = new Map<string, Path>()

  constructor(paths: Iterable<Path> = []) {
    for (const p of paths) this.add(p)
  }

  add(path: Path): void {
    this.paths.set(keyOf(path), path)
  }

  has(path: Path): boolean {
    return this.paths.has(keyOf(path))
  }

  delete(path: Path): void {
    this.paths.delete(keyOf(path))
  }

  get size(): number {
    return this.paths.size
  }

  /** Leaf fields (not "." map entries). */
  leaves(): Array<Path> {
    return [...this.paths.values()].filter((p) => p[p.length - 1] !== NODE)
  }

  all(): Array<Path> {
    return [...this.paths.values()]
  }

  equals(other: FieldSet): boolean {
    return this.size === other.size && this.all().every((p) => other.has(p))
  }
}

const isEmptyMap = (u: unknown) => isObject(u) && Object.keys(u).length === 0

const isPrefix = (prefix: Path, path: Path) => prefix.length <= path.length && prefix.every((s, i) => path[i] === s)

/** Two leaf fields overlap when one contains the other. */
const overlaps = (a: Path, b: Path) => isPrefix(a, b) || isPrefix(b, a)

export const valueAt = (object: unknown, path: Path): unknown => {
  let current = object
  for (const segment of path) {
    if (!isObject(current)) return undefined
    current = current[segment]
  }
  return current
}

/** The leaf fields an applied configuration sets. */
export const leafFields = (object: JsonObject, skip: (path: Path) => boolean = () => false): FieldSet => {
  const set = new FieldSet()
  const walk = (value: unknown, path: Array<string>) => {
    if (path.length > 0 && (ignored(path) || skip(path))) return
    if (isObject(value) && (Object.keys(value).length > 0 || path.length === 0)) {
      for (const [k, v] of Object.entries(value)) if (v !== undefined) walk(v, [...path, k])
    } else if (path.length > 0) {
      set.add(path)
    }
  }
  walk(object, [])
  return set
}

/** What an update changed: fields set or changed (and maps it created), and fields it removed. */
export const changedFields = (before: unknown, after: unknown) => {
  const changed = new FieldSet()
  const removed: Array<Path> = []
  const walk = (old: unknown, next: unknown, path: Array<string>) => {
    if (path.length > 0 && ignored(path)) return
    const nextMap = isObject(next) && (Object.keys(next).length > 0 || path.length === 0)
    if (nextMap && (isObject(old) || old === undefined)) {
      // kube-apiserver never records the metadata map itself as created
      if (old === undefined && path.length > 0 && !(path.length === 1 && path[0] === "metadata")) changed.add([...path, NODE])
      for (const [k, v] of Object.entries(next)) if (v !== undefined) walk(isObject(old) ? old[k] : undefined, v, [...path, k])
      if (isObject(old)) {
        for (const k of Object.keys(old)) {
          if (next[k] === undefined && !ignored([...path, k])) removed.push([...path, k])
        }
      }
    } else if (!deepEqual(old, next)) {
      changed.add(path)
    }
  }
  walk(before, after, [])
  return { changed, removed }
}

// ---------------------------------------------------------------------------------------------
// FieldsV1

export const toFieldsV1 = (set: FieldSet): JsonObject => {
  const root: JsonObject = {}
  for (const path of set.all()) {
    let node = root
    for (const segment of path) {
      const key = segment === NODE ? NODE : `f:${segment}`
      node[key] ??= {}
      node = node[key] as JsonObject
    }
  }
  return root
}

export const fromFieldsV1 = (tree: unknown): FieldSet => {
  const set = new FieldSet()
  const walk = (node: unknown, path: Array<string>) => {
    const keys = isObject(node) ? Object.keys(node) : []
    if (path.length > 0 && keys.length === 0) {
      set.add(path)
      return
    }
    if (keys.includes(NODE)) set.add([...path, NODE])
    // list items (k:, v:, i:) are not tracked one by one here: the list is one field
    if (path.length > 0 && keys.some((k) => k !== NODE && !k.startsWith("f:"))) set.add(path)
    for (const k of keys) if (k.startsWith("f:")) walk((node as JsonObject)[k], [...path, k.slice(2)])
  }
  walk(tree, [])
  return set
}

export interface ManagedEntry {
  readonly manager: string
  readonly operation: "Apply" | "Update"
  readonly apiVersion: string
  readonly time: string
  readonly fields: FieldSet
}

export const readEntries = (object: unknown): Array<ManagedEntry> => {
  const raw = valueAt(object, ["metadata", "managedFields"])
  if (!Array.isArray(raw)) return []
  return raw.filter(isObject).map((e) => ({
    manager: String(e["manager"] ?? ""),
    operation: e["operation"] === "Apply" ? "Apply" as const : "Update" as const,
    apiVersion: String(e["apiVersion"] ?? ""),
    time: String(e["time"] ?? ""),
    fields: fromFieldsV1(e["fieldsV1"])
  }))
}

const writeEntries = (object: JsonObject, entries: ReadonlyArray<ManagedEntry>): JsonObject => {
  const metadata = { ...(object["metadata"] as JsonObject) }
  const kept = entries.filter((e) => e.fields.size > 0)
  if (kept.length > 0) {
    metadata["managedFields"] = kept.map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(e.fields)
    }))
  } else {
    delete metadata["managedFields"]
  }
  return { ...object, metadata }
}

/** Drops owned fields that no longer exist in the object. */
const prune = (entries: ReadonlyArray<ManagedEntry>, object: unknown): Array<ManagedEntry> =>
  entries.map((e) => {
    const fields = new FieldSet(
      e.fields.all().filter((p) => {
        const isNode = p[p.length - 1] === NODE
        const value = valueAt(object, isNode ? p.slice(0, -1) : p)
        return isNode ? isObject(value) : value !== undefined
      })
    )
    return fields.equals(e.fields) ? e : { ...e, fields }
  })

const withoutOverlaps = (fields: FieldSet, taken: ReadonlyArray<Path>) =>
  new FieldSet(fields.all().filter((p) => p[p.length - 1] === NODE || !taken.some((t) => overlaps(t, p))))

/** Records a create, update or non-apply patch by `manager` (the real server's Update operation). */
export const recordUpdate = (
  before: unknown,
  after: JsonObject,
  manager: string,
  apiVersion: string,
  time: string
): JsonObject => {
  const { changed, removed } = changedFields(before, after)
  const changedLeaves = changed.leaves()
  let entries = readEntries(before).map((e) => {
    if (e.manager === manager && e.operation === "Update") return e
    const fields = new FieldSet(withoutOverlaps(e.fields, changedLeaves).all().filter((p) => !removed.some((r) => isPrefix(r, p))))
    return fields.equals(e.fields) ? e : { ...e, fields }
  })
  if (changed.size > 0) {
    const index = entries.findIndex((e) => e.manager === manager && e.operation === "Update")
    const own = index >= 0 ? entries[index]!.fields.all() : []
    const entry: ManagedEntry = { manager, operation: "Update", apiVersion, time, fields: new FieldSet([...own, ...changed.all()]) }
    entries = index >= 0 ? entries.map((e, i) => (i === index ? entry : e)) : [...entries, entry]
  }
  return writeEntries(after, prune(entries, after))
}

export interface FieldConflict {
  readonly manager: string
  readonly operation: "Apply" | "Update"
  readonly apiVersion: string
  readonly field: string
}

const fieldString = (path: Path) => "." + path.join(".")

const deleteAt = (object: JsonObject, path: Path) => {
  const parents: Array<JsonObject> = [object]
  let current: unknown = object
  for (const segment of path.slice(0, -1)) {
    current = isObject(current) ? current[segment] : undefined
    if (!isObject(current)) return
    parents.push(current)
  }
  delete parents[parents.length - 1]![path[path.length - 1]!]
  // maps emptied by the removal go too, below the top level
  for (let i = parents.length - 1; i >= 2; i--) {
    if (Object.keys(parents[i]!).length > 0) break
    delete parents[i - 1]![path[i - 1]!]
  }
}

const mergeInto = (target: JsonObject, source: JsonObject, path: Array<string>, skip: (path: Path) => boolean) => {
  for (const [k, v] of Object.entries(source)) {
    const p = [...path, k]
    if (ignored(p) || skip(p) || v === undefined) continue
    if (isObject(v)) {
      const existing = target[k]
      const next = isObject(existing) ? { ...existing } : {}
      mergeInto(next, v, p, skip)
      target[k] = next
    } else {
      target[k] = clone(v)
    }
  }
}

/**
 * Server-side apply of `applied` by `manager` onto `current` (undefined: the object is created).
 * Either the conflicts with other managers, or the merged object with its managedFields.
 */
export const apply = (options: {
  readonly current: JsonObject | undefined
  readonly applied: JsonObject
  readonly manager: string
  readonly force: boolean
  readonly apiVersion: string
  readonly time: string
  /** Fields this apply must not touch (status on the main resource, all but status on /status). */
  readonly skip: (path: Path) => boolean
}): { readonly _tag: "Conflicts"; readonly conflicts: ReadonlyArray<FieldConflict> } | { readonly _tag: "Applied"; readonly object: JsonObject } => {
  const { applied, current, manager, skip } = options
  const entries = readEntries(current)
  const appliedFields = leafFields(applied, skip)
  const appliedLeaves = appliedFields.leaves()
  // an empty map in the applied configuration sets nothing below it
  const touches = (p: Path) =>
    appliedLeaves.some((a) => overlaps(a, p) && !(a.length < p.length && isEmptyMap(valueAt(applied, a))))

  const conflicts: Array<FieldConflict & { readonly path: Path }> = []
  for (const e of entries) {
    if (e.manager === manager) continue
    for (const p of e.fields.leaves()) {
      if (!touches(p)) continue
      if (deepEqual(valueAt(current, p), valueAt(applied, p))) continue
      conflicts.push({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, field: fieldString(p), path: p })
    }
  }
  if (conflicts.length > 0 && !options.force) return { _tag: "Conflicts", conflicts }

  const result: JsonObject = clone(current ?? {})
  const previous = entries.find((e) => e.manager === manager && e.operation === "Apply")
  const others = entries.filter((e) => !(e.manager === manager && e.operation === "Apply"))
  for (const p of previous?.fields.leaves() ?? []) {
    if (touches(p)) continue
    if (others.some((e) => e.fields.leaves().some((o) => overlaps(o, p)))) continue
    deleteAt(result, p)
  }
  mergeInto(result, applied, [], skip)

  const taken = conflicts.map((c) => c.path)
  let next = entries.map((e) => {
    if (e.manager === manager) return e
    const fields = withoutOverlaps(e.fields, taken)
    return fields.equals(e.fields) ? e : { ...e, fields }
  })
  const own: ManagedEntry = {
    manager,
    operation: "Apply",
    apiVersion: options.apiVersion,
    time: previous !== undefined && previous.fields.equals(appliedFields) ? previous.time : options.time,
    fields: appliedFields
  }
  const index = next.findIndex((e) => e.manager === manager && e.operation === "Apply")
  next = index >= 0 ? next.map((e, i) => (i === index ? own : e)) : [...next, own]
  return { _tag: "Applied", object: writeEntries(result, prune(next, result)) }
}

/** The API server's message for apply conflicts. */
export const conflictMessage = (conflicts: ReadonlyArray<FieldConflict>): string => {
  const who = (c: FieldConflict) => `"${c.manager}"${c.operation === "Update" ? ` using ${c.apiVersion}` : ""}`
  const sorted = [...conflicts].sort((a, b) => (a.manager === b.manager ? (a.field < b.field ? -1 : 1) : a.manager < b.manager ? -1 : 1))
  if (sorted.length === 1) return `Apply failed with 1 conflict: conflict with ${who(sorted[0]!)}: ${sorted[0]!.field}`
  const groups = new Map<string, Array<string>>()
  for (const c of sorted) groups.set(who(c), [...(groups.get(who(c)) ?? []), c.field])
  const parts = [...groups].map(([w, fields]) => `conflicts with ${w}:\n${fields.map((f) => `- ${f}`).join("\n")}`)
  return `Apply failed with ${sorted.length} conflicts: ${parts.join("\n")}`
}

export const conflictCauses = (conflicts: ReadonlyArray<FieldConflict>) =>
  [...conflicts]
    .sort((a, b) => (a.manager === b.manager ? (a.field < b.field ? -1 : 1) : a.manager < b.manager ? -1 : 1))
    .map((c) => ({
      reason: "FieldManagerConflict",
      message: `conflict with "${c.manager}"${c.operation === "Update" ? ` using ${c.apiVersion}` : ""}`,
      field: c.field
    }))
