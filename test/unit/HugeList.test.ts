/**
 * Answers larger than one JavaScript string can hold (V8: about 512 MiB), streamed by a fake server
 * that generates them while sending (nothing that size is ever built in memory on its side).
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Http from "node:http"
import { Effect, Logger } from "effect"
import * as Client from "../../src/Client.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import { eventually } from "../../src/testing/helpers.ts"
import * as FakeApi from "../support/fakeApi.ts"

const MiB = 1024 * 1024
const STRING_LIMIT = 536_870_888
const LIST_PATH = "/api/v1/namespaces/default/configmaps"

/** Writes the parts as the socket takes them; stops when the client goes away. */
const pump = (res: Http.ServerResponse, parts: Iterator<Buffer>) => {
  let gone = false
  res.once("close", () => (gone = true))
  const next = () => {
    while (!gone) {
      const part = parts.next()
      if (part.done === true) return res.end()
      if (!res.write(part.value)) return res.once("drain", next)
    }
  }
  next()
}

const ITEM_BYTES = 100 * 1024
const filler = Buffer.alloc(ITEM_BYTES, "x")
const itemTail = Buffer.from('"}}')

/** A ConfigMap list of `count` items of about 100 KiB each, generated item by item (the filler shared). */
function* bigList(count: number): Generator<Buffer> {
  yield Buffer.from('{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[')
  for (let i = 0; i < count; i++) {
    yield Buffer.from(`${i > 0 ? "," : ""}{"metadata":{"name":"cm-${i}","namespace":"default","uid":"uid-${i}","resourceVersion":"10"},"data":{"k":"`)
    yield filler
    yield itemTail
  }
  yield Buffer.from("]}")
}

/** A list whose one item holds a string of `bytes` bytes: no string can hold that item. */
function* giantItem(bytes: number): Generator<Buffer> {
  yield Buffer.from('{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[{"metadata":{"name":"giant","namespace":"default","resourceVersion":"10"},"data":{"k":"')
  const block = Buffer.alloc(MiB, "y")
  for (let sent = 0; sent < bytes; sent += block.length) yield block
  yield Buffer.from('"}}]}')
}

/** A JSON string of `bytes` bytes. */
function* giantString(bytes: number): Generator<Buffer> {
  yield Buffer.from('"')
  const block = Buffer.alloc(MiB, "z")
  for (let sent = 0; sent < bytes; sent += block.length) yield block
  yield Buffer.from('"')
}

const holdWatch = (res: Http.ServerResponse) => res.writeHead(200, { "content-type": "application/json" })

const listRequests = (api: FakeApi.FakeApi) => api.requests.filter((r) => r.path === LIST_PATH && r.query.get("watch") === null)

