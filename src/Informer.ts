/**
 * An informer: a `Watcher` (list + watch) feeding a `Reflector` (the Store), with the changes
 * dispatched to every subscriber, a periodic resync, and `waitForResourceVersion` for
 * read-your-writes. `Informers` shares one per kind and selection between controllers.
 *
 * What it guarantees (each in the module that keeps it):
 * - An object is dispatched when its resourceVersion moved, or once per resync period; never twice
 *   for the same version, whatever reconnects or relists happen (`Reflector`).
 * - A watch that ends or breaks is resumed from the last resourceVersion seen; only 410 Gone leads
 *   to a relist, whose diff against the Store yields deletes for vanished objects and a delete
 *   followed by an add for an object whose uid changed (`Watcher`, `Reflector`).
 * - Stalled and very short watches are restarted with backoff, failures back off from about 0.8 s
 *   to 30 s (`Watcher`).
 * - Every subscriber sees the changes in the order the Store applied them; a late subscriber starts
 *   with an `Added` for every object already there, so it misses nothing (here).
 * - Errors (Forbidden included) are logged and retried; the informer never fails and never stops
 *   the process. An object that does not decode is reported (kind, namespace, name, issue: logged,
 *   counted, and on the `invalid` stream) and the stream goes on; its last good version stays in
 *   the Store.
 *
 * The design follows kube-rs' runtime: a small state machine (the Watcher) feeding a reflector (the
 * Store) and subscribers.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type * as Client from "./Client.ts"
import { Handoff } from "./internal/handoff.ts"
import { TokenBucket } from "./internal/tokenBucket.ts"
import type * as Kind from "./Kind.ts"
import * as Rbac from "./Rbac.ts"
import * as Reflector from "./Reflector.ts"
import * as Store from "./Store.ts"
import * as Watcher from "./Watcher.ts"

/**
 * Where a change came from: the (re)list, a watch event, or the periodic resync.
 * Controllers queue list and resync changes behind watch changes.
 *
 * @since 0.1.0
 * @category models
 */
export type Source = Reflector.Source | "resync"

/**
 * A change in the informer's view of the cluster: the Store's changes, and the periodic resync.
 *
 * @since 0.1.0
 * @category models
 */
export type Change<A> =
  | Reflector.Change<A>
  | { readonly _tag: "Resynced"; readonly object: A; readonly source: "resync" }

/**
 * An object the informer saw but could not decode with its kind's Schema. Its last good version,
 * if any, stays in the Store; a controller learns of it here, to say so on the object and retry.
 *
 * @since 0.1.0
 * @category models
 */
export type Invalid = Reflector.Invalid

/**
 * Counters for metrics and health checks (read at scrape time): the Watcher's, and the Store's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats extends Watcher.Stats {
  readonly decodeFailures: number
  readonly storeSize: number
  readonly synced: boolean
}

/**
 * Options of an informer: its Watcher's and its Store's, and the resync.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A> extends Omit<Watcher.Options, "known">, Pick<Reflector.Options<A>, "transform" | "indexLabels" | "indexers"> {
  /** Re-dispatch each cached object once per period (default: never). */
  readonly resyncPeriod?: Duration.Input | undefined
  /** Spreads resync dispatches (the Go library's RateWait) as a token bucket. Default 100/s, burst 100. */
  readonly resyncRate?: { readonly perSecond: number; readonly burst: number } | undefined
}

/**
 * A running informer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Informer<A extends Kind.KubeObject> {
  readonly kind: Kind.Kind<A>
  readonly store: Store.Store<A>
  /** Completes once the first full list is in the Store. */
  readonly synced: Effect.Effect<void>
  /**
   * The changes from now on, starting with an `Added` (source "list") for every object already in
   * the Store, so a late subscriber misses nothing. Ends when the informer stops.
   */
  readonly changes: Stream.Stream<Change<A>>
  /** Completes once the Store reflects `resourceVersion` (read-your-writes after a write). */
  readonly waitForResourceVersion: (resourceVersion: string) => Effect.Effect<void>
  /**
   * Objects that do not decode, from now on, starting with every object that does not decode now.
   * An object is invalid until a version of it decodes (its change comes on `changes`) or it is
   * deleted (reported here with `deleted: true`). Ends when the informer stops.
   */
  readonly invalid: Stream.Stream<Invalid>
  /**
   * Lists again from etcd (a consistent read, not the watch cache), reconciles the Store with the
   * answer (vanished objects are `Deleted` changes) and watches on from there; completes once the
   * list is in the Store. For a process that was away (e.g. a shard that lost its Lease) and must
   * not act on what it cached before.
   */
  readonly relist: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

