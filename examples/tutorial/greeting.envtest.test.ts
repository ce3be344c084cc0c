// 6. The same test on a real API server: etcd and kube-apiserver (any Kubernetes 1.20 to 1.37)
//    started for this file by Envtest, in real time.
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Crd, Kind } from "operatorkit"
import { Envtest, eventually } from "operatorkit/testing"
import { Greeting, GreetingController, GreetingCrd } from "./greeting.ts"

const Cluster = Crd.layer.pipe(Layer.provideMerge(Envtest.layerClient()), Layer.orDie)

// excludeTestServices: a real server needs the real clock. A control plane takes a few seconds to
// start, more on a busy machine: more than vitest's default 10 s for a hook, hence the timeout.
layer(Cluster, { excludeTestServices: true, timeout: "2 minutes" })("Greeting operator on a real API server", (it) => {
  it.effect("writes the greeting into a ConfigMap it owns, and sets Ready", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* (yield* Crd.Crd).ensureCreated(GreetingCrd)
      yield* Layer.build(GreetingController)
      const greeting = yield* client.create(Greeting, {
        metadata: { name: "ada", namespace: "default" },
        spec: { name: "Ada", language: "fr" }
      })

      // polled in real time (there is no TestClock here) for up to 30 seconds
      yield* eventually(Effect.gen(function*() {
        const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "ada-greeting" })
        assert.deepStrictEqual(cm.data, { message: "Bonjour, Ada!" })
        assert.strictEqual(cm.metadata.ownerReferences?.[0]?.uid, greeting.metadata.uid)
        const done = yield* client.get(Greeting, { namespace: "default", name: "ada" })
        assert.strictEqual(done.status?.conditions?.[0]?.status, "True")
      }))
    }), { timeout: 60_000 })
})
