/**
 * Reconnect backoff as client-go's reflector does it: a delay that doubles from `initial` up to
 * `max`, jittered, and starts over once no failure happened for `resetAfter`.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

export interface BackoffOptions {
  readonly initial?: Duration.Input
  readonly max?: Duration.Input
  readonly factor?: number
  /** Relative jitter: each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]. */
  readonly jitter?: number
  readonly resetAfter?: Duration.Input
}

export interface Backoff {
  /** The delay to wait before the next attempt, counting this failure. */
  readonly next: Effect.Effect<Duration.Duration>
  readonly reset: Effect.Effect<void>
}

const ms = (d: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d))

export const make = (options: BackoffOptions = {}): Backoff => {
  const initial = ms(options.initial ?? "800 millis")
  const max = ms(options.max ?? "30 seconds")
  const factor = options.factor ?? 2
  const jitter = options.jitter ?? 0.2
  const resetAfter = ms(options.resetAfter ?? "2 minutes")
  let attempt = 0
  let lastFailure = -Infinity
  return {
    next: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (now - lastFailure >= resetAfter) attempt = 0
      lastFailure = now
      const base = Math.min(initial * factor ** attempt, max)
      attempt++
      const r = yield* Random.next
      return Duration.millis(Math.round(base * (1 - jitter + 2 * jitter * r)))
    }),
    reset: Effect.sync(() => {
      attempt = 0
      lastFailure = -Infinity
    })
  }
}
