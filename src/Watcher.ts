/**
 * List + watch as one stream of events, the shape of kube-rs's `watcher`: a list (in pages), then a
 * watch from the list's resourceVersion, resumed whenever it ends, for as long as it runs. A
 * `Reflector` applies the events to a Store; an `Informer` runs both and dispatches the changes.
 *
 * What it guarantees:
 * - A watch that ends or breaks is resumed from the last resourceVersion seen (no relist); only
 *   410 Gone (HTTP or in-stream) leads to a relist (an `Init` with `relist: true`, in pages from
 *   etcd, never from the watch cache), after which the consumer treats what the list did not bring
 *   as gone.
 * - A watch silent past its inactivity deadline is restarted; failures back off from about 0.8 s,
 *   doubling to 30 s, jittered, starting over after two quiet minutes (client-go's reflector): an
 *   Effect `Schedule` (`BackoffOptions`).
 * - A watch the server ends within a second with no event (a proxy or load balancer in front of
 *   the API server, an API server shutting down) is a failure, as client-go's "very short watch":
 *   it backs off like one, is counted (`veryShortWatches`), and warned about once per run of them.
 *   A watch that lasted longer or brought events resumes at once.
 * - A first list from the watch cache (`resourceVersion=0`, one piece) too large to read switches
 *   to pages from etcd for good.
 * - Errors (Forbidden included) are logged and retried: a watcher never fails and never stops the
 *   process. A defect (a bug, or one in the consumer's handler) is logged and the watcher starts
 *   over with a list. Objects that do not decode come as they are (`invalid` of a page, `INVALID`
 *   watch events): reporting them is the consumer's.
 *
 * - Where the server offers watch-list (KEP-3157, `sendInitialEvents`), a list is the first events
 *   of a watch (`Init`, pages of them, `InitDone` at the bookmark that ends them) and that watch
 *   goes on: the objects arrive one by one instead of as one list body. Decided from the answer:
 *   a refusal (422, every server before 1.27 or without the WatchList feature), events no initial
 *   list has, or silence past the inactivity deadline turn to paged lists for good.
 *
 * The state machine: Streaming or Listing → Watching ⇄ Watching (resume) → Streaming or Listing
 * (after 410 only).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as Client from "./Client.ts"
import * as Backoff from "./internal/backoff.ts"
import { logFailure } from "./internal/causeMessage.ts"
import { millis } from "./internal/options.ts"
import type * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"

/**
 * What a watcher reports, in order: a list (`Init`, its pages, `InitDone`), then batches of watch
 * events, then (after a 410) another list, and so on.
 *
 * @since 0.1.0
 * @category models
 */
export type Event<A> =
  /** A list begins; `relist` after a 410 (the first list has `false`). */
  | { readonly _tag: "Init"; readonly relist: boolean }
  /** One page of the list; objects that do not decode are in its `invalid`. */
  | { readonly _tag: "InitPage"; readonly page: Client.ListPage<A> }
  /** The list is complete: what its pages did not bring is gone. */
  | { readonly _tag: "InitDone"; readonly resourceVersion: string }
  /** Watch events as they came, and the last resourceVersion seen once they are applied. */
  | { readonly _tag: "Watch"; readonly events: ReadonlyArray<Client.WatchEvent<A>>; readonly resourceVersion: string }

const counted = { ADDED: "added", MODIFIED: "modified", DELETED: "deleted" } as const

/**
 * The reconnect backoff: a delay that doubles from `initial` up to `max`, jittered, and starts over
 * once no failure happened for `resetAfter` (client-go's reflector).
 *
 * @since 0.1.0
 * @category models
 */
export interface BackoffOptions {
  /** Default 800 milliseconds. */
  readonly initial?: Duration.Input | undefined
  /** Default 30 seconds. */
  readonly max?: Duration.Input | undefined
  /** Default 2. */
  readonly factor?: number | undefined
  /** Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  readonly jitter?: number | undefined
  /** Default 2 minutes. */
  readonly resetAfter?: Duration.Input | undefined
}

