/**
 * Objects that stop decoding (another writer, or a tightened Schema, left them so), on the
 * in-memory server with TestClock: reported where their owner looks (a Warning Event naming the
 * failing path, a log line, the informer's counter), retried with backoff until a fix unblocks
 * them, and, once deleted with our finalizer on them, handled by the documented policy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, type Duration, Effect, Logger, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Controller from "../../src/Controller.ts"
import * as Events from "../../src/Events.ts"
import * as Framework from "../../src/Framework.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { openKind } from "../support/crds.ts"

const ns = "default"
const group = "undecodable.operatorkit.test"
/** What the server stores: any spec. */
const Open = openKind(group, "Widget")
/** What the operator decodes: `spec.size` must be an integer. */
const Widget = Kind.custom({
  group,
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ size: Schema.Int }),
  status: Kind.Open({}),
  subresources: { status: true }
})
type Widget = Kind.Type<typeof Widget>
const F = `${group}/widgets`

const until = (check: () => boolean | Effect.Effect<boolean, any, any>, what: string, maxSteps = 2000, step: Duration.Input = "10 millis") =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      const ok = check()
      if (typeof ok === "boolean" ? ok : yield* ok) return
      yield* Effect.yieldNow
      yield* TestClock.adjust(step)
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

const setup = Effect.gen(function*() {
  const server = yield* TestServer.TestServer
  yield* server.registerKind(Open)
  const calls: Array<string> = []
  const at: Array<number> = []
  const resource = Framework.make<Widget>()({
    name: "record",
    ensureCreated: (w) => Effect.map(Clock.currentTimeMillis, (t) => void (calls.push(`create ${w.metadata.name} size=${w.spec.size}`), at.push(t))),
    ensureDeleted: (w) => Effect.sync(() => void calls.push(`delete ${w.metadata.name} size=${w.spec.size}`))
  })
  const logs: Array<string> = []
  const logger = Logger.make(({ cause, message }) =>
    void logs.push(`${Array.isArray(message) ? message.map(String).join(" ") : String(message)} ${Cause.pretty(cause)}`)
  )
  return { server, calls, at, resource, logs, logger }
})

const warnings = (name: string) =>
  Effect.map(
    Effect.flatMap(TestServer.TestServer, (server) => server.objects(Kind.Event, { namespace: ns })),
    (events) => events.filter((e) => e.involvedObject.name === name && e.type === "Warning").map((e) => `${e.reason}: ${e.message}`)
  )

const write = (name: string, spec: unknown, extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const server = yield* TestServer.TestServer
    const current = yield* server.client.get(Open, { namespace: ns, name }).pipe(Effect.option)
    if (Option.isNone(current)) return yield* server.client.create(Open, { metadata: { name, namespace: ns, ...extra }, spec: spec as any })
    return yield* server.client.replace(Open, { ...current.value, spec: spec as any })
  }).pipe(Effect.orDie)

