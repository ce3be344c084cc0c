import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Events from "../../src/Events.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

const events = (namespace = "default") =>
  Effect.flatMap(TestServer.TestServer, (server) => server.objects(Kind.Event, { namespace }))

const configMap = (name = "settings") =>
  Effect.flatMap(Client.Client, (client) => client.create(Kind.ConfigMap, { metadata: { name, namespace: "default" } }))

describe("Events.Recorder (in-memory API server, TestClock)", () => {
  it.effect("writes a core/v1 Event about the object: involvedObject, source, reason, message, count and timestamps", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      yield* TestClock.adjust("90 seconds")
      const recorder = yield* Events.make({ component: "tenant-operator", host: "pod-1" })
      yield* recorder.normal(cm, "Synced", "configuration applied")
      yield* recorder.flush
      const [event, ...rest] = yield* events()
      assert.strictEqual(rest.length, 0)
      assert.match(event!.metadata.name, /^settings\.[0-9a-f]+$/)
      assert.deepStrictEqual(event!.involvedObject, {
        apiVersion: "v1",
        kind: "ConfigMap",
        name: "settings",
        namespace: "default",
        uid: cm.metadata.uid!,
        resourceVersion: cm.metadata.resourceVersion!
      })
      assert.strictEqual(event!.type, "Normal")
      assert.strictEqual(event!.reason, "Synced")
      assert.strictEqual(event!.message, "configuration applied")
      assert.strictEqual(event!.count, 1)
      assert.strictEqual(event!.firstTimestamp, "1970-01-01T00:01:30Z")
      assert.strictEqual(event!.lastTimestamp, "1970-01-01T00:01:30Z")
      assert.deepStrictEqual(event!.source, { component: "tenant-operator", host: "pod-1" })
      assert.strictEqual(event!.reportingComponent, "tenant-operator")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("repeats of the same event patch count and lastTimestamp of one Event", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      const recorder = yield* Events.make()
      for (let i = 0; i < 3; i++) {
        yield* recorder.warning(cm, "ReconcileError", "quota exceeded")
        yield* recorder.flush
        yield* TestClock.adjust("10 seconds")
      }
      const all = yield* events()
      assert.strictEqual(all.length, 1)
      assert.strictEqual(all[0]!.count, 3)
      assert.strictEqual(all[0]!.firstTimestamp, "1970-01-01T00:00:00Z")
      assert.strictEqual(all[0]!.lastTimestamp, "1970-01-01T00:00:20Z")
      // another message, type or object is another Event
      yield* recorder.warning(cm, "ReconcileError", "quota exceeded again")
      yield* recorder.normal(cm, "ReconcileError", "quota exceeded")
      yield* recorder.warning(yield* configMap("other"), "ReconcileError", "quota exceeded")
      yield* recorder.flush
      assert.strictEqual((yield* events()).length, 4)
      assert.deepStrictEqual(yield* recorder.stats, { recorded: 6, created: 4, aggregated: 2, dropped: 0, failed: 0 })
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("more than ten different messages for one reason within ten minutes are combined into one Event", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      const recorder = yield* Events.make()
      for (let i = 0; i < 14; i++) yield* recorder.warning(cm, "Failed", `attempt ${i} failed`)
      yield* recorder.flush
      const all = yield* events()
      assert.strictEqual(all.length, 11, "ten distinct Events and one combined")
      const combined = all.filter((e) => e.message?.startsWith("(combined from similar events): "))
      assert.strictEqual(combined.length, 1)
      assert.strictEqual(combined[0]!.count, 4)
      assert.strictEqual(combined[0]!.message, "(combined from similar events): attempt 13 failed")
      // after the window, messages stand alone again
      yield* TestClock.adjust("11 minutes")
      yield* recorder.warning(cm, "Failed", "a new problem")
      yield* recorder.flush
      assert.isTrue((yield* events()).some((e) => e.message === "a new problem"))
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("a token bucket per object: a burst of 25, then one Event per 5 minutes; other objects are unaffected", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      const recorder = yield* Events.make()
      for (let i = 0; i < 30; i++) yield* recorder.normal(cm, `Reason${i}`, "m")
      yield* recorder.normal(yield* configMap("other"), "Reason", "m")
      yield* recorder.flush
      assert.strictEqual((yield* events()).filter((e) => e.involvedObject.name === "settings").length, 25)
      assert.strictEqual((yield* events()).filter((e) => e.involvedObject.name === "other").length, 1)
      assert.strictEqual((yield* recorder.stats).dropped, 5)
      yield* TestClock.adjust("4 minutes")
      yield* recorder.normal(cm, "Late", "m")
      yield* TestClock.adjust("1 minute")
      yield* recorder.normal(cm, "Later", "m")
      yield* recorder.normal(cm, "TooSoon", "m")
      yield* recorder.flush
      const reasons = (yield* events()).map((e) => e.reason)
      assert.isFalse(reasons.includes("Late"))
      assert.isTrue(reasons.includes("Later"))
      assert.isFalse(reasons.includes("TooSoon"))
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("writing never fails the caller: transient errors are retried, then the Event is given up with a log", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const cm = yield* configMap()
      const recorder = yield* Events.make({ attempts: 3, retryDelay: "1 second" })
      // two failures, then success on the third attempt
      yield* server.failNext({ verb: "create", kind: Kind.Event, code: 503, times: 2 })
      yield* recorder.warning(cm, "A", "first")
      const flushing = yield* Effect.forkChild(recorder.flush)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(flushing)
      assert.deepStrictEqual((yield* events()).map((e) => e.reason), ["A"])
      // three failures: given up
      yield* server.failNext({ verb: "create", kind: Kind.Event, code: 503, times: 3 })
      yield* recorder.warning(cm, "B", "second")
      const again = yield* Effect.forkChild(recorder.flush)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(again)
      assert.strictEqual((yield* recorder.stats).failed, 1)
      // a refusal (403) is not retried
      yield* server.failNext({ verb: "create", kind: Kind.Event, code: 403 })
      yield* recorder.warning(cm, "C", "third")
      yield* recorder.flush
      assert.strictEqual((yield* recorder.stats).failed, 2)
      assert.strictEqual(yield* server.calls("create", Kind.Event), 1 + 2 + 3 + 1)
      // and the recorder goes on
      yield* recorder.warning(cm, "D", "fourth")
      yield* recorder.flush
      assert.deepStrictEqual((yield* events()).map((e) => e.reason).sort(), ["A", "D"])
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("a repeat of an Event that expired creates a new one", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const cm = yield* configMap()
      const recorder = yield* Events.make()
      yield* recorder.warning(cm, "A", "m")
      yield* recorder.flush
      const [first] = yield* events()
      yield* client.delete(Kind.Event, { namespace: "default", name: first!.metadata.name })
      yield* recorder.warning(cm, "A", "m")
      yield* recorder.flush
      const all = yield* events()
      assert.strictEqual(all.length, 1)
      assert.notStrictEqual(all[0]!.metadata.name, first!.metadata.name)
      assert.strictEqual(all[0]!.count, 1)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("Events about cluster-scoped objects go to the default namespace; the component can be set per Event", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* client.create(Kind.Namespace, { metadata: { name: "team-a" } })
      const recorder = yield* Events.make()
      yield* recorder.record(ns, { type: "Normal", reason: "Adopted", message: "m", component: "namespace-controller" })
      yield* recorder.flush
      const [event] = yield* events("default")
      assert.strictEqual(event!.involvedObject.kind, "Namespace")
      assert.isUndefined(event!.involvedObject.namespace)
      assert.strictEqual(event!.source?.component, "namespace-controller")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("long messages are truncated to 1024 characters", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      const recorder = yield* Events.make()
      yield* recorder.warning(cm, "Long", "x".repeat(5000))
      yield* recorder.flush
      const [event] = yield* events()
      assert.strictEqual(event!.message!.length, 1024)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("recordIfPresent records with a recorder in context and is a no-op without", () =>
    Effect.gen(function*() {
      const cm = yield* configMap()
      yield* Events.recordIfPresent(cm, { type: "Normal", reason: "Nobody", message: "listening" })
      const recorder = yield* Events.make()
      yield* Events.recordIfPresent(cm, { type: "Normal", reason: "Somebody", message: "listening" }).pipe(
        Effect.provideService(Events.Recorder, recorder)
      )
      yield* recorder.flush
      assert.deepStrictEqual((yield* events()).map((e) => e.reason), ["Somebody"])
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))
})

describe("a Controller with a Recorder in context", () => {
  it.effect("records a Warning Event on the object of each failed reconcile, aggregated on repeats", () =>
    Effect.gen(function*() {
      const recorder = yield* Events.make()
      let failures = 0
      const failing = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({
        name: "quota",
        ensureCreated: () => Effect.suspend(() => (failures++, Effect.fail(new Error("tenant quota exceeded: 12 of 10 namespaces")))),
        ensureDeleted: () => Effect.void
      })
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "tenants", kind: Kind.ConfigMap, namespace: "default", resources: [failing] }).pipe(
        Effect.provideService(Events.Recorder, recorder)
      )
      yield* controller.synced
      const cm = yield* configMap("tenant-a")
      // backoff 0.2 s, 0.4 s, 0.8 s: four attempts within 1.5 s
      for (let i = 0; i < 300 && failures < 4; i++) yield* TestClock.adjust("5 millis")
      assert.strictEqual(failures, 4)
      yield* recorder.flush
      const all = yield* events()
      assert.strictEqual(all.length, 1)
      const [event] = all
      assert.strictEqual(event!.type, "Warning")
      assert.strictEqual(event!.reason, "ReconcileError")
      assert.strictEqual(event!.message, "tenant quota exceeded: 12 of 10 namespaces")
      assert.strictEqual(event!.count, 4)
      assert.strictEqual(event!.involvedObject.uid, cm.metadata.uid)
      assert.strictEqual(event!.source?.component, "tenants")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))
})
