/**
 * A write retried when it lost a race, client-go's `retry.RetryOnConflict`: `attempt(n)` reads
 * what it needs (fresh from the second attempt on) and writes; a failure `isConflict` says is a
 * lost race (default: 409 Conflict) runs it again, up to `attempts` times in all (default 5, as
 * client-go's `DefaultRetry`); the last one's failure is the caller's. No delay: the race is lost
 * to a write that has already happened, so the fresh read sees it. The one implementation behind
 * the finalizer writes, status updates, CRD updates and the storage migration's rewrites.
 * @internal
 */
import * as Effect from "effect/Effect"

export interface RetryOptions<E> {
  /** Attempts in all, the first included (default 5). */
  readonly attempts?: number | undefined
  /** Which failures are a lost race (default: `_tag` "Conflict"). */
  readonly isConflict?: ((error: E) => boolean) | undefined
  /** Told of each lost race that is retried (`attempt` counts from 0). */
  readonly onConflict?: ((error: E, attempt: number) => Effect.Effect<void>) | undefined
}

const isConflictTag = (e: unknown) => typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "Conflict"

export const retryOnConflict = <A, E, R>(
  attempt: (n: number) => Effect.Effect<A, E, R>,
  options: RetryOptions<E> = {}
): Effect.Effect<A, E, R> => {
  const attempts = Math.max(1, options.attempts ?? 5)
  const isConflict = options.isConflict ?? isConflictTag
  const run = (n: number): Effect.Effect<A, E, R> =>
    Effect.catchIf(
      attempt(n),
      (e) => n + 1 < attempts && isConflict(e),
      (e) => options.onConflict === undefined ? run(n + 1) : Effect.andThen(options.onConflict(e, n), Effect.suspend(() => run(n + 1)))
    )
  return Effect.suspend(() => run(0))
}
