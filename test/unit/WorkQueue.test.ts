import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import { TestClock } from "effect/testing"
import * as Helpers from "../../src/testing/helpers.ts"
import * as WorkQueue from "../../src/WorkQueue.ts"

/** Lets forked fibers run up to their next suspension without moving the clock. */
// fibers run and timers due now fire, time stands still
const settle = Helpers.settle(1, 0)

/** Takes every ready key without waiting (a key taken here is being processed until `done`). */
const drainReady = Effect.fnUntraced(function*(queue: WorkQueue.WorkQueue) {
  const keys: Array<string> = []
  while ((yield* queue.depth) > 0) keys.push(yield* queue.take)
  return keys
})

const takeDone = Effect.fnUntraced(function*(queue: WorkQueue.WorkQueue) {
  const key = yield* queue.take
  yield* queue.done(key)
  return key
})

/** Records, per key, how often it was processed and the largest overlap seen. */
const instrument = () => {
  const inFlight = new Map<string, number>()
  const processed = new Map<string, number>()
  const starts: Array<[string, number]> = []
  let overlap = 0
  let concurrent = 0
  let maxConcurrent = 0
  const around = <A, E, R>(key: string, now: number, effect: Effect.Effect<A, E, R>) =>
    Effect.suspend(() => {
      const n = (inFlight.get(key) ?? 0) + 1
      inFlight.set(key, n)
      overlap = Math.max(overlap, n)
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      processed.set(key, (processed.get(key) ?? 0) + 1)
      starts.push([key, now])
      return effect
    }).pipe(Effect.ensuring(Effect.sync(() => {
      inFlight.set(key, inFlight.get(key)! - 1)
      concurrent--
    })))
  return {
    around,
    processed,
    starts,
    get overlap() {
      return overlap
    },
    get maxConcurrent() {
      return maxConcurrent
    }
  }
}

const now = Effect.clockWith((clock) => clock.currentTimeMillis)

