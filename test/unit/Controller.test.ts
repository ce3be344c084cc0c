/** Controller features beyond the Go library's behaviours, on the in-memory server with TestClock. */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Scope } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Watch from "../../src/Watch.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"


const create = (name: string, extra: Partial<ConfigMap["metadata"]> = {}, data?: Record<string, string>) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* client.create(Kind.ConfigMap, { metadata: { name, namespace: ns, ...extra }, ...(data ? { data } : {}) })
  })

describe("Controller (in-memory server, TestClock)", () => {
  it.effect("graceful shutdown: no new keys are taken, a reconcile in flight finishes within the deadline; a longer one is interrupted", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const slow = (ms: number) =>
        Framework.make<ConfigMap>()({
          name: "slow",
          ensureCreated: (cm) =>
            Effect.gen(function*() {
              log.push(`start ${cm.metadata.name}`)
              yield* Effect.sleep(`${ms} millis`)
              log.push(`end ${cm.metadata.name}`)
            }).pipe(Effect.onInterrupt(() => Effect.sync(() => void log.push(`interrupted ${cm.metadata.name}`)))),
          ensureDeleted: () => Effect.void
        })
      for (const [ms, outcome] of [[2_000, "end"], [20_000, "interrupted"]] as const) {
        log.length = 0
        const scope = yield* Scope.make()
        const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: `c${ms}`, kind: Kind.ConfigMap, namespace: ns, resources: [slow(ms)], concurrency: 1, shutdownTimeout: "5 seconds" })
          .pipe(Scope.provide(scope))
        yield* create(`x${ms}`)
        yield* create(`y${ms}`)
        for (let i = 0; i < 100 && !log.includes(`start x${ms}`) && !log.includes(`start y${ms}`); i++) yield* settle(1)
        const started = log.find((l) => l.startsWith("start"))!
        const name = started.slice("start ".length)
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        const at = yield* Clock.currentTimeMillis
        yield* settle(70, "100 millis")
        yield* Fiber.join(closing)
        assert.deepStrictEqual(log, [`start ${name}`, `${outcome} ${name}`], `${ms} ms reconcile`)
        const closedAfter = (yield* Clock.currentTimeMillis) - at
        assert.isAtMost(closedAfter, 7_000)
        // the interrupted reconcile is counted (as failed) and its worker is free again
        const stats = yield* controller.stats
        assert.deepStrictEqual([stats.reconciles, stats.errors, stats.activeWorkers], [1, outcome === "end" ? 0 : 1, 0], `${ms} ms reconcile's stats`)
      }
    }).pipe(withServer))

  it.effect("requeueAfter brings an unchanged object back after the delay", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const poll = Framework.make<ConfigMap>()({
        name: "poll",
        ensureCreated: () =>
          Effect.gen(function*() {
            times.push(yield* Clock.currentTimeMillis)
            yield* Framework.requeueAfter("30 seconds")
            yield* Framework.requeueAfter("10 seconds") // the shortest wins
          }),
        ensureDeleted: () => Effect.void
      })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: ns, resources: [poll] })
      yield* create("x")
      yield* settle(350, "100 millis")
      const gaps = times.slice(1).map((t, i) => t - times[i]!)
      assert.isAtLeast(times.length, 3)
      for (const g of gaps) assert.closeTo(g, 10_000, 200)
    }).pipe(withServer))

  it.effect("a mapped secondary watch enqueues the keys it names; predicates filter updates", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const runs: Array<string> = []
      const record = Framework.make<Kind.Type<typeof Kind.Namespace>>()({
        name: "record",
        ensureCreated: (n) => Effect.sync(() => void runs.push(n.metadata.name)),
        ensureDeleted: () => Effect.void
      })
      yield* client.create(Kind.Namespace, { metadata: { name: "team-a" } })
      // a Namespace controller that also reconciles a namespace when a labelled Secret changes
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "ns",
        kind: Kind.Namespace,
        labelSelector: undefined,
        resources: [record],
        predicates: [Watch.labelsChanged],
        watches: [
          Watch.watches(Kind.Secret, (s) => {
            const owner = s.metadata.labels?.["owner-namespace"]
            return owner !== undefined ? [owner] : []
          }, { namespace: ns })
        ]
      })
      yield* settle(50)
      const initial = runs.filter((r) => r === "team-a").length
      assert.strictEqual(initial, 1)
      // an annotation change: filtered by labelsChanged
      const teamA = yield* client.get(Kind.Namespace, { name: "team-a" })
      yield* client.replace(Kind.Namespace, { ...teamA, metadata: { ...teamA.metadata, annotations: { note: "x" } } })
      yield* settle(50)
      assert.strictEqual(runs.filter((r) => r === "team-a").length, 1)
      // a label change passes
      const again = yield* client.get(Kind.Namespace, { name: "team-a" })
      yield* client.replace(Kind.Namespace, { ...again, metadata: { ...again.metadata, labels: { tier: "gold" } } })
      yield* settle(50)
      assert.strictEqual(runs.filter((r) => r === "team-a").length, 2)
      // a Secret naming it enqueues it
      yield* client.create(Kind.Secret, { metadata: { name: "s", namespace: ns, labels: { "owner-namespace": "team-a" } } })
      yield* settle(50)
      assert.strictEqual(runs.filter((r) => r === "team-a").length, 3)
    }).pipe(withServer))

  it.effect("generationChanged passes spec changes and deletions, not metadata-only updates", () =>
    Effect.sync(() => {
      const obj = (generation: number, extra: Partial<ConfigMap["metadata"]> = {}): ConfigMap => ({
        metadata: { name: "a", generation, resourceVersion: String(generation), ...extra }
      })
      const updated = (old: ConfigMap, object: ConfigMap) => ({ _tag: "Updated" as const, old, object, source: "watch" as const })
      assert.isFalse(Watch.generationChanged(updated(obj(1), obj(1, { labels: { a: "b" } }))))
      assert.isTrue(Watch.generationChanged(updated(obj(1), obj(2))))
      assert.isTrue(Watch.generationChanged(updated(obj(1), obj(1, { deletionTimestamp: "2026-01-01T00:00:00Z" }))))
      assert.isTrue(Watch.generationChanged({ _tag: "Added", object: obj(1), source: "list" }))
      assert.isTrue(Watch.any(Watch.generationChanged, Watch.labelsChanged)(updated(obj(1), obj(1, { labels: { a: "b" } }))))
    }))
})
