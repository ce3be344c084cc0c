import type { Effect, Layer } from "effect"
import { describe, expect, it } from "tstyche"
import { Client, Kind, type KubeError } from "operatorkit"
import { Testing } from "operatorkit/testing"

describe("Testing", () => {
  it("layer provides the Client and the TestServer, needs nothing and cannot fail", () => {
    expect(Testing.layer).type.toBe<Layer.Layer<Client.Client | Testing.TestServer>>()
    expect(Testing.layerWith({ bookmarkInterval: false, namespaces: ["a"] })).type.toBe<Layer.Layer<Client.Client | Testing.TestServer>>()
  })
  it("makeServer is a plain Effect of the handle", () => {
    expect(Testing.makeServer()).type.toBe<Effect.Effect<Testing.TestServerService>>()
  })
  it("the handle's Client is the Client service", () => {
    const server = {} as Testing.TestServerService
    expect(server.client).type.toBe<Client.ClientService>()
  })
  it("objects decode to the kind's type", () => {
    const server = {} as Testing.TestServerService
    expect(server.objects(Kind.ConfigMap)).type.toBe<
      Effect.Effect<ReadonlyArray<Kind.Type<typeof Kind.ConfigMap>>, KubeError.DecodeError>
    >()
  })
  it("faults name a known verb", () => {
    const server = {} as Testing.TestServerService
    expect(server.failNext).type.toBeCallableWith({ verb: "list", kind: Kind.ConfigMap, code: 429, retryAfterSeconds: 2 })
    expect(server.failNext).type.not.toBeCallableWith({ verb: "lst" })
    expect(server.calls).type.not.toBeCallableWith("deletecollection")
  })
  it("rejects unknown options", () => {
    expect(Testing.makeServer).type.not.toBeCallableWith({ bookmarkIntervall: "1 minute" })
  })
})
