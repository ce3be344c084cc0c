/**
 * The two-controller finalizer scenario (finalizers.ts) through many seeds of the standard fault
 * profile, after the seeds that once found bugs (regressions.ts). SIMULATION_SEEDS sets how many
 * (`npm run simulate -- --seeds 10000` runs more on demand).
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import * as Simulation from "../../src/testing/Simulation.ts"
import { simulation } from "./finalizers.ts"
import * as Regressions from "./regressions.ts"

const seeds = Number(process.env["SIMULATION_SEEDS"] ?? 100)
const heavy = Simulation.make({ ...simulation.options, faults: Simulation.faults.heavy })
const regressions = (faults: Regressions.Regression["faults"]) => Regressions.finalizers.filter((r) => r.faults === faults).map((r) => r.seed)

it.effect(`two controllers' finalizers on one kind hold every invariant through ${seeds} seeds of faults, after the regression seeds`, () =>
  Effect.gen(function*() {
    yield* Simulation.check(heavy, { seeds: 0, regressions: regressions("heavy") })
    yield* Simulation.check(simulation, { seeds, regressions: regressions("standard") })
  }), { timeout: 300_000 })
