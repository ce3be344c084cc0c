import { Effect, Schema } from "effect"
import { describe, expect, it } from "tstyche"
import { Controller, Framework, Kind } from "operatorkit"

const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
const cms = [Framework.make<Kind.ConfigMap>()({ name: "r", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.void })] as const
const widgets = [Framework.make<Kind.Type<typeof Widget>>()({ name: "r", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.void })] as const

describe("Controller names", () => {
  it("a custom kind needs no prefix: its API group is the default", () => {
    expect(Controller.make).type.toBeCallableWith({ name: "w", kind: Widget, resources: widgets })
  })
  it("a built-in kind needs finalizerPrefix or finalizer", () => {
    expect(Controller.make).type.not.toBeCallableWith({ name: "c", kind: Kind.ConfigMap, resources: cms })
    expect(Controller.layer).type.not.toBeCallableWith({ name: "c", kind: Kind.ConfigMap, resources: cms })
    expect(Controller.make).type.toBeCallableWith({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: cms })
    expect(Controller.make).type.toBeCallableWith({ name: "c", kind: Kind.ConfigMap, finalizer: "example.com/c", resources: cms })
  })
})