describe("Controller: objects that do not decode", () => {
  it.effect("reported on the object (a Warning Event naming the failing path), in the logs and the informer's counter; retried with backoff; a fix unblocks it", () =>
    Effect.gen(function*() {
      const { calls, at, resource, logs, logger } = yield* setup
      const controller = yield* Controller.make({ name: "widgets", kind: Widget, namespace: ns, resources: [resource] }).pipe(
        Effect.provideService(Events.Recorder, yield* Events.make({ component: "widgets" })),
        Effect.provide(Logger.layer([logger]))
      )
      yield* write("w", { size: 1 })
      yield* until(() => calls.length === 1, "the first ensureCreated")
      // another writer breaks it
      yield* write("w", { size: "big" })
      yield* until(() => Effect.map(warnings("w"), (w) => w.length > 0), "a Warning Event")
      const [warning] = yield* warnings("w")
      assert.match(warning!, /^DecodeFailed: .*spec\.size/)
      assert.isTrue(logs.some((l) => l.includes("spec.size")), "a log line names the path")
      assert.isAtLeast((yield* controller.informer.stats).decodeFailures, 1)
      // retried with backoff (the work queue's: 200 ms doubling), never reconciled from the stale cache
      yield* TestClock.adjust("5 seconds")
      const failures = (yield* controller.stats).errors
      assert.isAtLeast(failures, 4)
      assert.isAtMost(failures, 6, "backing off, not spinning")
      assert.deepStrictEqual(calls, ["create w size=1"], "nothing ran on the last good copy")
      // the fix: the object decodes again, the next reconcile runs on it
      yield* write("w", { size: 2 })
      yield* until(() => calls.length === 2, "ensureCreated on the fixed object")
      assert.deepStrictEqual(calls, ["create w size=1", "create w size=2"])
      const errors = (yield* controller.stats).errors
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* controller.stats).errors, errors, "no more failures once it decodes")
      assert.isAtLeast(at.length, 2)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("an object created undecodable (never in the cache) is reported too, and the informer's invalid stream names it until it decodes", () =>
    Effect.gen(function*() {
      const { calls, resource } = yield* setup
      const controller = yield* Controller.make({ name: "widgets", kind: Widget, namespace: ns, resources: [resource] }).pipe(
        Effect.provideService(Events.Recorder, yield* Events.make({ component: "widgets" }))
      )
      yield* write("born-bad", { size: "x" })
      yield* until(() => Effect.map(warnings("born-bad"), (w) => w.length > 0), "a Warning Event")
      const seen: Array<Informer.Invalid> = []
      yield* controller.informer.invalid.pipe(Stream.runForEach((i) => Effect.sync(() => void seen.push(i))), Effect.forkScoped)
      yield* until(() => seen.length === 1, "the invalid object, to a late subscriber")
      assert.strictEqual(seen[0]!.key, `${ns}/born-bad`)
      assert.match(seen[0]!.error.issue, /size/)
      yield* write("born-bad", { size: 3 })
      yield* until(() => calls.length === 1, "reconciled once it decodes")
      assert.deepStrictEqual(calls, ["create born-bad size=3"])
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("deleted with our finalizer, by default: the finalizer stays and it keeps being reported; a fix lets ensureDeleted run", () =>
    Effect.gen(function*() {
      const { server, calls, resource } = yield* setup
      yield* Controller.make({ name: "widgets", kind: Widget, namespace: ns, resources: [resource] }).pipe(
        Effect.provideService(Events.Recorder, yield* Events.make({ component: "widgets" }))
      )
      yield* write("w", { size: 1 })
      yield* until(() => calls.length === 1, "created")
      yield* write("w", { size: "big" })
      yield* server.client.delete(Open, { namespace: ns, name: "w" })
      yield* TestClock.adjust("1 minute")
      const held = yield* server.client.get(Open, { namespace: ns, name: "w" })
      assert.deepStrictEqual(held.metadata.finalizers, [F], "kept")
      assert.isString(held.metadata.deletionTimestamp)
      const reported = yield* warnings("w")
      assert.isTrue(reported.some((w) => w.startsWith("DecodeFailed") && w.includes("spec.size") && w.includes("being deleted")))
      assert.deepStrictEqual(calls, ["create w size=1"])
      yield* write("w", { size: 1 })
      yield* until(() => calls.length === 2, "ensureDeleted after the fix", 5000)
      assert.deepStrictEqual(calls, ["create w size=1", "delete w size=1"])
      yield* until(() => Effect.map(server.client.get(Open, { namespace: ns, name: "w" }).pipe(Effect.option), Option.isNone), "gone")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("deleted with our finalizer, \"release\": the finalizer is removed without ensureDeleted, and said so", () =>
    Effect.gen(function*() {
      const { server, calls, resource, logs, logger } = yield* setup
      yield* Controller.make({ name: "widgets", kind: Widget, namespace: ns, resources: [resource], undecodableDeletion: "release" }).pipe(
        Effect.provideService(Events.Recorder, yield* Events.make({ component: "widgets" })),
        Effect.provide(Logger.layer([logger]))
      )
      yield* write("w", { size: 1 })
      yield* until(() => calls.length === 1, "created")
      yield* write("w", { size: "big" })
      yield* server.client.delete(Open, { namespace: ns, name: "w" })
      yield* until(() => Effect.map(server.client.get(Open, { namespace: ns, name: "w" }).pipe(Effect.option), Option.isNone), "gone")
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(calls, ["create w size=1"], "no ensureDeleted on the stale copy, ever")
      assert.isTrue((yield* warnings("w")).some((w) => w.startsWith("FinalizerReleased") && w.includes("spec.size")))
      assert.isTrue(logs.some((l) => l.includes("released") && l.includes("spec.size")))
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("deleted with our finalizer, a hook: it gets the raw object; the finalizer goes once it succeeds, a failure is retried", () =>
    Effect.gen(function*() {
      const { server, calls, resource } = yield* setup
      const seen: Array<unknown> = []
      let failures = 2
      yield* Controller.make({
        name: "widgets",
        kind: Widget,
        namespace: ns,
        resources: [resource],
        undecodableDeletion: (raw, error) =>
          Effect.suspend(() => {
            seen.push({ size: (raw["spec"] as { size: unknown }).size, issue: error.issue.includes("size") })
            return failures-- > 0 ? Effect.fail(new Error("not yet")) : Effect.void
          })
      })
      yield* write("w", { size: 1 })
      yield* until(() => calls.length === 1, "created")
      yield* write("w", { size: "big" })
      yield* server.client.delete(Open, { namespace: ns, name: "w" })
      yield* until(() => Effect.map(server.client.get(Open, { namespace: ns, name: "w" }).pipe(Effect.option), Option.isNone), "gone", 5000)
      assert.deepStrictEqual(seen, [{ size: "big", issue: true }, { size: "big", issue: true }, { size: "big", issue: true }])
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(calls, ["create w size=1"])
      assert.strictEqual(seen.length, 3, "not called again once the finalizer went")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))
})
