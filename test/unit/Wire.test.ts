/**
 * Faults that live in the bytes on the wire, from a small scripted HTTP server (test/support/fakeApi):
 * watch lines that are no event, and Retry-After headers; and the 429 deadline on the in-memory
 * server with TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import type * as Http from "node:http"
import { Cause, Clock, Effect, Exit, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Informer from "../../src/Informer.ts"
import { parseRetryAfter } from "../../src/internal/http/transport.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { eventually, withServer } from "../../src/testing/helpers.ts"
import * as FakeApi from "../support/fakeApi.ts"

const LIST_PATH = "/api/v1/namespaces/default/configmaps"

const line = (u: unknown) => JSON.stringify(u) + "\n"
const event = (type: string, name: string, rv: string) => line({ type, object: FakeApi.configMap(name, rv) })

/** Lines that are no event; each must end the watch with a typed error and nothing else. */
const badLines: ReadonlyArray<readonly [string, Buffer]> = [
  ["null", Buffer.from("null\n")],
  ["a number", Buffer.from("42\n")],
  ["a string", Buffer.from('"ADDED"\n')],
  ["an array", Buffer.from('[{"type":"ADDED"}]\n')],
  ["an object without type", Buffer.from(line({ object: FakeApi.configMap("x", "99") }))],
  ["an unknown type", Buffer.from(line({ type: "UPSERTED", object: FakeApi.configMap("x", "99") }))],
  ["an ERROR whose object is null", Buffer.from(line({ type: "ERROR", object: null }))],
  ["an ERROR whose object is not a Status", Buffer.from(line({ type: "ERROR", object: FakeApi.configMap("x", "99") }))],
  ["a truncated line", Buffer.from('{"type":"ADDED","object":{"metadata":{"na\n')],
  [
    "invalid UTF-8",
    Buffer.concat([Buffer.from('{"type":"ADDED","object":{"metadata":{"name":"x","namespace":"default","resourceVersion":"99"},"data":{"k":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}}\n')])
  ]
]

/**
 * A server with `a` (rv 10) listed; the first watch sends b (rv 11), the bad line and c (rv 12) in
 * one write, and holds; later watches send what came after their resourceVersion, and hold.
 */
const scripted = (bad: Buffer) =>
  FakeApi.make((_req, res, r) => {
    if (r.path !== LIST_PATH) return FakeApi.json(res, 404, FakeApi.status(404, "NotFound", "no"))
    if (r.query.get("watch") === null) {
      return FakeApi.json(res, 200, { kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion: "10" }, items: [FakeApi.configMap("a", "10")] })
    }
    res.writeHead(200, { "content-type": "application/json" })
    const from = Number(r.query.get("resourceVersion"))
    const after = [event("ADDED", "b", "11"), event("ADDED", "c", "12")].slice(Math.max(0, from - 10))
    if (from === 10) res.write(Buffer.concat([Buffer.from(after[0]!), bad, Buffer.from(after[1]!)]))
    else res.write(after.join(""))
  })

/** The error of a call that must fail, and the Clock time it failed at. */
const failedAt = <A, E, R>(call: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.flip(call), (error) => Effect.map(Clock.currentTimeMillis, (at) => ({ error, at })))

const watchRequests = (api: FakeApi.FakeApi) => api.requests.filter((r) => r.query.get("watch") !== null)

