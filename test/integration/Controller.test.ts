import { assert, layer } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Finalizers from "../../src/Finalizers.ts"
import * as Events from "../../src/Events.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { installCrd, openCrd, openKind } from "../support/crds.ts"
import { eventually } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

interface Call {
  readonly resource: string
  readonly op: "create" | "delete"
  readonly name: string
  readonly at: number
  readonly ok: boolean
}

/** A resource that records its calls and can be told to fail the next n calls of an operation. */
const recording = (name: string, calls: Array<Call>, failures: { create: number; delete: number } = { create: 0, delete: 0 }) =>
  Framework.make<ConfigMap>()({
    name,
    ensureCreated: (cm) =>
      Effect.suspend(() => {
        const ok = failures.create <= 0
        if (!ok) failures.create--
        calls.push({ resource: name, op: "create", name: cm.metadata.name, at: performance.now(), ok })
        return ok ? Effect.void : Effect.fail(new Error(`${name} failed on purpose`))
      }),
    ensureDeleted: (cm) =>
      Effect.suspend(() => {
        const ok = failures.delete <= 0
        if (!ok) failures.delete--
        calls.push({ resource: name, op: "delete", name: cm.metadata.name, at: performance.now(), ok })
        return ok ? Effect.void : Effect.fail(new Error(`${name} failed on purpose`))
      })
  })

const get = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* client.get(Kind.ConfigMap, { namespace, name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
  })

