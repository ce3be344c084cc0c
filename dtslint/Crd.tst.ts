import type { Layer, Result } from "effect"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "tstyche"
import { Client, Crd, CrdDefinition, CrdMigration, Kind, type KubeError } from "operatorkit"

const Spec = Schema.Struct({
  replicas: Schema.Int.pipe(CrdDefinition.withDefault(1)),
  ports: Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Int })).pipe(CrdDefinition.listMap(["name"])),
  maxUnavailable: Schema.optionalKey(CrdDefinition.IntOrString)
})
const Status = Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) })
const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Spec, status: Status })

describe("Kind.custom", () => {
  it("decodes to exactly its Schema's Type", () => {
    expect<Kind.Type<typeof Widget>>().type.toBe<typeof Widget.schema.Type>()
    expect<Kind.Type<typeof Widget>["spec"]>().type.toBe<typeof Spec.Type>()
    expect<Kind.Type<typeof Widget>["status"]>().type.toBe<typeof Status.Type | undefined>()
    expect<Kind.Type<typeof Widget>["spec"]>().type.toBe<{
      readonly replicas: number
      readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number }>
      readonly maxUnavailable?: string | number
    }>()
  })
  it("a defaulted field is required once decoded and optional on the wire", () => {
    expect<typeof Spec.Encoded["replicas"]>().type.toBe<number | undefined>()
    expect<Pick<typeof Spec.Type, "replicas">>().type.toBe<{ readonly replicas: number }>()
  })
})

describe("CrdDefinition.make", () => {
  it("returns a Result; makeUnsafe the Definition", () => {
    expect(CrdDefinition.make(Widget)).type.toBe<Result.Result<CrdDefinition.Definition, CrdDefinition.CrdDefinitionError>>()
    expect(CrdDefinition.makeUnsafe(Widget, { printerColumns: [{ name: "R", type: "integer", jsonPath: ".spec.replicas" }] })).type
      .toBe<CrdDefinition.Definition>()
    expect(CrdDefinition.make({ versions: [{ kind: Widget, storage: true }] })).type.toBe<Result.Result<CrdDefinition.Definition, CrdDefinition.CrdDefinitionError>>()
  })
  it("accepts custom kinds only", () => {
    expect(CrdDefinition.make).type.not.toBeCallableWith(Kind.ConfigMap)
    expect(CrdDefinition.make).type.not.toBeCallableWith({ versions: [] })
  })
  it("printer columns take the API's column types", () => {
    expect(CrdDefinition.make).type.not.toBeCallableWith(Widget, { printerColumns: [{ name: "R", type: "int", jsonPath: ".spec.replicas" }] })
  })
})

describe("schema helpers", () => {
  it("listMap keys are fields every element has", () => {
    const Items = Schema.Array(Schema.Struct({ name: Schema.String, note: Schema.optionalKey(Schema.String) }))
    expect(Items.pipe(CrdDefinition.listMap(["name"]))).type.toBe<typeof Items>()
    expect(CrdDefinition.listMap(["nope"])).type.not.toBeCallableWith(Items)
    expect(CrdDefinition.listMap(["note"])).type.not.toBeCallableWith(Items)
    expect(CrdDefinition.listMap).type.not.toBeCallableWith(Items, ["nope"])
    expect(CrdDefinition.listMap(["name"])).type.not.toBeCallableWith(Schema.Array(Schema.String))
  })
  it("IntOrString is a number or a string", () => {
    expect<typeof CrdDefinition.IntOrString.Type>().type.toBe<number | string>()
  })
  it("markers keep the Schema's type", () => {
    const Tags = Schema.Array(Schema.String)
    expect(CrdDefinition.listSet(Tags)).type.toBe<typeof Tags>()
    expect(CrdDefinition.preserveUnknownFields(Schema.Unknown)).type.toBe<typeof Schema.Unknown>()
  })
  it("withDefault takes the encoded form", () => {
    expect(CrdDefinition.withDefault).type.not.toBeCallableWith(Schema.NumberFromString, 3)
    expect(CrdDefinition.withDefault(Schema.NumberFromString, "3")).type.not.toBeAssignableTo<never>()
  })
})

describe("the Crd service", () => {
  const definition = CrdDefinition.makeUnsafe(Widget)
  const crds = {} as Crd.CrdService
  it("tracks its errors", () => {
    expect(crds.ensureCreated(definition)).type.toBe<
      Effect.Effect<Crd.EnsureCreatedResult, KubeError.KubeError | Crd.CrdNameConflict | Crd.CrdTimeout>
    >()
    expect(crds.ensureDeleted("widgets.example.com")).type.toBe<Effect.Effect<void, KubeError.KubeError | Crd.CrdTimeout>>()
    expect(crds.migrate(definition)).type.toBe<Effect.Effect<CrdMigration.Report, KubeError.KubeError | CrdMigration.CrdMigrationError>>()
  })
  it("a progress callback's failure and requirements flow into migrate", () => {
    class Boom {
      readonly _tag = "Boom"
    }
    const onProgress = (_: CrdMigration.Progress) => Client.Client.use(() => Effect.fail(new Boom()))
    expect(crds.migrate(definition, { onProgress })).type.toBe<
      Effect.Effect<CrdMigration.Report, KubeError.KubeError | CrdMigration.CrdMigrationError | Boom, Client.Client>
    >()
  })
  it("the layer needs a Client", () => {
    expect(Crd.layer).type.toBe<Layer.Layer<Crd.Crd, never, Client.Client>>()
  })
})