describe("answers over 512 MiB", () => {
  it.live("an informer reads a list over 512 MiB item by item and holds every object", () =>
    Effect.gen(function*() {
      const count = Math.ceil((STRING_LIMIT + 40 * MiB) / ITEM_BYTES)
      const api = yield* FakeApi.make((_req, res, r) => {
        if (r.query.get("watch") !== null) return holdWatch(res)
        res.writeHead(200, { "content-type": "application/json" })
        pump(res, bigList(count))
      })
      const client = yield* FakeApi.clientOf(api, { timeout: "2 minutes" })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default" }).pipe(Effect.provideService(Client.Client, client))
      yield* informer.synced.pipe(Effect.timeout("100 seconds"))
      const stats = yield* informer.stats
      assert.strictEqual(stats.storeSize, count)
      assert.strictEqual(stats.lists, 1)
      assert.strictEqual(stats.errors, 0)
      assert.strictEqual(listRequests(api)[0]!.query.get("resourceVersion"), "0")
    }), { timeout: 180_000 })

  it.live("a list over 512 MiB that cannot be read item by item is a typed error naming its size and the remedy; the informer says why and lists in pages from etcd", () => {
    const warnings: Array<string> = []
    const logger = Logger.make((options) => {
      if (options.logLevel === "Warn") warnings.push(String((options.message as Array<unknown>)[0]))
    })
    return Effect.gen(function*() {
      const api = yield* FakeApi.make((_req, res, r) => {
        if (r.query.get("watch") !== null) return holdWatch(res)
        if (r.query.get("resourceVersion") === "0") {
          res.writeHead(200, { "content-type": "application/json" })
          return pump(res, giantItem(STRING_LIMIT + 64 * MiB))
        }
        FakeApi.json(res, 200, { kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion: "10" }, items: [FakeApi.configMap("a", "10")] })
      })
      const client = yield* FakeApi.clientOf(api, { timeout: "2 minutes" })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default", backoff: { initial: "50 millis" } }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* informer.synced.pipe(Effect.timeout("100 seconds"))
      const stats = yield* informer.stats
      assert.strictEqual(stats.storeSize, 1)
      assert.strictEqual(stats.errors, 1, `${stats.lastError?.message} ${listRequests(api).map((r) => r.query.toString())}`)
      // a typed error (not a defect, not an uncaught exception) naming the size and the remedy
      const error = stats.lastError
      assert.strictEqual(error?._tag, "TransportError")
      if (error?._tag === "TransportError") {
        assert.strictEqual(error.code, Client.RESPONSE_TOO_LARGE)
        assert.match(error.message, /at least \d+ MiB/)
        assert.include(error.message, "resourceVersion=0")
        assert.include(error.message, "listFromCache: false")
      }
      const lists = listRequests(api)
      assert.deepStrictEqual(lists.map((r) => r.query.get("resourceVersion")), ["0", null], "from the cache once, then from etcd")
      assert.strictEqual(lists[1]!.query.get("limit"), "500")
      assert.isTrue(warnings.some((w) => w.includes("RESPONSE_TOO_LARGE") && w.includes("in pages from etcd")), warnings.join("\n"))
    }).pipe(Effect.provide(Logger.layer([logger])))
  }, { timeout: 180_000 })

  it.live("any other answer over 512 MiB is a typed error, not an uncaught exception; with a Content-Length, before it is read", () =>
    Effect.gen(function*() {
      const api = yield* FakeApi.make((_req, res, r) => {
        const bytes = STRING_LIMIT + 8 * MiB
        res.writeHead(200, { "content-type": "application/json", ...(r.path === "/announced" ? { "content-length": bytes + 2 } : {}) })
        pump(res, giantString(bytes))
      })
      const client = yield* FakeApi.clientOf(api, { timeout: "2 minutes" })
      const announced = yield* Effect.flip(client.raw({ method: "GET", path: "/announced" }))
      assert.strictEqual(announced._tag, "TransportError")
      if (announced._tag === "TransportError") {
        assert.strictEqual(announced.code, Client.RESPONSE_TOO_LARGE)
        assert.include(announced.message, `the answer is ${Math.round((STRING_LIMIT + 8 * MiB + 2) / MiB)} MiB`)
      }
      const streamed = yield* Effect.flip(client.raw({ method: "GET", path: "/streamed" }))
      assert.strictEqual(streamed._tag, "TransportError")
      if (streamed._tag === "TransportError") {
        assert.strictEqual(streamed.code, Client.RESPONSE_TOO_LARGE)
        assert.match(streamed.message, /at least \d+ MiB/)
      }
    }), { timeout: 180_000 })
})

describe("list answers that are no list", () => {
  it.live("an informer whose every list answer is unreadable keeps retrying with backoff, unsynced, and says why", () =>
    Effect.gen(function*() {
      const api = yield* FakeApi.make((_req, res, r) => {
        if (r.query.get("watch") !== null) return holdWatch(res)
        FakeApi.json(res, 200, "not a list")
      })
      const client = yield* FakeApi.clientOf(api)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default", backoff: { initial: "200 millis", jitter: 0 } }).pipe(
        Effect.provideService(Client.Client, client)
      )
      // lists at about 0, 0.2, 0.6, 1.4 and 3.0 s
      yield* eventually(Effect.sync(() => assert.isAtLeast(listRequests(api).length, 4)), { timeout: "10 seconds" })
      yield* Effect.sleep("500 millis")
      const stats = yield* informer.stats
      assert.isFalse(stats.synced)
      assert.isAtMost(listRequests(api).length, 5)
      assert.strictEqual(stats.lastError?._tag, "TransportError")
      if (stats.lastError?._tag === "TransportError") assert.strictEqual(stats.lastError.code, "BAD_LIST_BODY")
      assert.isAtLeast(stats.errors, listRequests(api).length - 1)
    }))
})
