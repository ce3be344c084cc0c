/**
 * A token bucket: `burst` tokens, refilled at `perSecond`, read against a clock the caller passes
 * (milliseconds), so it is synchronous and works in virtual time. The one implementation behind the
 * WorkQueue's retry limit, `Framework.rateLimit`, the Client's rate limit (`qps`, `burst`), the
 * Informer's resync spread and the Event recorder's spam filter.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export class TokenBucket {
  private tokens: number
  private at: number | undefined = undefined
  readonly perSecond: number
  readonly burst: number

  constructor(perSecond: number, burst: number) {
    this.perSecond = perSecond
    this.burst = burst
    this.tokens = burst
  }

  private refill(now: number): void {
    if (this.at !== undefined) this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.at) * this.perSecond / 1000)
    this.at = now
  }

  /**
   * Takes a token, on credit when none is left: the milliseconds to wait before using it (0 when
   * one was there). Takers on credit queue up: each waits for the tokens taken before it.
   */
  take(now: number): number {
    this.refill(now)
    this.tokens -= 1
    return this.tokens >= 0 ? 0 : -this.tokens * 1000 / this.perSecond
  }

  /** Takes a token if one is there now; nothing otherwise. */
  tryTake(now: number): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Returns a token taken on credit and not used (its taker was interrupted while it waited). */
  giveBack(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1)
  }
}

/**
 * Takes a token of `bucket`, sleeping (on the Effect clock, so virtual time in tests) until it may
 * be used; a taker interrupted while it sleeps gives its token back. Succeeds with the milliseconds
 * it waited (0 when a token was there).
 */
export const acquire = (bucket: TokenBucket): Effect.Effect<number> =>
  Effect.clockWith((clock) => {
    const start = clock.currentTimeMillisUnsafe()
    const waitMs = bucket.take(start)
    if (waitMs === 0) return Effect.succeed(0)
    return Effect.sleep(Duration.millis(Math.ceil(waitMs))).pipe(
      Effect.onInterrupt(() => Effect.sync(() => bucket.giveBack())),
      Effect.map(() => clock.currentTimeMillisUnsafe() - start)
    )
  })
