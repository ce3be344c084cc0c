/**
 * A Watcher's events applied to a Store, the shape of kube-rs's `reflector`: what changed, in the
 * order it changed, and nothing else.
 *
 * What it guarantees:
 * - An object is reported when it changed: the same uid and resourceVersion again (a relist, a
 *   resumed watch) is no change and is not transformed again.
 * - An object whose uid changed under the same name (deleted and created again while nobody looked)
 *   is a `Deleted` of the old one followed by an `Added` of the new one.
 * - After a list, what its pages did not bring is `Deleted` (the first list into an empty Store
 *   skips that pass). Items the Store holds at the same uid and resourceVersion are recognised from
 *   their metadata and left out of the list unparsed (`known`, for the Watcher).
 * - An object that does not decode keeps its last good version in the Store; it is reported as
 *   `Invalid` until a version decodes or it is deleted (then with `deleted: true`).
 * - Changes are reported after the Store applied them, in one synchronous step per event batch.
 *
 * @since 0.1.0
 */
import type * as Client from "./Client.ts"
import type * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Store from "./Store.ts"
import type * as Watcher from "./Watcher.ts"

/**
 * Where a change came from: the (re)list or a watch event.
 *
 * @since 0.1.0
 * @category models
 */
export type Source = "list" | "watch"

/**
 * A change of the Store.
 *
 * @since 0.1.0
 * @category models
 */
export type Change<A> =
  | { readonly _tag: "Added"; readonly object: A; readonly source: Source }
  | { readonly _tag: "Updated"; readonly old: A; readonly object: A; readonly source: Source }
  /** `object` is the last state the Store held. */
  | { readonly _tag: "Deleted"; readonly object: A; readonly source: Source }

/**
 * An object the Watcher saw but could not decode with its kind's Schema. Its last good version, if
 * any, stays in the Store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invalid {
  readonly key: string
  readonly meta: Client.RawMeta
  readonly error: KubeError.DecodeError
  /** The object went (a DELETED event that did not decode either): it is invalid no more. */
  readonly deleted: boolean
  readonly source: Source
}

/**
 * Options of a reflector.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A> {
  /**
   * Applied to every object before it is stored (keeping its name and namespace). Default: drop
   * `metadata.managedFields`, and keep one copy of the strings objects repeat (apiVersion, kind,
   * namespace, label values).
   */
  readonly transform?: ((object: A) => A) | undefined
  /** Label keys to index in the Store. */
  readonly indexLabels?: ReadonlyArray<string> | undefined
  readonly indexers?: Readonly<Record<string, Store.IndexFunction<A>>> | undefined
  /** Told of each change, after the Store applied it. */
  readonly onChange?: ((change: Change<A>) => void) | undefined
  /** Whether anyone listens to the changes now (default: always); none are built while nobody does. */
  readonly listening?: (() => boolean) | undefined
  /** Told of each object that does not decode (and of its deletion). */
  readonly onInvalid?: ((invalid: Invalid) => void) | undefined
}

/**
 * A Store kept by a Watcher's events.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reflector<A extends Kind.KubeObject> {
  /** The Store the events are applied to. */
  readonly store: Store.Store<A>
  /** The cache behind it (the Informer's resync reads it). */
  readonly cache: Store.Cache<A>
  /** Applies one event; the decode failures it met, to report. */
  readonly apply: (event: Watcher.Event<A>) => ReadonlyArray<KubeError.DecodeError>
  /** For `Watcher.Options.known`: during a relist, what the Store already holds at the same version. */
  readonly known: () => ((meta: Client.RawMeta) => boolean) | undefined
  /** Objects that do not decode now, by key. */
  readonly invalid: ReadonlyMap<string, Invalid>
  /** Objects that did not decode, counted. */
  readonly decodeFailures: () => number
}

/**
 * The default transform: drops `metadata.managedFields`, and stores once the strings many objects
 * repeat (apiVersion, kind, namespace, label values through `intern`; creation timestamps, which
 * objects made in one burst share, through `recent`). The objects are the Client's fresh decodes,
 * owned by the cache: an equal string put in place changes nothing a reader can see, and keeps the
 * objects' shapes.
 */
