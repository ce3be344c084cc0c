/**
 * The 404s a newcomer meets first, on the real API server and on the in-memory one: a kind whose
 * CRD is not installed, and a status write to a kind whose CRD has no status subresource. Each says
 * exactly that and how to fix it (and `missing` says it to code).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeError from "../../src/KubeError.ts"
import * as Patch from "../../src/Patch.ts"
import { withServer } from "../../src/testing/helpers.ts"
import { cluster } from "../support/cluster.ts"
import { installCrd, openCrd } from "../support/crds.ts"

const group = "newcomer.operatorkit.test"
// a kind nobody installed
const Gadget = Kind.custom({ group, version: "v1", kind: "Gadget", namespaced: true, spec: Kind.Open({}) })
// a kind whose CRD has no status subresource, while the Kind says it has one
const Widget = Kind.custom({
  group,
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Kind.Open({}),
  status: Kind.Open({}),
  subresources: { status: true }
})
const { subresources: _, ...withoutStatus } = openCrd(group, "Widget", "widgets").spec.versions[0]!
const widgetCrd = openCrd(group, "Widget", "widgets")
const crdWithoutStatus = { ...widgetCrd, spec: { ...widgetCrd.spec, versions: [withoutStatus] } }

const notFound = <A>(effect: Effect.Effect<A, KubeError.KubeError, Client.Client>) =>
  Effect.flip(effect).pipe(Effect.map((e) => {
    assert.strictEqual(e._tag, "NotFound", e.message)
    return e as KubeError.NotFound
  }))

const scenarios = {
  "a kind whose CRD is not installed: says so, and how to install it": Effect.gen(function*() {
    const client = yield* Client.Client
    for (
      const call of [
        Effect.asVoid(client.get(Gadget, { namespace: "default", name: "g" })),
        Effect.asVoid(client.list(Gadget, { namespace: "default" })),
        Effect.asVoid(client.create(Gadget, { metadata: { name: "g", namespace: "default" }, spec: {} }))
      ]
    ) {
      const e = yield* notFound(call)
      assert.strictEqual(e.missing, "kind")
      assert.include(e.message, `the API server does not serve gadgets.${group} (${group}/v1)`)
      assert.include(e.message, "Is its CustomResourceDefinition installed?")
      assert.include(e.message, "crds.ensureCreated")
      assert.include(e.message, "npx operatorkit crd <module> | kubectl apply -f -")
    }
  }),

  "a status write to a kind whose CRD has no status subresource: says so, and how to enable it": Effect.gen(function*() {
    const client = yield* Client.Client
    yield* installCrd(crdWithoutStatus, Widget)
    const widget = yield* client.create(Widget, { metadata: { name: "w", namespace: "default" }, spec: {} })
    for (
      const call of [
        client.replaceStatus(Widget, { ...widget, status: { phase: "x" } }),
        client.patchStatus(Widget, { namespace: "default", name: "w" }, Patch.merge({ status: { phase: "x" } }))
      ]
    ) {
      const e = yield* notFound(call)
      assert.strictEqual(e.missing, "statusSubresource")
      assert.include(e.message, `does not serve the status subresource of widgets.${group}`)
      assert.include(e.message, "subresources: { status: true }")
    }
    // an object that is not there is still just not found
    const missing = yield* notFound(client.get(Widget, { namespace: "default", name: "nope" }))
    assert.strictEqual(missing.missing, "object")
    assert.include(missing.message, "not found")
  })
}

describe("the first errors a newcomer meets", () => {
  describe("in-memory API server", () => {
    for (const [name, scenario] of Object.entries(scenarios)) it.effect(name, () => withServer(scenario))
  })
  layer(cluster().pipe(Layer.orDie), { excludeTestServices: true })("kube-apiserver", (it) => {
    for (const [name, scenario] of Object.entries(scenarios)) it.effect(name, () => scenario)
  })
})
