import type { Effect, Layer, Scope } from "effect"
import { describe, expect, it } from "tstyche"
import { Envtest } from "operatorkit"

describe("Envtest", () => {
  it("make is scoped and fails only with EnvtestError", () => {
    expect(Envtest.make()).type.toBe<Effect.Effect<Envtest.EnvtestInstance, Envtest.EnvtestError, Scope.Scope>>()
  })
  it("layer provides the Envtest service", () => {
    expect(Envtest.layer()).type.toBe<Layer.Layer<Envtest.Envtest, Envtest.EnvtestError>>()
  })
  it("rejects unknown options", () => {
    expect(Envtest.make).type.not.toBeCallableWith({ controlerManager: true })
  })
  it("fault controls cannot fail except where they start processes", () => {
    const env = {} as Envtest.EnvtestInstance
    expect(env.stopApiServer).type.toBe<Effect.Effect<void>>()
    expect(env.startApiServer).type.toBe<Effect.Effect<void, Envtest.EnvtestError>>()
    expect(env.compactEtcd).type.toBe<Effect.Effect<number, Envtest.EnvtestError>>()
  })
})
