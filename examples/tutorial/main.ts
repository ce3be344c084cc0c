// 4. Run it: on the cluster of KUBECONFIG, or else on an embedded control plane (Envtest).
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schedule } from "effect"
import { Client, Crd, Kind, KubeConfig, Patch } from "operatorkit"
import { Envtest } from "operatorkit/testing"
import { Greeting, GreetingController, GreetingCrd } from "./greeting.ts"

const Cluster = process.env["KUBECONFIG"]
  ? Client.layer().pipe(Layer.provide(KubeConfig.layer()))
  : Envtest.layerClient()

const program = Effect.gen(function*() {
  const crds = yield* Crd.Crd
  yield* crds.ensureCreated(GreetingCrd)
  yield* Layer.build(GreetingController) // the controller runs until the program's scope closes

  const client = yield* Client.Client
  yield* client.patch(
    Greeting,
    { namespace: "default", name: "world" },
    Patch.apply({ metadata: { name: "world", namespace: "default" }, spec: { name: "World", language: "en" } }, { fieldManager: "tutorial" })
  )
  const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "world-greeting" }).pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), while: (e) => e._tag === "NotFound" })
  )
  yield* Effect.log(`the operator wrote: ${cm.data?.["message"]} (Ctrl-C to stop)`)
  return yield* Effect.never
})

// only when run directly: importing this module (`operatorkit crd`, a test) starts nothing
if (import.meta.main) {
  program.pipe(
    Effect.scoped,
    Effect.provide(Crd.layer.pipe(Layer.provideMerge(Cluster))),
    NodeRuntime.runMain
  )
}
