/**
 * The controller's work queue. Controllers process keys ("namespace/name"), not events: the queue
 * holds each key once however often it is added, hands a key to at most one worker at a time, and
 * brings back a key that changed while it was being processed exactly once, after its worker is
 * done. On top of that: delayed adds (requeue-after), per-key exponential backoff with a shared
 * token bucket for failures, two priority lanes so the initial list and resyncs cannot starve live
 * changes (nor the reverse), clean shutdown, and a worker runner ({@link run}).
 *
 * It follows client-go's `workqueue` (Type + delaying + rate limiting queue) and exposes the
 * figures behind its metrics (`workqueue_depth`, `workqueue_adds_total`,
 * `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds`, `workqueue_retries_total`,
 * `workqueue_unfinished_work_seconds`, `workqueue_longest_running_processor_seconds`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as CauseMessage from "./internal/causeMessage.ts"
import * as internal from "./internal/workqueue.ts"
import { millis, nonNegativeMillis } from "./internal/options.ts"

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/WorkQueue"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/WorkQueue"

/**
 * The lane a key waits in. `"live"` is for changes seen on a watch; `"bulk"` is for the initial
 * list and resync re-adds. Live keys go first, but while both lanes hold keys every
 * `liveRatio + 1`-th take serves the bulk lane, so neither lane can starve the other.
 *
 * A key added to both lanes waits once, in the live lane.
 *
 * @since 0.1.0
 * @category models
 */
export type Priority = "live" | "bulk"

/**
 * Options of the add operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface AddOptions {
  /**
   * Default for `add`: `"live"`. Default for `addAfter` and `addRateLimited`: the lane the key was
   * taken from if it is being processed (a requeue stays in its lane), otherwise `"live"`.
   */
  readonly priority?: Priority | undefined
}

/**
 * Callbacks for the per-event metrics, called synchronously from queue operations; they must be
 * cheap and must not throw. Gauges (depth, unfinished work, longest running processor) and
 * running totals are read with {@link WorkQueue.stats} instead, e.g. at scrape time.
 *
 * | hook | client-go metric |
 * | --- | --- |
 * | `onAdd` | `workqueue_adds_total` |
 * | `onRetry` | `workqueue_retries_total` |
 * | `onQueueDuration` | `workqueue_queue_duration_seconds` (time from add to take) |
 * | `onWorkDuration` | `workqueue_work_duration_seconds` (time from take to done) |
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricHooks {
  /** A key was scheduled for processing (not counted when it was already waiting). */
  readonly onAdd?: ((priority: Priority) => void) | undefined
  /** `addRateLimited` was called. */
  readonly onRetry?: (() => void) | undefined
  readonly onQueueDuration?: ((seconds: number, priority: Priority) => void) | undefined
  readonly onWorkDuration?: ((seconds: number) => void) | undefined
}

/**
 * Options for {@link make}. See {@link defaults} for the defaults and why they were chosen.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The queue's name, for metric labels and logs. Default `"workqueue"`. */
  readonly name?: string | undefined
  /** The first failure's backoff. */
  readonly baseDelay?: Duration.Input | undefined
  /** The largest per-key backoff. */
  readonly maxDelay?: Duration.Input | undefined
  /** Growth of the per-key backoff per failure (at least 1). */
  readonly factor?: number | undefined
  /** Refill rate (per second) of the token bucket shared by all rate-limited adds; `Infinity` or 0 turns it off. */
  readonly qps?: number | undefined
  /** Size of the token bucket (at least 1). */
  readonly burst?: number | undefined
  /** Live takes per bulk take while both lanes hold keys (at least 1). */
  readonly liveRatio?: number | undefined
  readonly metrics?: MetricHooks | undefined
}

