import type { Effect, Layer, Scope, Stream } from "effect"
import { describe, expect, it } from "tstyche"
import type { Client } from "operatorkit"
import { LeaderElection } from "operatorkit"

describe("LeaderElection", () => {
  it("make needs a Client and a Scope and fails only with LeaderElectionConfigError", () => {
    expect(LeaderElection.make({ name: "op", namespace: "ns" })).type.toBe<
      Effect.Effect<LeaderElection.Elector, LeaderElection.LeaderElectionConfigError, Client.Client | Scope.Scope>
    >()
  })

  it("layer provides the Leadership the Controller listens to", () => {
    expect(LeaderElection.layer({ name: "op", namespace: "ns" })).type.toBe<
      Layer.Layer<LeaderElection.Leadership, LeaderElection.LeaderElectionConfigError, Client.Client>
    >()
  })

  it("an Elector is a LeadershipService", () => {
    expect<LeaderElection.Elector>().type.toBeAssignableTo<LeaderElection.LeadershipService>()
    expect<LeaderElection.Elector["changes"]>().type.toBe<Stream.Stream<boolean>>()
  })

  it("durations take Duration inputs; name and namespace are required", () => {
    expect(LeaderElection.make).type.toBeCallableWith({ name: "op", namespace: "ns", leaseDuration: "15 seconds", retryPeriod: 2_000 })
    expect(LeaderElection.make).type.not.toBeCallableWith({ name: "op" })
    expect(LeaderElection.make).type.not.toBeCallableWith({ name: "op", namespace: "ns", leaseDuration: "long" })
  })
})
