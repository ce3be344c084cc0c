/**
 * A deterministic informer: an initial list, then a watch from its resourceVersion (with bookmarks),
 * kept in a {@link Store.Store} and broadcast as a Stream of changes.
 *
 * What it guarantees:
 * - An object is dispatched when its resourceVersion moved, or once per resync period; never twice
 *   for the same version, whatever reconnects or relists happen.
 * - A watch that ends or breaks is resumed from the last resourceVersion seen (no relist); only
 *   410 Gone (HTTP or in-stream) leads to one relist, whose diff against the Store yields deletes
 *   for vanished objects and a delete followed by an add for an object whose uid changed.
 * - A watch silent past its inactivity deadline is restarted; failures back off from about 0.8 s,
 *   doubling to 30 s, jittered, starting over after two quiet minutes (client-go's reflector).
 * - A watch the server ends within a second with no event (a proxy or load balancer in front of
 *   the API server, an API server shutting down) is a failure, as client-go's "very short watch":
 *   it backs off like one, is counted (`veryShortWatches`), and warned about once per run of them.
 *   A watch that lasted longer or brought events resumes at once.
 * - Errors (Forbidden included) are logged and retried; the informer never fails and never stops
 *   the process. An object that does not decode is reported (kind, namespace, name, issue: logged,
 *   counted, and on the `invalid` stream) and the stream goes on; its last good version stays in
 *   the Store.
 *
 * The design follows kube-rs' runtime: a small state machine (list → watch → relist) feeding a
 * reflector (the Store) and subscribers.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as RcMap from "effect/RcMap"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Client from "./Client.ts"
import * as Backoff from "./internal/backoff.ts"
import { logFailure } from "./internal/causeMessage.ts"
import type * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Store from "./Store.ts"

/**
 * Where a change came from: the (re)list, a watch event, or the periodic resync.
 * Controllers queue list and resync changes behind watch changes.
 *
 * @since 0.1.0
 * @category models
 */
export type Source = "list" | "watch" | "resync"

/**
 * A change in the informer's view of the cluster.
 *
 * @since 0.1.0
 * @category models
 */
export type Change<A> =
  | { readonly _tag: "Added"; readonly object: A; readonly source: Source }
  | { readonly _tag: "Updated"; readonly old: A; readonly object: A; readonly source: Source }
  /** `object` is the last state the informer knew. */
  | { readonly _tag: "Deleted"; readonly object: A; readonly source: Source }
  | { readonly _tag: "Resynced"; readonly object: A; readonly source: "resync" }

/**
 * An object the informer saw but could not decode with its kind's Schema. Its last good version,
 * if any, stays in the Store; a controller learns of it here, to say so on the object and retry.
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
 * Counters for metrics and health checks (read at scrape time).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly events: { readonly added: number; readonly modified: number; readonly deleted: number; readonly bookmarks: number }
  /** Every list, the initial one included. */
  readonly lists: number
  /** Lists after a 410 Gone. */
  readonly relists: number
  readonly watchRestarts: number
  /** Watches the server ended within a second with no event (each backed off like a failure). */
  readonly veryShortWatches: number
  readonly stalls: number
  readonly decodeFailures: number
  readonly errors: number
  readonly lastError: KubeError.KubeError | undefined
  readonly storeSize: number
  readonly synced: boolean
  /** Epoch milliseconds of the last completed list or watch event. */
  readonly lastSyncMillis: number | undefined
  readonly resourceVersion: string | undefined
}