/**
 * The defaults of {@link Options}.
 *
 * - `baseDelay` 200 ms (client-go: 5 ms). The most common reconcile failure is a 409 Conflict
 *   from a stale cache; retried after 5 ms it reads the same stale cache and conflicts again,
 *   while 200 ms leaves the watch time to deliver the newer object. It also keeps a crash-looping
 *   reconcile from hammering the API server in its first seconds.
 * - `factor` 2 and `maxDelay` 2 minutes (client-go: 1000 s, about 17 minutes). The sequence is
 *   0.2 s, 0.4 s, 0.8 s, … 102.4 s, then 2 minutes: a problem fixed out of band (a missing
 *   Secret, RBAC, a webhook) is picked up within two minutes, and a key failing for good costs one
 *   reconcile every two minutes. A change to the object itself is an immediate add and does not
 *   wait for the backoff.
 * - `qps` 10 and `burst` 100 (client-go's values). The bucket meters only failure retries, across
 *   all keys: when the API server is down and every key fails, retries are held to 10 per second
 *   after a burst of 100 instead of a retry storm as it comes back.
 * - `liveRatio` 4: while the initial list or a resync fills the bulk lane, live changes get four of
 *   every five takes and a new live key is taken at the next take; while live changes keep
 *   coming, the bulk lane still gets one take in five.
 *
 * @example
 * ```ts
 * import { WorkQueue } from "operatorkit"
 *
 * WorkQueue.defaults.liveRatio // => 4
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  name: "workqueue",
  baseDelay: Duration.millis(200),
  maxDelay: Duration.minutes(2),
  factor: 2,
  qps: 10,
  burst: 100,
  liveRatio: 4
} as const

/**
 * The queue's figures at one instant; cheap to read (proportional to the keys in flight).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly name: string
  /** Keys ready to be taken (`workqueue_depth`), and per lane. */
  readonly depth: number
  readonly depthLive: number
  readonly depthBulk: number
  /** Keys waiting for an `addAfter` or backoff deadline. */
  readonly delayed: number
  /** Keys taken and not yet done. */
  readonly processing: number
  /** Running totals (`workqueue_adds_total`, `workqueue_retries_total`). */
  readonly adds: number
  readonly retries: number
  /** Sum of the running times of keys in flight (`workqueue_unfinished_work_seconds`). */
  readonly unfinishedWorkSeconds: number
  /** Running time of the oldest key in flight (`workqueue_longest_running_processor_seconds`). */
  readonly longestRunningProcessorSeconds: number
}

/**
 * `take` on a queue that was shut down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "operatorkit"
 *
 * const worker = (queue: WorkQueue.WorkQueue) =>
 *   queue.take.pipe(
 *     Effect.flatMap((key) => queue.done(key)),
 *     Effect.forever,
 *     Effect.catchTag("WorkQueueShutdown", () => Effect.void)
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkQueueShutdown extends Schema.TaggedError<WorkQueueShutdown>()("WorkQueueShutdown", {
  name: Schema.String
}) {
  override get message(): string {
    return `work queue ${this.name} is shut down`
  }
}

/**
 * A work queue of keys of type `K`.
 *
 * Each key is in at most one of these states: waiting in a lane (ready), waiting for a deadline
 * (delayed), or being processed, possibly marked to come back once (dirty).
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkQueue<in out K = string> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  /**
   * Schedules the key now. A waiting key stays queued once (a live add moves a bulk key to the
   * live lane); a key being processed comes back once after `done`; a delayed key becomes ready
   * now. Ignored after shutdown.
   */
  readonly add: (key: K, options?: AddOptions) => Effect.Effect<void>
  /**
   * Schedules the key after `delay`. Of several pending delays the earliest wins; ignored when the
   * key is already ready or dirty (it will be processed no later than the deadline). A delay of
   * zero or less is an `add`.
   */
  readonly addAfter: (key: K, delay: Duration.Input, options?: AddOptions) => Effect.Effect<void>
  /**
   * Counts a failure of the key and schedules it after its backoff: the larger of the per-key
   * exponential delay and the shared token bucket's wait. Returns that delay.
   */
  readonly addRateLimited: (key: K, options?: AddOptions) => Effect.Effect<Duration.Duration>
  /** Resets the key's failure count (its backoff starts again at `baseDelay`). */
  readonly forget: (key: K) => Effect.Effect<void>
  /** The key's failures since the last `forget`. */
  readonly retries: (key: K) => Effect.Effect<number>
  /**
   * The next ready key, waiting for one if none is; the key is then being processed until `done`.
   * Fails with {@link WorkQueueShutdown} once the queue is shut down, also for waiting takers.
   */
  readonly take: Effect.Effect<K, WorkQueueShutdown>
  /** Ends the processing of a taken key; requeues it if it was added meanwhile. */
  readonly done: (key: K) => Effect.Effect<void>
  /**
   * Stops handing out keys and ignores adds from now on; waiting takers fail. Keys in flight may
   * still call `done`. Runs when the queue's scope closes.
   */
  readonly shutdown: Effect.Effect<void>
  readonly isShutdown: Effect.Effect<boolean>
  /** Keys ready to be taken, both lanes. */
  readonly depth: Effect.Effect<number>
  readonly stats: Effect.Effect<Stats>
}


