import { assert, describe, it } from "@effect/vitest"
import { Schema, SchemaTransformation } from "effect"
import * as fc from "fast-check"
import { Effect, Result } from "effect"
import * as Conversion from "../../src/Conversion.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"

const group = "conversion.operatorkit.test"

// v1: one owner; v2: several owners, a tier (new, with a default); v3: owners renamed to admins
const V1 = Kind.custom({
  group,
  version: "v1",
  kind: "Team",
  namespaced: true,
  spec: Schema.Struct({
    owner: Schema.String,
    size: Schema.Int.pipe(CrdDefinition.withDefault(1)),
    note: Schema.optionalKey(Schema.String)
  }),
  status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean) })
})
const V2 = Kind.custom({
  group,
  version: "v2",
  kind: "Team",
  namespaced: true,
  spec: Schema.Struct({
    owners: Schema.Array(Schema.String),
    size: Schema.Int,
    tier: Schema.Literals(["gold", "silver"]).pipe(CrdDefinition.withDefault("silver")),
    note: Schema.optionalKey(Schema.String)
  }),
  status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean), members: Schema.optionalKey(Schema.Int) })
})
const V3 = Kind.custom({
  group,
  version: "v3",
  kind: "Team",
  namespaced: true,
  spec: Schema.Struct({ admins: Schema.Array(Schema.String), size: Schema.Int, tier: Schema.Literals(["gold", "silver"]) }),
  status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean), members: Schema.optionalKey(Schema.Int) })
})
type V1 = Kind.Type<typeof V1>
type V2 = Kind.Type<typeof V2>
type V3 = Kind.Type<typeof V3>

const v1ToV2 = SchemaTransformation.transform<V2, V1>({
  decode: ({ spec, status, ...rest }) => ({
    ...rest,
    spec: {
      owners: spec.owner === "" ? [] : [spec.owner],
      size: spec.size,
      tier: "silver",
      ...(spec.note !== undefined ? { note: spec.note } : {})
    },
    ...(status !== undefined ? { status: { ...(status.ready !== undefined ? { ready: status.ready } : {}) } } : {})
  }),
  encode: ({ spec, status, ...rest }) => ({
    ...rest,
    spec: { owner: spec.owners[0] ?? "", size: spec.size, ...(spec.note !== undefined ? { note: spec.note } : {}) },
    ...(status !== undefined ? { status: { ...(status.ready !== undefined ? { ready: status.ready } : {}) } } : {})
  })
})
const v2ToV3 = SchemaTransformation.transform<V3, V2>({
  decode: ({ spec: { owners, note: _, ...spec }, ...rest }) => ({ ...rest, spec: { ...spec, admins: owners } }),
  encode: ({ spec: { admins, ...spec }, ...rest }) => ({ ...rest, spec: { ...spec, owners: admins } })
})

const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }, { kind: V3 }] })
const conversion = Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, v1ToV2), Conversion.step(V2, V3, v2ToV3)])

const convert = (object: unknown, version: string) => Result.getOrThrow(Conversion.convert(conversion, object, version))

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
const metadata = fc.record({
  name,
  namespace: fc.constant("default"),
  uid: fc.uuid(),
  resourceVersion: fc.nat().map(String),
  labels: fc.dictionary(name, name, { minKeys: 1, maxKeys: 2 }),
  annotations: fc.dictionary(name.map((n) => `example.com/${n}`), fc.string(), { minKeys: 1, maxKeys: 2 })
}, { requiredKeys: ["name", "namespace", "uid", "resourceVersion"] })

const v1Object = fc.record({
  apiVersion: fc.constant(`${group}/v1`),
  kind: fc.constant("Team"),
  metadata,
  spec: fc.record({ owner: fc.string(), size: fc.integer(), note: fc.string() }, { requiredKeys: ["owner", "size"] }),
  status: fc.record({ ready: fc.boolean() }, { requiredKeys: [] })
}, { requiredKeys: ["apiVersion", "kind", "metadata", "spec"] })

const v2Object = fc.record({
  apiVersion: fc.constant(`${group}/v2`),
  kind: fc.constant("Team"),
  metadata,
  spec: fc.record({
    owners: fc.array(fc.string(), { maxLength: 4 }),
    size: fc.integer(),
    tier: fc.constantFrom("gold", "silver"),
    note: fc.string()
  }, { requiredKeys: ["owners", "size", "tier"] }),
  status: fc.record({ ready: fc.boolean(), members: fc.integer() }, { requiredKeys: [] })
}, { requiredKeys: ["apiVersion", "kind", "metadata", "spec"] })

