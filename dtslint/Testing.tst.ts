import type { Effect, Layer } from "effect"
import { describe, expect, it } from "tstyche"
import { Client, Kind, type KubeError } from "operatorkit"
import { TestServer } from "operatorkit/testing"

describe("TestServer", () => {
  it("layer provides the Client and the TestServer, needs nothing and cannot fail", () => {
    expect(TestServer.layer()).type.toBe<Layer.Layer<Client.Client | TestServer.TestServer>>()
    expect(TestServer.layer({ bookmarkInterval: false, namespaces: ["a"] })).type.toBe<Layer.Layer<Client.Client | TestServer.TestServer>>()
  })
  it("makeServer is a plain Effect of the handle", () => {
    expect(TestServer.make()).type.toBe<Effect.Effect<TestServer.TestServerService>>()
  })
  it("the handle's Client is the Client service", () => {
    const server = {} as TestServer.TestServerService
    expect(server.client).type.toBe<Client.ClientService>()
  })
  it("objects decode to the kind's type", () => {
    const server = {} as TestServer.TestServerService
    expect(server.objects(Kind.ConfigMap)).type.toBe<
      Effect.Effect<ReadonlyArray<Kind.Type<typeof Kind.ConfigMap>>, KubeError.DecodeError>
    >()
  })
  it("faults name a known verb", () => {
    const server = {} as TestServer.TestServerService
    expect(server.failNext).type.toBeCallableWith({ verb: "list", kind: Kind.ConfigMap, code: 429, retryAfterSeconds: 2 })
    expect(server.failNext).type.not.toBeCallableWith({ verb: "lst" })
    expect(server.calls).type.not.toBeCallableWith("deletecollection")
  })
  it("rejects unknown options", () => {
    expect(TestServer.make).type.not.toBeCallableWith({ bookmarkIntervall: "1 minute" })
  })
})