/**
 * Creates a work queue. Its deadline timer runs in the current scope, and closing the scope shuts
 * the queue down.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* WorkQueue.make({ name: "widgets" })
 *   yield* queue.add("default/a")
 *   yield* queue.add("default/a") // deduplicated
 *   const key = yield* queue.take // "default/a"
 *   yield* queue.done(key)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K = string>(options: Options = {}): Effect.Effect<WorkQueue<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const name = options.name ?? defaults.name
    const shutdownError = new WorkQueueShutdown({ name })

    // takers waiting for a ready key, and the timer waiting for an earlier deadline
    const waiters: Array<() => void> = []
    let wakeTimer: (() => void) | undefined
    const notifyTaker = () => waiters.shift()?.()
    const notifyTimer = () => {
      const wake = wakeTimer
      wakeTimer = undefined
      wake?.()
    }

    const qps = options.qps ?? defaults.qps
    const core = new internal.Core<K>(
      {
        baseDelayMs: nonNegativeMillis(options.baseDelay ?? defaults.baseDelay),
        maxDelayMs: nonNegativeMillis(options.maxDelay ?? defaults.maxDelay),
        factor: Math.max(1, options.factor ?? defaults.factor),
        qps: qps > 0 ? qps : Number.POSITIVE_INFINITY,
        burst: Math.max(1, options.burst ?? defaults.burst),
        liveRatio: Math.max(1, Math.floor(options.liveRatio ?? defaults.liveRatio))
      },
      options.metrics ?? {},
      notifyTaker,
      notifyTimer
    )

    const awaitReady = Effect.callback<void>((resume) => {
      const waiter = () => resume(Effect.void)
      waiters.push(waiter)
      return Effect.sync(() => {
        const index = waiters.indexOf(waiter)
        if (index !== -1) waiters.splice(index, 1)
      })
    }).pipe(
      // a taker interrupted after being woken passes the wake-up on, so no ready key is stranded
      Effect.onInterrupt(() => Effect.sync(() => core.ready > 0 && notifyTaker()))
    )

    const take: Effect.Effect<K, WorkQueueShutdown> = Effect.suspend(() => {
      if (core.isShutdown) return Effect.fail(shutdownError)
      const slot = core.take(now())
      return slot !== undefined ? Effect.succeed(slot.key) : Effect.andThen(awaitReady, take)
    })

    const awaitEarlier = Effect.callback<void>((resume) => {
      wakeTimer = () => resume(Effect.void)
      return Effect.sync(() => {
        wakeTimer = undefined
      })
    })

    const timer = Effect.suspend(() => {
      const current = now()
      const next = core.promoteDue(current)
      if (core.isShutdown) return Effect.void
      return next === undefined ? awaitEarlier : Effect.race(Effect.sleep(next - current), awaitEarlier)
    }).pipe(Effect.repeat({ while: () => !core.isShutdown }))

    const shutdown = Effect.sync(() => {
      if (core.isShutdown) return
      core.shutdown()
      for (const waiter of waiters.splice(0)) waiter()
      notifyTimer()
    })

    yield* Effect.forkScoped(timer)
    yield* Effect.addFinalizer(() => shutdown)

    const queue: WorkQueue<K> = {
      [TypeId]: TypeId,
      name,
      add: (key, addOptions) => Effect.sync(() => core.add(key, addOptions?.priority ?? "live", now())),
      addAfter: (key, delay, addOptions) =>
        Effect.sync(() =>
          core.addAfter(key, millis(delay), addOptions?.priority, now())
        ),
      addRateLimited: (key, addOptions) =>
        Effect.sync(() => Duration.millis(core.addRateLimited(key, addOptions?.priority, now()))),
      forget: (key) => Effect.sync(() => core.forget(key)),
      retries: (key) => Effect.sync(() => core.failures(key)),
      take,
      done: (key) => Effect.sync(() => core.done(key, now())),
      shutdown,
      isShutdown: Effect.sync(() => core.isShutdown),
      depth: Effect.sync(() => core.ready),
      stats: Effect.sync(() => {
        const s = core.snapshot(now())
        return {
          name,
          depth: s.live + s.bulk,
          depthLive: s.live,
          depthBulk: s.bulk,
          delayed: s.delayed,
          processing: s.processing,
          adds: s.adds,
          retries: s.retries,
          unfinishedWorkSeconds: s.unfinishedWorkSeconds,
          longestRunningProcessorSeconds: s.longestRunningProcessorSeconds
        }
      }),
      pipe() {
        return pipeArguments(this, arguments)
      }
    }
    machines.set(queue, { core, clock, awaitReady, shutdownError })
    return queue
  })

/** What is behind each queue `make` built, for {@link run}'s workers: they take and settle keys on the state machine directly. */
interface Machine<K> {
  readonly core: internal.Core<K>
  readonly clock: Clock.Clock
  /** Waits until a key may be ready (then `core.take` again). */
  readonly awaitReady: Effect.Effect<void>
  readonly shutdownError: WorkQueueShutdown
}
const machines = new WeakMap<WorkQueue<any>, Machine<any>>()

