/**
 * The Go operatorkit's behaviours (../shared/docs/operatorkit-go.md, lines 1–21), each checked on
 * the in-memory API server with TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, type Duration, Effect, Fiber, Logger, Metric, Option, References, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import { makeReconciliation, runResources } from "../../src/internal/controller/reconciliation.ts"
import type { ApiRequest, Transport } from "../../src/internal/http/transport.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"
import * as HttpClient from "../../src/internal/http/client.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"
const F = (name: string) => `operatorkit.test/${name}`


/** Moves the clock until a condition holds (fails the test after `maxSteps`). */
const until = (check: () => boolean, what: string, maxSteps = 400, step: Duration.Input = "5 millis") =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      if (check()) return
      yield* Effect.yieldNow
      yield* TestClock.adjust(step)
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

interface Call {
  readonly resource: string
  readonly op: string
  readonly name: string
  readonly at: number
}

const recorder = () => {
  const calls: Array<Call> = []
  let now = 0
  const resource = (name: string, opts: { failCreate?: number; failDelete?: number; onCreate?: Effect.Effect<void, never, Framework.Reconciliation>; onDelete?: Effect.Effect<void, never, Framework.Reconciliation> } = {}) => {
    const fail = { create: opts.failCreate ?? 0, delete: opts.failDelete ?? 0 }
    const step = (op: "create" | "delete", cm: ConfigMap) =>
      Effect.gen(function*() {
        now = yield* Clock.currentTimeMillis
        calls.push({ resource: name, op, name: cm.metadata.name, at: now })
        if (op === "create" && opts.onCreate) yield* opts.onCreate
        if (op === "delete" && opts.onDelete) yield* opts.onDelete
        if (fail[op] > 0) {
          fail[op]--
          return yield* Effect.fail(new Error(`${name} ${op} failed on purpose`))
        }
      })
    return Framework.make<ConfigMap>()({
      name,
      ensureCreated: (cm) => step("create", cm),
      ensureDeleted: (cm) => step("delete", cm)
    })
  }
  const of = (filter: (c: Call) => boolean = () => true) => calls.filter(filter).map((c) => `${c.resource} ${c.op} ${c.name}`)
  return { calls, resource, of }
}


const get = (name: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* client.get(Kind.ConfigMap, { namespace: ns, name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
  })

const create = (name: string, extra: Partial<ConfigMap["metadata"]> = {}) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* client.create(Kind.ConfigMap, { metadata: { name, namespace: ns, ...extra } })
  })

/** A transport that lets a test see (and act before) each request. */
const spying = (transport: Transport, before: (req: ApiRequest) => Effect.Effect<void>): Transport => ({
  ...transport,
  request: (req) => Effect.andThen(before(req), transport.request(req))
})

