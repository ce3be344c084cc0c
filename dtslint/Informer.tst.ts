import type { Effect, Option, Scope, Stream } from "effect"
import { describe, expect, it } from "tstyche"
import type { Client } from "operatorkit"
import { Informer, Kind } from "operatorkit"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

describe("Informer", () => {
  it("needs a Client and a Scope, and never fails", () => {
    expect(Informer.make(Kind.ConfigMap)).type.toBe<Effect.Effect<Informer.Informer<ConfigMap>, never, Client.Client | Scope.Scope>>()
  })
  it("its Store and changes carry the kind's type", () => {
    const informer = {} as Informer.Informer<ConfigMap>
    expect(informer.store.get("a/b")).type.toBe<Effect.Effect<Option.Option<ConfigMap>>>()
    expect(informer.changes).type.toBe<Stream.Stream<Informer.Change<ConfigMap>>>()
  })
  it("index functions and transforms see the kind's type", () => {
    expect(Informer.make).type.toBeCallableWith(Kind.ConfigMap, {
      indexers: { byData: (cm: ConfigMap) => Object.keys(cm.data ?? {}) },
      transform: (cm: ConfigMap) => cm
    })
    expect(Informer.make).type.not.toBeCallableWith(Kind.ConfigMap, { transform: (rb: Kind.Type<typeof Kind.RoleBinding>) => rb })
    expect(Informer.make).type.not.toBeCallableWith(Kind.ConfigMap, { indexers: { bad: (cm: ConfigMap) => [cm.data] } })
  })
})
