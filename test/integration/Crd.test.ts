import { assert, layer } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import { Effect, Layer, Option, Result, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"

const uniqueGroup = () => `g${Crypto.randomBytes(3).toString("hex")}.operatorkit.test`

const Port = Schema.Struct({
  name: Schema.String.annotate({ description: "The port's name, unique in the list." }),
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
  protocol: Schema.Literals(["TCP", "UDP"]).pipe(CrdDefinition.withDefault("TCP"))
})

const WidgetSpec = Schema.Struct({
  replicas: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })).annotate({ description: "How many widgets." }),
  mode: Schema.Literals(["fast", "safe"]).pipe(CrdDefinition.withDefault("safe")),
  name: Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9-]*$/u), Schema.isMinLength(1), Schema.isMaxLength(20)),
  ratio: Schema.optionalKey(Schema.Number.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1))),
  maxUnavailable: Schema.optionalKey(CrdDefinition.IntOrString),
  ports: Schema.optionalKey(Schema.Array(Port).pipe(CrdDefinition.listMap(["name"]))),
  tags: Schema.optionalKey(Schema.Array(Schema.String).check(Schema.isUnique(), Schema.isMaxLength(5))),
  args: Schema.optionalKey(CrdDefinition.listAtomic(Schema.Array(Schema.String))),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  extra: Schema.optionalKey(Kind.Open({ known: Schema.optionalKey(Schema.Boolean) })),
  anything: Schema.optionalKey(Schema.Unknown),
  template: Schema.optionalKey(CrdDefinition.EmbeddedResource),
  note: Schema.optionalKey(Schema.NullOr(Schema.String))
}).annotate({ description: "What a Widget should be." })

const WidgetStatus = Schema.Struct({
  replicas: Schema.optionalKey(Schema.Int),
  selector: Schema.optionalKey(Schema.String),
  phase: Schema.optionalKey(Schema.Literals(["Pending", "Ready"])),
  conditions: Schema.optionalKey(Schema.Array(Kind.ConditionSchema))
})

const widgetKinds = (group: string) => {
  const common = {
    group,
    kind: "Widget",
    namespaced: true,
    shortNames: ["wdg"],
    categories: ["operatorkit"],
    subresources: { status: true, scale: true }
  } as const
  const v1alpha1 = Kind.custom({ ...common, version: "v1alpha1", spec: Kind.Open({ replicas: Schema.Int }), status: WidgetStatus })
  const v1 = Kind.custom({ ...common, version: "v1", spec: WidgetSpec, status: WidgetStatus })
  return { v1alpha1, v1 }
}

const widgetCrd = (group: string) => {
  const { v1, v1alpha1 } = widgetKinds(group)
  const definition = CrdDefinition.makeUnsafe({
    versions: [
      { kind: v1alpha1, served: true, deprecated: true, deprecationWarning: "use v1" },
      {
        kind: v1,
        storage: true,
        scale: { labelSelectorPath: ".status.selector" },
        printerColumns: [
          { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "desired replicas" },
          { name: "Phase", type: "string", jsonPath: ".status.phase" },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", priority: 1 }
        ]
      }
    ],
    labels: { "app.kubernetes.io/part-of": "operatorkit-tests" }
  })
  return { definition, v1, v1alpha1 }
}

const CrdLive = Crd.layer.pipe(Layer.provideMerge(cluster()))

