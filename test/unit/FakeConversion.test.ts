/**
 * The in-memory API server converts a CRD through its registered conversion webhook, as
 * kube-apiserver does with `conversion: Webhook`: writes in a non-storage version are stored in
 * the storage version, reads (get, list, watch) in another version are converted to it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import { withServer } from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Webhooks from "../../src/Webhooks.ts"

const group = "unit.fakeconversion.test"
const V1 = Kind.custom({ group, version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
const V2 = Kind.custom({ group, version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
let conversions = 0
const teams = Webhooks.makeUnsafe({
  name: "team-operator",
  clientConfig: { url: "https://127.0.0.1:9443/" },
  conversions: [Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, {
    decode: (t) => {
      conversions++
      return { ...t, spec: { owners: [t.spec.owner] } }
    },
    encode: (t) => {
      conversions++
      return { ...t, spec: { owner: t.spec.owners[0] ?? "" } }
    }
  })])]
})

const setUp = Effect.gen(function*() {
  yield* (yield* Crd.Crd).ensureCreated(Webhooks.crd(teams, TeamCrd))
  yield* (yield* TestServer.TestServer).webhooks(teams)
  return yield* Client.Client
})

const run = <A, E>(effect: Effect.Effect<A, E, Client.Client | TestServer.TestServer | Crd.Crd | import("effect/Scope").Scope>) =>
  withServer(effect.pipe(Effect.scoped, Effect.provide(Crd.layer, { local: true })))

describe("in-memory server: conversion webhooks", () => {
  it.effect("a v2 write with storage v1 is stored as v1 and reads back unchanged as v2", () =>
    run(Effect.gen(function*() {
      const client = yield* setUp
      const before = conversions
      const created = yield* client.create(V2, { metadata: { name: "a", namespace: "default" }, spec: { owners: ["ann", "bob"] } })
      assert.deepStrictEqual(created.spec, { owners: ["ann", "bob"] })
      assert.strictEqual(created.apiVersion, `${group}/v2`)
      assert.isAbove(conversions, before, "the conversion handler was called")
      // stored in v1: the first owner in spec, the others kept by the conversion's annotation
      const stored = yield* client.get(V1, { name: "a", namespace: "default" })
      assert.deepStrictEqual(stored.spec, { owner: "ann" })
      assert.deepStrictEqual((yield* client.get(V2, { name: "a", namespace: "default" })).spec, { owners: ["ann", "bob"] })
      // a replace in v2 goes through the storage version too
      const replaced = yield* client.replace(V2, { ...created, spec: { owners: ["carol", "dave"] } })
      assert.deepStrictEqual(replaced.spec, { owners: ["carol", "dave"] })
      assert.deepStrictEqual((yield* client.get(V1, { name: "a", namespace: "default" })).spec, { owner: "carol" })
      const listed = yield* client.list(V2, { namespace: "default" })
      assert.deepStrictEqual(listed.items.map((t) => [t.apiVersion, t.spec]), [[`${group}/v2`, { owners: ["carol", "dave"] }]])
    })))

  it.effect("a v1 object reads as v2, in get, list and watch events", () =>
    run(Effect.gen(function*() {
      const client = yield* setUp
      yield* client.create(V1, { metadata: { name: "b", namespace: "default" }, spec: { owner: "erin" } })
      assert.deepStrictEqual((yield* client.get(V2, { name: "b", namespace: "default" })).spec, { owners: ["erin"] })
      assert.deepStrictEqual((yield* client.list(V2, { namespace: "default" })).items.map((t) => t.spec), [{ owners: ["erin"] }])
      const events = yield* client.watch(V2, { namespace: "default", allowBookmarks: false }).pipe(
        Stream.filter((e) => e.type !== "BOOKMARK"),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkScoped
      )
      yield* Effect.yieldNow
      const b = yield* client.get(V1, { name: "b", namespace: "default" })
      yield* client.replace(V1, { ...b, spec: { owner: "frank" } })
      const seen = yield* Fiber.join(events)
      assert.deepStrictEqual(seen.map((e) => [e.type, "object" in e ? (e.object as { apiVersion: string }).apiVersion : "", "object" in e ? (e.object as { spec: unknown }).spec : undefined]), [
        ["ADDED", `${group}/v2`, { owners: ["erin"] }],
        ["MODIFIED", `${group}/v2`, { owners: ["frank"] }]
      ])
    })))

  it.effect("without the webhooks registered, versions are only relabelled", () =>
    withServer(Effect.gen(function*() {
      yield* (yield* Crd.Crd).ensureCreated(Webhooks.crd(teams, TeamCrd))
      const client = yield* Client.Client
      yield* client.create(V1, { metadata: { name: "c", namespace: "default" }, spec: { owner: "gus" } })
      const raw = yield* client.raw({ method: "GET", path: `/apis/${group}/v2/namespaces/default/teams/c` })
      assert.deepStrictEqual((raw as { spec: unknown }).spec, { owner: "gus" })
    }).pipe(Effect.provide(Crd.layer, { local: true }))))
})
