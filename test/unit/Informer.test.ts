/** Informer timing and recovery on the in-memory API server, driven by TestClock. */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Logger, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Informer from "../../src/Informer.ts"
import type { ApiRequest, Transport } from "../../src/internal/http/transport.ts"
import * as Kind from "../../src/Kind.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"
import * as HttpClient from "../../src/internal/http/client.ts"

const ns = "default"


const record = <A extends Kind.KubeObject>(informer: Informer.Informer<A>) =>
  Effect.gen(function*() {
    const seen: Array<{ change: Informer.Change<A>; at: number }> = []
    yield* informer.changes.pipe(
      Stream.runForEach((change) => Effect.map(Clock.currentTimeMillis, (at) => void seen.push({ change, at }))),
      Effect.forkScoped
    )
    return seen
  })

const seed = (n: number) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    for (let i = 0; i < n; i++) yield* client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: ns } })
  })

/**
 * The in-memory server behind a Client whose watches can be made to end at once, cleanly, with no
 * event (`short`) or after one bookmark (`oneEvent`), each for a number of watches; every watch
 * request is recorded with its Clock time and query.
 */
const faultyWatches = Effect.gen(function*() {
  const server = yield* TestServer.make({ bookmarkInterval: false })
  const control = {
    short: 0,
    oneEvent: 0,
    stripTimeout: false,
    watches: [] as Array<{ at: number; query: URLSearchParams }>
  }
  const clock = yield* Clock.Clock
  const transport: Transport = {
    ...transportOf(server),
    watch: (req: ApiRequest) => {
      const url = new URL(req.path, "http://fake.invalid")
      // a watch-list: refused by the in-memory server as by kube-apiserver 1.20 (not recorded)
      if (url.searchParams.has("sendInitialEvents")) return transportOf(server).watch(req)
      control.watches.push({ at: clock.currentTimeMillisUnsafe(), query: new URLSearchParams(url.searchParams) })
      if (control.short > 0) {
        control.short--
        return Stream.empty
      }
      if (control.oneEvent > 0) {
        control.oneEvent--
        const rv = url.searchParams.get("resourceVersion") ?? ""
        return Stream.make({ type: "BOOKMARK", object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: rv } } })
      }
      if (control.stripTimeout) {
        // a server that never ends the watch on its own
        url.searchParams.delete("timeoutSeconds")
        return transportOf(server).watch({ ...req, path: url.pathname + url.search })
      }
      return transportOf(server).watch(req)
    }
  }
  return { server, control, client: HttpClient.make(transport) }
})

const captureWarnings = () => {
  const warnings: Array<string> = []
  const logger = Logger.make((options) => {
    if (options.logLevel === "Warn") warnings.push(String((options.message as Array<unknown>)[0]))
  })
  return { warnings, layer: Logger.layer([logger]) }
}

