import type { Effect, Option, Stream } from "effect"
import { Schema } from "effect"
import { describe, expect, it } from "tstyche"
import { Client, Kind, KubeError, Patch } from "operatorkit"

declare const client: Client.ClientService

const Widget = Kind.custom({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ size: Schema.Int }),
  status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) })
})
type Widget = Kind.Type<typeof Widget>

describe("Client", () => {
  it("decodes to the kind's type and fails with KubeError only", () => {
    expect(client.get(Kind.ConfigMap, { namespace: "a", name: "b" })).type.toBe<
      Effect.Effect<Kind.Type<typeof Kind.ConfigMap>, KubeError.KubeError>
    >()
    expect(client.get(Widget, { namespace: "a", name: "b" })).type.toBe<Effect.Effect<Widget, KubeError.KubeError>>()
    expect(client.delete(Widget, { namespace: "a", name: "b" })).type.toBe<Effect.Effect<Option.Option<Widget>, KubeError.KubeError>>()
    expect(client.watch(Widget)).type.toBe<Stream.Stream<Client.WatchEvent<Widget>, KubeError.KubeError>>()
  })
  it("a custom kind's decoded type is exactly its Schema's", () => {
    expect<Widget["spec"]>().type.toBe<{ readonly size: number }>()
    expect<NonNullable<Widget["status"]>>().type.toBe<{ readonly ready?: boolean }>()
    expect<Widget>().type.toBe<typeof Widget.schema.Type>()
  })
  it("rejects objects of another kind", () => {
    expect(client.create).type.not.toBeCallableWith(Widget, { metadata: { name: "w" }, spec: { size: "big" } })
    expect(client.create).type.not.toBeCallableWith(Kind.ConfigMap, { metadata: { name: "c" }, data: { n: 1 } })
  })
  it("strategic merge only fits built-in kinds", () => {
    expect(client.patch).type.toBeCallableWith(Kind.Deployment, { name: "d", namespace: "a" }, Patch.strategic({}))
    expect(client.patch).type.not.toBeCallableWith(Widget, { name: "w", namespace: "a" }, Patch.strategic({}))
    expect(client.patch).type.toBeCallableWith(Widget, { name: "w", namespace: "a" }, Patch.merge({}))
  })
  it("server-side apply needs a field manager", () => {
    expect(Patch.apply).type.not.toBeCallableWith({}, {})
    expect(Patch.apply).type.toBeCallableWith({}, { fieldManager: "me" })
  })
})

describe("built-in kinds", () => {
  it("are typed, not any", () => {
    expect<Kind.Type<typeof Kind.ConfigMap>["data"]>().type.toBe<{ readonly [x: string]: string } | undefined>()
    expect<Kind.Type<typeof Kind.Pod>["metadata"]["name"]>().type.toBe<string>()
    // open object types share every optional field, but a required one tells kinds apart
    expect<Kind.Type<typeof Kind.ConfigMap>>().type.not.toBeAssignableTo<Kind.Type<typeof Kind.RoleBinding>>()
  })
})
