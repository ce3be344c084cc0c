/**
 * The names a controller writes onto users' objects are the user's own: the finalizer and the
 * pause annotation take the API group of a custom kind (a built-in kind needs finalizerPrefix).
 * Objects that carry the names of operatorkit 0.1's default prefix (operatorkit.giantswarm.io)
 * keep working: that finalizer is replaced by ours, or removed with it on deletion; that pause
 * annotation still pauses. On the in-memory server and on kube-apiserver.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Finalizers from "../../src/Finalizers.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { eventually, withServer } from "../../src/testing/helpers.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { installCrd, openCrd } from "../support/crds.ts"

const group = "names.operatorkit.test"
const Widget = Kind.custom({ group, version: "v1", kind: "Widget", namespaced: true, spec: Kind.Open({}), status: Kind.Open({}), subresources: { status: true } })
type Widget = Kind.Type<typeof Widget>
const ours = `${group}/widgets`
const legacy = "operatorkit.giantswarm.io/widgets"

/** A controller named "widgets" that records each ensureCreated and ensureDeleted. */
const controller = (namespace: string) =>
  Effect.gen(function*() {
    const calls: Array<string> = []
    yield* Controller.make({
      name: "widgets",
      kind: Widget,
      namespace,
      resources: [Framework.make<Widget>()({
        name: "record",
        ensureCreated: (w) => Effect.sync(() => void calls.push(`create ${w.metadata.name}`)),
        ensureDeleted: (w) => Effect.sync(() => void calls.push(`delete ${w.metadata.name}`))
      })]
    })
    return calls
  })

const setup = Effect.gen(function*() {
  yield* installCrd(openCrd(group, "Widget", "widgets"), Widget)
  return yield* freshNamespace("names")
})

const finalizersOf = (namespace: string, name: string) =>
  Effect.flatMap(Client.Client, (c) => c.get(Widget, { namespace, name })).pipe(Effect.map((w) => w.metadata.finalizers ?? []))

const gone = (namespace: string, name: string) =>
  Effect.flatMap(Client.Client, (c) => c.get(Widget, { namespace, name })).pipe(
    Effect.map(Option.some),
    Effect.catchTag("NotFound", () => Effect.succeedNone),
    Effect.map((o) => assert.isTrue(Option.isNone(o), `${name} is still there`))
  )

const scenarios = {
  "a custom kind's finalizer and pause annotation take its API group": Effect.gen(function*() {
    const ns = yield* setup
    const client = yield* Client.Client
    const calls = yield* controller(ns)
    yield* client.create(Widget, { metadata: { name: "a", namespace: ns }, spec: {} })
    yield* client.create(Widget, { metadata: { name: "p", namespace: ns, annotations: { [`${group}/paused`]: "true" } }, spec: {} })
    yield* eventually(Effect.map(finalizersOf(ns, "a"), (f) => assert.deepStrictEqual(f, [ours])))
    assert.deepStrictEqual(yield* finalizersOf(ns, "p"), [], "paused")
    assert.notInclude(calls, "create p")
    assert.strictEqual(Finalizers.finalizerName({ name: "widgets", kind: Widget }), ours)
  }),

  "an object carrying operatorkit 0.1's finalizer gets ours in its place; other finalizers stay": Effect.gen(function*() {
    const ns = yield* setup
    const client = yield* Client.Client
    yield* client.create(Widget, { metadata: { name: "old", namespace: ns, finalizers: ["example.com/other", legacy] }, spec: {} })
    yield* client.create(Widget, { metadata: { name: "both", namespace: ns, finalizers: [legacy, ours] }, spec: {} })
    const calls = yield* controller(ns)
    yield* eventually(Effect.gen(function*() {
      assert.deepStrictEqual(yield* finalizersOf(ns, "old"), ["example.com/other", ours])
      assert.deepStrictEqual(yield* finalizersOf(ns, "both"), [ours])
      assert.includeMembers(calls, ["create old", "create both"])
    }))
  }),

  "deleted while carrying only operatorkit 0.1's finalizer: cleaned up, and that finalizer removed": Effect.gen(function*() {
    const ns = yield* setup
    const client = yield* Client.Client
    yield* client.create(Widget, { metadata: { name: "d", namespace: ns, finalizers: [legacy] }, spec: {} })
    yield* client.delete(Widget, { namespace: ns, name: "d" })
    const calls = yield* controller(ns)
    yield* eventually(gone(ns, "d"))
    assert.deepStrictEqual(calls, ["delete d"])
  }),

  "operatorkit 0.1's pause annotation still pauses": Effect.gen(function*() {
    const ns = yield* setup
    const client = yield* Client.Client
    const calls = yield* controller(ns)
    yield* client.create(Widget, { metadata: { name: "p", namespace: ns, annotations: { "operatorkit.giantswarm.io/paused": "true" } }, spec: {} })
    yield* client.create(Widget, { metadata: { name: "q", namespace: ns }, spec: {} })
    yield* eventually(Effect.sync(() => assert.include(calls, "create q")))
    assert.deepStrictEqual(yield* finalizersOf(ns, "p"), [])
    assert.notInclude(calls, "create p")
  })
}

describe("the names a controller writes", () => {
  it("a built-in kind needs a prefix of the user's own: said at compile time, and at run time", () => {
    // @ts-expect-error a ConfigMap controller must name its finalizer's prefix
    const make = () => Finalizers.finalizerName({ name: "cm", kind: Kind.ConfigMap })
    assert.throws(make, /ConfigMap is a built-in kind, so its API group \(core\) is not a domain of yours/)
    assert.strictEqual(Finalizers.finalizerName({ name: "cm", kind: Kind.ConfigMap, finalizerPrefix: "example.com" }), "example.com/cm")
    assert.strictEqual(Finalizers.finalizerName({ name: "cm", kind: Kind.ConfigMap, finalizer: "example.com/mine" }), "example.com/mine")
  })

  it.effect("a built-in kind's controller without a prefix dies at start with the same message", () =>
    Effect.gen(function*() {
      const options = { name: "cm", kind: Kind.ConfigMap, resources: [] } as unknown as Controller.Options<Kind.ConfigMap, [], false>
      const exit = yield* Effect.exit(Effect.scoped(Controller.make(options)))
      assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("set finalizerPrefix to one"), String(exit))
    }).pipe(withServer))

  describe("in-memory API server", () => {
    for (const [name, scenario] of Object.entries(scenarios)) it.effect(name, () => withServer(Effect.scoped(scenario)))
  })
  layer(cluster().pipe(Layer.orDie), { excludeTestServices: true })("kube-apiserver", (it) => {
    for (const [name, scenario] of Object.entries(scenarios)) it.effect(name, () => Effect.scoped(scenario))
  })
})
