/**
 * Shrinking a failing run: the smallest subset of its events (user actions and faults) that still
 * fails, by delta debugging (Zeller's ddmin, removing complements): drop ever smaller chunks of
 * the events while the run still fails, down to single events.
 * @internal
 */
import * as Effect from "effect/Effect"

export interface Shrunk<A> {
  /** The events kept: every one of them is needed for the failure, as far as the budget showed. */
  readonly kept: ReadonlyArray<A>
  /** Runs spent. */
  readonly runs: number
}

/**
 * The shortest subsequence of `items` that `fails` still accepts, trying `first` candidates (e.g.
 * the events without any fault) before the chunks, within `maxRuns` runs of `fails`.
 */
export const shrink = <A, E, R>(
  items: ReadonlyArray<A>,
  fails: (candidate: ReadonlyArray<A>) => Effect.Effect<boolean, E, R>,
  options: { readonly maxRuns: number; readonly first?: ReadonlyArray<ReadonlyArray<A>> }
): Effect.Effect<Shrunk<A>, E, R> =>
  Effect.gen(function*() {
    let current = items
    let runs = 0
    const attempt = function*(candidate: ReadonlyArray<A>) {
      runs++
      return yield* fails(candidate)
    }
    for (const candidate of [[], ...(options.first ?? [])]) {
      if (runs >= options.maxRuns || candidate.length >= current.length) continue
      if (yield* attempt(candidate)) current = candidate
    }
    let n = 2
    while (current.length >= 2 && runs < options.maxRuns) {
      const size = Math.ceil(current.length / n)
      let reduced = false
      for (let start = 0; start < current.length && runs < options.maxRuns; start += size) {
        const candidate = [...current.slice(0, start), ...current.slice(start + size)]
        if (yield* attempt(candidate)) {
          current = candidate
          n = Math.max(n - 1, 2)
          reduced = true
          break
        }
      }
      if (!reduced) {
        if (n >= current.length) break
        n = Math.min(n * 2, current.length)
      }
    }
    return { kept: current, runs }
  })
