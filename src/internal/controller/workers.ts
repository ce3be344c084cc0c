/**
 * A controller's workers and when they run: while this process leads (always, without a
 * Leadership service; while it holds its shard Lease when sharded). Losing the lead interrupts the
 * reconciles in flight at once (their keys go back in the queue), so two leaders never reconcile at
 * the same time; taking it first lists afresh the caches that may be behind. On shutdown the queue
 * takes no new keys and the reconciles in flight get up to the shutdown timeout to finish.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Duration from "effect/Duration"
import type * as Informer from "../../Informer.ts"
import type * as LeaderElection from "../../LeaderElection.ts"
import type * as WorkQueue from "../../WorkQueue.ts"

/** The workers of one controller: a fiber running its queue while it leads. */
export class Workers<R> {
  private fiber: Fiber.Fiber<void> | undefined = undefined
  private readonly name: string
  private readonly run: Effect.Effect<void, never, R>
  private readonly onStop: () => void

  /**
   * @param run the workers (`WorkQueue.run` of the controller's queue)
   * @param onStop told when they stop (the pending watch-event spans are dropped)
   */
  constructor(name: string, run: Effect.Effect<void, never, R>, onStop: () => void) {
    this.name = name
    this.run = run
    this.onStop = onStop
  }

  /** Whether the workers run now (false on a standby). */
  get running(): boolean {
    return this.fiber !== undefined
  }

  private readonly start: Effect.Effect<void, never, R> = Effect.suspend(() => {
    if (this.fiber !== undefined) return Effect.void
    return Effect.map(Effect.forkDetach(this.run), (fiber) => void (this.fiber = fiber))
  })

  private readonly stop: Effect.Effect<void> = Effect.suspend(() => {
    const fiber = this.fiber
    this.fiber = undefined
    this.onStop()
    return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
  })

  /**
   * Runs the workers while `leadership` says this process leads (at once without one), taking the
   * lead only after `refresh` and only if it still leads then; stops them, gracefully, when the
   * scope closes: the queue is shut down, reconciles in flight get `shutdownTimeout`.
   */
  manage(options: {
    readonly leadership: Option.Option<LeaderElection.LeadershipService>
    /** What the log says on taking the lead ("leading, reconciling"). */
    readonly leadingLine: string
    readonly refresh: Effect.Effect<void>
    readonly queue: WorkQueue.WorkQueue<string>
    readonly shutdownTimeout: Duration.Input
  }): Effect.Effect<void, never, R | Scope.Scope> {
    const self = this
    const { leadership, leadingLine, name, queue, refresh } = { ...options, name: this.name }
    return Effect.gen(function*() {
      if (Option.isNone(leadership)) {
        yield* self.start
      } else {
        let first = true
        yield* leadership.value.changes.pipe(
          Stream.changes,
          Stream.runForEach((leading) => {
            const wasFirst = first
            first = false
            if (leading) {
              // the lead may have gone again while the caches were listed
              return Effect.andThen(
                refresh,
                Effect.flatMap(leadership.value.isLeader, (still) =>
                  still ? Effect.andThen(Effect.logInfo(`controller ${name}: ${leadingLine}`), self.start) : Effect.void)
              )
            }
            // not leading at start is the normal wait for the first election, not news
            return wasFirst
              ? Effect.andThen(Effect.logDebug(`controller ${name}: waiting for leadership`), self.stop)
              : Effect.andThen(Effect.logInfo(`controller ${name}: not leading, reconciles stopped`), self.stop)
          }),
          Effect.forkScoped
        )
      }
      // On shutdown: stop taking keys, let reconciles in flight finish up to the deadline, then
      // interrupt them.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          yield* queue.shutdown
          const fiber = self.fiber
          if (fiber === undefined) return
          const finished = yield* Fiber.await(fiber).pipe(Effect.timeoutOption(options.shutdownTimeout))
          if (Option.isNone(finished)) {
            yield* Effect.logWarning(`controller ${name}: reconciles still running at the shutdown deadline; interrupting them`)
            yield* Fiber.interrupt(fiber)
          }
        })
      )
    })
  }
}

/**
 * What taking the lead lists afresh. A shard's caches may hold objects that moved while it did not
 * hold its Lease: each time it takes the Lease (again), they are listed afresh from etcd before any
 * reconcile (`always`). A standby's may be far behind, its watches down and backing off while the
 * leader deleted objects and removed their finalizers (found by the simulation): when it takes the
 * lead, each cache whose watch failed, stalled or was cut short since its last such check is
 * listed afresh too.
 */
export const refreshOnLead = (caches: ReadonlyArray<Informer.Informer<any>>, always: boolean): Effect.Effect<void> => {
  if (always) return Effect.forEach(caches, (i) => i.relist, { concurrency: "unbounded", discard: true })
  const troubles = new Map<Informer.Informer<any>, number>()
  const refreshIfTroubled = (i: Informer.Informer<any>) =>
    Effect.flatMap(i.stats, (stats) => {
      const n = stats.errors + stats.stalls + stats.veryShortWatches
      if (n === (troubles.get(i) ?? 0)) return Effect.void
      troubles.set(i, n)
      return i.relist
    })
  return Effect.forEach(caches, refreshIfTroubled, { concurrency: "unbounded", discard: true })
}
