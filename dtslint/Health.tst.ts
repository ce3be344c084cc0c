import type { Layer } from "effect"
import { Effect } from "effect"
import { describe, expect, it } from "tstyche"
import { Health } from "operatorkit"

describe("Health", () => {
  it("layer fails only with HealthServerError", () => {
    expect(Health.layer({ port: 8081 })).type.toBe<Layer.Layer<Health.Server, Health.HealthServerError>>()
  })

  it("checks are named effects with any error", () => {
    expect(Health.check("db", Effect.fail("down"))).type.toBe<Health.Check>()
    // a check needs no services
    expect(Health.check).type.not.toBeCallableWith("db", Effect.asVoid(Health.Server))
  })
})
