/**
 * Streaming initial lists (watch-list, KEP-3157) in the Watcher and Informer: on a server that
 * offers it (the in-memory server with `watchList: true`) and on one that refuses it (the default
 * in-memory server, as kube-apiserver 1.20: test/contract/watchList.test.ts checks the refusal).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Watcher from "../../src/Watcher.ts"
import { settle } from "../../src/testing/helpers.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"
import type { Transport } from "../../src/internal/http/transport.ts"
import { make as makeClient } from "../../src/internal/http/client.ts"

const ns = "default"

const withWatchList = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, TestServer.layer({ watchList: true, bookmarkInterval: false }), { local: true })
const without = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, TestServer.layer({ bookmarkInterval: false }), { local: true })

const seed = (n: number) =>
  Effect.flatMap(Client.Client, (client) =>
    Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
      client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: ns }, data: { i: String(i) } }), { discard: true }))

const names = (informer: Informer.Informer<Kind.Type<typeof Kind.ConfigMap>>) =>
  Effect.map(informer.store.list(), (items) => items.map((o) => o.metadata.name).sort())

describe("watch-list (sendInitialEvents)", () => {
  it.effect("the Client: the current objects as ADDED, a BOOKMARK marking their end, then the changes", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* seed(2)
      const events = yield* client.watch(Kind.ConfigMap, { namespace: ns, sendInitialEvents: true }).pipe(
        Stream.take(4),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* settle(5)
      yield* client.create(Kind.ConfigMap, { metadata: { name: "late", namespace: ns } })
      const got = yield* Fiber.join(events)
      const summary = got.map((e) =>
        e.type === "BOOKMARK" ? ["BOOKMARK", e.initialEventsEnd === true] : e.type === "INVALID" ? ["INVALID"] : [e.type, e.object.metadata.name]
      )
      assert.deepStrictEqual(summary, [["ADDED", "cm-0"], ["ADDED", "cm-1"], ["BOOKMARK", true], ["ADDED", "late"]])
    }).pipe(withWatchList))

  it.effect("an informer syncs from one watch-list (no list call), follows changes on it, and resumes without a list", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* seed(1200)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, pageSize: 500 })
      yield* informer.synced
      assert.strictEqual((yield* names(informer)).length, 1200)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 0)
      assert.strictEqual(yield* server.calls("watch", Kind.ConfigMap), 1)
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-0" })
      yield* settle(10)
      assert.strictEqual((yield* names(informer)).length, 1199)
      // a cut watch resumes from its resourceVersion: a plain watch, no initial events again
      yield* server.cutWatches
      yield* settle(100, "100 millis")
      yield* client.create(Kind.ConfigMap, { metadata: { name: "after-cut", namespace: ns } })
      yield* settle(10)
      assert.include(yield* names(informer), "after-cut")
      assert.strictEqual((yield* informer.stats).lists, 1)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 0)
    }).pipe(withWatchList))

  it.effect("after 410 Gone the relist is a watch-list too: what it does not bring is deleted", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* seed(3)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
      yield* informer.synced
      // a deletion the informer misses: its watch is cut, then history is compacted past it
      yield* server.failNext({ verb: "watch", code: 503, times: 1 })
      yield* server.cutWatches
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-1" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "new", namespace: ns } })
      yield* server.compact
      yield* settle(100, "100 millis")
      assert.deepStrictEqual(yield* names(informer), ["cm-0", "cm-2", "new"])
      const stats = yield* informer.stats
      assert.strictEqual(stats.relists, 1)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 0)
    }).pipe(withWatchList))

  it.effect("a server that refuses it (422, as kube-apiserver 1.20): paged lists from then on, relists included", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* seed(3)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
      yield* informer.synced
      assert.strictEqual((yield* names(informer)).length, 3)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 1)
      yield* server.failNext({ verb: "watch", code: 503, times: 1 })
      yield* server.cutWatches
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-1" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "new", namespace: ns } })
      yield* server.compact
      yield* settle(100, "100 millis")
      assert.deepStrictEqual(yield* names(informer), ["cm-0", "cm-2", "new"])
      assert.strictEqual((yield* informer.stats).relists, 1)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 2, "the relist is a paged list, not another watch-list")
    }).pipe(without))

  it.effect("a server that ignores sendInitialEvents (a plain watch, no initial events): paged lists after 30 s of silence", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* seed(2)
      // a watch-list request answered as a plain watch from now: its parameters dropped on the way
      const inner = transportOf(server)
      const transport: Transport = {
        ...inner,
        watch: (req) => {
          const url = new URL(req.path, "http://fake.invalid")
          if (!url.searchParams.has("sendInitialEvents")) return inner.watch(req)
          for (const p of ["sendInitialEvents", "resourceVersionMatch"]) url.searchParams.delete(p)
          url.searchParams.set("resourceVersion", String(Number.MAX_SAFE_INTEGER - 1))
          return inner.watch({ ...req, path: url.pathname + url.search })
        }
      }
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns }).pipe(Effect.provideService(Client.Client, makeClient(transport)))
      yield* settle(20, "1 second")
      assert.strictEqual((yield* names(informer)).length, 0, "still waiting for initial events")
      yield* settle(20, "1 second")
      yield* informer.synced
      assert.strictEqual((yield* names(informer)).length, 2)
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 1)
    }).pipe(withWatchList))

  it.effect("streamingList: false lists in pages on a server that offers watch-list", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* seed(2)
      const watcher = yield* Watcher.make(Kind.ConfigMap, { namespace: ns, streamingList: false })
      const first = yield* watcher.events.pipe(Stream.take(3), Stream.runCollect)
      assert.deepStrictEqual(first.map((e) => e._tag), ["Init", "InitPage", "InitDone"])
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 1)
    }).pipe(withWatchList))
})