/**
 * Options of a watcher.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Omit for every namespace. */
  readonly namespace?: string | undefined
  /** One selector feeds both the list and the watch. */
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** List page size (default 500). */
  readonly pageSize?: number | undefined
  /**
   * Whether the first list may come from the API server's watch cache (`resourceVersion=0`,
   * default true): cheap for the server, but answered in one piece whatever `pageSize` says. With
   * false it comes in pages of `pageSize` from etcd, as relists after 410 do. A watcher whose
   * list from the cache was too large to read switches to pages by itself.
   */
  readonly listFromCache?: boolean | undefined
  /**
   * Sync from a watch-list where the server offers it (KEP-3157, `sendInitialEvents`; default
   * true): the objects come as the first events of a watch, one at a time, so the peak memory of a
   * list stays near the Store's size, and the watch goes on from there. Decided from the server's
   * answer, not its version: a server that refuses it (422, as every server before 1.27 or
   * without the WatchList feature does) or answers with something else than initial events gets
   * paged lists from then on.
   */
  readonly streamingList?: boolean | undefined
  /** Server-side watch timeout; each watch gets 1 to 2 times this (default 5 minutes). */
  readonly watchTimeout?: Duration.Input | undefined
  /**
   * Restart a watch that delivered nothing for this long. Default: that watch's server-side
   * timeout (1 to 2 times `watchTimeout`) plus one minute, so a healthy quiet watch always ends
   * on the server's side first.
   */
  readonly inactivityTimeout?: Duration.Input | undefined
  readonly backoff?: BackoffOptions | undefined
  /**
   * Asked after each `Init`: what the consumer already holds and need not see again (the same uid
   * and resourceVersion). Those items are left out of the pages, undecoded; over HTTP they are not
   * even parsed. Undefined (or a function returning undefined) leaves nothing out.
   */
  readonly known?: (() => ((meta: Client.RawMeta) => boolean) | undefined) | undefined
}

/**
 * Counters for metrics and health checks.
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
  readonly errors: number
  readonly lastError: KubeError.KubeError | undefined
  /** Epoch milliseconds of the last completed list or watch event. */
  readonly lastSyncMillis: number | undefined
  /** The last resourceVersion seen. */
  readonly resourceVersion: string | undefined
}

/**
 * A watcher of one kind and selection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watcher<A extends Kind.KubeObject> {
  readonly kind: Kind.Kind<A>
  /**
   * Lists and watches, handing each event to `handler` in order and waiting for it; never ends and
   * never fails. Each run is a state machine of its own (the counters are shared).
   */
  readonly run: (
    handler: (event: Event<A>) => Effect.Effect<void>,
    /** `listFromCache: false`: this run's first list is from etcd whatever the options say. */
    runOptions?: { readonly listFromCache?: boolean | undefined }
  ) => Effect.Effect<never>
  /** The events as a Stream (a `run` into a small buffer: a slow reader holds the watcher back). */
  readonly events: Stream.Stream<Event<A>>
  readonly stats: Effect.Effect<Stats>
}

/** The server said 410 Gone: list again. */
class Gone {
  readonly _tag = "Gone"
}

/** The watch delivered nothing for this long. */
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

/** Silence before a watch-list's initial events ended that means the server does not send them. */
const INITIAL_EVENTS_SILENCE_MS = 30_000

/** client-go's threshold for a "very short watch". */
const VERY_SHORT_WATCH_MS = 1000

/** A server that does not do watch-list (refused it, or answered with other than initial events). */
class NoWatchList {
  readonly _tag = "NoWatchList"
  readonly why: string
  constructor(why: string) {
    this.why = why
  }
}

type State =
  /** `fromCache`: resourceVersion=0 (the watch cache, in one piece); else pages from etcd. */
  | { readonly _tag: "Listing"; readonly fromCache: boolean; readonly afterGone: boolean }
  /** A watch-list: the list as a watch's first events, then that watch goes on. */
  | { readonly _tag: "Streaming"; readonly afterGone: boolean }
  | { readonly _tag: "Watching"; readonly resourceVersion: string }

