/**
 * The Tenant operator under simulation (simulation.ts): two replicas with leader election, serving
 * its webhooks and held to its declared RBAC, a workload of Tenants in both versions and replica
 * churn, the standard fault profile, through many seeds; first the
 * seeds that once found bugs (test/simulation/regressions.ts). SIMULATION_SEEDS sets how many
 * (`npm run simulate -- --seeds 10000` runs more on demand).
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { Simulation } from "operatorkit/testing"
import * as Regressions from "../../test/simulation/regressions.ts"
import { simulation } from "./simulation.ts"

const seeds = Number(process.env["SIMULATION_SEEDS"] ?? 100)
const heavy = Simulation.make({ ...simulation.options, faults: Simulation.faults.heavy })
const regressions = (faults: Regressions.Regression["faults"]) => Regressions.tenant.filter((r) => r.faults === faults).map((r) => r.seed)

it.effect(`every Tenant converges and every invariant holds through ${seeds} seeds of faults, after the regression seeds`, () =>
  Effect.gen(function*() {
    yield* Simulation.check(heavy, { seeds: 0, regressions: regressions("heavy") })
    yield* Simulation.check(simulation, { seeds, regressions: regressions("standard") })
  }), { timeout: 300_000 })