describe("Informer (in-memory server, TestClock)", () => {
  it.effect("a resync re-dispatches each object once per period, spread by its token bucket, without relisting", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* seed(10)
      const informer = yield* Informer.make(Kind.ConfigMap, {
        namespace: ns,
        resyncPeriod: "1 minute",
        resyncRate: { perSecond: 2, burst: 4 }
      })
      yield* informer.synced
      const seen = yield* record(informer)
      yield* settle(10)
      const start = yield* Clock.currentTimeMillis
      const listsBefore = yield* server.calls("list", Kind.ConfigMap)
      yield* settle(70, "1 second")
      const resyncs = seen.filter((s) => s.change._tag === "Resynced")
      const first = resyncs.filter((s) => s.at < start + 2 * 60_000)
      assert.strictEqual(first.length, 10, "each object once in the first period")
      assert.strictEqual(new Set(first.map((s) => s.change.object.metadata.name)).size, 10)
      const offsets = first.map((s) => s.at - first[0]!.at)
      // a burst of 4, then one every 500 ms
      assert.deepStrictEqual(offsets.map((o) => Math.round(o / 100) * 100), [0, 0, 0, 0, 500, 1000, 1500, 2000, 2500, 3000])
      assert.strictEqual(yield* server.calls("list", Kind.ConfigMap), listsBefore, "no relist")
    }).pipe(withServer))

  it.effect("failing watches back off from about 0.8 s doubling to 30 s, jittered; a healthy period resets it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* seed(1)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
      yield* informer.synced
      yield* settle(5)
      yield* server.resetCalls
      yield* server.failNext({ verb: "watch", code: 503, times: 8 })
      yield* server.cutWatches // the first failure
      const times: Array<number> = [yield* Clock.currentTimeMillis]
      let last = 0
      for (let i = 0; i < 2000 && times.length < 10; i++) {
        const calls = yield* server.calls("watch", Kind.ConfigMap)
        if (calls > last) {
          last = calls
          times.push(yield* Clock.currentTimeMillis)
        }
        yield* TestClock.adjust("100 millis")
      }
      const gaps = times.slice(1).map((t, i) => (t - times[i]!) / 1000)
      // the cut, then 8 failing watch calls, then one that works
      const expected = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30, 30]
      assert.strictEqual(gaps.length, expected.length)
      gaps.forEach((g, i) => {
        // jitter ±20%, observed at 100 ms steps
        assert.isAtLeast(g, expected[i]! * 0.8 - 0.1, `gap ${i}: ${g}`)
        assert.isAtMost(g, expected[i]! * 1.2 + 0.1, `gap ${i}: ${g}`)
      })
      const stats = yield* informer.stats
      assert.strictEqual(stats.errors, 9)
      assert.strictEqual(stats.lastError?._tag, "ServerError")

      // healthy for more than two minutes: the next failure starts from 0.8 s again
      yield* settle(150, "1 second")
      yield* server.resetCalls
      yield* server.cutWatches
      const before = yield* Clock.currentTimeMillis
      let retriedAt = 0
      for (let i = 0; i < 100 && retriedAt === 0; i++) {
        yield* TestClock.adjust("100 millis")
        if ((yield* server.calls("watch", Kind.ConfigMap)) >= 1) retriedAt = yield* Clock.currentTimeMillis
      }
      assert.isAtMost((retriedAt - before) / 1000, 0.8 * 1.2 + 0.2)
    }).pipe(withServer))

  it.effect("after cut watches and a compaction: one relist, deletes and uid changes dispatched, nothing twice", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      yield* seed(5)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
      yield* informer.synced
      const seen = yield* record(informer)
      yield* settle(10)
      assert.strictEqual(seen.length, 5)
      const listsBefore = yield* server.calls("list", Kind.ConfigMap)
      // while the watch is down: a delete, a re-create under the same name, an update; then compaction
      yield* server.failNext({ verb: "watch", code: 503, times: 1 })
      yield* server.cutWatches
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-1" })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-2" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "cm-2", namespace: ns }, data: { again: "yes" } })
      const cm3 = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "cm-3" })
      yield* client.replace(Kind.ConfigMap, { ...cm3, data: { v: "2" } })
      yield* server.compact
      yield* settle(100, "100 millis")
      const live = seen.slice(5).map((s) => `${s.change._tag} ${s.change.object.metadata.name}`)
      assert.deepStrictEqual(live, ["Deleted cm-2", "Added cm-2", "Updated cm-3", "Deleted cm-1"])
      assert.strictEqual((yield* server.calls("list", Kind.ConfigMap)) - listsBefore, 1, "exactly one relist")
      const stats = yield* informer.stats
      assert.strictEqual(stats.relists, 1)
      yield* settle(100, "1 second")
      assert.strictEqual(seen.length, 9, "nothing dispatched again")
    }).pipe(withServer))
  it.effect("a watch the server ends at once, again and again, backs off like a failure, warns once and is counted", () => {
    const { warnings, layer } = captureWarnings()
    return Effect.gen(function*() {
      const { server, control, client } = yield* faultyWatches
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, watchTimeout: "10 seconds" }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* informer.synced
      yield* settle(5)
      // from the next watch on, 50 in a row end at once (today's code would send them all at once)
      control.short = 50
      const before = control.watches.length
      // the running watch ends at its server-side timeout (10 to 20 s); then the short ones start
      for (let i = 0; i < 250 && control.watches.length === before; i++) yield* TestClock.adjust("100 millis")
      const shortStart = control.watches[before]!.at
      yield* settle(105, "100 millis")
      const inWindow = control.watches.filter((w) => w.at >= shortStart && w.at < shortStart + 10_000)
      assert.isAtLeast(inWindow.length, 3, `${control.watches.map((w) => w.at)} ${before}`)
      assert.isAtMost(inWindow.length, 10, `watch requests in the first 10 s of very short watches: ${inWindow.map((w) => w.at - shortStart)}`)
      // jittered, doubling gaps
      const gaps = inWindow.slice(1).map((w, i) => w.at - inWindow[i]!.at)
      gaps.forEach((g, i) => assert.isAtLeast(g, 800 * 2 ** i * 0.8 - 100, `gap ${i}: ${g}`))
      const stats = yield* informer.stats
      assert.isAtLeast(stats.veryShortWatches, 3)
      assert.strictEqual(stats.lists, 1, "no relist")
      const shortWarnings = warnings.filter((w) => w.includes("ended the watch at once"))
      assert.strictEqual(shortWarnings.length, 1, `one warning for the run: ${warnings.join("\n")}`)
      // each one resumes from the same resourceVersion
      const rvs = new Set(control.watches.slice(before).map((w) => w.query.get("resourceVersion")))
      assert.strictEqual(rvs.size, 1)

      // the server heals: the next watch lasts, and changes flow again with no relist
      control.short = 0
      yield* settle(40, "1 second")
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "b", namespace: ns } })
      yield* settle(5)
      assert.isTrue(Option.isSome(yield* informer.store.get(`${ns}/b`)))
      assert.strictEqual((yield* informer.stats).lists, 1)
    }).pipe(withServer, Effect.provide(layer))
  })

  it.effect("a watch that ends at its server-side timeout, or at once after an event, resumes at once with no relist", () =>
    Effect.gen(function*() {
      const { server, control, client } = yield* faultyWatches
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, watchTimeout: "10 seconds" }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* informer.synced
      yield* settle(5)
      // the first watch ends at its timeout: the next one is sent at the same instant
      yield* settle(210, "100 millis")
      assert.isAtLeast(control.watches.length, 2)
      const first = control.watches[0]!
      const timeoutMs = Number(first.query.get("timeoutSeconds")) * 1000
      assert.strictEqual(control.watches[1]!.at - first.at, timeoutMs)
      // three watches that each end at once after one event: resumed at once each time
      const before = control.watches.length
      control.oneEvent = 3
      yield* server.cutWatches
      yield* settle(40, "100 millis")
      const after = control.watches.slice(before)
      assert.isAtLeast(after.length, 4)
      // the cut is backed off once; the watches with an event that follow it are not
      assert.strictEqual(after[3]!.at - after[1]!.at, 0)
      const stats = yield* informer.stats
      assert.strictEqual(stats.veryShortWatches, 0)
      assert.strictEqual(stats.lists, 1)
    }).pipe(withServer))

  it.effect("by default a silent watch is restarted one minute after its own server-side timeout", () =>
    Effect.gen(function*() {
      const { server, control, client } = yield* faultyWatches
      control.stripTimeout = true
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, watchTimeout: "5 minutes" }).pipe(
        Effect.provideService(Client.Client, client)
      )
      yield* informer.synced
      yield* settle(5)
      for (let i = 0; i < 1300 && control.watches.length < 2; i++) yield* TestClock.adjust("1 second")
      assert.strictEqual(control.watches.length, 2)
      const first = control.watches[0]!
      const expected = Number(first.query.get("timeoutSeconds")) * 1000 + 60_000
      assert.approximately(control.watches[1]!.at - first.at, expected, 1000)
      assert.strictEqual((yield* informer.stats).stalls, 1)
    }).pipe(withServer))
})

