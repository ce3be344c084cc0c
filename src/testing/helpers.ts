/**
 * Waiting in tests: {@link eventually} retries a check until it passes (stepping the TestClock when
 * the test runs in virtual time, polling in real time otherwise), {@link settle} lets fibers run in
 * virtual time, {@link withServer} gives an effect its own in-memory API server.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as TestClock from "effect/testing/TestClock"
import type * as Client from "../Client.ts"
import * as TestServer from "./TestServer.ts"
import { millis } from "../internal/options.ts"

/**
 * Options of {@link eventually}.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventuallyOptions {
  /** How long to keep trying. Default 30 seconds (of virtual time under a TestClock). */
  readonly timeout?: Duration.Input | undefined
  /** The wait between tries. Default 50 milliseconds (20 of virtual time under a TestClock). */
  readonly interval?: Duration.Input | undefined
}

const isTestClock = (clock: Clock.Clock): clock is TestClock.TestClock =>
  typeof (clock as Partial<TestClock.TestClock>).adjust === "function" &&
  typeof (clock as Partial<TestClock.TestClock>).withLive === "function"

/**
 * Runs `check` until it succeeds (assertions inside may throw) and returns its value, or fails with
 * its last failure once `timeout` has passed. Under a `TestClock` (`it.effect`) each wait moves the
 * clock by `interval` after letting other fibers run, so backoffs and resyncs happen in virtual
 * time; otherwise (`it.live`, a real API server) it polls in real time. An interruption is never
 * retried.
 *
 * @example
 * ```ts
 * import { assert } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 * import { eventually } from "operatorkit/testing"
 *
 * const configMapWritten = eventually(
 *   Effect.gen(function*() {
 *     const client = yield* Client.Client
 *     const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "ada-greeting" })
 *     assert.strictEqual(cm.data?.["message"], "Bonjour, Ada!")
 *   }),
 *   { timeout: "20 seconds" }
 * )
 * ```
 *
 * @since 0.1.0
 * @category waiting
 */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, options: EventuallyOptions = {}): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    const timeoutMs = millis(options.timeout, "30 seconds")
    if (isTestClock(clock)) {
      const step = Duration.fromInputUnsafe(options.interval ?? "20 millis")
      const stepMs = Math.max(1, Duration.toMillis(step))
      return Effect.gen(function*() {
        for (let waited = 0;; waited += stepMs) {
          const exit = yield* Effect.exit(check)
          if (Exit.isSuccess(exit)) return exit.value
          if (waited >= timeoutMs || Cause.hasInterrupts(exit.cause)) return yield* Effect.failCause(exit.cause)
          yield* Effect.yieldNow
          yield* clock.adjust(step)
        }
      })
    }
    const interval = options.interval ?? "50 millis"
    return Effect.gen(function*() {
      const deadline = performance.now() + timeoutMs
      while (true) {
        const exit = yield* Effect.exit(check)
        if (Exit.isSuccess(exit)) return exit.value
        if (performance.now() > deadline || Cause.hasInterrupts(exit.cause)) return yield* Effect.failCause(exit.cause)
        yield* Effect.sleep(interval)
      }
    })
  })

/**
 * Lets the fibers of a test in virtual time run: `steps` times, yield, then move the TestClock by
 * `step` (default 40 steps of 5 ms). For waiting on a condition, prefer {@link eventually}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { settle } from "operatorkit/testing"
 *
 * // a second of virtual time, in 50 steps
 * const aSecondLater = settle(50, "20 millis")
 * ```
 *
 * @since 0.1.0
 * @category waiting
 */
export const settle = (steps = 40, step: Duration.Input = "5 millis"): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let i = 0; i < steps; i++) {
      yield* Effect.yieldNow
      yield* TestClock.adjust(step)
    }
  })

/**
 * Provides a new in-memory API server (`TestServer.layer()`) to this effect alone: Effect shares a Layer
 * across `provide`s unless told otherwise, so without this two tests would see each other's objects.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 * import { withServer } from "operatorkit/testing"
 *
 * const test = withServer(Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   return yield* client.list(Kind.Namespace)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const withServer = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Client.Client | TestServer.TestServer>> =>
  Effect.provide(effect, TestServer.layer(), { local: true })
