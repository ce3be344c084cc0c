import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Helpers from "../../src/testing/helpers.ts"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"

const cm = (name: string, namespace = "default", data: Record<string, string> = { k: "v" }) => ({ metadata: { name, namespace }, data })

const Widget = Kind.custom({
  group: "unit.operatorkit.dev",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Kind.Open({ size: Schema.optionalKey(Schema.Number) }),
  status: Kind.Open({}),
  subresources: { status: true }
})

/** Lets forked fibers take what was sent to them. */
// fibers run, time stands still
const settle = Helpers.settle(20, 0)

/** Lets forked fibers run until `n` watches are open on the server. */
const watchesOpen = (server: TestServer.TestServerService, n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && (yield* server.openWatches) !== n; i++) yield* Effect.yieldNow
    assert.strictEqual(yield* server.openWatches, n)
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error?: E }).error : undefined

describe("Testing", () => {
  describe("layers", () => {
    it.effect("layer provides the Client and the TestServer handle of the same server", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const server = yield* TestServer.TestServer
        yield* client.create(Kind.ConfigMap, cm("a"))
        assert.deepStrictEqual((yield* server.objects(Kind.ConfigMap)).map((o) => o.metadata.name), ["a"])
        assert.deepStrictEqual(
          (yield* server.objects(Kind.Namespace)).map((o) => o.metadata.name),
          ["default", "kube-node-lease", "kube-public", "kube-system"]
        )
      }).pipe(Effect.provide(TestServer.layer())))

    it.effect("layer(options): namespaces, extra kinds, client options", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const server = yield* TestServer.TestServer
        assert.deepStrictEqual((yield* server.objects(Kind.Namespace)).map((o) => o.metadata.name), ["team-a"])
        const w = yield* client.create(Widget, { metadata: { name: "w", namespace: "team-a" }, spec: { size: 1 } })
        assert.strictEqual(w.metadata.generation, 1)
      }).pipe(Effect.provide(TestServer.layer({ namespaces: ["team-a"], kinds: [Widget] }))))

    it.effect("makeServer gives independent servers", () =>
      Effect.gen(function*() {
        const a = yield* TestServer.make()
        const b = yield* TestServer.make()
        yield* a.client.create(Kind.ConfigMap, cm("only-a"))
        assert.strictEqual((yield* b.objects(Kind.ConfigMap)).length, 0)
      }))
  })

  describe("time comes from the Clock", () => {
    it.effect("creationTimestamp, deletionTimestamp and managedFields times follow TestClock", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* TestClock.setTime(Date.UTC(2030, 0, 2, 3, 4, 5, 678))
        const created = yield* server.client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default", finalizers: ["x.io/f"] } })
        assert.strictEqual(created.metadata.creationTimestamp, "2030-01-02T03:04:05Z")
        yield* TestClock.adjust("90 seconds")
        const deleting = yield* server.client.delete(Kind.ConfigMap, { namespace: "default", name: "a" })
        assert.strictEqual(Option.getOrThrow(deleting).metadata.deletionTimestamp, "2030-01-02T03:05:35Z")
        const ns = (yield* server.objects(Kind.Namespace))[0]!
        assert.strictEqual(ns.metadata.creationTimestamp, "1970-01-01T00:00:00Z", "namespaces made at start, at TestClock's epoch")
      }))

    it.effect("timeoutSeconds ends a watch after that much Clock time, with a bookmark if something changed", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ bookmarkInterval: false })
        const start = yield* server.client.list(Kind.ConfigMap, { namespace: "default" })
        const fiber = yield* server.client.watch(Kind.ConfigMap, {
          namespace: "default",
          resourceVersion: start.resourceVersion,
          labelSelector: "none=1",
          timeoutSeconds: 30
        }).pipe(Stream.runCollect, Effect.forkChild)
        yield* watchesOpen(server, 1)
        yield* server.client.create(Kind.ConfigMap, cm("unseen"))
        yield* TestClock.adjust("29 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("1 second")
        const events = yield* Fiber.join(fiber)
        assert.deepStrictEqual(events, [{ type: "BOOKMARK", resourceVersion: yield* server.resourceVersion }])
        assert.strictEqual(yield* server.openWatches, 0)
      }))

    it.effect("bookmarks every bookmarkInterval of Clock time, only once the resourceVersion moved; on demand always", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ bookmarkInterval: "1 minute" })
        const events: Array<Client.WatchEvent<unknown>> = []
        yield* server.client.watch(Kind.ConfigMap, { namespace: "default", labelSelector: "none=1" }).pipe(
          Stream.runForEach((e) => Effect.sync(() => events.push(e))),
          Effect.forkChild
        )
        const withoutBookmarks = yield* server.client.watch(Kind.ConfigMap, { namespace: "default", allowBookmarks: false }).pipe(
          Stream.runCollect,
          Effect.forkChild
        )
        yield* watchesOpen(server, 2)
        yield* TestClock.adjust("1 minute")
        yield* settle
        assert.deepStrictEqual(events, [], "nothing changed: no bookmark")
        yield* server.client.create(Kind.ConfigMap, cm("x"))
        yield* TestClock.adjust("1 minute")
        yield* settle
        assert.deepStrictEqual(events, [{ type: "BOOKMARK", resourceVersion: yield* server.resourceVersion }])
        assert.strictEqual(yield* server.bookmark, 1, "only the watch that asked for bookmarks")
        yield* settle
        assert.strictEqual(events.length, 2)
        yield* Fiber.interrupt(withoutBookmarks)
      }))

    it.effect("an injected delay past the call's deadline times out on the Clock", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ client: { timeout: "5 seconds" } })
        yield* server.failNext({ verb: "get", delay: "1 minute" })
        const fiber = yield* Effect.forkChild(Effect.exit(server.client.get(Kind.Namespace, { name: "default" })))
        yield* TestClock.adjust("5 seconds")
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error?._tag, "RequestTimeout")
        yield* server.failNext({ verb: "get", delay: "2 seconds" })
        const slow = yield* Effect.forkChild(server.client.get(Kind.Namespace, { name: "default" }))
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual((yield* Fiber.join(slow)).metadata.name, "default")
      }))
  })

  describe("fault injection", () => {
    it.effect("fails the next N calls of a verb, optionally for one kind, with the given Status", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = server.client
        yield* client.create(Kind.ConfigMap, cm("a"))
        yield* server.failNext({ verb: "get", kind: Kind.ConfigMap, times: 2, code: 503, message: "etcd is down" })
        assert.strictEqual((yield* client.get(Kind.Namespace, { name: "default" })).metadata.name, "default", "other kinds pass")
        for (let i = 0; i < 2; i++) {
          const error = yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: "default", name: "a" }))
          assert.strictEqual(error._tag, "ServerError")
          if (error._tag === "ServerError") {
            assert.strictEqual(error.code, 503)
            assert.strictEqual(error.reason, "ServiceUnavailable")
            assert.strictEqual(error.detail, "etcd is down")
          }
        }
        assert.strictEqual((yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })).metadata.name, "a")

        yield* server.failNext({ verb: "update", code: 409 })
        const conflict = yield* Effect.flip(client.replace(Kind.ConfigMap, cm("a")))
        assert.strictEqual(conflict._tag, "Conflict")
        yield* server.failNext({ verb: "delete", code: 403, message: `configmaps "a" is forbidden: User "u" cannot delete resource "configmaps" in API group "" in the namespace "default"` })
        const forbidden = yield* Effect.flip(client.delete(Kind.ConfigMap, { namespace: "default", name: "a" }))
        assert.strictEqual(forbidden._tag, "Forbidden")
        if (forbidden._tag === "Forbidden") {
          assert.strictEqual(forbidden.verb, "delete")
          assert.strictEqual(forbidden.resource, "configmaps")
          assert.strictEqual(forbidden.namespace, "default")
        }
        yield* server.failNext({ verb: "create", disconnect: true })
        const dropped = yield* Effect.flip(client.create(Kind.ConfigMap, cm("b")))
        assert.strictEqual(dropped._tag, "TransportError")
        if (dropped._tag === "TransportError") assert.strictEqual(dropped.code, "ECONNRESET")
        yield* server.failNext({ verb: "list", code: 500 })
        yield* server.clearFaults
        assert.strictEqual((yield* client.list(Kind.ConfigMap, { namespace: "default" })).items.length, 1)
      }))

    it.effect("429 with Retry-After: the Client waits (Clock time) and retries", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* server.failNext({ verb: "list", code: 429, retryAfterSeconds: 7, times: 2 })
        const fiber = yield* Effect.forkChild(server.client.list(Kind.ConfigMap, { namespace: "default" }))
        yield* TestClock.adjust("7 seconds")
        assert.isUndefined(fiber.pollUnsafe())
        yield* TestClock.adjust("7 seconds")
        assert.strictEqual((yield* Fiber.join(fiber)).items.length, 0)
        assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 3)
        yield* server.failNext({ verb: "list", code: 429, retryAfterSeconds: 1, times: 4 })
        const exhausted = yield* Effect.forkChild(Effect.flip(server.client.list(Kind.ConfigMap, { namespace: "default" })))
        yield* TestClock.adjust("3 seconds")
        const error = yield* Fiber.join(exhausted)
        assert.strictEqual(error._tag, "TooManyRequests")
        if (error._tag === "TooManyRequests") assert.strictEqual(error.retryAfterSeconds, 1)
      }))

    it.effect("watch faults: refused with a status, an in-stream 410, a dropped connection", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* server.failNext({ verb: "watch", code: 500 })
        const refused = yield* Effect.flip(Stream.runCollect(server.client.watch(Kind.ConfigMap, { namespace: "default" })))
        assert.strictEqual(refused._tag, "ServerError")
        yield* server.failNext({ verb: "watch", code: 410, message: "too old resource version: 1 (5)" })
        const gone = yield* Effect.flip(Stream.runCollect(server.client.watch(Kind.ConfigMap, { namespace: "default" })))
        assert.strictEqual(gone._tag, "Gone")
        yield* server.failNext({ verb: "watch", disconnect: true })
        const dropped = yield* Effect.flip(Stream.runCollect(server.client.watch(Kind.ConfigMap, { namespace: "default" })))
        assert.strictEqual(dropped._tag, "TransportError")
        assert.strictEqual(yield* server.calls("watch"), 3)
      }))

    it.effect("cutWatches fails every open watch with a TransportError, after the events already sent", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        yield* server.client.create(Kind.ConfigMap, cm("a"))
        const seen: Array<string> = []
        const fibers = yield* Effect.forEach([Kind.ConfigMap, Kind.Namespace], (kind) =>
          server.client.watch(kind as Kind.Kind<Kind.KubeObject>).pipe(
            Stream.runForEach((e) => Effect.sync(() => seen.push(e.type === "ADDED" ? e.object.metadata.name : e.type))),
            Effect.exit,
            Effect.forkChild
          ))
        yield* watchesOpen(server, 2)
        assert.strictEqual(yield* server.cutWatches, 2)
        for (const fiber of fibers) {
          const error = failureOf(yield* Fiber.join(fiber))
          assert.strictEqual(error?._tag, "TransportError")
          assert.strictEqual((error as { code?: string }).code, "ECONNRESET")
        }
        assert.include(seen, "a")
        assert.strictEqual(yield* server.openWatches, 0)
      }))

    it.effect("counts calls per verb and kind; resetCalls starts over", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = server.client
        yield* client.list(Kind.ConfigMap, { namespace: "default" })
        yield* client.list(Kind.ConfigMap)
        yield* client.list(Kind.Secret, { namespace: "default" })
        yield* client.create(Kind.ConfigMap, cm("a"))
        yield* client.getStatus(Kind.Namespace, { name: "default" })
        yield* Stream.runCollect(client.listPages(Kind.ConfigMap, { namespace: "default", limit: 1 }))
        assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), 3)
        assert.strictEqual(yield* server.calls("list"), 4)
        assert.strictEqual(yield* server.calls("create", Kind.ConfigMap), 1)
        assert.strictEqual(yield* server.calls("get", Kind.Namespace), 1)
        assert.strictEqual(yield* server.calls("delete"), 0)
        yield* server.resetCalls
        assert.strictEqual(yield* server.calls("list"), 0)
      }))
  })

  describe("state", () => {
    it.effect("answers and stored objects never alias what callers hold", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const body = { metadata: { name: "a", namespace: "default", labels: { l: "1" } }, data: { k: "v" } }
        const created = yield* server.client.create(Kind.ConfigMap, body)
        body.metadata.labels.l = "mutated"
        ;(created.data as Record<string, string>)["k"] = "mutated"
        const raw = yield* transportOf(server).request({ method: "GET", path: "/api/v1/namespaces/default/configmaps/a", timeoutMs: 1000, info: { verb: "get", path: "" } })
        ;(raw.body as { data: Record<string, string> }).data["k"] = "mutated too"
        const stored = (yield* server.objects(Kind.ConfigMap))[0]!
        assert.deepStrictEqual(stored.data, { k: "v" })
        assert.deepStrictEqual(stored.metadata.labels, { l: "1" })
      }))

    it.effect("compact expires older resourceVersions; historyLimit compacts on its own", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ historyLimit: 3 })
        const first = yield* server.client.create(Kind.ConfigMap, cm("a"))
        // 4 later changes, 3 kept: the change right after `first` is gone
        for (let i = 0; i < 4; i++) yield* server.client.create(Kind.ConfigMap, cm(`b${i}`))
        const expired = yield* Effect.flip(Stream.runCollect(server.client.watch(Kind.ConfigMap, { resourceVersion: first.metadata.resourceVersion! })))
        assert.strictEqual(expired._tag, "Gone")
        const recent = yield* server.resourceVersion
        yield* server.client.create(Kind.ConfigMap, cm("c"))
        assert.strictEqual(yield* server.compact, String(Number(recent) + 1))
        const gone = yield* Effect.flip(Stream.runCollect(server.client.watch(Kind.ConfigMap, { resourceVersion: String(Number(recent) - 1) })))
        assert.strictEqual(gone._tag, "Gone")
        // the change at the compaction point is kept: a watch from just before it still works
        const fiber = yield* server.client.watch(Kind.ConfigMap, { resourceVersion: recent }).pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
        const [event] = yield* Fiber.join(fiber)
        assert.strictEqual(event?.type === "ADDED" ? event.object.metadata.name : "", "c")
      }))

    it.effect("registerKind serves a custom kind without a CRD; objects decodes with the kind's Schema", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const missing = yield* Effect.flip(server.client.list(Widget, { namespace: "default" }))
        assert.strictEqual(missing._tag, "NotFound")
        yield* server.registerKind(Widget)
        yield* server.client.create(Widget, { metadata: { name: "w", namespace: "default" }, spec: { size: 2 } })
        const [w] = yield* server.objects(Widget, { namespace: "default" })
        assert.strictEqual(w?.spec.size, 2)
        assert.strictEqual(w?.apiVersion, "unit.operatorkit.dev/v1")
        const strategic = yield* transportOf(server).request({
          method: "PATCH",
          path: "/apis/unit.operatorkit.dev/v1/namespaces/default/widgets/w",
          body: { spec: { size: 3 } },
          contentType: "application/strategic-merge-patch+json",
          timeoutMs: 1000,
          info: { verb: "patch", path: "" }
        })
        assert.strictEqual(strategic.status, 415)
        const refused = yield* Effect.flip(server.client.patch(Widget, { namespace: "default", name: "w" }, Patch.strategic({}) as never))
        assert.strictEqual(refused._tag, "InvalidRequest", "the Client refuses before sending")
      }))

    it.effect("deleting a namespace deletes its objects (finalizers respected), then the namespace; no new content meanwhile", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make({ namespaces: ["default", "doomed"] })
        const client = server.client
        yield* client.create(Kind.ConfigMap, cm("plain", "doomed"))
        yield* client.create(Kind.ConfigMap, { metadata: { name: "held", namespace: "doomed", finalizers: ["x.io/f"] } })
        yield* client.delete(Kind.Namespace, { name: "doomed" })
        const ns = yield* client.get(Kind.Namespace, { name: "doomed" })
        assert.strictEqual(ns.status?.phase, "Terminating")
        assert.deepStrictEqual((yield* server.objects(Kind.ConfigMap, { namespace: "doomed" })).map((o) => o.metadata.name), ["held"])
        const refused = yield* Effect.flip(client.create(Kind.ConfigMap, cm("late", "doomed")))
        assert.strictEqual(refused._tag, "Forbidden")
        const held = yield* client.get(Kind.ConfigMap, { namespace: "doomed", name: "held" })
        assert.isString(held.metadata.deletionTimestamp)
        yield* client.patch(Kind.ConfigMap, { namespace: "doomed", name: "held" }, Patch.merge({ metadata: { finalizers: null } }))
        assert.strictEqual((yield* Effect.flip(client.get(Kind.Namespace, { name: "doomed" })))._tag, "NotFound")
      }))

    it.effect("a CRD created through the Client serves its kind at once; deleting it stops serving it and ends its watches", () =>
      Effect.gen(function*() {
        const server = yield* TestServer.make()
        const client = server.client
        yield* client.create(Kind.CustomResourceDefinition, {
          metadata: { name: "widgets.unit.operatorkit.dev" },
          spec: {
            group: "unit.operatorkit.dev",
            scope: "Namespaced",
            names: { plural: "widgets", kind: "Widget" },
            versions: [{ name: "v1", served: true, storage: true, subresources: { status: {} } }]
          }
        })
        const crd = yield* client.get(Kind.CustomResourceDefinition, { name: "widgets.unit.operatorkit.dev" })
        assert.isTrue(crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"))
        yield* client.create(Widget, { metadata: { name: "w", namespace: "default" }, spec: {} })
        const fiber = yield* client.watch(Widget, { namespace: "default" }).pipe(Stream.runCollect, Effect.forkChild)
        yield* watchesOpen(server, 1)
        yield* client.delete(Kind.CustomResourceDefinition, { name: "widgets.unit.operatorkit.dev" })
        const events = yield* Fiber.join(fiber)
        assert.deepStrictEqual(events.map((e) => e.type), ["ADDED", "DELETED"])
        assert.strictEqual((yield* Effect.flip(client.list(Widget, { namespace: "default" })))._tag, "NotFound")
        const invalid = yield* Effect.flip(client.create(Kind.CustomResourceDefinition, {
          metadata: { name: "wrong" },
          spec: { group: "x.io", scope: "Namespaced", names: { plural: "things", kind: "Thing" }, versions: [] }
        }))
        assert.strictEqual(invalid._tag, "Invalid")
        if (invalid._tag === "Invalid") assert.deepStrictEqual(invalid.causes.map((c) => c.field), ["metadata.name", "spec.versions"])
      }))
  })
})