/**
 * What processing a key returns: nothing, or a request to see the key again after a delay
 * (controller-runtime's `RequeueAfter`), e.g. to poll an external resource.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = void | { readonly requeueAfter?: Duration.Input | undefined }

/**
 * A failed processing of a key, as reported to {@link RunOptions.onError}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure<K, E> {
  readonly key: K
  readonly cause: Cause.Cause<E>
  /** Failures of the key since its last success, this one included. */
  readonly retries: number
  /** When the key comes back. */
  readonly retryIn: Duration.Duration
}

/**
 * Options for {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<K, E> {
  /** Keys processed at the same time (different keys; a key never overlaps itself). At least 1. */
  readonly concurrency: number
  /** Reports a failure (the key is already requeued). Default: an error log with the key and cause. */
  readonly onError?: ((failure: Failure<K, E>) => Effect.Effect<void>) | undefined
}

const logFailure = (name: string) => <K, E>(failure: Failure<K, E>) =>
  CauseMessage.logFailure("Error", "processing failed; requeued with backoff", failure.cause).pipe(
    Effect.annotateLogs({
      workqueue: name,
      key: String(failure.key),
      retries: failure.retries,
      retryIn: Duration.format(failure.retryIn)
    })
  )

const runWorkers = <K, E, R>(
  self: WorkQueue<K>,
  process: (key: K) => Effect.Effect<Outcome, E, R>,
  options: RunOptions<K, E>
): Effect.Effect<void, never, R> => {
  const onError = options.onError ?? logFailure(self.name)

  const settle = (key: K, exit: Exit.Exit<Outcome, E>): Effect.Effect<void> => {
    if (Exit.isSuccess(exit)) {
      const requeueAfter = exit.value?.requeueAfter
      return requeueAfter === undefined
        ? self.forget(key)
        : Effect.andThen(self.forget(key), self.addAfter(key, requeueAfter))
    }
    // interrupted (the runner is stopping): put the key back, in the lane it came from
    if (Cause.hasInterruptsOnly(exit.cause)) return self.addAfter(key, 0)
    return Effect.gen(function*() {
      const retryIn = yield* self.addRateLimited(key)
      const retries = yield* self.retries(key)
      yield* onError({ key, cause: exit.cause, retries, retryIn }).pipe(
        Effect.catchCause((cause) => CauseMessage.logFailure("Error", "WorkQueue.run: onError failed", cause))
      )
    })
  }

  // the key is handed over and settled uninterruptibly: once taken, `done` always runs (the
  // processing's exit, success, failure or interruption, always reaches the settling)
  const settleSlowly = (key: K, exit: Exit.Exit<Outcome, E>) => Effect.ensuring(settle(key, exit), self.done(key))
  const machine = machines.get(self) as Machine<K> | undefined
  const worker = machine === undefined
    ? Effect.forever(
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(self.take), (key) =>
          Effect.flatMap(Effect.exit(restore(Effect.suspend(() => process(key)))), (exit) => settleSlowly(key, exit)))
      ),
      { disableYield: true }
    )
    : fastWorker(machine, process, settleSlowly)
  // the run loop yields to other fibers every few thousand steps by itself: no yield per key
  const concurrency = Math.max(1, Math.floor(options.concurrency))
  const stopping = Effect.catchTag(worker, "WorkQueueShutdown", () => Effect.void)
  return Effect.forEach(Array.from({ length: concurrency }), () => stopping, {
    concurrency: "unbounded",
    discard: true
  })
}