/**
 * Options of an informer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<A> {
  /** Omit for every namespace. */
  readonly namespace?: string | undefined
  /** One selector feeds both the list and the watch. */
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Re-dispatch each cached object once per period (default: never). */
  readonly resyncPeriod?: Duration.Input | undefined
  /** Spreads resync dispatches (the Go library's RateWait) as a token bucket. Default 100/s, burst 100. */
  readonly resyncRate?: { readonly perSecond: number; readonly burst: number } | undefined
  /** Applied to every object before it is cached (keeping its name and namespace). Default: drop `metadata.managedFields`. */
  readonly transform?: ((object: A) => A) | undefined
  /** Label keys to index in the Store. */
  readonly indexLabels?: ReadonlyArray<string> | undefined
  readonly indexers?: Readonly<Record<string, Store.IndexFunction<A>>> | undefined
  /** List page size (default 500). */
  readonly pageSize?: number | undefined
  /**
   * Whether the first list may come from the API server's watch cache (`resourceVersion=0`,
   * default true): cheap for the server, but answered in one piece whatever `pageSize` says. With
   * false it comes in pages of `pageSize` from etcd, as relists after 410 do. An informer whose
   * list from the cache was too large to read switches to pages by itself.
   */
  readonly listFromCache?: boolean | undefined
  /** Server-side watch timeout; each watch gets 1 to 2 times this (default 5 minutes). */
  readonly watchTimeout?: Duration.Input | undefined
  /**
   * Restart a watch that delivered nothing for this long. Default: that watch's server-side
   * timeout (1 to 2 times `watchTimeout`) plus one minute, so a healthy quiet watch always ends
   * on the server's side first.
   */
  readonly inactivityTimeout?: Duration.Input | undefined
  readonly backoff?: Backoff.BackoffOptions | undefined
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
  readonly stats: Effect.Effect<Stats>
}

const dropManagedFields = <A extends Kind.KubeObject>(object: A): A => {
  if (object.metadata.managedFields === undefined) return object
  const { managedFields: _, ...metadata } = object.metadata
  return { ...object, metadata }
}

const rvNumber = (rv: string | undefined) => {
  const n = rv === undefined || rv === "" ? NaN : Number(rv)
  return Number.isSafeInteger(n) ? n : NaN
}

class Gone {
  readonly _tag = "Gone"
}

