/**
 * A sharded controller (sharding.ts) through seeds of the standard fault profile, after the seeds
 * that once failed (regressions.ts): three replicas, scaled and killed, sharing a ring's Widgets;
 * no Widget is reconciled by two replicas at once and every Widget converges. SIMULATION_SEEDS sets how many (a third of it; `npm run simulate -- --sim
 * sharding --seeds 1000` runs more on demand).
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import * as Simulation from "../../src/testing/Simulation.ts"
import * as Regressions from "./regressions.ts"
import { simulation } from "./sharding.ts"

const seeds = Math.ceil(Number(process.env["SIMULATION_SEEDS"] ?? 100) / 3)
const heavy = Simulation.make({ ...simulation.options, faults: Simulation.faults.heavy })
const regressions = (faults: Regressions.Regression["faults"]) => Regressions.sharding.filter((r) => r.faults === faults).map((r) => r.seed)

it.effect(`a sharded controller holds every invariant through ${seeds} seeds of faults, after the regression seeds`, () =>
  Effect.gen(function*() {
    yield* Simulation.check(heavy, { seeds: 0, regressions: regressions("heavy") })
    yield* Simulation.check(simulation, { seeds, regressions: regressions("standard") })
  }), { timeout: 300_000 })