describe("watch lines that are no event", () => {
  for (const [what, bad] of badLines) {
    it.live(`${what}: the watch ends with a typed TransportError after the events before it`, () =>
      Effect.gen(function*() {
        const api = yield* scripted(bad)
        const client = yield* FakeApi.clientOf(api)
        const seen: Array<string> = []
        const exit = yield* client.watch(Kind.ConfigMap, { namespace: "default", resourceVersion: "10" }).pipe(
          Stream.runForEach((e) => Effect.sync(() => seen.push(e.type === "ADDED" ? e.object.metadata.name : e.type))),
          Effect.timeout("5 seconds"),
          Effect.exit
        )
        assert.deepStrictEqual(seen, ["b"])
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.isFalse(Cause.hasDies(exit.cause), `a defect: ${Cause.pretty(exit.cause)}`)
          const error = Cause.findErrorOption(exit.cause)
          assert.strictEqual(error._tag, "Some")
          if (error._tag === "Some") {
            assert.strictEqual(error.value._tag, "TransportError")
            if (error.value._tag === "TransportError") {
              assert.strictEqual(error.value.code, "BAD_WATCH_EVENT")
              assert.notInclude(error.value.message, '"name"', "the message does not quote the line")
            }
          }
        }
      }))

    it.live(`${what}: the informer resumes from the last good resourceVersion; every valid event is stored once`, () =>
      Effect.gen(function*() {
        const api = yield* scripted(bad)
        const client = yield* FakeApi.clientOf(api)
        const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default", backoff: { initial: "20 millis" } }).pipe(
          Effect.provideService(Client.Client, client)
        )
        const changes: Array<string> = []
        yield* informer.changes.pipe(
          Stream.runForEach((c) => Effect.sync(() => changes.push(`${c._tag} ${c.object.metadata.name}@${c.object.metadata.resourceVersion}`))),
          Effect.forkScoped
        )
        yield* eventually(Effect.gen(function*() {
          assert.deepStrictEqual((yield* informer.store.keys).slice().sort(), ["default/a", "default/b", "default/c"])
        }), { timeout: "10 seconds" })
        assert.deepStrictEqual(changes, ["Added a@10", "Added b@11", "Added c@12"])
        const watches = watchRequests(api)
        assert.strictEqual(watches.length, 2)
        assert.strictEqual(watches[1]!.query.get("resourceVersion"), "11", "resumed after the last good event")
        const stats = yield* informer.stats
        assert.strictEqual(stats.lists, 1, "no relist (a defect would have made one)")
        assert.strictEqual(stats.errors, 1)
        assert.strictEqual(stats.lastError?._tag, "TransportError")
      }))
  }

  it.live("an ADDED whose object is null is one counted, logged skip; the watch goes on", () =>
    Effect.gen(function*() {
      const api = yield* scripted(Buffer.from(line({ type: "ADDED", object: null })))
      const client = yield* FakeApi.clientOf(api)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: "default", backoff: { initial: "20 millis" } }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual((yield* informer.store.keys).length, 3)
      }), { timeout: "10 seconds" })
      const stats = yield* informer.stats
      assert.strictEqual(stats.decodeFailures, 1)
      assert.strictEqual(stats.errors, 0)
      assert.strictEqual(watchRequests(api).length, 1, "the same watch delivered c")
    }))
})

describe("429 Too Many Requests", () => {
  it("Retry-After: delay-seconds and the three HTTP-date forms", () => {
    const now = Date.parse("1994-11-06T08:49:30Z")
    assert.strictEqual(parseRetryAfter("5", now), 5)
    assert.strictEqual(parseRetryAfter(" 12 ", now), 12)
    assert.strictEqual(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 7)
    assert.strictEqual(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), 7)
    assert.strictEqual(parseRetryAfter("Sun Nov  6 08:49:37 1994", now), 7)
    assert.strictEqual(parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), 0, "a date already past: no wait")
    assert.isUndefined(parseRetryAfter("soon", now))
    assert.isUndefined(parseRetryAfter("-1", now))
    assert.isUndefined(parseRetryAfter(undefined, now))
  })

  it.live("a Retry-After HTTP-date is waited out before the retry", () =>
    Effect.gen(function*() {
      let answered = 0
      const api = yield* FakeApi.make((_req, res: Http.ServerResponse) => {
        if (answered++ === 0) {
          // whole seconds only: between 2 and 3 seconds from now
          const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000).toUTCString()
          return FakeApi.json(res, 429, FakeApi.status(429, "TooManyRequests", "slow down"), { "retry-after": at })
        }
        FakeApi.json(res, 200, FakeApi.configMap("a", "5"))
      })
      const client = yield* FakeApi.clientOf(api)
      const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      assert.strictEqual(cm.metadata.name, "a")
      assert.strictEqual(api.requests.length, 2)
      const waited = api.requests[1]!.at - api.requests[0]!.at
      // the default without a readable Retry-After is one second
      assert.isAtLeast(waited, 1900, `waited ${waited} ms`)
      assert.isBelow(waited, 6000)
    }))

  it.effect("one deadline spans every 429 retry and its waits", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
      // each answer takes 3 s and says: retry after 1 s
      yield* server.failNext({ verb: "get", code: 429, retryAfterSeconds: 1, delay: "3 seconds", times: 10 })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.forkChild(failedAt(client.get(Kind.ConfigMap, { namespace: "default", name: "a" }, { timeout: "10 seconds" })))
      yield* TestClock.adjust("30 seconds")
      const { error, at } = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "RequestTimeout")
      if (error._tag === "RequestTimeout") assert.strictEqual(error.timeoutMillis, 10_000)
      assert.strictEqual(at - start, 10_000)
      assert.strictEqual(yield* server.calls("get", Kind.ConfigMap), 3, "0-3 s, 4-7 s, 8-10 s")
    }).pipe(withServer))

  it.effect("a Retry-After that would pass the deadline ends the call at once with TooManyRequests", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
      yield* server.failNext({ verb: "get", code: 429, retryAfterSeconds: 8, times: 10 })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.forkChild(failedAt(client.get(Kind.ConfigMap, { namespace: "default", name: "a" }, { timeout: "10 seconds" })))
      yield* TestClock.adjust("30 seconds")
      const { error, at } = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TooManyRequests")
      assert.strictEqual(at - start, 8_000, "failed as soon as the next wait would pass the deadline")
      assert.strictEqual(yield* server.calls("get", Kind.ConfigMap), 2, "one wait of 8 s fits, a second does not")
    }).pipe(withServer))
})