describe("Framework and Controller: the Go operatorkit's behaviours", () => {
  it.effect("1. the finalizer is <prefix>/<controller name>: each controller adds its own, replicas share one, the prefix is configurable", () =>
    Effect.gen(function*() {
      const r = recorder()
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "alpha", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")] })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "alpha", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a-replica")] })
      yield* Controller.make({ name: "beta", kind: Kind.ConfigMap, namespace: ns, finalizerPrefix: "example.com", resources: [r.resource("b")] })
      yield* create("x")
      yield* settle(100)
      const x = Option.getOrThrow(yield* get("x"))
      assert.sameMembers([...x.metadata.finalizers!], [F("alpha"), "example.com/beta"])
    }).pipe(withServer))

  it.effect("2. the first reconcile adds the finalizer with a JSON patch guarded by a test of the resourceVersion, then goes on with ensureCreated", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const requests: Array<ApiRequest> = []
      const client = HttpClient.make(spying(transportOf(server), (req) => Effect.sync(() => requests.push(req))))
      const r = recorder()
      yield* create("x")
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")] }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* until(() => r.calls.length === 1, "ensureCreated").pipe(
        Effect.tapDefect(() => Effect.sync(() => console.log(requests.map((q) => `${q.method} ${q.path}`))))
      )
      const patches = requests.filter((q) => q.method === "PATCH")
      assert.strictEqual(patches.length, 1)
      assert.strictEqual(patches[0]!.contentType, "application/json-patch+json")
      const ops = patches[0]!.body as Array<{ op: string; path: string; value?: unknown }>
      assert.strictEqual(ops[0]!.op, "test")
      assert.strictEqual(ops[0]!.path, "/metadata/resourceVersion")
      assert.deepStrictEqual(ops[1], { op: "add", path: "/metadata/finalizers", value: [F("c")] })
      const x = Option.getOrThrow(yield* get("x"))
      assert.deepStrictEqual(x.metadata.finalizers, [F("c")])
      yield* settle(100)
      assert.strictEqual(r.calls.length, 1, "the finalizer's own update event does not run ensureCreated again")
    }).pipe(withServer))

  it.effect("3. if the freshly read object has a deletionTimestamp, no finalizer is added", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      // the object is deleted on the server just before the controller's fresh read is answered,
      // so its cache still shows it live
      let deleted = false
      const client = HttpClient.make(spying(transportOf(server), (req) => {
        if (deleted || req.method !== "GET" || !req.path.endsWith("/configmaps/x")) return Effect.void
        deleted = true
        return Effect.asVoid(Effect.orDie(server.client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })))
      }))
      const r = recorder()
      yield* create("x", { finalizers: ["other/hold"] })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")] }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* until(() => deleted, "the fresh read")
      yield* settle(100)
      const x = Option.getOrThrow(yield* get("x"))
      assert.isString(x.metadata.deletionTimestamp)
      assert.deepStrictEqual(x.metadata.finalizers, ["other/hold"], "no finalizer added to an object being deleted")
      assert.deepStrictEqual(r.calls, [], "no ensureCreated, and (line 9) no ensureDeleted without our finalizer")
    }).pipe(withServer))

  it.effect("4. for a live object ensureCreated runs once per resource, in order; reconciles of one object never overlap", () =>
    Effect.gen(function*() {
      const r = recorder()
      let inFlight = 0
      let maxInFlight = 0
      const slow = Framework.make<ConfigMap>()({
        name: "slow",
        ensureCreated: () =>
          Effect.gen(function*() {
            inFlight++
            maxInFlight = Math.max(maxInFlight, inFlight)
            yield* Effect.sleep("1 second")
            inFlight--
          }),
        ensureDeleted: () => Effect.void
      })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a"), r.resource("b"), slow, r.resource("c")] })
      yield* create("x")
      yield* until(() => r.calls.length === 3, "first pass", 1000, "10 millis")
      assert.deepStrictEqual(r.of(), ["a create x", "b create x", "c create x"])
      // changes during a reconcile: one follow-up, never two at once
      const client = yield* Client.Client
      for (let i = 0; i < 5; i++) {
        const x = Option.getOrThrow(yield* get("x"))
        yield* client.replace(Kind.ConfigMap, { ...x, data: { i: String(i) } })
        yield* settle(5)
      }
      yield* settle(400, "10 millis")
      assert.strictEqual(maxInFlight, 1)
      assert.isAtMost(r.calls.length / 3, 3)
    }).pipe(withServer))

  it.effect("5. a deleted object with our finalizer gets ensureDeleted for each resource in order; the finalizer goes after all succeeded", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a"), r.resource("b")] })
      yield* create("x", { finalizers: ["other/hold"] })
      yield* until(() => r.calls.length === 2, "created")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* until(() => r.calls.length === 4, "deleted")
      yield* settle(50)
      assert.deepStrictEqual(r.of((c) => c.op === "delete"), ["a delete x", "b delete x"])
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, ["other/hold"], "ours removed, the other kept")
    }).pipe(withServer))

  it.effect("6. deleted while the operator was down: on restart every ensureDeleted runs and only then the finalizer goes", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      const options = { name: "c", kind: Kind.ConfigMap, finalizerPrefix: "operatorkit.test", namespace: ns, resources: [r.resource("a"), r.resource("b")] } as const
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Controller.make(options)
        yield* create("x")
        yield* until(() => r.calls.length === 2, "created")
      }))
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* settle(20)
      assert.isTrue(Option.isSome(yield* get("x")), "held by our finalizer while we are down")
      yield* Controller.make(options)
      yield* until(() => r.calls.length === 4, "cleanup after restart")
      yield* settle(50)
      assert.deepStrictEqual(r.of(), ["a create x", "b create x", "a delete x", "b delete x"])
      assert.isTrue(Option.isNone(yield* get("x")))
    }).pipe(withServer))

  it.effect("7. a failing ensureDeleted keeps the finalizer; deletion is retried with per-key backoff until it succeeds", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a", { failDelete: 3 })] })
      yield* create("x")
      yield* until(() => r.calls.length === 1, "created")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* until(() => r.calls.length === 2, "first delete")
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, [F("c")])
      yield* until(() => r.calls.length === 5, "retries", 2000, "10 millis")
      const deletes = r.calls.filter((c) => c.op === "delete")
      const gaps = deletes.slice(1).map((c, i) => c.at - deletes[i]!.at)
      // the work queue's default backoff: 200 ms doubling
      assert.deepStrictEqual(gaps.map((g) => Math.round(g / 100) * 100), [200, 400, 800])
      yield* settle(50)
      assert.isTrue(Option.isNone(yield* get("x")))
    }).pipe(withServer))

  it.effect("8. at most one successful deletion pass: a resource that fails once sees two ensureDeleted, one that never fails sees one", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "c",
        kind: Kind.ConfigMap,
        namespace: ns,
        resources: [r.resource("flaky", { failDelete: 1 }), r.resource("steady")],
        resyncPeriod: "1 second"
      })
      yield* create("x", { finalizers: ["other/hold"] }) // stays after our cleanup, and keeps being resynced
      yield* until(() => r.calls.length === 2, "created")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* settle(600, "10 millis") // several resyncs
      assert.deepStrictEqual(r.of((c) => c.op === "delete"), ["flaky delete x", "flaky delete x", "steady delete x"])
    }).pipe(withServer))

  it.effect("9. a deleted object without our finalizer never gets ensureDeleted", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* create("x", { finalizers: ["other/hold"] })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")], resyncPeriod: "1 second" })
      yield* settle(300, "10 millis")
      assert.deepStrictEqual(r.calls, [])
    }).pipe(withServer))

  it.effect("10. finalizer removal re-reads and carries a precondition: a concurrent change by another controller is retried, never clobbered; NotFound is done", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const removals: Array<unknown> = []
      let yRemovals = 0
      // right before our first removal patch, the other controller removes its own finalizer
      // (which shifts the list and moves the resourceVersion)
      const client = HttpClient.make(spying(transportOf(server), (req) => {
        const ops = req.body as Array<{ op: string; path: string }> | undefined
        if (req.method !== "PATCH" || !Array.isArray(ops) || ops[1]?.op !== "remove") return Effect.void
        if (req.path.includes("/configmaps/y")) {
          // someone strips every finalizer first: the object is gone when our patch arrives
          return Effect.gen(function*() {
            const y = yield* server.client.get(Kind.ConfigMap, { namespace: ns, name: "y" })
            yield* server.client.replace(Kind.ConfigMap, { ...y, metadata: { ...y.metadata, finalizers: [] } })
            yRemovals++
          }).pipe(Effect.orDie)
        }
        removals.push(ops)
        if (removals.length > 1) return Effect.void
        return Effect.gen(function*() {
          const x = yield* server.client.get(Kind.ConfigMap, { namespace: ns, name: "x" })
          yield* server.client.replace(Kind.ConfigMap, {
            ...x,
            metadata: { ...x.metadata, finalizers: (x.metadata.finalizers ?? []).filter((f) => f !== "other/hold") }
          })
        }).pipe(Effect.orDie)
      }))
      const r = recorder()
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")] }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* create("x", { finalizers: ["other/hold"] })
      yield* until(() => r.calls.length === 1, "created")
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, ["other/hold", F("c")])
      yield* server.client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* until(() => removals.length === 2, "removal retried after the conflict")
      yield* settle(100)
      assert.deepStrictEqual(removals[0], [
        { op: "test", path: "/metadata/resourceVersion", value: (removals[0] as Array<{ value: string }>)[0]!.value },
        { op: "remove", path: "/metadata/finalizers/1" }
      ])
      assert.deepStrictEqual((removals[1] as Array<unknown>)[1], { op: "remove", path: "/metadata/finalizers/0" }, "from a fresh read")
      assert.isTrue(Option.isNone(yield* get("x")), "nothing resurrected: the object is gone")
      assert.deepStrictEqual(r.of((c) => c.op === "delete"), ["a delete x"], "no second deletion pass for the retry")

      // NotFound on the removal patch: done, not an error
      const errorsBefore = (yield* c.stats).errors
      yield* create("y")
      yield* until(() => r.calls.some((c) => c.name === "y"), "y created")
      yield* server.client.delete(Kind.ConfigMap, { namespace: ns, name: "y" })
      yield* until(() => yRemovals === 1, "y removal")
      yield* settle(100)
      assert.isTrue(Option.isNone(yield* get("y")))
      assert.strictEqual((yield* c.stats).errors, errorsBefore)
    }).pipe(withServer))

  it.effect("11. cancel this resource: its remaining steps are skipped, the next resource runs, not an error", () =>
    Effect.gen(function*() {
      const steps: Array<string> = []
      const crud = Framework.crud({
        name: "crud",
        getCurrentState: (_: ConfigMap) => Effect.andThen(Effect.sync(() => steps.push("current")), Framework.cancelResource),
        getDesiredState: () => Effect.sync(() => void steps.push("desired")),
        newUpdatePatch: () => Effect.sync(() => (steps.push("patch"), Framework.patch({ create: 1 }))),
        newDeletePatch: () => Effect.succeed(undefined),
        applyCreateChange: () => Effect.sync(() => void steps.push("create")),
        applyDeleteChange: () => Effect.void,
        applyUpdateChange: () => Effect.void
      })
      const r = recorder()
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [crud, r.resource("next")] })
      yield* create("x")
      yield* until(() => r.calls.length === 1, "next resource")
      assert.deepStrictEqual(steps, ["current"])
      assert.strictEqual((yield* c.stats).errors, 0)
    }).pipe(withServer))

  it.effect("12. cancel the reconciliation: remaining resources skipped, counts as success; on delete the finalizer stays", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      let cancel = true
      const gate = Framework.make<ConfigMap>()({
        name: "gate",
        ensureCreated: () => Framework.cancelReconciliation,
        ensureDeleted: () => (cancel ? Framework.cancelReconciliation : Effect.void)
      })
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [gate, r.resource("after")] })
      yield* create("x")
      yield* settle(50)
      assert.deepStrictEqual(r.calls, [])
      assert.strictEqual((yield* c.stats).errors, 0)
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, [F("c")])
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* settle(50)
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, [F("c")], "finalizer kept")
      cancel = false
      yield* c.queue.add(`${ns}/x`)
      yield* settle(50)
      assert.deepStrictEqual(r.of(), ["after delete x"])
      assert.isTrue(Option.isNone(yield* get("x")))
    }).pipe(withServer))

  it.effect("13. keep finalizers: every resource runs, the finalizer stays", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "c",
        kind: Kind.ConfigMap,
        namespace: ns,
        resources: [r.resource("a", { onDelete: Framework.keepFinalizers }), r.resource("b")]
      })
      yield* create("x")
      yield* until(() => r.calls.length === 2, "created")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      yield* until(() => r.calls.length === 4, "deleted")
      yield* settle(50)
      assert.deepStrictEqual(r.of((c) => c.op === "delete"), ["a delete x", "b delete x"])
      assert.deepStrictEqual(Option.getOrThrow(yield* get("x")).metadata.finalizers, [F("c")])
    }).pipe(withServer))

  it.effect("14. CRUD steps run current → desired → patch → create → delete → update; only set parts apply; no patch, no apply", () =>
    Effect.gen(function*() {
      const steps: Array<string> = []
      let next: Framework.CrudPatch<Array<string>, Array<string>, Array<string>> | undefined
      const crud = Framework.crud({
        name: "crud",
        getCurrentState: (_: ConfigMap) => Effect.sync(() => (steps.push("current"), "cur")),
        getDesiredState: () => Effect.sync(() => (steps.push("desired"), "des")),
        newUpdatePatch: (_, current, desired) => Effect.sync(() => (steps.push(`patch(${current},${desired})`), next)),
        newDeletePatch: () => Effect.succeed(undefined),
        applyCreateChange: (_, c: Array<string>) => Effect.sync(() => void steps.push(`create[${c}]`)),
        applyDeleteChange: (_, d: Array<string>) => Effect.sync(() => void steps.push(`delete[${d}]`)),
        applyUpdateChange: (_, u: Array<string>) => Effect.sync(() => void steps.push(`update[${u}]`))
      })
      const state = (key: string) => makeReconciliation({ controller: "t", key, mode: "create" })
      const object: ConfigMap = { metadata: { name: "x", namespace: ns } }
      next = Framework.patch({ update: ["u"], create: [], delete: ["d"] })
      yield* runResources([crud], object, state("a"))
      assert.deepStrictEqual(steps, ["current", "desired", "patch(cur,des)", "create[]", "delete[d]", "update[u]"])
      steps.length = 0
      next = Framework.patch({ update: ["u"] })
      yield* runResources([crud], object, state("b"))
      assert.deepStrictEqual(steps, ["current", "desired", "patch(cur,des)", "update[u]"])
      steps.length = 0
      next = undefined
      yield* runResources([crud], object, state("c"))
      assert.deepStrictEqual(steps, ["current", "desired", "patch(cur,des)"])
      // cancellation is checked before each step
      steps.length = 0
      next = Framework.patch({ create: ["c"], update: ["u"] })
      const canceling = Framework.crud({
        name: "canceling",
        getCurrentState: (_: ConfigMap) => Effect.succeed(0),
        getDesiredState: () => Effect.succeed(0),
        newUpdatePatch: () => Effect.succeed(next),
        newDeletePatch: () => Effect.succeed(undefined),
        applyCreateChange: () => Effect.andThen(Effect.sync(() => void steps.push("create")), Framework.cancelResource),
        applyDeleteChange: () => Effect.void,
        applyUpdateChange: () => Effect.sync(() => void steps.push("update"))
      })
      yield* runResources([canceling], object, state("d"))
      assert.deepStrictEqual(steps, ["create"])
    }))

  it.effect("15. retry: 3 attempts 1 s apart by default, per CRUD step; the last error propagates; a cancel is never retried", () =>
    Effect.gen(function*() {
      const attempts: Array<number> = []
      let failures = 5
      const flaky = Framework.crud({
        name: "flaky",
        getCurrentState: (_: ConfigMap) => Effect.succeed(0),
        getDesiredState: () =>
          Effect.gen(function*() {
            attempts.push(yield* Clock.currentTimeMillis)
            if (failures-- > 0) return yield* Effect.fail(new Error(`attempt ${attempts.length}`))
            return 0
          }),
        newUpdatePatch: () => Effect.succeed(undefined),
        newDeletePatch: () => Effect.succeed(undefined),
        applyCreateChange: () => Effect.void,
        applyDeleteChange: () => Effect.void,
        applyUpdateChange: () => Effect.void
      }).pipe(Framework.retry())
      const object: ConfigMap = { metadata: { name: "x", namespace: ns } }
      const fiber = yield* runResources([flaky], object, makeReconciliation({ controller: "t", key: "k", mode: "create" })).pipe(
        Effect.flip,
        Effect.forkChild
      )
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual((error as Error).message, "attempt 3", "the last error")
      assert.deepStrictEqual(attempts.map((t) => t - attempts[0]!), [0, 1000, 2000])

      let cancels = 0
      const canceling = Framework.make<ConfigMap>()({
        name: "canceling",
        ensureCreated: () => Effect.andThen(Effect.sync(() => cancels++), Framework.cancelReconciliation),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.retry(Schedule.recurs(5)))
      yield* runResources([canceling], object, makeReconciliation({ controller: "t", key: "k", mode: "create" }))
      assert.strictEqual(cancels, 1)
    }))

  it.effect("16. the metrics wrapper counts every call, failures included, and times it", () =>
    Effect.gen(function*() {
      let fail = true
      const measured = Framework.make<ConfigMap>()({
        name: "measured-16",
        ensureCreated: () => Effect.andThen(Effect.sleep("250 millis"), fail ? Effect.fail(new Error("no")) : Effect.void),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.withMetrics)
      const object: ConfigMap = { metadata: { name: "x", namespace: ns } }
      const run = runResources([measured], object, makeReconciliation({ controller: "t", key: "k", mode: "create" }))
      const first = yield* Effect.forkChild(Effect.exit(run))
      yield* TestClock.adjust("250 millis")
      yield* Fiber.await(first)
      fail = false
      const second = yield* Effect.forkChild(run)
      yield* TestClock.adjust("250 millis")
      yield* Fiber.await(second)
      const snapshot = yield* Metric.snapshot
      const find = (id: string) =>
        snapshot.filter((m) => m.id === id && m.attributes?.["resource"] === "measured-16" && m.attributes?.["operation"] === "ensureCreated")
      assert.strictEqual((find("operatorkit_controller_operation_total")[0]!.state as { count: number }).count, 2)
      assert.strictEqual((find("operatorkit_controller_operation_errors_total")[0]!.state as { count: number }).count, 1)
      const histogram = find("operatorkit_controller_operation")[0]!.state as { count: number; sum: number }
      assert.strictEqual(histogram.count, 2)
      assert.closeTo(histogram.sum, 0.5, 0.001)
    }))

  it.effect("17. a failed reconcile is requeued with per-key exponential backoff (not left for the resync), and counted as controller-runtime counts it", () =>
    Effect.gen(function*() {
      const r = recorder()
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "errors-17", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a", { failCreate: 4 })] })
      yield* create("x")
      yield* until(() => r.calls.length === 5, "retries", 4000, "10 millis")
      const gaps = r.calls.slice(1).map((call, i) => call.at - r.calls[i]!.at)
      assert.deepStrictEqual(gaps.map((g) => Math.round(g / 100) * 100), [200, 400, 800, 1600])
      assert.strictEqual((yield* c.stats).errors, 4)
      const snapshot = yield* Metric.snapshot
      const value = (id: string, attrs: Record<string, string>) =>
        (snapshot.find((m) => m.id === id && Object.entries(attrs).every(([k, v]) => m.attributes?.[k] === v))?.state as { count: number } | undefined)?.count
      assert.strictEqual(value("controller_runtime_reconcile_errors_total", { controller: "errors-17" }), 4)
      assert.strictEqual(value("controller_runtime_reconcile_total", { controller: "errors-17", result: "error" }), 4)
      assert.strictEqual(value("controller_runtime_reconcile_total", { controller: "errors-17", result: "success" }), 1)
    }).pipe(withServer))

  it.effect("18. the exact pause annotation stops all finalizer work and resource calls; removing it resumes", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")], resyncPeriod: "1 second" })
      yield* create("paused", { annotations: { "operatorkit.test/paused": "true" } })
      // the annotation of operatorkit 0.1's default prefix pauses too
      yield* create("paused-0.1", { annotations: { "operatorkit.giantswarm.io/paused": "true" } })
      yield* create("other-value", { annotations: { "operatorkit.test/paused": "false" } })
      yield* settle(300, "10 millis")
      // resyncs keep re-running the other object; the paused ones never run
      assert.isAtLeast(r.calls.length, 2)
      assert.isTrue(r.calls.every((c) => c.name === "other-value"), "a different value does not pause")
      assert.isUndefined(Option.getOrThrow(yield* get("paused-0.1")).metadata.finalizers)
      const paused = Option.getOrThrow(yield* get("paused"))
      assert.isUndefined(paused.metadata.finalizers, "no finalizer work while paused")
      yield* client.replace(Kind.ConfigMap, { ...paused, metadata: { ...paused.metadata, annotations: {} } })
      yield* until(() => r.calls.some((c) => c.name === "paused"), "resumed")
      assert.deepStrictEqual(Option.getOrThrow(yield* get("paused")).metadata.finalizers, [F("c")])
    }).pipe(withServer))

  it.effect("19. the label selector filters every event type; NotFound on the reconcile's read is a silent no-op", () =>
    Effect.gen(function*() {
      const r = recorder()
      const client = yield* Client.Client
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, labelSelector: "team=a", resources: [r.resource("a")] })
      yield* create("in", { labels: { team: "a" } })
      yield* create("out", { labels: { team: "b" } })
      yield* settle(100)
      const out = Option.getOrThrow(yield* get("out"))
      yield* client.replace(Kind.ConfigMap, { ...out, data: { changed: "yes" } })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "out" })
      yield* settle(100)
      assert.deepStrictEqual(r.of(), ["a create in"])
      assert.isUndefined(Option.getOrThrow(yield* get("in")).metadata.finalizers?.find((f) => f !== F("c")))
      // a key for an object that does not exist: nothing happens, no error
      yield* c.queue.add(`${ns}/nowhere`)
      yield* settle(50)
      assert.strictEqual((yield* c.stats).errors, 0)
      assert.deepStrictEqual(r.of(), ["a create in"])
    }).pipe(withServer))

  it.effect("20. nothing exits the process: a controller whose every call fails keeps running and retrying", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never)
      yield* Effect.addFinalizer(() => Effect.sync(() => exit.mockRestore()))
      yield* server.failNext({ verb: "list", code: 403, times: 1_000 })
      const r = recorder()
      const c = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [r.resource("a")] })
      yield* settle(300, "1 second") // five minutes of failing lists
      const stats = yield* c.informer.stats
      assert.isAtLeast(stats.errors, 10)
      assert.strictEqual(stats.lastError?._tag, "Forbidden")
      assert.isFalse(stats.synced)
      assert.strictEqual(exit.mock.calls.length, 0)
      yield* server.clearFaults
      yield* create("x")
      yield* until(() => r.calls.length === 1, "recovered once allowed", 400, "100 millis")
    }).pipe(withServer))

  it.effect("21. reconcile values and log annotations do not leak across reconciles or from one resource to the next", () => {
    const logs: Array<{ message: string; resource: unknown }> = []
    const capture = Logger.make((options) => {
      const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
      logs.push({ message: String((options.message as Array<unknown>)[0]), resource: annotations["resource"] })
    })
    return Effect.gen(function*() {
      const seen: Array<string> = []
      const first = Framework.make<ConfigMap>()({
        name: "first",
        ensureCreated: (cm) =>
          Effect.gen(function*() {
            const r = yield* Framework.Reconciliation
            seen.push(`first ${cm.metadata.name} canceled=${r.resourceCanceled} key=${r.key}`)
            yield* Effect.log("from first")
            yield* Framework.cancelResource
          }),
        ensureDeleted: () => Effect.void
      })
      const second = Framework.make<ConfigMap>()({
        name: "second",
        ensureCreated: (cm) =>
          Effect.gen(function*() {
            const r = yield* Framework.Reconciliation
            seen.push(`second ${cm.metadata.name} canceled=${r.resourceCanceled} key=${r.key}`)
            yield* Effect.log("from second")
          }),
        ensureDeleted: () => Effect.void
      })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [first, second] })
      yield* create("x")
      yield* create("y")
      yield* until(() => seen.length === 4, "both objects")
      assert.sameMembers(seen, [
        `first x canceled=false key=${ns}/x`,
        `second x canceled=false key=${ns}/x`,
        `first y canceled=false key=${ns}/y`,
        `second y canceled=false key=${ns}/y`
      ])
      const mine = logs.filter((l) => l.message.startsWith("from "))
      assert.deepStrictEqual(mine.map((l) => `${l.message}: ${l.resource}`).sort(), [
        "from first: first",
        "from first: first",
        "from second: second",
        "from second: second"
      ])
    }).pipe(withServer, Effect.provide(Logger.layer([capture])))
  })
})