describe("WorkQueue", () => {
  describe("keys, not events", () => {
    it.effect("a waiting key is queued once however often it is added", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("ns/a")
        yield* queue.add("ns/a")
        yield* queue.add("ns/b")
        yield* queue.add("ns/a")
        assert.strictEqual(yield* queue.depth, 2)
        assert.deepStrictEqual(yield* drainReady(queue), ["ns/a", "ns/b"])
        assert.strictEqual((yield* queue.stats).adds, 2)
      }))

    it.effect("a live add moves a waiting bulk key to the live lane, a bulk add never demotes", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("l1")
        yield* queue.add("b1", { priority: "bulk" })
        yield* queue.add("b2", { priority: "bulk" })
        yield* queue.add("b2")
        yield* queue.add("l1", { priority: "bulk" })
        const stats = yield* queue.stats
        assert.deepStrictEqual([stats.depthLive, stats.depthBulk], [2, 1])
        assert.deepStrictEqual(yield* drainReady(queue), ["l1", "b2", "b1"])
      }))

    it.effect("a key added while processing is not handed out again until done, then exactly once", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("a")
        const key = yield* queue.take
        yield* queue.add("a")
        yield* queue.add("a")
        assert.strictEqual(yield* queue.depth, 0)
        const second = yield* Effect.forkChild(queue.take)
        yield* settle
        assert.isUndefined(second.pollUnsafe())
        yield* queue.done(key)
        assert.strictEqual(yield* Fiber.join(second), "a")
        yield* queue.done("a")
        assert.strictEqual(yield* queue.depth, 0)
        assert.strictEqual((yield* queue.stats).processing, 0)
      }))

    it.effect("the runner never overlaps a key; several events during a reconcile cause one follow-up", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.flatMap(now, (t) => probe.around(key, t, Effect.sleep("1 second"))), { concurrency: 8 }),
          Effect.forkChild
        )
        yield* queue.add("a")
        yield* settle
        // three events while "a" is being reconciled
        yield* queue.add("a")
        yield* TestClock.adjust("300 millis")
        yield* queue.add("a")
        yield* queue.add("a")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(probe.processed.get("a"), 2)
        assert.strictEqual(probe.overlap, 1)
        assert.deepStrictEqual(probe.starts.map(([, t]) => t), [0, 1000])
      }))
  })

  describe("delays", () => {
    it.effect("delayed keys become ready at their deadlines, in deadline order", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.addAfter("late", "10 seconds")
        yield* queue.addAfter("early", "5 seconds")
        yield* queue.addAfter("early2", "5 seconds")
        yield* TestClock.adjust("4999 millis")
        assert.strictEqual(yield* queue.depth, 0)
        assert.strictEqual((yield* queue.stats).delayed, 3)
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(yield* drainReady(queue), ["early", "early2"])
        yield* TestClock.adjust("5 seconds")
        assert.deepStrictEqual(yield* drainReady(queue), ["late"])
      }))

    it.effect("of two deadlines for a key the earlier wins, whichever came first", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.addAfter("a", "10 seconds")
        yield* queue.addAfter("a", "3 seconds")
        yield* queue.addAfter("b", "3 seconds")
        yield* queue.addAfter("b", "10 seconds")
        yield* TestClock.adjust("3 seconds")
        assert.deepStrictEqual(yield* drainReady(queue), ["a", "b"])
        yield* queue.done("a")
        yield* queue.done("b")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* queue.depth, 0)
        assert.strictEqual((yield* queue.stats).delayed, 0)
      }))

    it.effect("an immediate add of a delayed key makes it ready now and cancels the delay", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.addAfter("a", "1 minute")
        yield* queue.add("a")
        assert.strictEqual(yield* takeDone(queue), "a")
        yield* TestClock.adjust("2 minutes")
        assert.strictEqual(yield* queue.depth, 0)
      }))

    it.effect("a delay on a key that is already ready is redundant", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("a")
        yield* queue.addAfter("a", "5 seconds")
        assert.strictEqual(yield* takeDone(queue), "a")
        yield* TestClock.adjust("1 minute")
        assert.strictEqual(yield* queue.depth, 0)
      }))

    it.effect("a delay asked for while a key is processed is kept, in the lane it was taken from", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("a", { priority: "bulk" })
        const key = yield* queue.take
        yield* queue.addAfter(key, "5 seconds")
        yield* queue.done(key)
        yield* TestClock.adjust("5 seconds")
        const stats = yield* queue.stats
        assert.deepStrictEqual([stats.depthLive, stats.depthBulk], [0, 1])
      }))

    it.effect("a taker interrupted while waiting does not swallow the next key", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const first = yield* Effect.forkChild(queue.take)
        const second = yield* Effect.forkChild(queue.take)
        yield* settle
        yield* Fiber.interrupt(first)
        yield* queue.add("a")
        assert.strictEqual(yield* Fiber.join(second), "a")
      }))

    it.effect("a delayed key is handed to a taker that is already waiting", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const taker = yield* Effect.forkChild(queue.take)
        yield* queue.addAfter("a", "2 seconds")
        yield* TestClock.adjust("1 second")
        assert.isUndefined(taker.pollUnsafe())
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* Fiber.join(taker), "a")
      }))
  })

  describe("rate limiting", () => {
    it.effect("per-key backoff doubles from the base to the cap and restarts after forget", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ baseDelay: "200 millis", maxDelay: "2 seconds", qps: Infinity })
        const delays: Array<number> = []
        for (let i = 0; i < 6; i++) delays.push(Duration.toMillis(yield* queue.addRateLimited("a")))
        assert.deepStrictEqual(delays, [200, 400, 800, 1600, 2000, 2000])
        assert.strictEqual(yield* queue.retries("a"), 6)
        assert.strictEqual(Duration.toMillis(yield* queue.addRateLimited("b")), 200)
        yield* queue.forget("a")
        assert.strictEqual(yield* queue.retries("a"), 0)
        assert.strictEqual(Duration.toMillis(yield* queue.addRateLimited("a")), 200)
        assert.strictEqual((yield* queue.stats).retries, 8)
      }))

    it.effect("the defaults: 200 ms doubling to a 2 minute cap", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const delays: Array<number> = []
        for (let i = 0; i < 12; i++) delays.push(Duration.toMillis(yield* queue.addRateLimited("a")))
        assert.deepStrictEqual(delays, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 120000, 120000])
      }))

    it.effect("a rate-limited key becomes ready after its backoff", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ baseDelay: "200 millis" })
        yield* queue.addRateLimited("a")
        yield* TestClock.adjust("199 millis")
        assert.strictEqual(yield* queue.depth, 0)
        yield* TestClock.adjust("1 millis")
        assert.strictEqual(yield* queue.depth, 1)
      }))

    it.effect("the token bucket admits a burst, then qps keys per second, and refills", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ baseDelay: "1 millis", qps: 2, burst: 3 })
        const delays: Array<number> = []
        for (let i = 0; i < 8; i++) delays.push(Duration.toMillis(yield* queue.addRateLimited(`k${i}`)))
        assert.deepStrictEqual(delays, [1, 1, 1, 500, 1000, 1500, 2000, 2500])
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* drainReady(queue)).length, 3)
        // k3 is due at 500 ms, then one key every 500 ms
        for (let i = 0; i < 5; i++) {
          yield* TestClock.adjust(i === 0 ? "498 millis" : "499 millis")
          assert.strictEqual(yield* queue.depth, 0)
          yield* TestClock.adjust("1 millis")
          assert.deepStrictEqual(yield* drainReady(queue), [`k${i + 3}`])
        }
        // idle for a while: the bucket is full again, but no fuller than the burst
        yield* TestClock.adjust("1 minute")
        const after: Array<number> = []
        for (let i = 0; i < 4; i++) after.push(Duration.toMillis(yield* queue.addRateLimited(`m${i}`)))
        assert.deepStrictEqual(after, [1, 1, 1, 500])
      }))

    it.effect("with the defaults a failure storm is held to 10 retries per second after a burst of 100", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        let last = 0
        for (let i = 0; i < 200; i++) last = Duration.toMillis(yield* queue.addRateLimited(`k${i}`))
        assert.strictEqual(last, 10_000)
      }))
  })

  describe("fairness", () => {
    it.effect("while both lanes hold keys, every fifth take serves the bulk lane", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        for (let i = 0; i < 100; i++) {
          yield* queue.add(`live${i}`)
          yield* queue.add(`bulk${i}`, { priority: "bulk" })
        }
        const taken: Array<string> = []
        for (let i = 0; i < 50; i++) taken.push(yield* queue.take)
        assert.strictEqual(taken.filter((k) => k.startsWith("bulk")).length, 10)
        assert.deepStrictEqual(taken.slice(0, 5), ["live0", "live1", "live2", "live3", "bulk0"])
      }))

    it.effect("a flood of bulk keys delays a live key by at most one take", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        for (let i = 0; i < 10_000; i++) yield* queue.add(`initial/${i}`, { priority: "bulk" })
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.flatMap(now, (t) => probe.around(key, t, Effect.sleep("1 second"))), { concurrency: 2 }),
          Effect.forkChild
        )
        yield* TestClock.adjust("500 millis")
        yield* queue.add("live/x")
        yield* TestClock.adjust("500 millis")
        // the first worker to free up took it; with FIFO it would have waited 5,000 seconds
        const start = probe.starts.find(([key]) => key === "live/x")
        assert.deepStrictEqual(start, ["live/x", 1000])
        // and the bulk lane is still being worked through
        yield* TestClock.adjust("3 seconds")
        assert.strictEqual(probe.starts.filter(([key]) => key.startsWith("initial/")).length, 9)
      }))

    it.effect("a steady stream of live keys does not starve the bulk lane", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        for (let i = 0; i < 10; i++) yield* queue.add(`initial/${i}`, { priority: "bulk" })
        for (let i = 0; i < 10; i++) yield* queue.add(`live/${i}`)
        let next = 10
        // every reconcile of a live key brings in two new live keys: the live lane never empties
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.flatMap(now, (t) =>
              probe.around(
                key,
                t,
                Effect.sleep("1 second").pipe(
                  Effect.andThen(
                    key.startsWith("live/")
                      ? Effect.andThen(queue.add(`live/${next++}`), queue.add(`live/${next++}`))
                      : Effect.void
                  )
                )
              )), { concurrency: 1 }),
          Effect.forkChild
        )
        yield* TestClock.adjust("50 seconds")
        const bulk = probe.starts.filter(([key]) => key.startsWith("initial/"))
        assert.strictEqual(bulk.length, 10)
        // one bulk key in every five takes
        assert.deepStrictEqual(bulk.map(([, t]) => t), [4000, 9000, 14000, 19000, 24000, 29000, 34000, 39000, 44000, 49000])
        assert.isAbove(yield* queue.depth, 0)
      }))
  })

  describe("shutdown", () => {
    it.effect("stops handing out keys, fails takers and ignores adds", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ name: "widgets" })
        const waiting = yield* Effect.forkChild(queue.take)
        yield* settle
        yield* queue.shutdown
        const error = yield* Effect.flip(Fiber.join(waiting))
        assert.strictEqual(error._tag, "WorkQueueShutdown")
        assert.strictEqual(error.message, "work queue widgets is shut down")
        yield* queue.add("a")
        yield* queue.addAfter("b", "1 second")
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(yield* queue.depth, 0)
        assert.isTrue(yield* queue.isShutdown)
        assert.strictEqual((yield* Effect.flip(queue.take))._tag, "WorkQueueShutdown")
      }))

    it.effect("keys still waiting at shutdown are not handed out", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("a")
        yield* queue.add("b")
        yield* queue.shutdown
        assert.strictEqual((yield* Effect.flip(queue.take))._tag, "WorkQueueShutdown")
      }))

    it.effect("closing the queue's scope shuts it down", () =>
      Effect.gen(function*() {
        const queue = yield* Effect.scoped(WorkQueue.make())
        assert.isTrue(yield* queue.isShutdown)
      }))

    it.effect("the runner lets keys in flight finish, starts no new ones, then completes", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        const finished: Array<string> = []
        for (const key of ["a", "b", "c", "d"]) yield* queue.add(key)
        const runner = yield* queue.pipe(
          WorkQueue.run((key) =>
            probe.around(key, 0, Effect.sleep("1 second").pipe(Effect.andThen(Effect.sync(() => void finished.push(key))))), { concurrency: 2 }),
          Effect.forkChild
        )
        yield* TestClock.adjust("500 millis")
        yield* queue.shutdown
        yield* settle
        assert.isUndefined(runner.pollUnsafe())
        yield* TestClock.adjust("500 millis")
        yield* Fiber.join(runner)
        assert.deepStrictEqual(finished, ["a", "b"])
        assert.strictEqual((yield* queue.stats).processing, 0)
      }))
  })

  describe("run", () => {
    it.effect("processes different keys in parallel, at most `concurrency` at a time", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        for (let i = 0; i < 8; i++) yield* queue.add(`k${i}`)
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.flatMap(now, (t) => probe.around(key, t, Effect.sleep("1 second"))), { concurrency: 4 }),
          Effect.forkChild
        )
        yield* TestClock.adjust("2 seconds")
        assert.strictEqual(probe.starts.length, 8)
        assert.strictEqual(probe.maxConcurrent, 4)
        assert.deepStrictEqual(probe.starts.map(([, t]) => t), [0, 0, 0, 0, 1000, 1000, 1000, 1000])
        assert.strictEqual((yield* queue.stats).processing, 0)
      }))

    it.effect("requeues a failure with backoff, reports it, keeps running, and forgets on success", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ baseDelay: "1 second", qps: Infinity })
        const failures: Array<WorkQueue.Failure<string, string>> = []
        const runs: Array<[string, number]> = []
        let attempts = 0
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.gen(function*() {
              runs.push([key, yield* now])
              if (key === "bad" && ++attempts <= 2) return yield* Effect.fail(`boom ${attempts}`)
            }), {
            concurrency: 2,
            onError: (failure) => Effect.sync(() => failures.push(failure))
          }),
          Effect.forkChild
        )
        yield* queue.add("bad")
        yield* queue.add("good")
        yield* settle
        assert.strictEqual(failures.length, 1)
        assert.strictEqual(failures[0]!.key, "bad")
        assert.strictEqual(failures[0]!.retries, 1)
        assert.strictEqual(Duration.toMillis(failures[0]!.retryIn), 1000)
        assert.deepStrictEqual(Cause.squash(failures[0]!.cause), "boom 1")
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(failures.map((f) => [f.retries, Duration.toMillis(f.retryIn)]), [[1, 1000], [2, 2000]])
        yield* TestClock.adjust("2 seconds")
        assert.deepStrictEqual(runs, [["bad", 0], ["good", 0], ["bad", 1000], ["bad", 3000]])
        assert.strictEqual(yield* queue.retries("bad"), 0)
        // the runner is still taking keys
        yield* queue.add("later")
        yield* settle
        assert.deepStrictEqual(runs.at(-1), ["later", 3000])
      }))

    it.effect("a defect is requeued and reported too", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ qps: Infinity })
        const failures: Array<WorkQueue.Failure<string, never>> = []
        let attempts = 0
        yield* queue.pipe(
          WorkQueue.run(() =>
              Effect.sync(() => {
                if (attempts++ === 0) throw new Error("bug")
              }), { concurrency: 1, onError: (failure) => Effect.sync(() => failures.push(failure)) }),
          Effect.forkChild
        )
        yield* queue.add("a")
        yield* settle
        assert.strictEqual(failures.length, 1)
        assert.isTrue(Cause.hasDies(failures[0]!.cause))
        yield* TestClock.adjust("200 millis")
        assert.strictEqual(attempts, 2)
        assert.strictEqual(yield* queue.retries("a"), 0)
      }))

    it.effect("a processing that throws before returning an effect is a defect, requeued and reported", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ qps: Infinity })
        const failures: Array<WorkQueue.Failure<string, never>> = []
        let attempts = 0
        yield* queue.pipe(
          WorkQueue.run(() => {
            if (attempts++ === 0) throw new Error("bug")
            return Effect.void
          }, { concurrency: 1, onError: (failure) => Effect.sync(() => failures.push(failure)) }),
          Effect.forkChild
        )
        yield* queue.add("a")
        yield* settle
        assert.strictEqual(failures.length, 1)
        assert.isTrue(Cause.hasDies(failures[0]!.cause))
        yield* TestClock.adjust("200 millis")
        assert.strictEqual(attempts, 2)
        assert.strictEqual((yield* queue.stats).processing, 0)
      }))

    it.effect("a processing that interrupts itself puts its key back and the runner goes on", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const runs: Array<string> = []
        yield* queue.pipe(
          WorkQueue.run((key) =>
            Effect.suspend(() => {
              runs.push(key)
              return runs.length === 1 ? Effect.interrupt : Effect.void
            }), { concurrency: 1 }),
          Effect.forkChild
        )
        yield* queue.add("a")
        yield* settle
        assert.deepStrictEqual(runs, ["a", "a"])
        yield* queue.add("b")
        yield* settle
        assert.deepStrictEqual(runs, ["a", "a", "b"])
        assert.strictEqual(yield* queue.retries("a"), 0)
      }))

    it.effect("interrupting the runner takes no more keys: only those in flight go back, once", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        for (let i = 0; i < 10; i++) yield* queue.add(`k${i}`)
        const runner = yield* queue.pipe(
          WorkQueue.run(() => Effect.never, { concurrency: 2 }),
          Effect.forkChild
        )
        yield* settle
        assert.strictEqual((yield* queue.stats).processing, 2)
        yield* Fiber.interrupt(runner)
        const stats = yield* queue.stats
        // ten adds, and one each for the two keys in flight put back; nothing else was taken
        assert.deepStrictEqual([stats.processing, stats.depth, stats.adds], [0, 10, 12])
        assert.deepStrictEqual(yield* drainReady(queue), ["k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k0", "k1"])
      }))

    it.effect("without onError a failure is logged at error level with the key", () => {
      const logs: Array<{ level: string; message: unknown; cause: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make((options) =>
        logs.push({
          level: options.logLevel,
          message: options.message,
          cause: Cause.pretty(options.cause),
          annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
        })
      )
      return Effect.gen(function*() {
        const queue = yield* WorkQueue.make({ name: "widgets" })
        yield* queue.pipe(
          WorkQueue.run(() => Effect.fail("nope"), { concurrency: 1 }),
          Effect.forkChild
        )
        yield* queue.add("ns/a")
        yield* settle
        assert.strictEqual(yield* queue.retries("ns/a"), 1)
        assert.strictEqual(logs.length, 1)
        assert.strictEqual(logs[0]!.level, "Error")
        // the failure's message is in the line; its stack frames (the library's) are not
        assert.include(String(logs[0]!.message), "processing failed; requeued with backoff: nope")
        assert.strictEqual(logs[0]!.cause, "")
        assert.deepStrictEqual(logs[0]!.annotations, { workqueue: "widgets", key: "ns/a", retries: 1, retryIn: "200ms" })
      }).pipe(Effect.provide(Logger.layer([capture])))
    })

    it.effect("requeueAfter brings the key back after the delay", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const runs: Array<number> = []
        yield* queue.pipe(
          WorkQueue.run(() =>
            Effect.map(now, (t) => {
              runs.push(t)
              return runs.length < 3 ? { requeueAfter: "30 seconds" } : undefined
            }), { concurrency: 1 }),
          Effect.forkChild
        )
        yield* queue.add("a")
        yield* TestClock.adjust("2 minutes")
        assert.deepStrictEqual(runs, [0, 30_000, 60_000])
      }))

    it.effect("interrupting the runner puts the keys in flight back and calls done", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        yield* queue.add("a", { priority: "bulk" })
        yield* queue.add("b")
        const runner = yield* queue.pipe(
          WorkQueue.run(() => Effect.never, { concurrency: 4 }),
          Effect.forkChild
        )
        yield* settle
        assert.strictEqual((yield* queue.stats).processing, 2)
        yield* Fiber.interrupt(runner)
        const stats = yield* queue.stats
        assert.deepStrictEqual([stats.processing, stats.depthLive, stats.depthBulk], [0, 1, 1])
        assert.strictEqual(yield* queue.retries("a"), 0)
      }))

    it.effect("drains 10,000 keys with 16 workers, each exactly once", () =>
      Effect.gen(function*() {
        const queue = yield* WorkQueue.make()
        const probe = instrument()
        for (let i = 0; i < 10_000; i++) yield* queue.add(`ns/${i}`, { priority: i % 2 === 0 ? "live" : "bulk" })
        yield* queue.pipe(
          WorkQueue.run((key) => probe.around(key, 0, Effect.sleep("10 millis")), { concurrency: 16 }),
          Effect.forkChild
        )
        yield* TestClock.adjust("7 seconds")
        assert.strictEqual(probe.processed.size, 10_000)
        assert.isTrue([...probe.processed.values()].every((n) => n === 1))
        assert.strictEqual(probe.maxConcurrent, 16)
        assert.strictEqual(yield* queue.depth, 0)
      }))
  })

  describe("metrics", () => {
    it.effect("reports adds, retries, queue and work durations, unfinished work and the longest runner", () =>
      Effect.gen(function*() {
        const adds: Array<WorkQueue.Priority> = []
        const queueDurations: Array<number> = []
        const workDurations: Array<number> = []
        let retries = 0
        const queue = yield* WorkQueue.make({
          metrics: {
            onAdd: (priority) => adds.push(priority),
            onRetry: () => retries++,
            onQueueDuration: (seconds) => queueDurations.push(seconds),
            onWorkDuration: (seconds) => workDurations.push(seconds)
          }
        })
        yield* queue.add("a")
        yield* queue.add("a")
        yield* queue.add("b", { priority: "bulk" })
        yield* TestClock.adjust("2 seconds")
        yield* queue.take
        yield* TestClock.adjust("1 second")
        yield* queue.take
        yield* TestClock.adjust("3 seconds")
        const stats = yield* queue.stats
        assert.strictEqual(stats.processing, 2)
        assert.strictEqual(stats.unfinishedWorkSeconds, 7)
        assert.strictEqual(stats.longestRunningProcessorSeconds, 4)
        yield* queue.done("a")
        yield* queue.addRateLimited("b")
        yield* queue.done("b")
        assert.deepStrictEqual(adds, ["live", "bulk"])
        assert.strictEqual(retries, 1)
        assert.deepStrictEqual(queueDurations, [2, 3])
        assert.deepStrictEqual(workDurations, [4, 3])
        const after = yield* queue.stats
        assert.deepStrictEqual(
          [after.adds, after.retries, after.delayed, after.processing, after.unfinishedWorkSeconds],
          [2, 1, 1, 0, 0]
        )
      }))
  })
})