/**
 * A watcher for a kind; nothing happens until it runs.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Kind, Watcher } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const watcher = yield* Watcher.make(Kind.ConfigMap, { namespace: "default" })
 *   yield* watcher.events.pipe(
 *     Stream.runForEach((event) => Effect.log(event._tag))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Kind.KubeObject>(
  kind: Kind.Kind<A>,
  options: Options = {}
): Effect.Effect<Watcher<A>, never, Client.Client> =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const watchTimeoutMs = millis(options.watchTimeout, "5 minutes")
    const inactivityOptionMs = options.inactivityTimeout !== undefined ? millis(options.inactivityTimeout, 0) : undefined
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
      errors: 0,
      lastError: undefined as KubeError.KubeError | undefined,
      lastSyncMillis: undefined as number | undefined,
      resourceVersion: undefined as string | undefined
    }
    const seen = (rv: string) => {
      if (rv !== "") stats.resourceVersion = rv
    }
    // a first list from the watch cache too large to read: pages from etcd from then on
    let cacheTooLarge = false
    // the server refused a watch-list, or does not do it: paged lists from then on
    let streaming = options.streamingList !== false
    const pageSize = options.pageSize ?? 500

    const run = (
      handler: (event: Event<A>) => Effect.Effect<void>,
      runOptions: { readonly listFromCache?: boolean | undefined } = {}
    ): Effect.Effect<never> =>
      Effect.flatMap(Backoff.make(options.backoff), (backoff) => {
        const sleepBackoff = Effect.flatMap(backoff.next, Effect.sleep)

        const report = (error: KubeError.KubeError, doing: string) =>
          Effect.suspend(() => {
            stats.errors++
            stats.lastError = error
            return Effect.logWarning(`watch ${where}: ${doing} failed, retrying: ${error.message}`)
          })

        /** Lists every page into the handler; returns the list's resourceVersion. */
        const list = (fromCache: boolean, afterGone: boolean) =>
          Effect.gen(function*() {
            stats.lists++
            if (afterGone) stats.relists++
            yield* handler({ _tag: "Init", relist: afterGone })
            const skip = options.known?.()
            let resourceVersion: string | undefined
            yield* client.listPages(kind, {
              ...selectors,
              limit: options.pageSize ?? 500,
              // the first list may come from the server's watch cache; a relist after 410 must not
              ...(fromCache ? { resourceVersion: "0" } : {}),
              ...(skip !== undefined ? { skip } : {})
            }).pipe(
              Stream.runForEach((page) => {
                resourceVersion ??= page.resourceVersion
                return handler({ _tag: "InitPage", page })
              })
            )
            stats.lastSyncMillis = yield* Clock.currentTimeMillis
            yield* handler({ _tag: "InitDone", resourceVersion: resourceVersion ?? "" })
            seen(resourceVersion ?? "")
            return resourceVersion ?? ""
          })

        /**
         * The initial events of a watch-list as a list: `Init`, pages of up to `pageSize` objects,
         * and `InitDone` at the BOOKMARK that ends them; the events after it are the watch's.
         * `apply` takes one batch and returns what is left of it for the watch (all of it once
         * the list is done), or fails with NoWatchList on an event no initial list has.
         */
        const initialList = (afterGone: boolean) => {
          let items: Array<A> = []
          let invalid: Array<{ error: KubeError.DecodeError; meta: Client.RawMeta }> = []
          let started = false
          let done = false
          const page = (): Event<A> => {
            const out: Event<A> = { _tag: "InitPage", page: { items, invalid, resourceVersion: "", continue: undefined } }
            items = []
            invalid = []
            return out
          }
          type Applied = { readonly rest: ReadonlyArray<Client.WatchEvent<A>>; readonly resourceVersion: string | undefined }
          const apply = (events: ReadonlyArray<Client.WatchEvent<A>>): Effect.Effect<Applied, NoWatchList> =>
            Effect.suspend((): Effect.Effect<Applied, NoWatchList> => {
              if (done) return Effect.succeed({ rest: events, resourceVersion: undefined })
              const out: Array<Event<A>> = []
              if (!started) {
                started = true
                stats.lists++
                if (afterGone) stats.relists++
                out.push({ _tag: "Init", relist: afterGone })
              }
              let i = 0
              let end: string | undefined
              for (; i < events.length && end === undefined; i++) {
                const event = events[i]!
                if (event.type === "ADDED") items.push(event.object)
                else if (event.type === "INVALID" && event.eventType === "ADDED") invalid.push({ error: event.error, meta: event.meta })
                else if (event.type === "BOOKMARK" && event.initialEventsEnd === true) end = event.resourceVersion
                else if (event.type !== "BOOKMARK") {
                  return Effect.fail(new NoWatchList(`a ${event.type === "INVALID" ? event.eventType : event.type} event before the initial events ended`))
                }
                if (items.length + invalid.length >= pageSize) out.push(page())
              }
              if (items.length + invalid.length > 0) out.push(page())
              if (end !== undefined) {
                done = true
                out.push({ _tag: "InitDone", resourceVersion: end })
              }
              return Effect.as(Effect.forEach(out, handler, { discard: true }), { rest: events.slice(i), resourceVersion: end })
            })
          return { apply, done: () => done }
        }

        /**
         * Watches from `resourceVersion` until the watch ends; returns the last version seen. With
         * `init`, a watch-list: its initial events are a list (see {@link initialList}) first.
         */
        const watch = (resourceVersion: string, init?: { readonly afterGone: boolean; readonly progress: { listed: boolean } }) =>
          Effect.gen(function*() {
            let current = resourceVersion
            const timeoutSeconds = Math.round((watchTimeoutMs / 1000) * (1 + (yield* Random.next)))
            const inactivityMs = inactivityOptionMs ?? timeoutSeconds * 1000 + 60_000
            const clock = yield* Clock.Clock
            const startedAt = clock.currentTimeMillisUnsafe()
            let lastActivity = startedAt
            let received = 0
            const initial = init !== undefined ? initialList(init.afterGone) : undefined
            const request = init !== undefined
              ? { ...selectors, sendInitialEvents: true, allowBookmarks: true, timeoutSeconds }
              : { ...selectors, resourceVersion, allowBookmarks: true, timeoutSeconds }
            const watchEvents = (events: ReadonlyArray<Client.WatchEvent<A>>) =>
              Effect.suspend(() => {
                if (events.length === 0) return Effect.void
                for (const event of events) {
                  switch (event.type) {
                    case "ADDED":
                    case "MODIFIED":
                    case "DELETED":
                      stats.events[counted[event.type]]++
                      current = event.object.metadata.resourceVersion ?? current
                      break
                    case "BOOKMARK":
                      stats.events.bookmarks++
                      current = event.resourceVersion !== "" ? event.resourceVersion : current
                      break
                    case "INVALID":
                      current = event.meta.resourceVersion ?? current
                      break
                  }
                }
                stats.lastSyncMillis = lastActivity
                seen(current)
                return handler({ _tag: "Watch", events, resourceVersion: current })
              })
            const consume = client.watch(kind, request).pipe(
              Stream.runForEachArray((events) =>
                Effect.suspend(() => {
                  received += events.length
                  lastActivity = clock.currentTimeMillisUnsafe()
                  if (initial === undefined || initial.done()) return watchEvents(events)
                  return Effect.flatMap(initial.apply(events), ({ rest, resourceVersion }) => {
                    if (resourceVersion !== undefined) {
                      init!.progress.listed = true
                      current = resourceVersion
                      stats.lastSyncMillis = lastActivity
                      seen(current)
                    }
                    return watchEvents(rest)
                  })
                })
              ),
              Effect.mapError((e): Gone | NoWatchList | KubeError.KubeError =>
                e._tag === "Gone"
                  ? new Gone()
                  // refused before any event: this server has no watch-list
                  : initial !== undefined && received === 0 && e._tag === "Invalid"
                  ? new NoWatchList(`the server refused it: ${e.message}`)
                  : e
              )
            )
            // The inactivity deadline is a watchdog beside the consumer rather than a timeout around
            // each pull (Stream.timeoutOrElse merges two streams, which costs a fiber hand-off per
            // batch): it sleeps until the deadline counted from the last batch, and fails with Stall
            // if nothing arrived meanwhile, which interrupts the consumer and closes the watch.
            const watchdog = Effect.gen(function*() {
              while (true) {
                // a watch-list's initial events come at once (the server waits at most a few
                // seconds for its cache first): a server that leaves them out is told apart sooner
                const deadline = initial !== undefined && !initial.done() ? Math.min(inactivityMs, INITIAL_EVENTS_SILENCE_MS) : inactivityMs
                const left = lastActivity + deadline - (yield* Clock.currentTimeMillis)
                if (left <= 0) return yield* Effect.fail(new Stall(deadline))
                yield* Effect.sleep(Duration.millis(left))
              }
            })
            yield* Effect.raceFirst(consume, watchdog).pipe(
              // a watch-list that stays silent: this server does not send initial events
              Effect.mapError((e) =>
                e instanceof Stall && initial !== undefined && !initial.done() ? new NoWatchList("no initial events came") : e
              )
            )
            // a clean end within a second and with no event is not the server's timeout (client-go's
            // "very short watch"): resuming at once would hammer the server in a loop
            if (received === 0 && clock.currentTimeMillisUnsafe() - startedAt < VERY_SHORT_WATCH_MS) {
              return yield* Effect.fail(new VeryShortWatch())
            }
            return { resourceVersion: current, listed: initial === undefined || initial.done() }
          })

        // very short watches in a row: one warning for the run, one line when it ends
        let shortRun = 0
        const veryShort = Effect.suspend(() => {
          stats.veryShortWatches++
          shortRun++
          return shortRun === 1
            ? Effect.logWarning(
              `watch ${where}: the server ended the watch at once with no event (a proxy or load balancer in front of the API server, or an API server shutting down?); backing off as after a failure until a watch lasts. Counted in veryShortWatches (operatorkit_informer_very_short_watches_total); no further warning while it lasts`
            )
            : Effect.logDebug(`watch ${where}: very short watch #${shortRun}`)
        })
        const watchLasted = Effect.suspend(() => {
          if (shortRun === 0) return Effect.void
          const n = shortRun
          shortRun = 0
          return Effect.logInfo(`watch ${where}: watches last again, after ${n} very short one${n === 1 ? "" : "s"}`)
        })

        /** Where a list starts: a watch-list while the server may do it, else a paged list. */
        const listing = (fromCache: boolean, afterGone: boolean): State =>
          streaming ? { _tag: "Streaming", afterGone } : { _tag: "Listing", fromCache, afterGone }

        const step = (state: State): Effect.Effect<State> => {
          if (state._tag === "Streaming") {
            const progress = { listed: false }
            return watch("", { afterGone: state.afterGone, progress }).pipe(
              // ended after its initial events: resume from there; before: a watch-list again
              Effect.map(({ listed, resourceVersion }): State =>
                listed ? { _tag: "Watching", resourceVersion } : state
              ),
              Effect.catch((error): Effect.Effect<State> => {
                // past its initial events it is a watch like any other
                if (progress.listed) return watchFailed(error, stats.resourceVersion ?? "")
                if (error instanceof NoWatchList) {
                  streaming = false
                  return Effect.as(
                    Effect.logInfo(`watch ${where}: no watch-list (sendInitialEvents) on this server (${error.why}): listing in pages`),
                    {
                      _tag: "Listing",
                      fromCache: !state.afterGone && (runOptions.listFromCache ?? options.listFromCache) !== false && !cacheTooLarge,
                      afterGone: state.afterGone
                    }
                  )
                }
                if (error instanceof Gone) return Effect.succeed<State>({ _tag: "Streaming", afterGone: true })
                if (error instanceof VeryShortWatch) return Effect.as(Effect.andThen(veryShort, sleepBackoff), state)
                if (error instanceof Stall) return Effect.succeed(state)
                return Effect.as(Effect.andThen(report(error, "watch-list"), sleepBackoff), state)
              })
            )
          }
          if (state._tag === "Listing") {
            return list(state.fromCache, state.afterGone).pipe(
              Effect.map((rv): State => ({ _tag: "Watching", resourceVersion: rv })),
              Effect.catch((error) => {
                if (error._tag === "Gone") return Effect.succeed(listing(false, true))
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
            Effect.map(({ resourceVersion }): State => ({ _tag: "Watching", resourceVersion })),
            Effect.tap(() => Effect.andThen(Effect.sync(() => stats.watchRestarts++), watchLasted)),
            Effect.catch((error) => watchFailed(error, state.resourceVersion))
          )
        }

        /** After a watch failed: resume from the last version seen, or list again after 410. */
        const watchFailed = (error: Gone | NoWatchList | Stall | VeryShortWatch | KubeError.KubeError, from: string): Effect.Effect<State> => {
          stats.watchRestarts++
          const resume: State = { _tag: "Watching", resourceVersion: stats.resourceVersion ?? from }
          if (error instanceof Gone) return Effect.succeed(listing(false, true))
          // only a watch-list fails so, before its initial events ended
          if (error instanceof NoWatchList) return Effect.succeed(resume)
          if (error instanceof VeryShortWatch) return Effect.as(Effect.andThen(veryShort, sleepBackoff), resume)
          if (error instanceof Stall) {
            stats.stalls++
            return Effect.as(
              Effect.logWarning(`watch ${where}: silent for ${Duration.format(Duration.millis(error.afterMillis))}, restarting it`),
              resume
            )
          }
          return Effect.as(Effect.andThen(report(error, "watch"), sleepBackoff), resume)
        }

        const loop = (state: State): Effect.Effect<never> => Effect.flatMap(step(state), loop)
        // a defect (a bug, or one in the handler) is logged and the watcher starts over with a list
        const supervised: Effect.Effect<never> = Effect.suspend(() =>
          loop(listing((runOptions.listFromCache ?? options.listFromCache) !== false && !cacheTooLarge, false))
        ).pipe(
          Effect.catchDefect((defect) =>
            Effect.andThen(
              logFailure("Error", `watch ${where}: crashed, relisting`, Cause.die(defect)),
              Effect.andThen(sleepBackoff, Effect.suspend(() => supervised))
            )
          )
        )
        return supervised
      })

    const events: Stream.Stream<Event<A>> = Stream.callback<Event<A>>((queue) =>
      Effect.forkScoped(run((event) => Effect.asVoid(Queue.offer(queue, event))))
    )

    return {
      kind,
      run,
      events,
      stats: Effect.sync(() => ({ ...stats, events: { ...stats.events } }))
    } satisfies Watcher<A>
  })
