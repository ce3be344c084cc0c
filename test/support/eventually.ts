/** Polls a check (assertions may throw) until it passes or the deadline passes; real time only. */
import { Cause, Effect, Exit } from "effect"

export const eventually = <A, E, R>(
  check: Effect.Effect<A, E, R>,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = performance.now() + (options.timeoutMs ?? 20_000)
    while (true) {
      const exit = yield* Effect.exit(check)
      if (Exit.isSuccess(exit)) return exit.value
      if (performance.now() > deadline || Cause.hasInterrupts(exit.cause)) return yield* Effect.failCause(exit.cause)
      yield* Effect.sleep(options.intervalMs ?? 50)
    }
  })