type State =
  /** `fromCache`: resourceVersion=0 (the watch cache, in one piece); else pages from etcd. */
  | { readonly _tag: "Listing"; readonly fromCache: boolean; readonly afterGone: boolean }
  | { readonly _tag: "Watching"; readonly resourceVersion: string }

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
    const client = yield* Client.Client
    const cache = Store.makeCache<A>({
      ...(options.indexLabels !== undefined ? { labels: options.indexLabels } : {}),
      ...(options.indexers !== undefined ? { indexers: options.indexers } : {})
    })
    const transform = options.transform ?? dropManagedFields
    const synced = yield* Deferred.make<void>()
    const backoff = Backoff.make(options.backoff)
    const watchTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.watchTimeout ?? "5 minutes"))
    const inactivityOptionMs = options.inactivityTimeout !== undefined
      ? Duration.toMillis(Duration.fromInputUnsafe(options.inactivityTimeout))
      : undefined
    const selectors = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector
    }
    const where = [kind.kind, options.namespace ?? "*", options.labelSelector, options.fieldSelector]
      .filter((s) => s !== undefined && s !== "").join(" ")

    const stats = {
      events: { added: 0, modified: 0, deleted: 0, bookmarks: 0 },
      lists: 0,
      relists: 0,
      watchRestarts: 0,
      veryShortWatches: 0,
      stalls: 0,
      decodeFailures: 0,
      errors: 0,
      lastError: undefined as KubeError.KubeError | undefined,
      lastSyncMillis: undefined as number | undefined,
      resourceVersion: undefined as string | undefined
    }

    // Changes are appended to every subscriber's buffer while a batch is applied, so the Store and
    // every subscriber see the same sequence; once the batch is in the Store, `flush` hands each
    // waiting subscriber its buffer. The hand-off resumes the subscriber's fiber directly (as a
    // Deferred does), not through a Queue, whose offer schedules the taker on the next turn of
    // the event loop: that hop was most of the cost of a watch event.
    const subscribers = new Set<Subscriber<Change<A>>>()
    const publish = (change: Change<A>) => {
      for (const s of subscribers) s.pending.push(change)
    }
    const publishing = () => subscribers.size > 0
    // objects that do not decode now, and who hears of them
    const invalidNow = new Map<string, Invalid>()
    const invalidSubscribers = new Set<Subscriber<Invalid>>()
    const flush = () => {
      for (const s of subscribers) if (s.pending.length > 0) s.wake()
      if (invalidSubscribers.size > 0) for (const s of invalidSubscribers) if (s.pending.length > 0) s.wake()
    }
    let lastRv = NaN
    const waiters = new Set<{ readonly rv: number; readonly done: Deferred.Deferred<void> }>()
    const advance = (rv: string | undefined) => {
      if (rv === undefined || rv === "") return
      stats.resourceVersion = rv
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

    /** Applies one object the server says exists now; returns its key. */
    const upsert = (incoming: A, source: Source): string => {
      const key = Store.keyOf(incoming)
      if (invalidNow.size > 0) invalidNow.delete(key)
      const old = cache.get(key)
      // same uid and resourceVersion: already known, never dispatched twice (and not transformed again)
      if (old !== undefined && old.metadata.uid === incoming.metadata.uid && old.metadata.resourceVersion === incoming.metadata.resourceVersion) {
        return key
      }
      const object = transform(incoming)
      if (old === undefined) {
        cache.set(object, key)
        if (publishing()) publish({ _tag: "Added", object, source })
      } else if (old.metadata.uid !== object.metadata.uid) {
        // deleted and re-created under the same name while we were not looking
        cache.set(object, key)
        publish({ _tag: "Deleted", object: old, source })
        publish({ _tag: "Added", object, source })
      } else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) {
        cache.set(object, key)
        publish({ _tag: "Updated", old, object, source })
      }
      return key
    }

    const remove = (key: string, source: Source) => {
      if (invalidNow.size > 0) invalidNow.delete(key)
      const old = cache.delete(key)
      if (old !== undefined) publish({ _tag: "Deleted", object: old, source })
    }

    /** Records an object that did not decode (in the batch, so a later version in it wins). */
    const noteInvalid = (error: KubeError.DecodeError, meta: Client.RawMeta, deleted: boolean, source: Source) => {
      stats.decodeFailures++
      if (meta.name === undefined) return
      const key = Store.key({ name: meta.name, namespace: meta.namespace })
      const invalid: Invalid = { key, meta, error, deleted, source }
      if (deleted) invalidNow.delete(key)
      else invalidNow.set(key, invalid)
      for (const s of invalidSubscribers) s.pending.push(invalid)
    }
    const reportInvalid = (error: KubeError.DecodeError) => Effect.logWarning(`informer ${where}: ${error.message}`)

    const report = (error: KubeError.KubeError, doing: string) =>
      Effect.suspend(() => {
        stats.errors++
        stats.lastError = error
        return Effect.logWarning(`informer ${where}: ${doing} failed, retrying: ${error.message}`)
      })

    const sleepBackoff = Effect.flatMap(backoff.next, Effect.sleep)

    /** Lists every page and reconciles the Store with it; returns the list's resourceVersion. */
    const list = (fromCache: boolean, afterGone: boolean) =>
      Effect.gen(function*() {
        stats.lists++
        if (afterGone) stats.relists++
        // the keys this list saw, to find the vanished ones; a first list into an empty Store has none
        const seen = cache.size > 0 ? new Set<string>() : undefined
        let resourceVersion: string | undefined
        const invalid: Array<KubeError.DecodeError> = []
        // what the Store holds at the same uid and resourceVersion is only marked seen, never parsed
        const unchanged = (meta: Client.RawMeta) => {
          if (seen === undefined || meta.name === undefined) return false
          const key = Store.key({ name: meta.name, namespace: meta.namespace })
          const old = cache.get(key)
          if (old === undefined || old.metadata.uid !== meta.uid || old.metadata.resourceVersion !== meta.resourceVersion) return false
          seen.add(key)
          return true
        }
        yield* client.listPages(kind, {
          ...selectors,
          limit: options.pageSize ?? 500,
          // the first list may come from the server's watch cache; a relist after 410 must not
          ...(fromCache ? { resourceVersion: "0" } : {}),
          ...(seen !== undefined ? { skip: unchanged } : {})
        }).pipe(
          Stream.runForEach((page) =>
            Effect.sync(() => {
              resourceVersion ??= page.resourceVersion
              for (const object of page.items) {
                const key = upsert(object, "list")
                seen?.add(key)
              }
              // an object that does not decode keeps its last good version
              for (const { error, meta } of page.invalid) {
                if (meta.name !== undefined) seen?.add(Store.key({ name: meta.name, namespace: meta.namespace }))
                noteInvalid(error, meta, false, "list")
                invalid.push(error)
              }
              flush()
            })
          )
        )
        yield* Effect.forEach(invalid, reportInvalid, { discard: true })
        yield* Effect.sync(() => {
          if (seen !== undefined) for (const key of Array.from(cache.items.keys())) if (!seen.has(key)) remove(key, "list")
          advance(resourceVersion)
          flush()
        })
        stats.lastSyncMillis = yield* Clock.currentTimeMillis
        yield* Deferred.succeed(synced, undefined)
        return resourceVersion ?? ""
      })

    /** Watches from `resourceVersion` until the watch ends; returns the last version seen. */
    const watch = (resourceVersion: string) =>
      Effect.gen(function*() {
        let current = resourceVersion
        const timeoutSeconds = Math.round((watchTimeoutMs / 1000) * (1 + (yield* Random.next)))
        const inactivityMs = inactivityOptionMs ?? timeoutSeconds * 1000 + 60_000
        const clock = yield* Clock.Clock
        const startedAt = clock.currentTimeMillisUnsafe()
        let lastActivity = startedAt
        let received = 0
        // one Effect per batch of events, allocated once: the batch itself is applied synchronously
        const touched = Effect.sync(() => {
          lastActivity = clock.currentTimeMillisUnsafe()
          stats.lastSyncMillis = lastActivity
        })
        const consume = client.watch(kind, { ...selectors, resourceVersion, allowBookmarks: true, timeoutSeconds }).pipe(
          Stream.runForEachArray((events) =>
            Effect.suspend(() => {
              let invalid: Array<KubeError.DecodeError> | undefined
              received += events.length
              for (const event of events) {
                switch (event.type) {
                  case "ADDED":
                  case "MODIFIED":
                    if (event.type === "ADDED") stats.events.added++
                    else stats.events.modified++
                    upsert(event.object, "watch")
                    current = event.object.metadata.resourceVersion ?? current
                    break
                  case "DELETED":
                    stats.events.deleted++
                    remove(Store.keyOf(event.object), "watch")
                    current = event.object.metadata.resourceVersion ?? current
                    break
                  case "BOOKMARK":
                    stats.events.bookmarks++
                    current = event.resourceVersion !== "" ? event.resourceVersion : current
                    break
                  case "INVALID":
                    invalid ??= []
                    invalid.push(event.error)
                    noteInvalid(event.error, event.meta, event.eventType === "DELETED", "watch")
                    if (event.eventType === "DELETED" && event.meta.name !== undefined) {
                      remove(Store.key({ name: event.meta.name, namespace: event.meta.namespace }), "watch")
                    }
                    current = event.meta.resourceVersion ?? current
                    break
                }
              }
              advance(current)
              flush()
              return invalid === undefined ? touched : Effect.andThen(Effect.forEach(invalid, reportInvalid, { discard: true }), touched)
            })
          ),
          Effect.mapError((e): Gone | KubeError.KubeError => (e._tag === "Gone" ? new Gone() : e))
        )
        // The inactivity deadline is a watchdog beside the consumer rather than a timeout around each
        // pull (Stream.timeoutOrElse merges two streams, which costs a fiber hand-off per batch): it
        // sleeps until the deadline counted from the last batch, and fails with Stall if nothing
        // arrived meanwhile, which interrupts the consumer and closes the watch.
        const watchdog = Effect.gen(function*() {
          while (true) {
            const left = lastActivity + inactivityMs - (yield* Clock.currentTimeMillis)
            if (left <= 0) return yield* Effect.fail(new Stall(inactivityMs))
            yield* Effect.sleep(Duration.millis(left))
          }
        })
        yield* Effect.raceFirst(consume, watchdog)
        // a clean end within a second and with no event is not the server's timeout (client-go's
        // "very short watch"): resuming at once would hammer the server in a loop
        if (received === 0 && clock.currentTimeMillisUnsafe() - startedAt < VERY_SHORT_WATCH_MS) {
          return yield* Effect.fail(new VeryShortWatch())
        }
        return current
      })

    // very short watches in a row: one warning for the run, one line when it ends
    let shortRun = 0
    const veryShort = Effect.suspend(() => {
      stats.veryShortWatches++
      shortRun++
      return shortRun === 1
        ? Effect.logWarning(
          `informer ${where}: the server ended the watch at once with no event (a proxy or load balancer in front of the API server, or an API server shutting down?); backing off as after a failure until a watch lasts. Counted in veryShortWatches (operatorkit_informer_very_short_watches_total); no further warning while it lasts`
        )
        : Effect.logDebug(`informer ${where}: very short watch #${shortRun}`)
    })
    const watchLasted = Effect.suspend(() => {
      if (shortRun === 0) return Effect.void
      const n = shortRun
      shortRun = 0
      return Effect.logInfo(`informer ${where}: watches last again, after ${n} very short one${n === 1 ? "" : "s"}`)
    })

    // The state machine: Listing → Watching ⇄ Watching (resume) → Listing (after 410 only).
    const step = (state: State): Effect.Effect<State> => {
      if (state._tag === "Listing") {
        return list(state.fromCache, state.afterGone).pipe(
          Effect.map((rv): State => ({ _tag: "Watching", resourceVersion: rv })),
          Effect.catch((error) => {
            if (error._tag === "Gone") return Effect.succeed<State>({ _tag: "Listing", fromCache: false, afterGone: true })
            if (state.fromCache && error._tag === "TransportError" && error.code === Client.RESPONSE_TOO_LARGE) {
              // the watch cache answers in one piece whatever the page size: list from etcd in pages
              cacheTooLarge = true
              return Effect.as(
                Effect.andThen(report(error, "list from the watch cache (listing in pages from etcd from now on)"), sleepBackoff),
                { ...state, fromCache: false }
              )
            }
            return Effect.as(Effect.andThen(report(error, "list"), sleepBackoff), state)
          })
        )
      }
      return watch(state.resourceVersion).pipe(
        // the server ended the watch (timeoutSeconds): resume at once
        Effect.map((rv): State => ({ _tag: "Watching", resourceVersion: rv })),
        Effect.tap(() => Effect.andThen(Effect.sync(() => stats.watchRestarts++), watchLasted)),
        Effect.catch((error): Effect.Effect<State> => {
          stats.watchRestarts++
          const resume: State = { _tag: "Watching", resourceVersion: stats.resourceVersion ?? state.resourceVersion }
          if (error instanceof Gone) return Effect.succeed({ _tag: "Listing", fromCache: false, afterGone: true })
          if (error instanceof VeryShortWatch) return Effect.as(Effect.andThen(veryShort, sleepBackoff), resume)
          if (error instanceof Stall) {
            stats.stalls++
            return Effect.as(Effect.logWarning(`informer ${where}: watch silent for ${Duration.format(Duration.millis(error.afterMillis))}, restarting it`), resume)
          }
          return Effect.as(Effect.andThen(report(error, "watch"), sleepBackoff), resume)
        })
      )
    }

    const loop = (state: State): Effect.Effect<never> => Effect.flatMap(step(state), loop)
    // a defect (a bug, or a throwing transform) is logged and the informer starts over with a list
    let cacheTooLarge = false
    const supervised: Effect.Effect<never> = Effect.suspend(() =>
      loop({ _tag: "Listing", fromCache: options.listFromCache !== false && !cacheTooLarge, afterGone: false })
    ).pipe(
      Effect.catchDefect((defect) =>
        Effect.andThen(
          logFailure("Error", `informer ${where}: crashed, relisting`, Cause.die(defect)),
          Effect.andThen(sleepBackoff, Effect.suspend(() => supervised))
        )
      )
    )
    yield* Effect.forkScoped(supervised)

    if (options.resyncPeriod !== undefined) {
      const publishNow = (change: Change<A>) => {
        publish(change)
        flush()
      }
      yield* Effect.forkScoped(resync(cache, publishNow, Duration.fromInputUnsafe(options.resyncPeriod), options.resyncRate))
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
            const subscriber = new Subscriber<Invalid>()
            for (const i of invalidNow.values()) subscriber.pending.push(i)
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
            const subscriber = new Subscriber<Change<A>>()
            for (const object of cache.items.values()) subscriber.pending.push({ _tag: "Added", object, source: "list" })
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
      store: cache.store,
      synced: Deferred.await(synced),
      changes,
      waitForResourceVersion,
      invalid,
      stats: Effect.sync(() => ({
        ...stats,
        events: { ...stats.events },
        storeSize: cache.size,
        synced: Deferred.isDoneUnsafe(synced)
      }))
    } satisfies Informer<A>
  })

