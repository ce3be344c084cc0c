import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { Yaml } from "effect/encoding"
import * as Yaml11 from "yaml"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import { TenantCrd } from "../../examples/tenant/Tenant.ts"

const group = "unit.operatorkit.test"

/** The generated `openAPIV3Schema.properties.spec` of a spec Schema, or the definition error. */
const specOf = (spec: Schema.Codec<any, any>) => {
  const result = CrdDefinition.make(Kind.custom({ group, version: "v1", kind: "Thing", namespaced: true, spec }))
  return Result.map(result, (d) => (d.manifest.spec.versions[0] as any).schema.openAPIV3Schema.properties.spec)
}

const fieldOf = (field: Schema.Codec<any, any>) => {
  const result = specOf(Schema.Struct({ f: field }))
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success.properties.f
}

const issuesOf = (spec: Schema.Codec<any, any>) => {
  const result = specOf(spec)
  if (Result.isSuccess(result)) throw new Error(`expected a definition error, got ${JSON.stringify(result.success)}`)
  return result.failure.issues.map((i) => ({ path: i.path, message: i.message }))
}

describe("Crd schema generation", () => {
  it("scalars, checks and descriptions become OpenAPI v3.0 validations", () => {
    assert.deepStrictEqual(fieldOf(Schema.String.annotate({ description: "a name" })), { type: "string", description: "a name" })
    assert.deepStrictEqual(fieldOf(Schema.Boolean), { type: "boolean" })
    assert.deepStrictEqual(fieldOf(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 }))), {
      type: "integer",
      minimum: 0,
      maximum: 10
    })
    // Schema.Number keeps its checks and annotations (Effect's canonical JSON codec would drop them)
    assert.deepStrictEqual(fieldOf(Schema.Number.check(Schema.isGreaterThan(0), Schema.isLessThan(1)).annotate({ description: "ratio" })), {
      type: "number",
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 1,
      exclusiveMaximum: true,
      description: "ratio"
    })
    assert.deepStrictEqual(fieldOf(Schema.Finite.check(Schema.isMultipleOf(0.5))), { type: "number", multipleOf: 0.5 })
    assert.deepStrictEqual(
      fieldOf(Schema.String.check(Schema.isPattern(/^[a-z]+$/u), Schema.isMinLength(1), Schema.isMaxLength(63))),
      { type: "string", pattern: "^[a-z]+$", minLength: 1, maxLength: 63 }
    )
    // two patterns: the second stays a value validation
    assert.deepStrictEqual(fieldOf(Schema.String.check(Schema.isPattern(/^a/u), Schema.isPattern(/b$/u))), {
      type: "string",
      pattern: "^a",
      allOf: [{ pattern: "b$" }]
    })
    assert.deepStrictEqual(fieldOf(Schema.Literals(["a", "b"])), { type: "string", enum: ["a", "b"] })
    assert.deepStrictEqual(fieldOf(Schema.Enum({ A: "a", B: "b" })), { type: "string", enum: ["a", "b"] })
    assert.deepStrictEqual(fieldOf(Schema.Literals([1, 2])), { type: "number", enum: [1, 2] })
    assert.deepStrictEqual(fieldOf(Schema.DateTimeUtcFromString), { type: "string" })
  })

  it("objects: required fields, maps, open objects, nullability, defaults", () => {
    assert.deepStrictEqual(
      fieldOf(Schema.Struct({ a: Schema.String, b: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))) })),
      {
        type: "object",
        properties: { a: { type: "string" }, b: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        required: ["a"]
      }
    )
    assert.deepStrictEqual(fieldOf(Schema.Record(Schema.String, Schema.String)), {
      type: "object",
      additionalProperties: { type: "string" }
    })
    assert.deepStrictEqual(fieldOf(Schema.Record(Schema.String, Schema.Unknown)), {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true
    })
    assert.deepStrictEqual(fieldOf(Kind.Open({ a: Schema.String })), {
      type: "object",
      properties: { a: { type: "string" } },
      required: ["a"],
      "x-kubernetes-preserve-unknown-fields": true
    })
    assert.deepStrictEqual(fieldOf(Schema.Struct({})), { type: "object" })
    assert.deepStrictEqual(fieldOf(Schema.Unknown), { "x-kubernetes-preserve-unknown-fields": true })
    assert.deepStrictEqual(fieldOf(Schema.NullOr(Schema.String)), { type: "string", nullable: true })
    assert.deepStrictEqual(fieldOf(Schema.NullOr(Schema.Literals(["a", "b"]))), { type: "string", enum: ["a", "b"], nullable: true })
    assert.deepStrictEqual(fieldOf(Schema.Literals(["x", "y"]).pipe(CrdDefinition.withDefault("y"))), {
      type: "string",
      enum: ["x", "y"],
      default: "y"
    })
    // a default sits on the encoded side, so it is the JSON form
    assert.deepStrictEqual(fieldOf(Schema.NumberFromString.pipe(CrdDefinition.withDefault("3"))), { type: "string", default: "3" })
    const spec = specOf(Schema.Struct({ a: Schema.String, d: Schema.Int.pipe(CrdDefinition.withDefault(1)) }))
    assert.deepStrictEqual(Result.getOrThrow(spec).required, ["a"], "a defaulted field is not required")
  })

  it("lists: items, lengths, sets, maps, atomic, non-empty", () => {
    assert.deepStrictEqual(fieldOf(Schema.Array(Schema.String).check(Schema.isMinLength(1), Schema.isMaxLength(3))), {
      type: "array",
      items: { type: "string" },
      minItems: 1,
      maxItems: 3
    })
    assert.deepStrictEqual(fieldOf(Schema.NonEmptyArray(Schema.String)), { type: "array", minItems: 1, items: { type: "string" } })
    assert.deepStrictEqual(fieldOf(Schema.Array(Schema.String).check(Schema.isUnique())), {
      type: "array",
      items: { type: "string" },
      "x-kubernetes-list-type": "set"
    })
    assert.deepStrictEqual(fieldOf(CrdDefinition.listSet(Schema.Array(Schema.Int)))["x-kubernetes-list-type"], "set")
    assert.deepStrictEqual(fieldOf(CrdDefinition.listAtomic(Schema.Array(Schema.String)))["x-kubernetes-list-type"], "atomic")
    assert.deepStrictEqual(fieldOf(Schema.Array(Schema.Unknown)), {
      type: "array",
      items: { "x-kubernetes-preserve-unknown-fields": true }
    })
    assert.deepStrictEqual(
      fieldOf(Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 9 })) })).pipe(CrdDefinition.listMap(["name"]))),
      {
        type: "array",
        items: {
          type: "object",
          properties: { name: { type: "string" }, port: { type: "integer", minimum: 1, maximum: 9 } },
          required: ["name", "port"]
        },
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"]
      }
    )
  })

  it("int-or-string and embedded resources", () => {
    assert.deepStrictEqual(fieldOf(CrdDefinition.IntOrString), {
      minimum: -Number.MAX_SAFE_INTEGER,
      maximum: Number.MAX_SAFE_INTEGER,
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }]
    })
    // the same union written by hand, with checks on each branch, hoisted (each keyword applies to its own type)
    assert.deepStrictEqual(
      fieldOf(Schema.Union([Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })), Schema.String.check(Schema.isPattern(/^\d+%$/u))])),
      {
        minimum: 0,
        maximum: 100,
        pattern: "^\\d+%$",
        "x-kubernetes-int-or-string": true,
        anyOf: [{ type: "integer" }, { type: "string" }]
      }
    )
    assert.deepStrictEqual(fieldOf(CrdDefinition.EmbeddedResource), {
      type: "object",
      properties: { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" } },
      required: ["apiVersion", "kind"],
      "x-kubernetes-preserve-unknown-fields": true,
      "x-kubernetes-embedded-resource": true
    })
    assert.deepStrictEqual(fieldOf(CrdDefinition.embeddedResource(Schema.Record(Schema.String, Schema.Unknown))), {
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
      "x-kubernetes-embedded-resource": true
    })
  })

  it("reports, with the path, every construct a structural schema cannot express", () => {
    interface Tree {
      readonly name: string
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Codec<Tree> = Schema.Struct({ name: Schema.String, children: Schema.Array(Schema.suspend(() => Tree)) })
    const issues = issuesOf(Schema.Struct({
      tree: Tree,
      items: Schema.Array(Schema.Struct({
        either: Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Int })]),
        pair: Schema.Tuple([Schema.String, Schema.Int])
      })),
      labels: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Boolean])),
      rest: Schema.StructWithRest(Schema.Struct({ a: Schema.String }), [Schema.Record(Schema.String, Schema.Int)]),
      mixed: Schema.Literals(["a", 1]),
      numOrString: Schema.Union([Schema.Number, Schema.String]),
      prefixed: Schema.Record(Schema.TemplateLiteral(["x-", Schema.String]), Schema.String),
      objectSet: Schema.Array(Schema.Struct({ a: Schema.String })).check(Schema.isUnique()),
      // the types refuse an optional key; a cast shows the definition refuses it too
      badMap: (CrdDefinition.listMap as any)(Schema.Array(Schema.Struct({ name: Schema.optionalKey(Schema.String) })), ["name"]) as Schema.Codec<any>
    }))
    const paths = issues.map((i) => i.path)
    assert.deepStrictEqual(paths, [
      "spec.tree",
      "spec.items[*].either",
      "spec.items[*].pair",
      "spec.labels.*",
      "spec.rest",
      "spec.mixed",
      "spec.numOrString",
      "spec.prefixed",
      "spec.objectSet",
      "spec.badMap"
    ])
    assert.include(issues[0]!.message, "recursive")
    assert.include(issues[1]!.message, "a union of object | object cannot be expressed structurally")
    assert.include(issues[2]!.message, "tuple")
    assert.include(issues[3]!.message, "string | boolean")
    assert.include(issues[4]!.message, "typed index signature")
    assert.include(issues[6]!.message, "number | string")
    assert.include(issues[7]!.message, "patternProperties")
    assert.include(issues[8]!.message, "CrdDefinition.listMap")
    assert.include(issues[9]!.message, "must be required or have a default")
  })

  it("lists the checks the manifest cannot state, which only the decoder enforces", () => {
    const Thing = Kind.custom({
      group,
      version: "v1",
      kind: "Thing",
      namespaced: true,
      spec: Schema.Struct({
        name: Schema.String.check(Schema.isPattern(/^[a-z]+$/), Schema.isMinLength(1)),
        stated: Schema.String.check(Schema.isPattern(/^[a-z]+$/u)),
        items: Schema.Array(Schema.Int.check(Schema.makeFilter((n: number) => n % 3 === 0, { expected: "a multiple of 3" }))),
        ratio: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
        labels: Schema.Record(Schema.String.check(Schema.isMaxLength(63)), Schema.String)
      }),
      status: Schema.Struct({ note: Schema.optionalKey(Schema.String.check(Schema.makeFilter((s: string) => s !== "x"))) })
    })
    const definition = CrdDefinition.makeUnsafe(Thing)
    assert.deepStrictEqual(definition.decoderOnlyChecks, [
      { version: "v1", path: "spec.name", check: "a string matching the RegExp ^[a-z]+$ (Effect exports a RegExp only with the u flag)" },
      { version: "v1", path: "spec.items[*]", check: "a multiple of 3" },
      { version: "v1", path: "spec.labels.* (key)", check: "a value with a length of at most 63" },
      { version: "v1", path: "status.note", check: "a custom check" }
    ])
    const spec = (definition.manifest.spec.versions[0] as any).schema.openAPIV3Schema.properties.spec.properties
    assert.deepStrictEqual(spec.name, { type: "string", minLength: 1 })
    assert.deepStrictEqual(spec.stated, { type: "string", pattern: "^[a-z]+$" })
  })

  describe("every kind of check the manifest cannot state is listed, never dropped silently", () => {
    const notesOf = (field: Schema.Top) => {
      const definition = CrdDefinition.makeUnsafe(Kind.custom({ group, version: "v1", kind: "Thing", namespaced: true, spec: Schema.Struct({ f: field }) as any }))
      return { notes: definition.decoderOnlyChecks.map((c) => `${c.path}: ${c.check}`), field: (definition.manifest.spec.versions[0] as any).schema.openAPIV3Schema.properties.spec.properties.f }
    }
    const pattern = (re: RegExp) => Schema.String.check(Schema.isPattern(re))

    it("a custom filter, on a value or on a whole object", () => {
      assert.deepStrictEqual(notesOf(Schema.Int.check(Schema.makeFilter((n: number) => n % 3 === 0, { expected: "a multiple of 3" }))).notes, [
        "spec.f: a multiple of 3"
      ])
      assert.deepStrictEqual(notesOf(Schema.Struct({ a: Schema.Int, b: Schema.Int }).check(Schema.makeFilter((o) => o.a < o.b))).notes, [
        "spec.f: a custom check"
      ])
    })

    it("a RegExp with flags: stated as an equal pattern when its flags do not change what matches (u, g, d, a trailing y), listed otherwise", () => {
      for (const re of [/^[a-z]+$/u, /^[a-z]+$/gu, /^[a-z]+$/du]) {
        assert.deepStrictEqual(notesOf(pattern(re)), { notes: [], field: { type: "string", pattern: "^[a-z]+$" } }, re.toString())
      }
      assert.deepStrictEqual(notesOf(pattern(/[a-z]+/uy)), { notes: [], field: { type: "string", pattern: "^(?:[a-z]+)" } }, "sticky: anchored")
      for (const re of [/^[a-z]+$/, /^[a-z]+$/i, /^[a-z]+$/iu, /^[a-z]+$/m, /^a.b$/su, /^[a-z]+$/g, /[a-z]+/y, new RegExp("^\\p{L}+$", "v")]) {
        const { field, notes } = notesOf(pattern(re))
        assert.deepStrictEqual(field, { type: "string" }, `${re}: no pattern that would differ`)
        assert.deepStrictEqual(notes, [`spec.f: a string matching the RegExp ${re.source} (Effect exports a RegExp only with the u flag)`], re.toString())
      }
      // wherever the field sits
      assert.deepStrictEqual(notesOf(Schema.Array(pattern(/^a$/i))).notes.map((n) => n.split(":")[0]), ["spec.f[*]"])
      assert.deepStrictEqual(notesOf(Schema.Record(Schema.String, pattern(/^a$/i))).notes.map((n) => n.split(":")[0]), ["spec.f.*"])
      assert.deepStrictEqual(notesOf(Schema.NullOr(pattern(/^a$/i))).notes.map((n) => n.split(":")[0]), ["spec.f"])
      assert.deepStrictEqual(notesOf(Kind.Open({ a: pattern(/^a$/i) })).notes.map((n) => n.split(":")[0]), ["spec.f.a"])
      assert.deepStrictEqual(notesOf(Schema.TemplateLiteral(["a", Schema.String]).check(Schema.isPattern(/^ab$/i))).notes.map((n) => n.split(":")[0]), ["spec.f"])
    })

    it("constraints on the keys of a map: on the key Schema, or isPropertyNames", () => {
      assert.deepStrictEqual(notesOf(Schema.Record(Schema.String.check(Schema.isMaxLength(63)), Schema.String)).notes, [
        "spec.f.* (key): a value with a length of at most 63"
      ])
      const named = notesOf(Schema.Record(Schema.String, Schema.String).check(Schema.isPropertyNames(Schema.String.check(Schema.isMaxLength(3)))))
      assert.deepStrictEqual(named.field, { type: "object", additionalProperties: { type: "string" } })
      assert.strictEqual(named.notes.length, 1)
      assert.match(named.notes[0]!, /^spec\.f: /)
    })

    it("a check on the decoded side of a transformation (the CRD describes the encoded side)", () => {
      const between = notesOf(Schema.NumberFromString.check(Schema.isBetween({ minimum: 1, maximum: 3 })))
      assert.deepStrictEqual(between.field, { type: "string" })
      assert.deepStrictEqual(between.notes, [
        "spec.f: a value between 1 and 3 (checked on the decoded value; the CRD describes the encoded one)"
      ])
      const trimmed = notesOf(Schema.Trim.check(Schema.isPattern(/^[a-z]+$/i)))
      assert.deepStrictEqual(trimmed.notes, [
        "spec.f: a string matching the RegExp ^[a-z]+$ (checked on the decoded value; the CRD describes the encoded one)"
      ])
      // nested in a struct, a list, a map
      assert.deepStrictEqual(
        notesOf(Schema.Struct({ a: Schema.Array(Schema.NumberFromString.check(Schema.isInt())) })).notes.map((n) => n.split(":")[0]),
        ["spec.f.a[*]"]
      )
      // a default sits on the encoded side too: its checks are stated, not listed
      assert.deepStrictEqual(notesOf(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 9 })).pipe(CrdDefinition.withDefault(1))), {
        notes: [],
        field: { type: "integer", minimum: 0, maximum: 9, default: 1 }
      })
    })

    it("decoderOnlyChecks: \"fail\" makes each one an issue of the definition (the Tenant example sets it and has none)", () => {
      const Thing = Kind.custom({
        group,
        version: "v1",
        kind: "Thing",
        namespaced: true,
        spec: Schema.Struct({ name: pattern(/^[a-z]+$/i), count: Schema.NumberFromString.check(Schema.isInt()), ok: Schema.String })
      })
      assert.strictEqual(CrdDefinition.makeUnsafe(Thing).decoderOnlyChecks.length, 2, "listed by default")
      const result = CrdDefinition.make(Thing, { decoderOnlyChecks: "fail" })
      assert.isTrue(Result.isFailure(result))
      const error = (result as Result.Failure<CrdDefinition.Definition, CrdDefinition.CrdDefinitionError>).failure
      assert.deepStrictEqual(error.issues.map((i) => `${i.version} ${i.path}`), ["v1 spec.name", "v1 spec.count"])
      assert.include(error.message, "the API server would accept values the decoder refuses")
      assert.throws(() => CrdDefinition.makeUnsafe(Thing, { decoderOnlyChecks: "fail" }), /spec\.name/)
      assert.strictEqual(TenantCrd.name, "tenants.tenancy.example.com")
      assert.deepStrictEqual(TenantCrd.decoderOnlyChecks, [])
    })
  })

  it("a union may be marked as any value", () => {
    assert.deepStrictEqual(fieldOf(CrdDefinition.preserveUnknownFields(Schema.Union([Schema.String, Schema.Struct({ a: Schema.String })]))), {
      "x-kubernetes-preserve-unknown-fields": true
    })
  })

  it("helpers decode as they declare", () => {
    const Spec = Schema.Struct({
      replicas: Schema.Int.pipe(CrdDefinition.withDefault(1)),
      maxUnavailable: CrdDefinition.IntOrString,
      ports: Schema.Array(Schema.Struct({ name: Schema.String })).pipe(CrdDefinition.listMap(["name"]))
    })
    assert.deepStrictEqual(Schema.decodeUnknownSync(Spec)({ maxUnavailable: 1, ports: [] }), { replicas: 1, maxUnavailable: 1, ports: [] })
    assert.deepStrictEqual(Schema.decodeUnknownSync(Spec)({ replicas: 3, maxUnavailable: "25%", ports: [] }).replicas, 3)
    assert.throws(() => Schema.decodeUnknownSync(Spec)({ maxUnavailable: 1.5, ports: [] }))
    assert.deepStrictEqual(Schema.encodeSync(Spec)({ replicas: 2, maxUnavailable: "1", ports: [] }), { replicas: 2, maxUnavailable: "1", ports: [] })
  })
})

