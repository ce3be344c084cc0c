// A user's program, run with `node main.ts in-memory|envtest` on the installed package: the
// Greeting operator converges once, then the program ends.
import { Effect, Layer } from "effect"
import { Client, Crd, Kind } from "operatorkit"
import { Envtest, eventually, TestServer } from "operatorkit/testing"
import { Greeting, GreetingController, GreetingCrd } from "./greeting.ts"

export { GreetingCrd }

const program = Effect.gen(function*() {
  yield* (yield* Crd.Crd).ensureCreated(GreetingCrd)
  yield* Layer.build(GreetingController)
  const client = yield* Client.Client
  yield* client.create(Greeting, { metadata: { name: "grace", namespace: "default" }, spec: { name: "Grace", language: "en" } })
  const cm = yield* eventually(client.get(Kind.ConfigMap, { namespace: "default", name: "grace-greeting" }))
  return cm.data?.["message"]
})

if (import.meta.main) {
  const server: Layer.Layer<Client.Client, unknown> = process.argv[2] === "envtest" ? Envtest.layerClient() : TestServer.layer()
  const message = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Crd.layer.pipe(Layer.provideMerge(server)))))
  process.stdout.write(`the operator wrote: ${message}\n`)
}
