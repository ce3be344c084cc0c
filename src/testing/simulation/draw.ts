/**
 * Seeded draws for a simulation: every choice a run makes (its workload, its fault schedule, the
 * latencies of the in-memory server) comes from a generator seeded by the run's seed and a purpose,
 * so that adding draws for one purpose never moves the draws of another. The generator is
 * Effect's own seeded `Random` (ISAAC), the one `Random.withSeed` provides to the library's jitter.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type { Draw } from "../Simulation.ts"

export type { Draw }

/** Draws from Effect's seeded generator for `seed` and `purpose`. */
export const make = (seed: number | string, purpose: string): Effect.Effect<Draw> =>
  Effect.map(Random.withSeed(Random.Random, `${seed}/${purpose}`), fromRandom)

/** Draws over a Random service. */
export const fromRandom = (random: Random.Random): Draw => {
  const next = () => random.nextDoubleUnsafe()
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    pick: (items) => {
      if (items.length === 0) throw new Error("Draw.pick: no items to pick from")
      return items[int(0, items.length - 1)]!
    },
    chance: (p) => next() < p
  }
}
