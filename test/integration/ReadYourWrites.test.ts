/**
 * Read-your-writes for every write a reconcile makes through the Client, on a real API server: a
 * resource patches its object and a child of a watched kind with the plain Client, and asks to be
 * requeued at once; the next reconcile must see both writes (the object it is handed, and the
 * child in the shared informer's Store), never the state before them.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Watch from "../../src/Watch.ts"
import * as Framework from "../../src/Framework.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { eventually } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const reconciles = Number(process.env["RYW_RECONCILES"] ?? 1000)

layer(Informer.layer.pipe(Layer.provideMerge(cluster())), { excludeTestServices: true })("Read-your-writes on kube-apiserver 1.20.2", (it) => {
  it.effect(`${reconciles} consecutive reconciles each read back the previous one's direct patches of the object and of a watched child`, () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const informers = yield* Informer.Informers
      const ns = yield* freshNamespace("ryw")
      const children = yield* informers.get(Kind.ConfigMap, { namespace: ns, labelSelector: "role=child" })
      const stale: Array<string> = []
      let count = 0
      let done = false
      const counter = Framework.make<ConfigMap>()({
        name: "counter",
        ensureCreated: (cm) =>
          Effect.gen(function*() {
            if (done) return
            const c = yield* Client.Client
            const n = Number(cm.data?.["n"] ?? "0")
            const child = Option.getOrUndefined(yield* children.store.get(`${ns}/child`))
            const childN = Number(child?.data?.["n"] ?? "0")
            if (n !== count) stale.push(`reconcile ${count + 1}: the object shows n=${n}`)
            if (childN !== count) stale.push(`reconcile ${count + 1}: the child shows n=${childN}`)
            count++
            if (count >= reconciles) {
              done = true
              return
            }
            const next = String(count)
            yield* c.patch(Kind.ConfigMap, { namespace: ns, name: cm.metadata.name }, Patch.merge({ data: { n: next } }))
            yield* c.patch(Kind.ConfigMap, { namespace: ns, name: "child" }, Patch.merge({ data: { n: next } }))
            yield* Framework.requeueAfter(0)
          }),
        ensureDeleted: () => Effect.void
      })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "child", namespace: ns, labels: { role: "child" } }, data: { n: "0" } })
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "ryw",
        kind: Kind.ConfigMap,
        namespace: ns,
        labelSelector: "role=counter",
        resources: [counter],
        watches: [Watch.watches(Kind.ConfigMap, () => [], { namespace: ns, labelSelector: "role=child" })]
      })
      yield* children.synced
      yield* client.create(Kind.ConfigMap, { metadata: { name: "counter", namespace: ns, labels: { role: "counter" } }, data: { n: "0" } })
      yield* eventually(Effect.sync(() => assert.isTrue(done, `${count} reconciles so far`)), { timeout: "300 seconds", interval: "200 millis" })
      assert.strictEqual(count, reconciles)
      assert.deepStrictEqual(stale.slice(0, 10), [], `${stale.length} stale reads in ${reconciles} reconciles`)
    }), { timeout: 360_000 })
})
