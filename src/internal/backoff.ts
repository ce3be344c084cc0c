/**
 * The reconnect backoff of a Watcher as client-go's reflector does it: an Effect `Schedule` (a
 * delay that doubles from `initial` up to `max`, jittered), stepped once per failure and started
 * over once no failure happened for `resetAfter`.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { BackoffOptions } from "../Watcher.ts"
import { millis } from "./options.ts"

export interface Backoff {
  /** The delay to wait before the next attempt, counting this failure. */
  readonly next: Effect.Effect<Duration.Duration>
}

/** The delays: `initial` × `factor`^n, at most `max`, each times a random factor in [1 - jitter, 1 + jitter]. */
export const schedule = (options: BackoffOptions = {}): Schedule.Schedule<Duration.Duration> => {
  const maxMs = millis(options.max, "30 seconds")
  const jitter = options.jitter ?? 0.2
  return Schedule.exponential(options.initial ?? "800 millis", options.factor ?? 2).pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Random.next, (r) => Duration.millis(Math.round(Math.min(Duration.toMillis(duration), maxMs) * (1 - jitter + 2 * jitter * r))))
    )
  )
}

export const make = (options: BackoffOptions = {}): Effect.Effect<Backoff> =>
  Effect.sync(() => {
    const delays = schedule(options)
    const resetAfter = millis(options.resetAfter, "2 minutes")
    const max = Duration.millis(millis(options.max, "30 seconds"))
    let step: ((now: number, input: unknown) => Effect.Effect<[Duration.Duration, Duration.Duration], unknown>) | undefined
    let lastFailure = -Infinity
    return {
      next: Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // quiet long enough: the delays start over
        if (step === undefined || now - lastFailure >= resetAfter) step = yield* Schedule.toStep(delays)
        lastFailure = now
        return yield* step(now, undefined).pipe(
          Effect.map(([, delay]) => delay),
          // an exponential schedule does not end; were it to, the longest delay stands
          Effect.orElseSucceed(() => max)
        )
      })
    }
  })