describe("Informer.relist", () => {
  it.effect("after a lapse its watch missed (a paused process), lists from etcd, dispatches what changed and completes once the Store has it", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make({ bookmarkInterval: false })
      const transport = transportOf(server)
      // while held, watch events are lost (as for a process that was stopped); lists are recorded
      let hold = false
      const lists: Array<string> = []
      const client = HttpClient.make({
        request: (req) => {
          if (req.method === "GET" && !req.path.includes("watch=")) lists.push(req.path)
          return transport.request(req)
        },
        watch: (req) => Stream.filter(transport.watch(req), () => !hold)
      })
      yield* Effect.gen(function*() {
        yield* seed(3)
        const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
        yield* informer.synced
        const seen = yield* record(informer)
        yield* settle()
        hold = true
        yield* server.client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-0" })
        yield* server.client.patch(Kind.ConfigMap, { namespace: ns, name: "cm-1" }, { _tag: "MergePatch", patch: { data: { v: "1" } } })
        yield* settle()
        assert.isTrue(Option.isSome(yield* informer.store.get("default/cm-0")), "the lapse: the Store is stale")
        hold = false
        const listsBefore = lists.length
        yield* informer.relist
        assert.isTrue(Option.isNone(yield* informer.store.get("default/cm-0")))
        const cm1 = yield* informer.store.get("default/cm-1")
        assert.strictEqual(Option.getOrUndefined(cm1)?.data?.["v"], "1")
        const fresh = lists.slice(listsBefore)
        assert.lengthOf(fresh, 1)
        assert.notInclude(fresh[0]!, "resourceVersion=0", "a consistent read from etcd, not the watch cache")
        yield* settle()
        assert.deepStrictEqual(
          seen.filter((s) => s.change.source === "list" && s.change._tag !== "Added").map((s) => `${s.change._tag} ${s.change.object.metadata.name}`).sort(),
          ["Deleted cm-0", "Updated cm-1"]
        )
      }).pipe(Effect.provideService(Client.Client, client))
    }))
})
