import { assert } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, failureStatus } from "./harness.ts"

type Event = Client.WatchEvent<Kind.Type<typeof Kind.ConfigMap>>

const summary = (e: Event) =>
  e.type === "BOOKMARK"
    ? ["BOOKMARK"]
    : e.type === "INVALID"
    ? ["INVALID"]
    : [e.type, e.object.metadata.name, e.object.metadata.labels?.["tier"] ?? "", e.object.metadata.resourceVersion ?? ""]

const changes = (events: ReadonlyArray<Event>) => events.filter((e) => e.type !== "BOOKMARK").map(summary)

// etcd without the watch cache: compaction alone makes an old resourceVersion expire
contract("watch", { watchCache: false }, (it) => {
  it.effect("without a resourceVersion: the current objects as ADDED, then the changes", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const a = yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const b = yield* client.create(Kind.ConfigMap, { metadata: { name: "b", namespace: ns } })
      const fiber = yield* client.watch(Kind.ConfigMap, { namespace: ns }).pipe(
        Stream.filter((e) => e.type !== "BOOKMARK"),
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.sleep("300 millis")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "a" })
      const events = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
      assert.deepStrictEqual(events.slice(0, 2).map(summary), [
        ["ADDED", "a", "", a.metadata.resourceVersion],
        ["ADDED", "b", "", b.metadata.resourceVersion]
      ])
      const deleted = events[2]!
      assert.strictEqual(deleted.type, "DELETED")
      if (deleted.type === "DELETED") {
        assert.strictEqual(deleted.object.metadata.name, "a")
        assert.isAbove(Number(deleted.object.metadata.resourceVersion), Number(b.metadata.resourceVersion), "a new resourceVersion")
      }
    }))

  it.effect("from a resourceVersion: every later change in order; selectors turn leaving into DELETED and entering into ADDED", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* client.create(Kind.ConfigMap, { metadata: { name: "before", namespace: ns, labels: { tier: "web" } } })
      const start = yield* client.list(Kind.ConfigMap, { namespace: ns })
      const all = client.watch(Kind.ConfigMap, { namespace: ns, resourceVersion: start.resourceVersion })
      const web = client.watch(Kind.ConfigMap, { namespace: ns, resourceVersion: start.resourceVersion, labelSelector: "tier=web" })
      const named = client.watch(Kind.ConfigMap, { namespace: ns, resourceVersion: start.resourceVersion, fieldSelector: "metadata.name=x" })
      const collect = (s: Stream.Stream<Event, unknown>, n: number) =>
        s.pipe(Stream.filter((e) => e.type !== "BOOKMARK"), Stream.take(n), Stream.runCollect, Effect.forkChild)
      const allFiber = yield* collect(all, 5)
      const webFiber = yield* collect(web, 4)
      const namedFiber = yield* collect(named, 3)
      yield* Effect.sleep("300 millis")

      const x = yield* client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: ns, labels: { tier: "db" } } })
      const xWeb = yield* client.patch(Kind.ConfigMap, { namespace: ns, name: "x" }, Patch.merge({ metadata: { labels: { tier: "web" } } }))
      const xDb = yield* client.patch(Kind.ConfigMap, { namespace: ns, name: "x" }, Patch.merge({ metadata: { labels: { tier: "db" } } }))
      const y = yield* client.create(Kind.ConfigMap, { metadata: { name: "y", namespace: ns, labels: { tier: "web" } } })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "before" })

      const rv = (o: { metadata: Kind.ObjectMeta }) => o.metadata.resourceVersion ?? ""
      const allEvents = yield* Fiber.join(allFiber).pipe(Effect.timeout("10 seconds"))
      assert.deepStrictEqual(changes(allEvents).slice(0, 4), [
        ["ADDED", "x", "db", rv(x)],
        ["MODIFIED", "x", "web", rv(xWeb)],
        ["MODIFIED", "x", "db", rv(xDb)],
        ["ADDED", "y", "web", rv(y)]
      ])
      const webEvents = changes(yield* Fiber.join(webFiber).pipe(Effect.timeout("10 seconds")))
      // leaving the selector: DELETED with the object as it was, at the new resourceVersion
      assert.deepStrictEqual(webEvents.slice(0, 3), [
        ["ADDED", "x", "web", rv(xWeb)],
        ["DELETED", "x", "web", rv(xDb)],
        ["ADDED", "y", "web", rv(y)]
      ])
      const last = webEvents[3]!
      assert.deepStrictEqual(last.slice(0, 3), ["DELETED", "before", "web"])
      assert.deepStrictEqual(
        changes(yield* Fiber.join(namedFiber).pipe(Effect.timeout("10 seconds"))),
        [["ADDED", "x", "db", rv(x)], ["MODIFIED", "x", "web", rv(xWeb)], ["MODIFIED", "x", "db", rv(xDb)]]
      )
    }))

  it.effect("a resourceVersion older than the retained history: an in-stream 410 Expired, typed Gone", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const backend = yield* Backend
      const ns = yield* freshNamespace()
      const first = yield* client.create(Kind.ConfigMap, { metadata: { name: "old", namespace: ns }, data: { k: "1" } })
      // two later writes, so that the watch's first revision lies strictly below the compaction
      const second = yield* client.replace(Kind.ConfigMap, { ...first, data: { k: "2" } })
      yield* client.replace(Kind.ConfigMap, { ...second, data: { k: "3" } })
      yield* backend.compact
      const exit = yield* client.watch(Kind.ConfigMap, { namespace: ns, resourceVersion: first.metadata.resourceVersion! }).pipe(
        Stream.runCollect,
        Effect.timeout("10 seconds"),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error?: { _tag: string; detail: string } }).error : undefined
      assert.strictEqual(error?._tag, "Gone")
      assert.strictEqual(error?.detail, "The resourceVersion for the provided watch is too old.")

      const listed = yield* backend.send({
        method: "GET",
        path: `/api/v1/namespaces/${ns}/configmaps?resourceVersion=${first.metadata.resourceVersion}&resourceVersionMatch=Exact`
      })
      assert.deepStrictEqual(listed, {
        status: 410,
        body: failureStatus(410, "Expired", "The resourceVersion for the provided list is too old.")
      })
    }))

  it.effect("a continue token from before a compaction answers 410 with a token to go on inconsistently", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const backend = yield* Backend
      const ns = yield* freshNamespace()
      for (const name of ["a", "b", "c"]) yield* client.create(Kind.ConfigMap, { metadata: { name, namespace: ns } })
      const first = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?limit=1` })
      const created = yield* client.create(Kind.ConfigMap, { metadata: { name: "d", namespace: ns } })
      yield* client.replace(Kind.ConfigMap, { ...created, data: { k: "1" } })
      yield* backend.compact
      const expired = yield* backend.send({
        method: "GET",
        path: `/api/v1/namespaces/${ns}/configmaps?limit=1&continue=${encodeURIComponent(first.body.metadata.continue)}`
      })
      assert.strictEqual(expired.status, 410)
      assert.strictEqual(expired.body.reason, "Expired")
      assert.match(expired.body.message, /^The provided continue parameter is too old to display a consistent list result\./)
      const inconsistent = yield* backend.send({
        method: "GET",
        path: `/api/v1/namespaces/${ns}/configmaps?limit=10&continue=${encodeURIComponent(expired.body.metadata.continue)}`
      })
      assert.strictEqual(inconsistent.status, 200)
      assert.deepStrictEqual(inconsistent.body.items.map((i: any) => i.metadata.name), ["b", "c", "d"])
    }))

  it.effect("watch errors before any event are HTTP answers: unknown resource 404, bad selector 400", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const Missing = Kind.customSchema({
        group: "missing.contract.operatorkit.dev",
        version: "v1",
        kind: "Missing",
        namespaced: true,
        schema: Kind.object({})
      })
      const missing = yield* Effect.flip(Stream.runCollect(client.watch(Missing, { namespace: ns })))
      assert.strictEqual(missing._tag, "NotFound")
      const bad = yield* Effect.flip(Stream.runCollect(client.watch(Kind.ConfigMap, { namespace: ns, fieldSelector: "spec.x=1" })))
      assert.strictEqual(bad._tag, "ApiError")
      if (bad._tag === "ApiError") {
        assert.strictEqual(bad.code, 400)
        assert.strictEqual(bad.detail, `"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"`)
      }
    }))
})
