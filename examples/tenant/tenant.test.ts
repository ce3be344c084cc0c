/**
 * The Tenant operator on the in-memory API server, in virtual time (TestClock): fast and
 * deterministic. tenant.envtest.test.ts runs the same scenarios on a real control plane.
 */
import { describe, it } from "@effect/vitest"
import { withServer } from "operatorkit/testing"
import { scenarios } from "./scenarios.ts"

describe("Tenant operator on the in-memory API server", () => {
  for (const scenario of scenarios) {
    // a fresh server for each test (layers are otherwise shared across provides)
    it.effect(scenario.name, () => withServer(scenario.run))
  }
})
