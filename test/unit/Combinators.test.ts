/** What `Framework.timeout` and `Framework.rateLimit` do, on TestClock (the in-memory server where a controller runs them). */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, type Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import { makeReconciliation, runResources } from "../../src/internal/controller/reconciliation.ts"
import * as Kind from "../../src/Kind.ts"
import { withServer } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"
const object: ConfigMap = { metadata: { name: "x", namespace: ns } }
const reconciliation = () => makeReconciliation({ controller: "t", key: `${ns}/x`, mode: "create" })

/** Moves the clock until a condition holds (fails the test after `maxSteps`). */
const until = (check: () => boolean, what: string, maxSteps = 2000, step: Duration.Input = "10 millis") =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      if (check()) return
      yield* Effect.yieldNow
      yield* TestClock.adjust(step)
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

describe("Framework.timeout", () => {
  it.effect("a call past its deadline is interrupted and fails with ResourceTimeout; a call within it is untouched", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      let sleep = 5_000
      const slow = Framework.make<ConfigMap>()({
        name: "slow",
        ensureCreated: () =>
          Effect.gen(function*() {
            log.push(`start ${yield* Clock.currentTimeMillis}`)
            yield* Effect.sleep(`${sleep} millis`)
            log.push(`end ${yield* Clock.currentTimeMillis}`)
          }).pipe(Effect.onInterrupt(() => Effect.map(Clock.currentTimeMillis, (t) => void log.push(`interrupted ${t}`)))),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.timeout("2 seconds"))
      const late = yield* runResources([slow], object, reconciliation()).pipe(Effect.flip, Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(late)
      assert.instanceOf(error, Framework.ResourceTimeout)
      assert.deepStrictEqual({ resource: error.resource, step: error.step, timeoutMillis: error.timeoutMillis }, {
        resource: "slow",
        step: "ensureCreated",
        timeoutMillis: 2000
      })
      assert.deepStrictEqual(log, ["start 0", "interrupted 2000"], "interrupted at the deadline, never finished")

      log.length = 0
      sleep = 1_500
      const inTime = yield* runResources([slow], object, reconciliation()).pipe(Effect.exit, Effect.forkChild)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(inTime))._tag, "Success")
      assert.deepStrictEqual(log, ["start 10000", "end 11500"])
    }))

  it.effect("in a controller, an overrunning reconcile is interrupted and retried with per-key backoff until it fits", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const starts: Array<number> = []
      const interrupts: Array<number> = []
      const failures: Array<string> = []
      let overruns = 3
      const slow = Framework.make<ConfigMap>()({
        name: "slow",
        ensureCreated: () =>
          Effect.gen(function*() {
            starts.push(yield* Clock.currentTimeMillis)
            yield* Effect.sleep(overruns-- > 0 ? "1 minute" : "100 millis")
          }).pipe(Effect.onInterrupt(() => Effect.map(Clock.currentTimeMillis, (t) => void interrupts.push(t)))),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.timeout("1 second"))
      const controller = yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "timeouts",
        kind: Kind.ConfigMap,
        namespace: ns,
        resources: [slow],
        onError: (failure) => Effect.sync(() => void failures.push(String((Cause.squash(failure.cause) as { _tag?: string })._tag)))
      })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: ns } })
      yield* until(() => starts.length === 4, "the fourth attempt")
      yield* until(() => overruns < 0 && interrupts.length === 3, "settled", 100)
      assert.deepStrictEqual(failures, ["ResourceTimeout", "ResourceTimeout", "ResourceTimeout"])
      // each attempt is cut at its deadline, the next one starts after the work queue's backoff
      // (200 ms doubling)
      const t0 = starts[0]!
      assert.deepStrictEqual(interrupts.map((t) => t - t0), [1000, 2200, 3600])
      assert.deepStrictEqual(starts.map((t) => t - t0), [0, 1200, 2600, 4400])
      yield* TestClock.adjust("1 second")
      const stats = yield* controller.stats
      assert.strictEqual(stats.errors, 3)
      assert.strictEqual(stats.activeWorkers, 0)
    }).pipe(withServer))
})

describe("Framework.rateLimit", () => {
  it.effect("a burst of calls: `burst` at once, then one every 1/perSecond; idle time refills the bucket up to `burst`", () =>
    Effect.gen(function*() {
      const at: Array<number> = []
      const limited = Framework.make<ConfigMap>()({
        name: "limited",
        ensureCreated: () => Effect.map(Clock.currentTimeMillis, (t) => void at.push(t)),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.rateLimit({ perSecond: 5, burst: 2 }))
      const burst = (n: number) =>
        Effect.forEach(Array.from({ length: n }), () => runResources([limited], object, reconciliation()), {
          concurrency: "unbounded",
          discard: true
        })
      const first = yield* Effect.forkChild(burst(10))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(first)
      assert.deepStrictEqual(at, [0, 0, 200, 400, 600, 800, 1000, 1200, 1400, 1600])
      // never more than burst + perSecond * elapsed calls by any time
      for (const t of at) assert.isAtMost(at.filter((u) => u <= t).length, 2 + 5 * (t / 1000))

      // after a quiet period the bucket holds `burst` tokens again, never more
      at.length = 0
      const second = yield* Effect.forkChild(burst(4))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(second)
      assert.deepStrictEqual(at, [5000, 5000, 5200, 5400])
    }))

  it.effect("a call interrupted while it waits for a token gives the token back (a timeout around it does not slow the next calls)", () =>
    Effect.gen(function*() {
      const at: Array<number> = []
      const limited = Framework.make<ConfigMap>()({
        name: "limited",
        ensureCreated: () => Effect.map(Clock.currentTimeMillis, (t) => void at.push(t)),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.rateLimit({ perSecond: 1, burst: 1 }), Framework.timeout("500 millis"))
      const call = runResources([limited], object, reconciliation()).pipe(Effect.exit)
      // one call takes the token; five more wait for theirs and time out
      const burst = yield* Effect.forkChild(Effect.forEach(Array.from({ length: 6 }), () => call, { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      const exits = yield* Fiber.join(burst)
      assert.deepStrictEqual(exits.map((e) => e._tag), ["Success", "Failure", "Failure", "Failure", "Failure", "Failure"])
      // a second later the bucket has its token again: the next call runs at once
      const next = yield* Effect.forkChild(call)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(next))._tag, "Success")
      assert.deepStrictEqual(at, [0, 1000])
    }))

  it.effect("the limit is shared by every object a controller reconciles", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const at: Array<number> = []
      const limited = Framework.make<ConfigMap>()({
        name: "limited",
        ensureCreated: () => Effect.map(Clock.currentTimeMillis, (t) => void at.push(t)),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.rateLimit({ perSecond: 2, burst: 1 }))
      for (let i = 0; i < 6; i++) yield* client.create(Kind.ConfigMap, { metadata: { name: `o${i}`, namespace: ns } })
      const t0 = yield* Clock.currentTimeMillis
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "limited", kind: Kind.ConfigMap, namespace: ns, resources: [limited], concurrency: 6 })
      yield* until(() => at.length === 6, "six reconciles")
      const gaps = at.slice(1).map((t, i) => t - at[i]!)
      assert.isAtMost(at[0]! - t0, 50)
      for (const g of gaps) assert.isAtLeast(g, 500, `spaced by 1/perSecond: ${at.map((t) => t - t0)}`)
    }).pipe(withServer))
})