class Stall {
  readonly _tag = "Stall"
  readonly afterMillis: number
  constructor(afterMillis: number) {
    this.afterMillis = afterMillis
  }
}

/** A watch the server ended cleanly within {@link VERY_SHORT_WATCH_MS} and with no event. */
class VeryShortWatch {
  readonly _tag = "VeryShortWatch"
}

/** client-go's threshold for a "very short watch". */
const VERY_SHORT_WATCH_MS = 1000

/**
 * One subscriber of an informer's changes (or invalid objects): a buffer the informer appends to, and the resume
 * callback of the subscriber's fiber while it waits for more.
 */
class Subscriber<T> {
  pending: Array<T> = []
  private waiting: ((batch: Effect.Effect<ReadonlyArray<T>, Cause.Done>) => void) | undefined
  private ended = false

  /** Gives the buffer to the subscriber if it waits for it. */
  wake(): void {
    const resume = this.waiting
    if (resume === undefined) return
    this.waiting = undefined
    const batch = this.pending
    this.pending = []
    resume(Effect.succeed(batch))
  }

  /** No more changes: the stream ends once the buffer is taken. */
  end(): void {
    this.ended = true
    if (this.pending.length > 0) return this.wake()
    const resume = this.waiting
    if (resume === undefined) return
    this.waiting = undefined
    resume(Cause.done())
  }

