import type { Effect, Layer, Scope } from "effect"
import { describe, expect, it } from "tstyche"
import type { Client, KubeConfig } from "operatorkit"
import { Envtest, eventually, TestServer, withServer } from "operatorkit/testing"

describe("Envtest", () => {
  it("make is scoped and fails only with EnvtestError", () => {
    expect(Envtest.make()).type.toBe<Effect.Effect<Envtest.EnvtestService, Envtest.EnvtestError, Scope.Scope>>()
  })
  it("layer provides the Envtest service", () => {
    expect(Envtest.layer()).type.toBe<Layer.Layer<Envtest.Envtest, Envtest.EnvtestError>>()
  })
  it("rejects unknown options", () => {
    expect(Envtest.make).type.not.toBeCallableWith({ controlerManager: true })
  })
  it("fault controls cannot fail except where they start processes", () => {
    const env = {} as Envtest.EnvtestService
    expect(env.stopApiServer).type.toBe<Effect.Effect<void>>()
    expect(env.startApiServer).type.toBe<Effect.Effect<void, Envtest.EnvtestError>>()
    expect(env.compactEtcd).type.toBe<Effect.Effect<number, Envtest.EnvtestError>>()
  })
})

describe("operatorkit/testing helpers", () => {
  it("eventually keeps the check's types", () => {
    const check = {} as Effect.Effect<number, "e", "r">
    expect(eventually(check)).type.toBe<Effect.Effect<number, "e", "r">>()
    expect(eventually).type.not.toBeCallableWith(check, { timeoutMs: 10 })
  })
  it("withServer provides the Client and the TestServer", () => {
    const needs = {} as Effect.Effect<void, never, Client.Client | TestServer.TestServer | "other">
    expect(withServer(needs)).type.toBe<Effect.Effect<void, never, "other">>()
  })
  it("layerClient provides a Client, its KubeConfig and the Envtest", () => {
    expect(Envtest.layerClient()).type.toBe<
      Layer.Layer<Client.Client | KubeConfig.KubeConfig | Envtest.Envtest, Envtest.EnvtestError | KubeConfig.KubeConfigError>
    >()
  })
})
