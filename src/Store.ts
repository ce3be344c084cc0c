/**
 * The informer cache: objects by key ("namespace/name", or "name" for cluster-scoped kinds), by
 * namespace, by label and by user index functions. Objects in the Store are never mutated, so a
 * list is a consistent snapshot. Reads are Effects so programs stay testable; they cost a Map lookup.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { KubeObject } from "./Kind.ts"

/**
 * The key of an object: `namespace/name`, or `name` for cluster-scoped objects.
 *
 * @example
 * ```ts
 * import { Store } from "operatorkit"
 *
 * Store.key({ namespace: "a", name: "b" }) // => "a/b"
 * Store.key({ name: "node-1" }) // => "node-1"
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const key = (ref: { readonly name: string; readonly namespace?: string | undefined }): string =>
  ref.namespace !== undefined && ref.namespace !== "" ? `${ref.namespace}/${ref.name}` : ref.name

/**
 * The key of an object from its metadata.
 *
 * @example
 * ```ts
 * import { Store } from "operatorkit"
 *
 * Store.keyOf({ metadata: { name: "b", namespace: "a" } }) // => "a/b"
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const keyOf = (object: KubeObject): string => key(object.metadata)

/**
 * Splits a key into namespace and name.
 *
 * @example
 * ```ts
 * import { Store } from "operatorkit"
 *
 * Store.parseKey("a/b") // => { namespace: "a", name: "b" }
 * Store.parseKey("node-1") // => { namespace: undefined, name: "node-1" }
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const parseKey = (k: string): { readonly namespace: string | undefined; readonly name: string } => {
  const slash = k.indexOf("/")
  return slash === -1 ? { namespace: undefined, name: k } : { namespace: k.slice(0, slash), name: k.slice(slash + 1) }
}

/**
 * An index function: the index values an object is found under.
 *
 * @since 0.1.0
 * @category models
 */
export type IndexFunction<A> = (object: A) => ReadonlyArray<string>

/**
 * Read access to a cache.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store<A extends KubeObject> {
  readonly get: (key: string) => Effect.Effect<Option.Option<A>>
  /** Every object (a snapshot), optionally in one namespace. */
  readonly list: (options?: { readonly namespace?: string }) => Effect.Effect<ReadonlyArray<A>>
  /** Objects with a label; served by an index when the label key was indexed, else by a scan. */
  readonly byLabel: (label: string, value: string) => Effect.Effect<ReadonlyArray<A>>
  /** Objects an index function put under `value`. */
  readonly byIndex: (index: string, value: string) => Effect.Effect<ReadonlyArray<A>>
  readonly keys: Effect.Effect<ReadonlyArray<string>>
  readonly size: Effect.Effect<number>
}

/**
 * The mutable cache behind a {@link Store}, driven by an informer.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Store } from "operatorkit"
 *
 * const cache = Store.makeCache<{ metadata: { name: string; namespace?: string; labels?: Record<string, string> } }>({ labels: ["app"] })
 * cache.set({ metadata: { name: "a", namespace: "n", labels: { app: "web" } } })
 * Effect.runSync(cache.store.byLabel("app", "web")).length // => 1
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCache = <A extends KubeObject>(options: {
  /** Label keys to index, for fast {@link Store.byLabel}. */
  readonly labels?: ReadonlyArray<string>
  readonly indexers?: Readonly<Record<string, IndexFunction<A>>>
} = {}): Cache<A> => new Cache(options.labels ?? [], options.indexers ?? {})