const compactDefault = (intern: (s: string) => string, recent: (s: string) => string) => <A extends Kind.KubeObject>(object: A): A => {
  const o = object as { apiVersion?: string | undefined; kind?: string | undefined }
  if (o.apiVersion !== undefined) o.apiVersion = intern(o.apiVersion)
  if (o.kind !== undefined) o.kind = intern(o.kind)
  const meta = object.metadata as { namespace?: string | undefined; labels?: Record<string, string> | undefined; creationTimestamp?: string | undefined }
  if (meta.namespace !== undefined) meta.namespace = intern(meta.namespace)
  if (meta.creationTimestamp !== undefined) meta.creationTimestamp = recent(meta.creationTimestamp)
  const labels = meta.labels
  if (labels !== undefined) for (const key in labels) labels[key] = intern(labels[key]!)
  if (object.metadata.managedFields === undefined) return object
  ;(object as { metadata: Kind.ObjectMeta }).metadata = withoutManagedFields(object.metadata)
  return object
}

/**
 * Plain objects (their prototype is `Object.prototype`, as a literal's) built by `new`, so that V8
 * sizes them to the properties they get: a copy holds its fields in the object itself, as the
 * parsed original did, where a spread copy (`{ ...metadata }`) keeps four there and puts the rest
 * in a separate array (about 24 bytes more per cached object).
 */
const TightObject = function() {} as unknown as new() => Record<string, unknown>
TightObject.prototype = Object.prototype

/** A copy of `metadata` without `managedFields` (deleting it would turn the object into a slow dictionary). */
const withoutManagedFields = (metadata: Kind.ObjectMeta): Kind.ObjectMeta => {
  const copy = new TightObject()
  const source = metadata as Record<string, unknown>
  for (const key in source) if (key !== "managedFields" && Object.hasOwn(source, key)) copy[key] = source[key]
  return copy as Kind.ObjectMeta
}

/**
 * Interning bounded to `max` distinct strings. When full, `"keep"` stores new values as they come
 * (values that repeat across objects: label keys, namespaces), `"restart"` starts a new table
 * (values that repeat in bursts: the creation timestamps of objects made together).
 */
const makeIntern = (max: number, whenFull: "keep" | "restart") => {
  const strings = new Map<string, string>()
  return (s: string): string => {
    const known = strings.get(s)
    if (known !== undefined) return known
    if (strings.size >= max) {
      if (whenFull === "keep") return s
      strings.clear()
    }
    strings.set(s, s)
    return s
  }
}

const noEvents: ReadonlyArray<KubeError.DecodeError> = []

