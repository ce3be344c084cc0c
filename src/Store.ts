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
  /**
   * The objects by namespace ("" for cluster-scoped ones), then by name. The names are the strings
   * the objects hold, so no key string is kept per object (a `namespace/name` key costs about 32
   * bytes per cached object); keys are made when asked for.
   */
  private readonly namespaces = new Map<string, Map<string, A>>()
  private count = 0
  /** The last namespace looked up by key, and its objects (most caches hold one namespace). */
  private lastNamespace: string | undefined = undefined
  private lastObjects: Map<string, A> | undefined = undefined
  private readonly indexes = new Map<string, { readonly fn: IndexFunction<A>; readonly values: Map<string, Set<string>> }>()
  private readonly labelKeys: ReadonlySet<string>

  constructor(labels: ReadonlyArray<string>, indexers: Readonly<Record<string, IndexFunction<A>>>) {
    caches.set(this.store, this)
    this.labelKeys = new Set(labels)
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

  /** The objects of a namespace ("" for cluster-scoped ones), if any. */
  private objectsIn(namespace: string): Map<string, A> | undefined {
    if (namespace === this.lastNamespace) return this.lastObjects
    const objects = this.namespaces.get(namespace)
    if (objects !== undefined) {
      this.lastNamespace = namespace
      this.lastObjects = objects
    }
    return objects
  }

  /** The objects of the key's namespace, if any (`located`), and the name in it. */
  private locate(k: string): string {
    const slash = k.indexOf("/")
    if (slash === -1) {
      this.located = this.objectsIn("")
      return k
    }
    const last = this.lastNamespace
    // the namespace of the last lookup, recognised without slicing the key
    this.located = last !== undefined && slash === last.length && k.startsWith(last) ? this.lastObjects : this.objectsIn(k.slice(0, slash))
    return k.slice(slash + 1)
  }
  private located: Map<string, A> | undefined = undefined

  get(k: string): A | undefined {
    const name = this.locate(k)
    return this.located?.get(name)
  }

  /** The object with this name in this namespace (none or "" for a cluster-scoped one). */
  find(namespace: string | undefined, name: string): A | undefined {
    return this.objectsIn(namespace ?? "")?.get(name)
  }

  /** Stores an object; returns the one it replaced. `k` spares a caller holding its key computing it again. */
  set(object: A, k?: string): A | undefined {
    const namespace = object.metadata.namespace ?? ""
    let objects = this.objectsIn(namespace)
    if (objects === undefined) {
      objects = new Map()
      this.namespaces.set(namespace, objects)
    }
    const name = object.metadata.name
    const old = objects.get(name)
    objects.set(name, object)
    if (old === undefined) this.count++
    if (this.indexes.size > 0) {
      const key = k ?? keyOf(object)
      if (old === undefined) this.index(key, object)
      else this.reindex(key, old, object)
    }
    return old
  }

  delete(k: string): A | undefined {
    const name = this.locate(k)
    const objects = this.located
    const old = objects?.get(name)
    if (old === undefined) return undefined
    if (this.indexes.size > 0) this.unindex(k, old)
    objects!.delete(name)
    this.count--
    if (objects!.size === 0) {
      this.namespaces.delete(old.metadata.namespace ?? "")
      if (this.lastObjects === objects) this.lastNamespace = this.lastObjects = undefined
    }
    return old
  }

  get size(): number {
    return this.count
  }

  /** Every key, made now (the cache keeps none). */
  keys(): Array<string> {
    const out: Array<string> = []
    for (const [namespace, objects] of this.namespaces) {
      if (namespace === "") for (const name of objects.keys()) out.push(name)
      else for (const name of objects.keys()) out.push(`${namespace}/${name}`)
    }
    return out
  }

  /** Every object (a snapshot). */
  values(): Array<A> {
    const out: Array<A> = []
    for (const objects of this.namespaces.values()) for (const object of objects.values()) out.push(object)
    return out
  }

  /** Every object by key, as a new Map (a snapshot). */
  get items(): ReadonlyMap<string, A> {
    const out = new Map<string, A>()
    for (const object of this.values()) out.set(keyOf(object), object)
    return out
  }

  private index(k: string, object: A) {
    for (const index of this.indexes.values()) {
      for (const v of index.fn(object)) {
        let keys = index.values.get(v)
        if (keys === undefined) index.values.set(v, (keys = new Set()))
        keys.add(k)
      }
    }
  }

  /** Moves a replaced object between index values, touching only the indexes whose values changed. */
  private reindex(k: string, old: A, object: A) {
    for (const index of this.indexes.values()) {
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
    // the namespace "index" is the cache's own layout (cluster-scoped objects are in none)
    if (index === "namespace") {
      const objects = Array.from(this.objectsIn(value)?.values() ?? [])
      return value === "" ? objects.filter((o) => o.metadata.namespace !== undefined) : objects
    }
    const keys = this.indexes.get(index)?.values.get(value)
    if (keys === undefined) return []
    const out: Array<A> = []
    for (const k of keys) out.push(this.get(k)!)
    return out
  }

  readonly store: Store<A> = {
    get: (k) => Effect.sync(() => Option.fromUndefinedOr(this.get(k))),
    list: (options) =>
      Effect.sync(() => (options?.namespace !== undefined ? this.lookup("namespace", options.namespace) : this.values())),
    byLabel: (label, value) =>
      Effect.sync(() =>
        this.labelKeys.has(label)
          ? this.lookup("~labels", `${label}=${value}`)
          : this.values().filter((o) => o.metadata.labels?.[label] === value)
      ),
    byIndex: (index, value) =>
      Effect.suspend(() =>
        index === "namespace" || this.indexes.has(index)
          ? Effect.succeed(this.lookup(index, value))
          : Effect.die(new Error(`no index named "${index}"`))
      ),
    keys: Effect.sync(() => this.keys()),
    size: Effect.sync(() => this.count)
  }
}

/** The Cache behind each Store it made. */
const caches = new WeakMap<Store<any>, Cache<any>>()

/**
 * A synchronous read of the cache behind a Store (undefined for a Store no Cache made): the
 * Controller reads the key it reconciles without an Effect step.
 *
 * @since 0.1.0
 * @internal
 */
export const reader = <A extends KubeObject>(store: Store<A>): ((k: string) => A | undefined) | undefined => {
  const cache = caches.get(store) as Cache<A> | undefined
  return cache === undefined ? undefined : (k) => cache.get(k)
}