  readonly pull = Effect.callback<ReadonlyArray<T>, Cause.Done>((resume) => {
    if (this.pending.length > 0) {
      const batch = this.pending
      this.pending = []
      resume(Effect.succeed(batch))
    } else if (this.ended) {
      resume(Cause.done())
    } else {
      this.waiting = resume
    }
    return Effect.sync(() => {
      this.waiting = undefined
    })
  }) as unknown as Effect.Effect<readonly [T, ...Array<T>], Cause.Done>
}

/** Re-dispatches every cached object once per period, spread by a token bucket. */
const resync = <A extends Kind.KubeObject>(
  cache: Store.Cache<A>,
  publish: (change: Change<A>) => void,
  period: Duration.Duration,
  rate: { readonly perSecond: number; readonly burst: number } = { perSecond: 100, burst: 100 }
) =>
  Effect.gen(function*() {
    const spacingMs = 1000 / rate.perSecond
    while (true) {
      yield* Effect.sleep(period)
      let tokens = rate.burst
      let refilledAt = yield* Clock.currentTimeMillis
      for (const key of Array.from(cache.items.keys())) {
        const now = yield* Clock.currentTimeMillis
        tokens = Math.min(rate.burst, tokens + (now - refilledAt) / spacingMs)
        refilledAt = now
        if (tokens < 1) {
          yield* Effect.sleep(Duration.millis(Math.ceil((1 - tokens) * spacingMs)))
          tokens = 1
          refilledAt = yield* Clock.currentTimeMillis
        }
        tokens--
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

/**
 * The key under which informers are shared.
 *
 * @example
 * ```ts
 * import { Informer, Kind } from "operatorkit"
 *
 * Informer.shareKey(Kind.ConfigMap, { namespace: "a", labelSelector: "app=x" }) // => "v1/ConfigMap|a|app=x|"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const shareKey = (kind: Kind.Any, options: Options<any> = {}) =>
  `${kind.apiVersion}/${kind.kind}|${options.namespace ?? ""}|${options.labelSelector ?? ""}|${options.fieldSelector ?? ""}`

/**
 * The shared informer registry; informers stop a minute after their last user releases them.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Informer, KubeConfig } from "operatorkit"
 *
 * const Live = Informer.layer.pipe(Layer.provideMerge(Client.layer), Layer.provide(KubeConfig.layerDefault))
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