describe("Crd definitions", () => {
  const Spec = Schema.Struct({ size: Schema.Int })
  const v1 = Kind.custom({
    group,
    version: "v1",
    kind: "Gizmo",
    namespaced: false,
    shortNames: ["gz"],
    categories: ["all"],
    spec: Spec,
    status: Schema.Struct({ ready: Schema.optionalKey(Schema.Boolean), replicas: Schema.optionalKey(Schema.Int) }),
    subresources: { status: true, scale: true }
  })
  const v2 = Kind.custom({ ...v1, version: "v2", spec: Spec, status: Schema.Struct({}), subresources: { status: true } })

  it("builds the manifest: names, scope, versions, subresources, printer columns", () => {
    const definition = CrdDefinition.makeUnsafe({
      versions: [
        { kind: v1, served: false, deprecated: true, printerColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }] },
        { kind: v2, storage: true, scale: { labelSelectorPath: ".status.selector" } }
      ],
      labels: { a: "b" }
    })
    assert.strictEqual(definition.name, `gizmos.${group}`)
    assert.strictEqual(definition.storageVersion, "v2")
    assert.deepStrictEqual(definition.versions, ["v1", "v2"])
    assert.strictEqual(definition.storageKind, v2)
    assert.isTrue(CrdDefinition.isDefinition(definition))
    const m = definition.manifest as any
    assert.deepStrictEqual(m.metadata, { name: `gizmos.${group}`, labels: { a: "b" } })
    assert.deepStrictEqual(m.spec.names, {
      plural: "gizmos",
      singular: "gizmo",
      kind: "Gizmo",
      listKind: "GizmoList",
      shortNames: ["gz"],
      categories: ["all"]
    })
    assert.strictEqual(m.spec.scope, "Cluster")
    assert.deepStrictEqual(m.spec.versions.map((v: any) => [v.name, v.served, v.storage]), [["v1", false, false], ["v2", true, true]])
    assert.deepStrictEqual(m.spec.versions[0].subresources, {
      status: {},
      scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" }
    })
    assert.deepStrictEqual(m.spec.versions[1].subresources, {
      status: {},
      scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" }
    })
    assert.deepStrictEqual(m.spec.versions[0].additionalPrinterColumns, [{ name: "Size", type: "integer", jsonPath: ".spec.size" }])
    assert.isTrue(m.spec.versions[0].deprecated)
    const root = m.spec.versions[0].schema.openAPIV3Schema
    assert.deepStrictEqual(Object.keys(root.properties), ["apiVersion", "kind", "metadata", "spec", "status"])
    assert.deepStrictEqual(root.properties.metadata, { type: "object" })
    assert.deepStrictEqual(root.required, ["spec"])
    assert.deepStrictEqual(m.spec.versions[1].schema.openAPIV3Schema.properties.status, { type: "object" })
  })

  it("a whole-object Schema (Kind.customSchema) gives every top-level field but apiVersion, kind and metadata", () => {
    const Note = Kind.customSchema({
      group,
      version: "v1",
      kind: "Note",
      namespaced: true,
      schema: Kind.object({ text: Schema.String, tags: Schema.optionalKey(Schema.Array(Schema.String)) })
    })
    const root = (CrdDefinition.makeUnsafe(Note).manifest.spec.versions[0] as any).schema.openAPIV3Schema
    assert.deepStrictEqual(root.properties.text, { type: "string" })
    assert.deepStrictEqual(root.properties.metadata, { type: "object" })
    assert.deepStrictEqual(root.required, ["text"])
    assert.isUndefined(root["x-kubernetes-preserve-unknown-fields"])
  })

  it("refuses inconsistent versions with every problem named", () => {
    const other = Kind.custom({ group: "other.test", version: "v2", kind: "Gizmo", namespaced: true, spec: Spec })
    const result = CrdDefinition.make({ versions: [{ kind: v1, storage: true }, { kind: other, storage: true }, { kind: v1 }] })
    assert.isTrue(Result.isFailure(result))
    if (Result.isSuccess(result)) return
    const text = result.failure.message
    assert.include(text, `cannot define the CRD gizmos.${group}`)
    assert.include(text, "v2 group: is \"other.test\"")
    assert.include(text, "v2 namespaced")
    assert.include(text, "v2 shortNames")
    assert.include(text, "v1 version: the version is given twice")
    assert.include(text, "are all marked as storage versions")

    const none = CrdDefinition.make({ versions: [{ kind: v1 }, { kind: v2 }] })
    assert.isTrue(Result.isFailure(none) && none.failure.message.includes("no version is the storage version"))
    assert.isTrue(Result.isFailure(CrdDefinition.make(Kind.ConfigMap as any)))
    assert.throws(() => CrdDefinition.makeUnsafe({ versions: [{ kind: v1 }, { kind: v2 }] }), /storage version/)
  })

  it("manifests as JSON (one object, or a List) and as YAML that parses back to the same objects", () => {
    const a = CrdDefinition.makeUnsafe({ versions: [{ kind: v1 }, { kind: v2, storage: true }] })
    const b = CrdDefinition.makeUnsafe(Kind.custom({
      group,
      version: "v1",
      kind: "Odd",
      namespaced: true,
      spec: Schema.Struct({
        s: Schema.String.annotate({ description: "multi\nline: with \"quotes\" and # hash, and ünïcode" }),
        e: Schema.Literals(["true", "null", "1", "", "yes", "-x", "a: b"]),
        open: Kind.Open({ n: Schema.optionalKey(Schema.Array(Schema.Array(Schema.Int))) })
      })
    }))
    assert.deepStrictEqual(JSON.parse(CrdDefinition.toJson(a)), a.manifest)
    assert.deepStrictEqual(JSON.parse(CrdDefinition.toJson([a, b])), { apiVersion: "v1", kind: "List", items: [a.manifest, b.manifest] })
    const yaml = CrdDefinition.toYaml([a, b])
    const docs = yaml.split(/^---\n/m)
    assert.strictEqual(docs.length, 2)
    assert.deepStrictEqual(Yaml.parse(docs[0]!), a.manifest)
    assert.deepStrictEqual(Yaml.parse(docs[1]!), b.manifest)
    assert.include(yaml, "x-kubernetes-preserve-unknown-fields: true")
    assert.include(docs[0]!, "\nspec:\n  group: unit.operatorkit.test\n")
    // kubectl's parser reads YAML 1.1, where a plain yes, on or y is a boolean: they are quoted
    assert.deepStrictEqual(Yaml11.parse(docs[1]!, { version: "1.1" }), b.manifest)
    // a multi-line string is a block literal, kept line for line
    assert.match(docs[1]!, /description: \|-\n\s+multi\n\s+line: with "quotes" and # hash, and ünïcode\n/)
  })
})