describe("Conversion", () => {
  it("v1 → v2 → v1 and v2 → v1 → v2 give the same object back (fast-check)", () => {
    fc.assert(fc.property(v1Object, (x) => {
      assert.deepStrictEqual(convert(convert(x, "v2"), "v1"), x)
    }), { numRuns: 300 })
    fc.assert(fc.property(v2Object, (x) => {
      assert.deepStrictEqual(convert(convert(x, "v1"), "v2"), x)
    }), { numRuns: 300 })
  })

  it("round trips across versions that are not adjacent chain through the ones between", () => {
    fc.assert(fc.property(v1Object, (x) => {
      const v3 = convert(x, "v3")
      assert.strictEqual(v3["apiVersion"], `${group}/v3`)
      assert.deepStrictEqual(convert(v3, "v1"), x)
    }), { numRuns: 200 })
    fc.assert(fc.property(v2Object, (x) => {
      assert.deepStrictEqual(convert(convert(convert(x, "v1"), "v3"), "v2"), x)
    }), { numRuns: 200 })
  })

  it("what the older version cannot hold travels in an annotation and comes back", () => {
    const x = {
      apiVersion: `${group}/v2`,
      kind: "Team",
      metadata: { name: "a", namespace: "default", uid: "u" },
      spec: { owners: ["alice", "bob"], size: 3, tier: "gold" },
      status: { members: 4 }
    }
    const v1 = convert(x, "v1")
    assert.deepStrictEqual(v1["spec"], { owner: "alice", size: 3 })
    const kept = JSON.parse((v1["metadata"] as any).annotations[`conversion.${group}/v2`])
    assert.deepStrictEqual(kept.lost.map((l: any) => l.path.join(".")).sort(), ["spec.owners", "spec.tier", "status.members"])
    assert.deepStrictEqual(convert(v1, "v2"), x)
  })

  it("a field changed in the older version wins over what was kept for it", () => {
    const x = {
      apiVersion: `${group}/v2`,
      kind: "Team",
      metadata: { name: "a", namespace: "default", uid: "u" },
      spec: { owners: ["alice", "bob"], size: 3, tier: "gold" }
    }
    const v1 = convert(x, "v1") as any
    const edited = { ...v1, spec: { ...v1.spec, owner: "carol", size: 5 } }
    const back = convert(edited, "v2") as any
    // owners changed through v1: the edit wins; the tier v1 cannot hold is back
    assert.deepStrictEqual(back.spec, { owners: ["carol"], size: 5, tier: "gold" })
    assert.strictEqual(back.metadata.annotations, undefined)
  })

  it("metadata other than labels and annotations passes through untouched, and defaults are filled in", () => {
    const x = {
      apiVersion: `${group}/v1`,
      kind: "Team",
      metadata: { name: "a", namespace: "default", uid: "u", generation: 3, managedFields: [{ manager: "m" }] },
      spec: { owner: "alice" }
    }
    const v2 = convert(x, "v2") as any
    assert.deepStrictEqual(v2.metadata, x.metadata)
    assert.deepStrictEqual(v2.spec, { owners: ["alice"], size: 1, tier: "silver" })
  })

  it("an object its version's Schema refuses is a failure naming it", () => {
    const out = Conversion.convert(conversion, { apiVersion: `${group}/v1`, kind: "Team", metadata: { name: "bad", namespace: "ns" }, spec: { owner: 1 } }, "v2")
    if (!Result.isFailure(out)) return assert.fail("converted an object its Schema refuses")
    assert.match(out.failure.message, /cannot convert Team ns\/bad from v1 to v2: .*Expected string/s)
  })

  it("steps must join each two adjacent versions", () => {
    const issues = (steps: ReadonlyArray<Conversion.Step>) => {
      const made = Conversion.make(TeamCrd, steps)
      assert.isTrue(Result.isFailure(made))
      return (made as Result.Failure<Conversion.Conversion, Conversion.ConversionDefinitionError>).failure.issues
    }
    assert.deepStrictEqual(issues([Conversion.step(V1, V2, v1ToV2)]), ["no step converts v2 ↔ v3"])
    assert.deepStrictEqual(issues([Conversion.step(V1, V2, v1ToV2), { from: V1, to: V3, transformation: v2ToV3 as any }]), [
      "the step v1 → v3 does not join two adjacent versions (the versions, oldest first: v1, v2, v3)",
      "no step converts v2 ↔ v3"
    ])
  })

  it.effect("a ConversionReview is answered with every object converted, or a Failure naming the object", () =>
    Effect.gen(function*() {
      const review = (objects: ReadonlyArray<unknown>, desiredAPIVersion = `${group}/v2`) => ({
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "ConversionReview",
        request: { uid: "review-1", desiredAPIVersion, objects }
      })
      const team = (name: string, spec: unknown) => ({ apiVersion: `${group}/v1`, kind: "Team", metadata: { name, namespace: "ns" }, spec })
      const ok = yield* Conversion.handle([conversion], review([team("a", { owner: "ann", size: 2 }), team("b", { owner: "bob", size: 3 })]))
      assert.strictEqual(ok.status, 200)
      const response = (ok.body as any).response
      assert.strictEqual(response.uid, "review-1")
      assert.deepStrictEqual(response.result, { status: "Success" })
      assert.deepStrictEqual(response.convertedObjects.map((o: any) => [o.apiVersion, o.metadata.name, o.spec]), [
        [`${group}/v2`, "a", { owners: ["ann"], size: 2, tier: "silver" }],
        [`${group}/v2`, "b", { owners: ["bob"], size: 3, tier: "silver" }]
      ])
      const bad = yield* Conversion.handle([conversion], review([team("a", { owner: "ann" }), team("bad", { owner: 1 })]))
      assert.strictEqual((bad.body as any).response.result.status, "Failure")
      assert.match((bad.body as any).response.result.message, /cannot convert Team ns\/bad from v1 to v2/)
      assert.deepStrictEqual((bad.body as any).response.convertedObjects, [])
      const other = yield* Conversion.handle([conversion], review([{ ...team("a", {}), kind: "Other" }], `${group}/v2`))
      assert.strictEqual((other.body as any).response.result.message, `this webhook does not convert Other.${group}`)
      assert.strictEqual((yield* Conversion.handle([conversion], { kind: "AdmissionReview" })).status, 400)
    }))
})