layer(CrdLive, { excludeTestServices: true, timeout: "120 seconds" })("Crd (real API server)", (it) => {
  it.effect("a CRD with every construct is accepted and reads back deep-equal, x-kubernetes-* keys included", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const { definition } = widgetCrd(uniqueGroup())
      assert.deepStrictEqual(definition.decoderOnlyChecks, [], "every check of the Schema is stated in the CRD")
      const { action } = yield* crds.ensureCreated(definition)
      assert.strictEqual(action, "created")

      const read = yield* client.get(Kind.CustomResourceDefinition, { name: definition.name })
      const sent = definition.manifest.spec.versions as ReadonlyArray<Record<string, unknown>>
      const got = read.spec.versions as ReadonlyArray<Record<string, unknown>>
      assert.strictEqual(got.length, 2)
      for (const [i, version] of sent.entries()) {
        assert.deepStrictEqual(got[i]!["schema"], version["schema"], `schema of ${version["name"]}`)
        assert.deepStrictEqual(got[i]!["subresources"], version["subresources"])
        assert.deepStrictEqual(got[i]!["additionalPrinterColumns"], version["additionalPrinterColumns"])
        assert.strictEqual(got[i]!["deprecated"], version["deprecated"])
      }
      assert.deepStrictEqual(read.spec.names, definition.manifest.spec.names)
      assert.strictEqual(read.spec.scope, "Namespaced")
      assert.deepStrictEqual(read.status?.storedVersions, ["v1"])

      // every extension made it through, as sent
      const spec = (sent[1]!["schema"] as any).openAPIV3Schema.properties.spec.properties
      assert.strictEqual(spec.maxUnavailable["x-kubernetes-int-or-string"], true)
      assert.strictEqual(spec.ports["x-kubernetes-list-type"], "map")
      assert.deepStrictEqual(spec.ports["x-kubernetes-list-map-keys"], ["name"])
      assert.strictEqual(spec.tags["x-kubernetes-list-type"], "set")
      assert.strictEqual(spec.args["x-kubernetes-list-type"], "atomic")
      assert.strictEqual(spec.extra["x-kubernetes-preserve-unknown-fields"], true)
      assert.strictEqual(spec.anything["x-kubernetes-preserve-unknown-fields"], true)
      assert.strictEqual(spec.template["x-kubernetes-embedded-resource"], true)
      assert.strictEqual(spec.note.nullable, true)
      assert.strictEqual(spec.mode.default, "safe")
      assert.deepStrictEqual(spec.mode.enum, ["fast", "safe"])
      assert.strictEqual(spec.name.pattern, "^[a-z][a-z0-9-]*$")
      assert.strictEqual(spec.ratio.exclusiveMinimum, true)
      assert.strictEqual(spec.replicas.description, "How many widgets.")
    }))

  it.effect("the server enforces the Schema's checks: an out-of-range value is a 422 naming the field path", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const { definition, v1 } = widgetCrd(uniqueGroup())
      yield* crds.ensureCreated(definition)
      const namespace = yield* freshNamespace("crd")
      const base = { metadata: { name: "w", namespace }, spec: { replicas: 1, mode: "fast" as const, name: "ok" } }

      // the Client refuses to send what the Schema rejects; a patch is checked by the server alone
      const local = yield* Effect.flip(client.create(v1, { ...base, spec: { ...base.spec, replicas: 11 } }))
      assert.strictEqual(local._tag, "InvalidRequest")
      yield* client.create(v1, base)
      const tooMany = yield* Effect.flip(client.patch(v1, { namespace, name: "w" }, Patch.merge({ spec: { replicas: 11 } })))
      assert.strictEqual(tooMany._tag, "Invalid")
      if (tooMany._tag !== "Invalid") return
      assert.deepStrictEqual(tooMany.causes.map((c) => c.field), ["spec.replicas"])
      assert.include(tooMany.message, "spec.replicas")

      // bypass the client-side encoding to see the server's own checks on the rest
      const raw = yield* Effect.flip(client.raw({
        method: "POST",
        path: Kind.collectionPath(v1, namespace),
        body: {
          apiVersion: v1.apiVersion,
          kind: "Widget",
          metadata: { name: "bad" },
          spec: {
            replicas: -1,
            mode: "slow",
            name: "Not-A-Name",
            ratio: 0,
            ports: [{ name: "a", port: 80 }, { name: "a", port: 81 }],
            tags: ["x", "x"]
          }
        }
      }))
      assert.strictEqual(raw._tag, "Invalid")
      if (raw._tag !== "Invalid") return
      const fields = new Set(raw.causes.map((c) => c.field))
      for (const field of ["spec.replicas", "spec.mode", "spec.name", "spec.ratio", "spec.ports[1]", "spec.tags[1]"]) {
        assert.isTrue(fields.has(field), `${field} in ${[...fields].join(", ")}`)
      }
    }))

  it.effect("objects created through the Client decode with the same Schema; defaults, pruning, status and scale work as declared", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const { definition, v1 } = widgetCrd(uniqueGroup())
      yield* crds.ensureCreated(definition)
      const namespace = yield* freshNamespace("crd")

      // typed, through the Client: what comes back decodes with the Schema that made the CRD
      const spec: typeof WidgetSpec.Type = {
        replicas: 2,
        mode: "fast",
        name: "w-one",
        maxUnavailable: "25%",
        ports: [{ name: "http", port: 80, protocol: "UDP" }],
        tags: ["a", "b"],
        labels: { team: "x" },
        extra: { known: true, unknown: { deep: 1 } },
        anything: [1, "two", { three: 3 }],
        template: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { a: "b" } },
        note: null
      }
      const created = yield* client.create(v1, { metadata: { name: "w1", namespace }, spec })
      assert.deepStrictEqual(created.spec, spec)
      const widget = yield* client.get(v1, { namespace, name: "w1" })
      assert.deepStrictEqual(widget.spec, spec)
      assert.isUndefined(widget.status)

      // untyped, to see the server apply the Schema: defaults, pruning, ignored status
      const raw: any = yield* client.raw({
        method: "POST",
        path: Kind.collectionPath(v1, namespace),
        body: {
          apiVersion: v1.apiVersion,
          kind: "Widget",
          metadata: { name: "w2" },
          spec: {
            replicas: 1,
            name: "w-two",
            ports: [{ name: "http", port: 80 }],
            extra: { known: false, unknown: { deep: 1 } },
            dropped: "not in the Schema"
          },
          status: { phase: "Ready" }
        }
      })
      assert.strictEqual(raw.spec.mode, "safe", "CrdDefinition.withDefault reaches the server")
      assert.strictEqual(raw.spec.ports[0].protocol, "TCP")
      assert.isUndefined(raw.spec.dropped, "undeclared fields are pruned")
      assert.deepStrictEqual(raw.spec.extra, { known: false, unknown: { deep: 1 } }, "except under Kind.Open")
      assert.isUndefined(raw.status, "status is ignored on create with the status subresource")
      const w2 = yield* client.get(v1, { namespace, name: "w2" })
      assert.deepStrictEqual(w2.spec, Schema.decodeUnknownSync(WidgetSpec)(raw.spec))
      assert.strictEqual(w2.spec.mode, "safe")

      // status through /status only
      const withStatus = yield* client.replaceStatus(v1, { ...widget, status: { phase: "Ready", replicas: 2, selector: "app=w1" } })
      assert.strictEqual(withStatus.status?.phase, "Ready")
      const ignored = yield* client.replace(v1, { ...withStatus, spec: { ...withStatus.spec, replicas: 3 }, status: { phase: "Pending" } })
      assert.strictEqual(ignored.status?.phase, "Ready", "the main resource ignores status")
      assert.strictEqual(ignored.spec.replicas, 3)
      const invalidStatus = yield* Effect.flip(client.patchStatus(v1, { namespace, name: "w1" }, Patch.merge({ status: { phase: "Lost" } })))
      assert.strictEqual(invalidStatus._tag, "Invalid")

      // scale
      const scale: any = yield* client.raw({ method: "GET", path: Kind.objectPath(v1, namespace, "w1", "scale") })
      assert.strictEqual(scale.spec.replicas, 3)
      assert.strictEqual(scale.status.replicas, 2)
      assert.strictEqual(scale.status.selector, "app=w1")

      // the deprecated version serves the same object
      const { v1alpha1 } = widgetKinds(definition.group)
      const old = yield* client.get(v1alpha1, { namespace, name: "w1" })
      assert.strictEqual(old.spec.replicas, 3)
    }))

  it.effect("ensureCreated is a no-op the second time and updates the CRD when the Schema changes", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const group = uniqueGroup()
      const { definition } = widgetCrd(group)
      const first = yield* crds.ensureCreated(definition)
      assert.strictEqual(first.action, "created")
      const second = yield* crds.ensureCreated(definition)
      assert.strictEqual(second.action, "unchanged")
      assert.strictEqual(second.crd.metadata.resourceVersion, first.crd.metadata.resourceVersion)

      const Changed = Kind.custom({
        group,
        version: "v1",
        kind: "Widget",
        namespaced: true,
        shortNames: ["wdg"],
        categories: ["operatorkit"],
        subresources: { status: true },
        spec: Schema.Struct({ replicas: Schema.Int, color: Schema.optionalKey(Schema.Literals(["red", "blue"])) })
      })
      const changed = CrdDefinition.makeUnsafe(Changed, { labels: { extra: "yes" } })
      const third = yield* crds.ensureCreated(changed)
      assert.strictEqual(third.action, "updated")
      const read = yield* client.get(Kind.CustomResourceDefinition, { name: definition.name })
      assert.deepStrictEqual(read.spec.versions.map((v) => v.name), ["v1"])
      assert.deepStrictEqual((read.spec.versions[0] as any).schema, (changed.manifest.spec.versions[0] as any).schema)
      assert.deepStrictEqual(read.metadata.labels, { "app.kubernetes.io/part-of": "operatorkit-tests", extra: "yes" })
      assert.strictEqual((yield* crds.ensureCreated(changed)).action, "unchanged")
    }))

  it.effect("a CRD whose names collide with another's fails with CrdNameConflict carrying the server's message", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const group = uniqueGroup()
      yield* crds.ensureCreated(widgetCrd(group).definition)
      const Clash = Kind.custom({ group, version: "v1", kind: "Widget", plural: "gadgets", namespaced: true, spec: Schema.Struct({}) })
      const error = yield* Effect.flip(crds.ensureCreated(CrdDefinition.makeUnsafe(Clash), { timeout: "20 seconds" }))
      assert.strictEqual(error._tag, "CrdNameConflict")
      if (error._tag !== "CrdNameConflict") return
      assert.strictEqual(error.crd, `gadgets.${group}`)
      assert.match(error.detail, /"Widget(List)?" is already in use/)
      assert.include(error.message, "names not accepted")
    }))

  it.effect("ensureDeleted removes the CRD and its objects and waits until it is gone; a missing CRD is success", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const { definition, v1 } = widgetCrd(uniqueGroup())
      yield* crds.ensureCreated(definition)
      const namespace = yield* freshNamespace("crd")
      yield* client.create(v1, { metadata: { name: "w", namespace }, spec: { replicas: 1, mode: "fast", name: "w" } })
      yield* crds.ensureDeleted(definition)
      const gone = yield* client.get(Kind.CustomResourceDefinition, { name: definition.name }).pipe(Effect.option)
      assert.isTrue(Option.isNone(gone))
      yield* crds.ensureDeleted(definition)
      yield* crds.ensureDeleted("nothing.example.com")
    }))

  it.effect("a recursive Schema is refused at definition time, naming the path", () =>
    Effect.sync(() => {
      interface Tree {
        readonly name: string
        readonly children: ReadonlyArray<Tree>
      }
      const Tree: Schema.Codec<Tree> = Schema.Struct({
        name: Schema.String,
        children: Schema.Array(Schema.suspend(() => Tree))
      })
      const Forest = Kind.custom({ group: uniqueGroup(), version: "v1", kind: "Forest", namespaced: false, spec: Schema.Struct({ root: Tree }) })
      const result = CrdDefinition.make(Forest)
      assert.isTrue(Result.isFailure(result))
      if (Result.isSuccess(result)) return
      assert.strictEqual(result.failure.issues[0]?.path, "spec.root")
      assert.include(result.failure.message, "recursive")
    }))

  it.effect("the YAML manifest applies with kubectl 1.20", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.Envtest
      const client = yield* Client.Client
      const { definition } = widgetCrd(uniqueGroup())
      const yaml = CrdDefinition.toYaml(definition)
      const out = ChildProcess.spawnSync("kubectl", ["--kubeconfig", env.kubeconfigPath, "apply", "-f", "-"], {
        input: yaml,
        encoding: "utf8"
      })
      assert.strictEqual(out.status, 0, out.stderr)
      assert.include(out.stdout, `customresourcedefinition.apiextensions.k8s.io/${definition.name} created`)
      const read = yield* client.get(Kind.CustomResourceDefinition, { name: definition.name })
      for (const [i, version] of (definition.manifest.spec.versions as ReadonlyArray<any>).entries()) {
        assert.deepStrictEqual((read.spec.versions[i] as any).schema, version.schema)
      }
    }))
})
