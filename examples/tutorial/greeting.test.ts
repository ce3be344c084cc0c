// 5. Test it: on the in-memory API server, in virtual time.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Client, Crd, Kind, Testing } from "operatorkit"
import { Greeting, GreetingController, GreetingCrd } from "./greeting.ts"

/** Lets the controller's fibers run for a second of virtual time. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) {
    yield* Effect.yieldNow
    yield* TestClock.adjust("20 millis")
  }
})

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
      yield* settle

      const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "ada-greeting" })
      assert.deepStrictEqual(cm.data, { message: "Bonjour, Ada!" })
      assert.strictEqual(cm.metadata.ownerReferences?.[0]?.uid, greeting.metadata.uid)
      const done = yield* client.get(Greeting, { namespace: "default", name: "ada" })
      assert.strictEqual(done.status?.conditions?.[0]?.status, "True")
    }).pipe(
      Effect.provide(Crd.layer, { local: true }),
      Effect.provide(Testing.layer, { local: true }) // a fresh in-memory API server for this test
    ))
})