/**
 * A mutable cache with indexes. Mutations are synchronous so an informer can apply a batch of
 * events and notify subscribers without yielding in between.
 *
 * @example
 * ```ts
 * import { Store } from "operatorkit"
 *
 * const cache = Store.makeCache<{ metadata: { name: string; namespace?: string } }>()
 * cache.set({ metadata: { name: "a", namespace: "n" } })
 * cache.get("n/a") // => { metadata: { name: "a", namespace: "n" } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class Cache<A extends KubeObject> {
  readonly items = new Map<string, A>()
  private readonly indexes = new Map<string, { readonly fn: IndexFunction<A>; readonly values: Map<string, Set<string>> }>()
  private readonly labelKeys: ReadonlySet<string>
  private readonly namespaceIndex: { readonly fn: IndexFunction<A>; readonly values: Map<string, Set<string>> } = {
    fn: (o) => (o.metadata.namespace !== undefined ? [o.metadata.namespace] : []),
    values: new Map()
  }
  /** The namespace index is built on its first lookup (an informer on one namespace never needs it). */
  private namespaceIndexBuilt = false

  constructor(labels: ReadonlyArray<string>, indexers: Readonly<Record<string, IndexFunction<A>>>) {
    this.labelKeys = new Set(labels)
    this.indexes.set("namespace", this.namespaceIndex)
    if (labels.length > 0) {
      this.indexes.set("~labels", {
        fn: (o) => {
          const out: Array<string> = []
          const l = o.metadata.labels
          if (l !== undefined) for (const k of this.labelKeys) if (k in l) out.push(`${k}=${l[k]}`)
          return out
        },
        values: new Map()
      })
    }
    for (const [name, fn] of Object.entries(indexers)) this.indexes.set(name, { fn, values: new Map() })
  }

  get(k: string): A | undefined {
    return this.items.get(k)
  }

  /** Stores an object; returns the one it replaced. `k` spares a caller holding its key computing it again. */
  set(object: A, k: string = keyOf(object)): A | undefined {
    const old = this.items.get(k)
    this.items.set(k, object)
    if (old === undefined) this.index(k, object)
    else this.reindex(k, old, object)
    return old
  }

  delete(k: string): A | undefined {
    const old = this.items.get(k)
    if (old === undefined) return undefined
    this.unindex(k, old)
    this.items.delete(k)
    return old
  }

  get size(): number {
    return this.items.size
  }

  private index(k: string, object: A) {
    for (const index of this.indexes.values()) {
      if (index !== this.namespaceIndex || this.namespaceIndexBuilt) this.index1(index, k, object)
    }
  }

  private index1(index: { readonly fn: IndexFunction<A>; readonly values: Map<string, Set<string>> }, k: string, object: A) {
    for (const v of index.fn(object)) {
      let keys = index.values.get(v)
      if (keys === undefined) index.values.set(v, (keys = new Set()))
      keys.add(k)
    }
  }

  /** Moves a replaced object between index values, touching only the indexes whose values changed. */
  private reindex(k: string, old: A, object: A) {
    for (const index of this.indexes.values()) {
      // the key holds the namespace, so a replacement never changes it
      if (index === this.namespaceIndex) continue
      const { fn, values } = index
      const before = fn(old)
      const after = fn(object)
      if (before.length === after.length && before.every((v, i) => v === after[i])) continue
      for (const v of before) {
        const keys = values.get(v)
        if (keys === undefined) continue
        keys.delete(k)
        if (keys.size === 0) values.delete(v)
      }
      for (const v of after) {
        let keys = values.get(v)
        if (keys === undefined) values.set(v, (keys = new Set()))
        keys.add(k)
      }
    }
  }

  private unindex(k: string, object: A) {
    for (const index of this.indexes.values()) {
      if (index === this.namespaceIndex && !this.namespaceIndexBuilt) continue
      const { fn, values } = index
      for (const v of fn(object)) {
        const keys = values.get(v)
        if (keys === undefined) continue
        keys.delete(k)
        if (keys.size === 0) values.delete(v)
      }
    }
  }

  private lookup(index: string, value: string): ReadonlyArray<A> {
    const entry = this.indexes.get(index)
    if (entry === this.namespaceIndex && !this.namespaceIndexBuilt) {
      this.namespaceIndexBuilt = true
      for (const [k, object] of this.items) this.index1(entry, k, object)
    }
    const keys = entry?.values.get(value)
    if (keys === undefined) return []
    const out: Array<A> = []
    for (const k of keys) out.push(this.items.get(k)!)
    return out
  }

  readonly store: Store<A> = {
    get: (k) => Effect.sync(() => Option.fromUndefinedOr(this.items.get(k))),
    list: (options) =>
      Effect.sync(() =>
        options?.namespace !== undefined ? this.lookup("namespace", options.namespace) : Array.from(this.items.values())
      ),
    byLabel: (label, value) =>
      Effect.sync(() =>
        this.labelKeys.has(label)
          ? this.lookup("~labels", `${label}=${value}`)
          : Array.from(this.items.values()).filter((o) => o.metadata.labels?.[label] === value)
      ),
    byIndex: (index, value) =>
      Effect.suspend(() =>
        this.indexes.has(index) ? Effect.succeed(this.lookup(index, value)) : Effect.die(new Error(`no index named "${index}"`))
      ),
    keys: Effect.sync(() => Array.from(this.items.keys())),
    size: Effect.sync(() => this.items.size)
  }
}
