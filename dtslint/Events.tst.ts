import type { Layer } from "effect"
import { Effect } from "effect"
import { describe, expect, it } from "tstyche"
import type { Client, Kind } from "operatorkit"
import { Events } from "operatorkit"

declare const cm: Kind.Type<typeof Kind.ConfigMap>

describe("Events", () => {
  it("recording never fails and needs nothing", () => {
    expect(Effect.flatMap(Events.Recorder, (r) => r.warning(cm, "Failed", "boom"))).type.toBe<Effect.Effect<void, never, Events.Recorder>>()
    expect(Events.recordIfPresent(cm, { type: "Normal", reason: "Synced", message: "ok" })).type.toBe<Effect.Effect<void>>()
  })

  it("only Normal and Warning are Event types", () => {
    expect(Events.recordIfPresent).type.not.toBeCallableWith(cm, { type: "Error", reason: "r", message: "m" })
  })

  it("layer needs a Client", () => {
    expect(Events.layer()).type.toBe<Layer.Layer<Events.Recorder, never, Client.Client>>()
  })
})