const rvNumber = (rv: string | undefined) => {
  const n = rv === undefined || rv === "" ? NaN : Number(rv)
  return Number.isSafeInteger(n) ? n : NaN
}

/**
 * Starts an informer for a kind; it runs until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Informer, Kind } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default", labelSelector: "app=web" })
 *   yield* informer.synced
 *   yield* informer.changes.pipe(
 *     Stream.runForEach((change) => Effect.log(change._tag, change.object.metadata.name))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Kind.KubeObject>(
  kind: Kind.Kind<A>,
  options: Options<NoInfer<A>> = {}
): Effect.Effect<Informer<A>, never, Client.Client | Scope.Scope> =>
  Effect.gen(function*() {
    const { indexers, indexLabels, resyncPeriod, resyncRate, transform, ...watcherOptions } = options
    const where = [kind.kind, options.namespace ?? "*", options.labelSelector, options.fieldSelector]
      .filter((s) => s !== undefined && s !== "").join(" ")

    // Changes are appended to every subscriber's buffer while a batch is applied, so the Store and
    // every subscriber see the same sequence; once the batch is in the Store, `flush` hands each
    // waiting subscriber its buffer (internal/handoff.ts: no Queue hop per batch).
    const subscribers = new Set<Handoff<Change<A>>>()
    const invalidSubscribers = new Set<Handoff<Invalid>>()
    const publish = (change: Change<A>) => {
      for (const s of subscribers) s.pending.push(change)
    }
    const flush = () => {
      for (const s of subscribers) if (s.pending.length > 0) s.wake()
      if (invalidSubscribers.size > 0) for (const s of invalidSubscribers) if (s.pending.length > 0) s.wake()
    }
    const reflector = Reflector.make<A>({
      ...(transform !== undefined ? { transform } : {}),
      ...(indexLabels !== undefined ? { indexLabels } : {}),
      ...(indexers !== undefined ? { indexers } : {}),
      onChange: publish,
      listening: () => subscribers.size > 0,
      onInvalid: (invalid) => {
        for (const s of invalidSubscribers) s.pending.push(invalid)
      }
    })
    const watcher = yield* Watcher.make(kind, { ...watcherOptions, known: reflector.known })

    const synced = yield* Deferred.make<void>()
    const markSynced = Deferred.succeed(synced, undefined)
    let lastRv = NaN
    const waiters = new Set<{ readonly rv: number; readonly done: Deferred.Deferred<void> }>()
    const advance = (rv: string) => {
      const n = rvNumber(rv)
      if (Number.isNaN(n) || !(Number.isNaN(lastRv) || n > lastRv)) return
      lastRv = n
      for (const w of waiters) {
        if (w.rv <= n) {
          waiters.delete(w)
          Deferred.doneUnsafe(w.done, Effect.void)
        }
      }
    }
    const reportInvalid = (errors: ReadonlyArray<{ readonly message: string }>) =>
      Effect.forEach(errors, (error) => Effect.logWarning(`informer ${where}: ${error.message}`), { discard: true })

    // callers of relist, completed by the first list of the run started for them
    const relisted = new Set<Deferred.Deferred<void>>()
    // each event is applied synchronously, the Store first, then the subscribers are woken
    const handler = (event: Watcher.Event<A>): Effect.Effect<void> => {
      const errors = reflector.apply(event)
      if (event._tag === "InitDone" || event._tag === "Watch") advance(event.resourceVersion)
      flush()
      if (event._tag === "InitDone" && relisted.size > 0) {
        for (const done of relisted) Deferred.doneUnsafe(done, Effect.void)
        relisted.clear()
      }
      const after = event._tag === "InitDone" ? markSynced : Effect.void
      return errors.length === 0 ? after : Effect.andThen(reportInvalid(errors), after)
    }
    const informerScope = yield* Effect.scope
    let running = yield* Effect.forkScoped(watcher.run(handler))
    // one relist at a time: each stops the run and starts one whose first list is from etcd
    const relisting = Semaphore.makeUnsafe(1)
    const relist = Effect.flatMap(Deferred.make<void>(), (done) =>
      Effect.andThen(
        relisting.withPermits(1)(Effect.gen(function*() {
          yield* Fiber.interrupt(running)
          relisted.add(done)
          running = yield* Effect.forkIn(watcher.run(handler, { listFromCache: false }), informerScope)
        })),
        Deferred.await(done)
      ))

    if (resyncPeriod !== undefined) {
      const publishNow = (change: Change<A>) => {
        publish(change)
        flush()
      }
      yield* Effect.forkScoped(resync(reflector.cache, publishNow, Duration.fromInputUnsafe(resyncPeriod), resyncRate))
    }

    // End subscriber streams when the informer stops (after the changes they still hold).
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const s of Array.from(subscribers)) s.end()
        for (const s of Array.from(invalidSubscribers)) s.end()
      })
    )

    const invalid: Stream.Stream<Invalid> = Stream.unwrap(
      Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => {
            const subscriber = new Handoff<Invalid>()
            for (const i of reflector.invalid.values()) subscriber.pending.push(i)
            invalidSubscribers.add(subscriber)
            return subscriber
          }),
          (subscriber) => Effect.sync(() => invalidSubscribers.delete(subscriber))
        ),
        (subscriber) => Stream.fromPull(Effect.succeed(subscriber.pull))
      )
    )

    const changes: Stream.Stream<Change<A>> = Stream.unwrap(
      Effect.map(
        // snapshot and subscribe in one synchronous step: nothing is missed or seen twice
        Effect.acquireRelease(
          Effect.sync(() => {
            const subscriber = new Handoff<Change<A>>()
            for (const object of reflector.cache.values()) subscriber.pending.push({ _tag: "Added", object, source: "list" })
            subscribers.add(subscriber)
            return subscriber
          }),
          (subscriber) => Effect.sync(() => subscribers.delete(subscriber))
        ),
        (subscriber) => Stream.fromPull(Effect.succeed(subscriber.pull))
      )
    )

    const waitForResourceVersion = (resourceVersion: string) =>
      Effect.suspend(() => {
        const n = rvNumber(resourceVersion)
        if (Number.isNaN(n) || n <= lastRv) return Effect.void
        return Effect.flatMap(Deferred.make<void>(), (done) => {
          const waiter = { rv: n, done }
          waiters.add(waiter)
          return Deferred.await(done).pipe(Effect.ensuring(Effect.sync(() => waiters.delete(waiter))))
        })
      })

    return {
      kind,
      store: reflector.store,
      synced: Deferred.await(synced),
      changes,
      waitForResourceVersion,
      invalid,
      relist,
      stats: Effect.map(watcher.stats, (stats) => ({
        ...stats,
        decodeFailures: reflector.decodeFailures(),
        storeSize: reflector.cache.size,
        synced: Deferred.isDoneUnsafe(synced)
      }))
    } satisfies Informer<A>
  })

/** Re-dispatches every cached object once per period, spread by a token bucket. */
const resync = <A extends Kind.KubeObject>(
  cache: Store.Cache<A>,
  publish: (change: Change<A>) => void,
  period: Duration.Duration,
  rate: { readonly perSecond: number; readonly burst: number } = { perSecond: 100, burst: 100 }
) =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    while (true) {
      yield* Effect.sleep(period)
      const bucket = new TokenBucket(rate.perSecond, rate.burst)
      for (const key of cache.keys()) {
        const wait = bucket.take(clock.currentTimeMillisUnsafe())
        if (wait > 0) yield* Effect.sleep(Duration.millis(Math.ceil(wait)))
        const object = cache.get(key)
        if (object !== undefined) publish({ _tag: "Resynced", object, source: "resync" })
      }
    }
  })