/**
 * A reflector over a new Store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Kind, Reflector, Watcher } from "operatorkit"
 *
 * const seen: Array<string> = []
 * const program = Effect.gen(function*() {
 *   const reflector = Reflector.make<Kind.Type<typeof Kind.ConfigMap>>({
 *     onChange: (change) => seen.push(`${change._tag} ${change.object.metadata.name}`)
 *   })
 *   const watcher = yield* Watcher.make(Kind.ConfigMap, { namespace: "default", known: reflector.known })
 *   yield* watcher.run((event) => Effect.sync(() => reflector.apply(event)))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Kind.KubeObject>(options: Options<A> = {}): Reflector<A> => {
  const cache = Store.makeCache<A>({
    ...(options.indexLabels !== undefined ? { labels: options.indexLabels } : {}),
    ...(options.indexers !== undefined ? { indexers: options.indexers } : {})
  })
  const transform = options.transform ?? compactDefault(makeIntern(4096, "keep"), makeIntern(1024, "restart"))
  const onChange = options.onChange
  const listening = options.listening ?? (() => onChange !== undefined)
  const onInvalid = options.onInvalid
  const invalidNow = new Map<string, Invalid>()
  let decodeFailures = 0
  // the keys the list under way saw, to find the vanished ones; a first list into an empty Store has none
  let listed: Set<string> | undefined

  /** Applies one object the server says exists now. */
  const upsert = (incoming: A, source: Source): void => {
    const { name, namespace } = incoming.metadata
    if (invalidNow.size > 0) invalidNow.delete(Store.key({ name, namespace }))
    const old = cache.find(namespace, name)
    // same uid and resourceVersion: already known, never reported twice (and not transformed again)
    if (old !== undefined && old.metadata.uid === incoming.metadata.uid && old.metadata.resourceVersion === incoming.metadata.resourceVersion) {
      return
    }
    const object = transform(incoming)
    if (old === undefined) {
      cache.set(object)
      if (listening()) onChange?.({ _tag: "Added", object, source })
    } else if (old.metadata.uid !== object.metadata.uid) {
      // deleted and re-created under the same name while we were not looking
      cache.set(object)
      if (listening()) {
        onChange?.({ _tag: "Deleted", object: old, source })
        onChange?.({ _tag: "Added", object, source })
      }
    } else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) {
      cache.set(object)
      if (listening()) onChange?.({ _tag: "Updated", old, object, source })
    }
  }

  const remove = (key: string, source: Source) => {
    if (invalidNow.size > 0) invalidNow.delete(key)
    const old = cache.delete(key)
    if (old !== undefined && listening()) onChange?.({ _tag: "Deleted", object: old, source })
  }

  /** Records an object that did not decode (in the batch, so a later version in it wins). */
  const noteInvalid = (error: KubeError.DecodeError, meta: Client.RawMeta, deleted: boolean, source: Source) => {
    decodeFailures++
    if (meta.name === undefined) return
    const key = Store.key({ name: meta.name, namespace: meta.namespace })
    const invalid: Invalid = { key, meta, error, deleted, source }
    if (deleted) invalidNow.delete(key)
    else invalidNow.set(key, invalid)
    onInvalid?.(invalid)
  }

  const apply = (event: Watcher.Event<A>): ReadonlyArray<KubeError.DecodeError> => {
    switch (event._tag) {
      case "Init": {
        listed = cache.size > 0 ? new Set() : undefined
        return noEvents
      }
      case "InitPage": {
        const { page } = event
        for (const object of page.items) {
          upsert(object, "list")
          listed?.add(Store.keyOf(object))
        }
        if (page.invalid.length === 0) return noEvents
        // an object that does not decode keeps its last good version
        const errors: Array<KubeError.DecodeError> = []
        for (const { error, meta } of page.invalid) {
          if (meta.name !== undefined) listed?.add(Store.key({ name: meta.name, namespace: meta.namespace }))
          noteInvalid(error, meta, false, "list")
          errors.push(error)
        }
        return errors
      }
      case "InitDone": {
        const seen = listed
        listed = undefined
        if (seen !== undefined) for (const key of cache.keys()) if (!seen.has(key)) remove(key, "list")
        return noEvents
      }
      case "Watch": {
        let errors: Array<KubeError.DecodeError> | undefined
        for (const e of event.events) {
          switch (e.type) {
            case "ADDED":
            case "MODIFIED":
              upsert(e.object, "watch")
              break
            case "DELETED":
              remove(Store.keyOf(e.object), "watch")
              break
            case "BOOKMARK":
              break
            case "INVALID":
              errors ??= []
              errors.push(e.error)
              noteInvalid(e.error, e.meta, e.eventType === "DELETED", "watch")
              if (e.eventType === "DELETED" && e.meta.name !== undefined) {
                remove(Store.key({ name: e.meta.name, namespace: e.meta.namespace }), "watch")
              }
              break
          }
        }
        return errors ?? noEvents
      }
    }
  }

  // what the Store holds at the same uid and resourceVersion is only marked listed, never parsed
  const unchanged = (meta: Client.RawMeta) => {
    if (listed === undefined || meta.name === undefined) return false
    const old = cache.find(meta.namespace, meta.name)
    if (old === undefined || old.metadata.uid !== meta.uid || old.metadata.resourceVersion !== meta.resourceVersion) return false
    listed.add(Store.key({ name: meta.name, namespace: meta.namespace }))
    return true
  }

  return {
    store: cache.store,
    cache,
    apply,
    known: () => (listed !== undefined ? unchanged : undefined),
    invalid: invalidNow,
    decodeFailures: () => decodeFailures
  }
}