layer(cluster(), { excludeTestServices: true })("Controller on kube-apiserver 1.20.2", (it) => {
  it.effect("an object deleted while the operator was down is cleaned up after restart; the finalizer goes only after every ensureDeleted succeeded", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const calls: Array<Call> = []
      const failures = { create: 0, delete: 0 }
      const resources = [recording("first", calls), recording("second", calls, failures)] as const
      const options = { name: "cleanup", kind: Kind.ConfigMap, finalizerPrefix: "operatorkit.test", namespace: ns, resources }
      const finalizer = Finalizers.finalizerName(options)

      // operator up: the object gets the finalizer and both ensureCreated
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Controller.make(options)
        yield* client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: ns } })
        yield* eventually(Effect.sync(() => assert.deepStrictEqual(calls.map((c) => `${c.resource} ${c.op}`), ["first create", "second create"])))
        const x = yield* get(ns, "x")
        assert.deepStrictEqual(Option.getOrThrow(x).metadata.finalizers, [finalizer])
      }))

      // operator down: the object is deleted, and stays (our finalizer holds it)
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "x" })
      assert.isString(Option.getOrThrow(yield* get(ns, "x")).metadata.deletionTimestamp)
      calls.length = 0
      failures.delete = 1

      // operator back: ensureDeleted runs; "second" fails once, so the finalizer stays until the retry
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Controller.make(options)
        yield* eventually(Effect.sync(() => assert.isTrue(calls.some((c) => c.resource === "second" && !c.ok))))
        const held = yield* get(ns, "x")
        assert.isTrue(Option.isSome(held), "still there after the failed pass")
        assert.deepStrictEqual(Option.getOrThrow(held).metadata.finalizers, [finalizer])
        yield* eventually(Effect.gen(function*() {
          assert.isTrue(Option.isNone(yield* get(ns, "x")), "gone once every ensureDeleted succeeded")
        }))
      }))
      assert.deepStrictEqual(calls.map((c) => `${c.resource} ${c.op} ${c.ok ? "ok" : "failed"}`), [
        "first delete ok",
        "second delete failed",
        "first delete ok",
        "second delete ok"
      ])
      assert.isFalse(calls.some((c) => c.op === "create"), "no ensureCreated for a deleted object")
    }))

  it.effect("a resource failing twice is retried with backoff and succeeds; the controller goes on", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const calls: Array<Call> = []
      const resources = [recording("flaky", calls, { create: 2, delete: 0 })] as const
      const controller = yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "flaky",
        kind: Kind.ConfigMap,
        namespace: ns,
        resources,
        workQueue: { baseDelay: "300 millis" }
      })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      yield* eventually(Effect.sync(() => assert.deepStrictEqual(calls.map((c) => c.ok), [false, false, true])))
      const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at)
      assert.isAtLeast(gaps[0]!, 250, "first retry after about the base delay")
      assert.isAtLeast(gaps[1]!, 550, "the second after about twice that")
      yield* client.create(Kind.ConfigMap, { metadata: { name: "b", namespace: ns } })
      yield* eventually(Effect.sync(() => assert.isTrue(calls.some((c) => c.name === "b" && c.ok))))
      const stats = yield* controller.stats
      assert.strictEqual(stats.errors, 2)
      assert.strictEqual(stats.queue.retries, 2)
    }))

  it.effect("two controllers with different finalizers on one kind both clean up; neither loses the other's finalizer", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const alpha: Array<Call> = []
      const beta: Array<Call> = []
      const a = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "alpha", kind: Kind.ConfigMap, namespace: ns, resources: [recording("alpha", alpha)] })
      const b = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "beta", kind: Kind.ConfigMap, namespace: ns, resources: [recording("beta", beta)] })
      const names = Array.from({ length: 30 }, (_, i) => `o${i}`)
      yield* Effect.forEach(names, (name) => client.create(Kind.ConfigMap, { metadata: { name, namespace: ns } }), { concurrency: 10 })
      // both add their finalizer concurrently: with preconditions, each ends up with both
      yield* eventually(Effect.gen(function*() {
        const list = yield* client.list(Kind.ConfigMap, { namespace: ns })
        assert.strictEqual(list.items.length, 30)
        for (const o of list.items) assert.sameMembers([...(o.metadata.finalizers ?? [])], [a.finalizer, b.finalizer], o.metadata.name)
      }))
      yield* Effect.forEach(names, (name) => client.delete(Kind.ConfigMap, { namespace: ns, name }), { concurrency: 10 })
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual((yield* client.list(Kind.ConfigMap, { namespace: ns })).items.length, 0)
      }))
      // both cleaned up every object: neither finalizer was dropped by the other's write
      for (const [who, calls] of [["alpha", alpha], ["beta", beta]] as const) {
        const deleted = calls.filter((c) => c.op === "delete").map((c) => c.name)
        const missing = names.filter((n) => !deleted.includes(n))
        const twice = deleted.filter((n, i) => deleted.indexOf(n) !== i)
        assert.deepStrictEqual({ missing, twice }, { missing: [], twice: [] }, `${who}'s ensureDeleted`)
      }
    }))

  it.effect("reconciles of one key never overlap; different keys run in parallel; events during a reconcile cause one follow-up", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const inFlight = new Map<string, number>()
      let globalInFlight = 0
      let maxGlobal = 0
      let maxPerKey = 0
      const runs = new Map<string, number>()
      const slow = Framework.make<ConfigMap>()({
        name: "slow",
        ensureCreated: (cm) =>
          Effect.gen(function*() {
            const key = cm.metadata.name
            inFlight.set(key, (inFlight.get(key) ?? 0) + 1)
            runs.set(key, (runs.get(key) ?? 0) + 1)
            globalInFlight++
            maxGlobal = Math.max(maxGlobal, globalInFlight)
            maxPerKey = Math.max(maxPerKey, inFlight.get(key)!)
            yield* Effect.sleep("400 millis")
            inFlight.set(key, inFlight.get(key)! - 1)
            globalInFlight--
          }),
        ensureDeleted: () => Effect.void
      })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "overlap", kind: Kind.ConfigMap, namespace: ns, resources: [slow], concurrency: 4 })
      yield* Effect.forEach(["k1", "k2", "k3", "k4"], (name) => client.create(Kind.ConfigMap, { metadata: { name, namespace: ns } }), {
        concurrency: 4
      })
      yield* eventually(Effect.sync(() => assert.isAtLeast(globalInFlight, 1)))
      // ten updates of k1 while it is being reconciled
      yield* eventually(Effect.sync(() => assert.strictEqual(runs.get("k1"), 1)))
      for (let i = 0; i < 10; i++) {
        const cm = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "k1" })
        yield* client.replace(Kind.ConfigMap, { ...cm, data: { i: String(i) } })
      }
      yield* eventually(Effect.sync(() => assert.strictEqual(globalInFlight, 0)))
      yield* Effect.sleep("600 millis")
      assert.strictEqual(maxPerKey, 1, "one key never overlaps itself")
      assert.isAtLeast(maxGlobal, 2, "different keys run in parallel")
      // the first run (which added the finalizer) plus the update events: at most two follow-ups
      // (one for events during the first run, one for events during the follow-up), never ten
      assert.isAtMost(runs.get("k1")!, 3)
      assert.isAtLeast(runs.get("k1")!, 2)
    }))

  it.effect("an object that stops decoding is reported on the object, keeps our finalizer while deleted, and is cleaned up once fixed", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const group = "undecodable.operatorkit.test"
      // the CRD keeps any spec; the operator's Schema wants an integer size
      const Open = openKind(group, "Widget")
      yield* installCrd(openCrd(group, "Widget", "widgets"), Open)
      const Widget = Kind.custom({ group, version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }), status: Kind.Open({}), subresources: { status: true } })
      const calls: Array<string> = []
      const record = Framework.make<Kind.Type<typeof Widget>>()({
        name: "record",
        ensureCreated: (w) => Effect.sync(() => void calls.push(`create ${w.spec.size}`)),
        ensureDeleted: (w) => Effect.sync(() => void calls.push(`delete ${w.spec.size}`))
      })
      const controller = yield* Controller.make({ name: "widgets", kind: Widget, namespace: ns, resources: [record] }).pipe(
        Effect.provideService(Events.Recorder, yield* Events.make({ component: "widgets" }))
      )
      const ref = { namespace: ns, name: "w" }
      yield* client.create(Open, { metadata: { name: "w", namespace: ns }, spec: { size: 1 } })
      yield* eventually(Effect.sync(() => assert.deepStrictEqual(calls, ["create 1"])))
      const set = (size: unknown) =>
        Effect.flatMap(client.get(Open, ref), (w) => client.replace(Open, { ...w, spec: { size } }))
      yield* set("big")
      yield* client.delete(Open, ref)
      const warning = yield* eventually(Effect.gen(function*() {
        const events = yield* client.list(Kind.Event, { namespace: ns })
        const found = events.items.find((e) => e.involvedObject.name === "w" && e.reason === "DecodeFailed" && e.message?.includes("being deleted") === true)
        assert.isDefined(found)
        return found!
      }))
      assert.include(warning.message, "spec.size")
      assert.strictEqual(warning.type, "Warning")
      assert.isAtLeast((yield* controller.informer.stats).decodeFailures, 1)
      const held = yield* client.get(Open, ref)
      assert.deepStrictEqual(held.metadata.finalizers, [controller.finalizer], "our finalizer stays")
      assert.deepStrictEqual(calls, ["create 1"], "nothing ran on the stale copy")
      // the fix: ensureDeleted runs on the decoded object, and it goes
      yield* set(2)
      yield* eventually(Effect.gen(function*() {
        assert.isTrue(Option.isNone(yield* client.get(Open, ref).pipe(Effect.option)), "gone")
      }))
      assert.deepStrictEqual(calls, ["create 1", "delete 2"])
    }))
})