// ---------------------------------------------------------------------------------------------

/**
 * A registry of informers shared per (kind, namespace, selectors): several controllers watching
 * the same objects share one list+watch and one Store. The first caller's other options win.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Informer, Kind } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const informers = yield* Informer.Informers
 *   const a = yield* informers.get(Kind.ConfigMap, { namespace: "default" })
 *   const b = yield* informers.get(Kind.ConfigMap, { namespace: "default" }) // the same informer
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Informers extends Context.Service<Informers, {
  readonly get: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    options?: Options<NoInfer<A>>
  ) => Effect.Effect<Informer<A>, never, Scope.Scope>
  /** Every informer running now (for health checks and metrics). */
  readonly all: Effect.Effect<ReadonlyArray<Informer<any>>>
}>()("operatorkit/Informers") {}

/** The key under which informers are shared (a metadata-only kind's apart from the full one's). */
const shareKey = (kind: Kind.Any, options: Options<any> = {}) =>
  `${kind.apiVersion}/${kind.kind}${kind.metadataOnly === true ? "(metadata)" : ""}|${options.namespace ?? ""}|${
    options.labelSelector ?? ""
  }|${options.fieldSelector ?? ""}`

/**
 * The shared informer registry; informers stop a minute after their last user releases them.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Informer, KubeConfig } from "operatorkit"
 *
 * const Live = Informer.layer.pipe(Layer.provideMerge(Client.layer()), Layer.provide(KubeConfig.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Informers, never, Client.Client> = Layer.effect(
  Informers,
  Effect.gen(function*() {
    const context = yield* Effect.context<Client.Client>()
    const pending = new Map<string, { kind: Kind.Any; options: Options<any> }>()
    const running = new Map<string, Informer<any>>()
    const map = yield* RcMap.make({
      lookup: (key: string) =>
        Effect.gen(function*() {
          const { kind, options } = pending.get(key)!
          const informer = yield* make(kind, options)
          running.set(key, informer)
          yield* Effect.addFinalizer(() => Effect.sync(() => running.delete(key)))
          return informer
        }).pipe(Effect.provide(context)),
      idleTimeToLive: "1 minute"
    })
    return Informers.of({
      get: <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options: Options<NoInfer<A>> = {}) => {
        const key = shareKey(kind, options)
        if (!pending.has(key)) pending.set(key, { kind, options })
        return RcMap.get(map, key) as Effect.Effect<Informer<A>, never, Scope.Scope>
      },
      all: Effect.sync(() => Array.from(running.values()))
    })
  })
)

/**
 * The first object of an informer's Store matching a predicate (handy in tests).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Informer, Kind } from "operatorkit"
 *
 * const find = (informer: Informer.Informer<Kind.Type<typeof Kind.ConfigMap>>) =>
 *   Informer.find(informer, (cm) => cm.data?.["ready"] === "true")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const find = <A extends Kind.KubeObject>(informer: Informer<A>, predicate: (a: A) => boolean) =>
  Effect.map(informer.store.list(), (items) => Option.fromUndefinedOr(items.find(predicate)))

/**
 * What an informer calls: `list` and `watch` on its kind, in its namespace (or every namespace).
 *
 * @example
 * ```ts
 * import { Informer, Kind } from "operatorkit"
 *
 * Informer.permissions(Kind.ConfigMap, { namespace: "team-a" })[0]!.verbs // => ["list", "watch"]
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (kind: Kind.Any, options: Options<any> = {}): ReadonlyArray<Rbac.ResourcePermission> => [
  Rbac.allow(kind, ["list", "watch"], {
    namespace: options.namespace,
    reason: `informer on ${kind.kind}${options.namespace !== undefined ? ` in ${options.namespace}` : ""}: lists, then watches`
  })
]
