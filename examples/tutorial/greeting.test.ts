// 5. Test it: on the in-memory API server, in virtual time.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Crd, Kind } from "operatorkit"
import { eventually, withServer } from "operatorkit/testing"
import { Greeting, GreetingController, GreetingCrd } from "./greeting.ts"

describe("Greeting operator", () => {
  it.effect("writes the greeting into a ConfigMap it owns, and sets Ready", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* (yield* Crd.Crd).ensureCreated(GreetingCrd)
      yield* Layer.build(GreetingController)
      const greeting = yield* client.create(Greeting, {
        metadata: { name: "ada", namespace: "default" },
        spec: { name: "Ada", language: "fr" }
      })

      // retried while the TestClock moves on, until the controller has done its part
      yield* eventually(Effect.gen(function*() {
        const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "ada-greeting" })
        assert.deepStrictEqual(cm.data, { message: "Bonjour, Ada!" })
        assert.strictEqual(cm.metadata.ownerReferences?.[0]?.uid, greeting.metadata.uid)
        const done = yield* client.get(Greeting, { namespace: "default", name: "ada" })
        assert.strictEqual(done.status?.conditions?.[0]?.status, "True")
      }))
    }).pipe(
      Effect.provide(Crd.layer, { local: true }),
      withServer // a fresh in-memory API server for this test
    ))
})
