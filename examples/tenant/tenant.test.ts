/**
 * The Tenant operator on the in-memory API server, in virtual time (TestClock): fast and
 * deterministic. tenant.envtest.test.ts runs the same scenarios on a real control plane.
 */
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Testing } from "operatorkit"
import { scenarios, virtualTime } from "./scenarios.ts"

describe("Tenant operator on the in-memory API server", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () =>
      scenario.run.pipe(
        Effect.provide(virtualTime),
        // a fresh server for each test (layers are otherwise shared across provides)
        Effect.provide(Testing.layer, { local: true })
      ))
  }
})