/**
 * A worker of a queue `make` built, in three Effect steps per key: one frame for the processing's
 * outcome (the same `matchCauseEffect` effect for every key, whose handlers are the worker's),
 * one to enter the interruptible region, one that takes a key from the state machine (waiting
 * until one is ready when none is) and starts its processing. A success without requeue is settled
 * on its slot in the synchronous step that sees it; everything else goes through `settleSlowly`,
 * as for any queue. The key is taken inside the interruptible region: an interruption pending
 * there fails before a key is taken, so a stopped worker takes none.
 */
const fastWorker = <K, E, R>(
  { awaitReady, clock, core, shutdownError }: Machine<K>,
  process: (key: K) => Effect.Effect<Outcome, E, R>,
  settleSlowly: (key: K, exit: Exit.Exit<Outcome, E>) => Effect.Effect<void>
): Effect.Effect<never, WorkQueueShutdown, R> =>
  Effect.uninterruptibleMask((restore) => {
    // the key this worker holds (one at a time), and its slot in the state machine
    let held = false
    let slot: internal.Slot<K> | undefined
    const takeAndProcess: Effect.Effect<Outcome, E | WorkQueueShutdown, R> = Effect.suspend(() => {
      if (core.isShutdown) return Effect.fail(shutdownError)
      slot = core.take(clock.currentTimeMillisUnsafe())
      if (slot === undefined) return awaitThenTake
      held = true
      return process(slot.key)
    })
    const awaitThenTake = Effect.andThen(awaitReady, takeAndProcess)
    const handlers = {
      onSuccess: (outcome: Outcome): Effect.Effect<never, WorkQueueShutdown, R> => {
        held = false
        if (outcome?.requeueAfter === undefined) {
          core.settled(slot!, clock.currentTimeMillisUnsafe())
          return loop
        }
        return Effect.andThen(settleSlowly(slot!.key, Exit.succeed(outcome)), loop)
      },
      onFailure: (cause: Cause.Cause<E | WorkQueueShutdown>): Effect.Effect<never, WorkQueueShutdown, R> => {
        // no key taken: shut down, or interrupted while waiting for one
        if (!held) return Effect.failCause(cause as Cause.Cause<WorkQueueShutdown>)
        held = false
        return Effect.andThen(settleSlowly(slot!.key, Exit.failCause(cause as Cause.Cause<E>)), loop)
      }
    }
    const loop: Effect.Effect<never, WorkQueueShutdown, R> = Effect.matchCauseEffect(restore(takeAndProcess), handlers)
    return loop
  })

/**
 * Runs `concurrency` workers that take keys and process them until the queue is shut down; then
 * the workers finish the keys in flight and the effect completes. Interrupting it interrupts the
 * keys in flight, which are put back in the queue.
 *
 * For each key taken: `done` is always called (success, failure, defect, interruption). On
 * success the key is `forget`-ten and, if the outcome asks for it, requeued after `requeueAfter`.
 * On failure or defect it is requeued with `addRateLimited` and reported to `onError`; the runner
 * never stops because of a failure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkQueue } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const queue = yield* WorkQueue.make()
 *   yield* queue.add("default/a")
 *   yield* queue.pipe(
 *     WorkQueue.run((key) => Effect.log(`reconciling ${key}`), { concurrency: 4 }),
 *     Effect.forkScoped
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const run: {
  <E, R, K = string>(
    process: (key: K) => Effect.Effect<Outcome, E, R>,
    options: RunOptions<K, E>
  ): (self: WorkQueue<K>) => Effect.Effect<void, never, R>
  <K, E, R>(
    self: WorkQueue<K>,
    process: (key: K) => Effect.Effect<Outcome, E, R>,
    options: RunOptions<K, E>
  ): Effect.Effect<void, never, R>
} = dual(3, runWorkers)
