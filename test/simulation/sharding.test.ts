/**
 * A sharded controller (sharding.ts) through seeds of the standard fault profile: three replicas,
 * scaled and killed, sharing a ring's Widgets; no Widget is reconciled by two replicas at once and
 * every Widget converges. SIMULATION_SEEDS sets how many (a third of it; `npm run simulate -- --sim
 * sharding --seeds 1000` runs more on demand).
 */
import { it } from "@effect/vitest"
import * as Simulation from "../../src/testing/Simulation.ts"
import * as Regressions from "./regressions.ts"
import { simulation } from "./sharding.ts"

const seeds = Math.ceil(Number(process.env["SIMULATION_SEEDS"] ?? 100) / 3)

it.effect(`a sharded controller holds every invariant through ${seeds} seeds of faults`, () =>
  Simulation.check(simulation, { seeds, regressions: Regressions.sharding.map((r) => r.seed) }), { timeout: 300_000 })
