import type { Duration, Scope } from "effect"
import { Effect, pipe } from "effect"
import { describe, expect, it } from "tstyche"
import { WorkQueue } from "operatorkit"

declare const queue: WorkQueue.WorkQueue
declare const numbers: WorkQueue.WorkQueue<number>

class ReconcileError {
  readonly _tag = "ReconcileError"
}
class Kube {
  readonly _tag = "Kube"
}
declare const reconcile: (key: string) => Effect.Effect<void, ReconcileError, Kube>

describe("WorkQueue", () => {
  it("make is scoped, cannot fail, and keys default to string", () => {
    expect(WorkQueue.make()).type.toBe<Effect.Effect<WorkQueue.WorkQueue<string>, never, Scope.Scope>>()
    expect(WorkQueue.make<number>({ name: "n" })).type.toBe<
      Effect.Effect<WorkQueue.WorkQueue<number>, never, Scope.Scope>
    >()
  })

  it("rejects unknown options and bad values", () => {
    expect(WorkQueue.make).type.not.toBeCallableWith({ concurency: 2 })
    expect(WorkQueue.make).type.not.toBeCallableWith({ baseDelay: "soon" })
    expect(WorkQueue.make).type.toBeCallableWith({ baseDelay: "1 second", maxDelay: 60_000, qps: Infinity })
  })

  it("only take can fail, with WorkQueueShutdown", () => {
    expect(queue.take).type.toBe<Effect.Effect<string, WorkQueue.WorkQueueShutdown>>()
    expect(queue.add("ns/a")).type.toBe<Effect.Effect<void>>()
    expect(queue.addAfter("ns/a", "5 seconds")).type.toBe<Effect.Effect<void>>()
    expect(queue.addRateLimited("ns/a")).type.toBe<Effect.Effect<Duration.Duration>>()
    expect(queue.retries("ns/a")).type.toBe<Effect.Effect<number>>()
    expect(queue.done("ns/a")).type.toBe<Effect.Effect<void>>()
    expect(queue.shutdown).type.toBe<Effect.Effect<void>>()
    expect(queue.stats).type.toBe<Effect.Effect<WorkQueue.Stats>>()
  })

  it("keys and priorities are checked", () => {
    expect(numbers.add).type.not.toBeCallableWith("ns/a")
    expect(queue.add).type.toBeCallableWith("ns/a", { priority: "bulk" })
    expect(queue.add).type.not.toBeCallableWith("ns/a", { priority: "urgent" })
  })

  it("run keeps the process's services and never fails", () => {
    expect(WorkQueue.run(queue, reconcile, { concurrency: 4 })).type.toBe<Effect.Effect<void, never, Kube>>()
    expect(pipe(queue, WorkQueue.run(reconcile, { concurrency: 4 }))).type.toBe<Effect.Effect<void, never, Kube>>()
    expect(queue.pipe(WorkQueue.run((key) => Effect.log(key), { concurrency: 1 }))).type.toBe<Effect.Effect<void>>()
  })

  it("onError sees the process's error type", () => {
    WorkQueue.run(queue, reconcile, {
      concurrency: 1,
      onError: (failure) => {
        expect(failure).type.toBe<WorkQueue.Failure<string, ReconcileError>>()
        return Effect.void
      }
    })
  })

  it("a process returns nothing or a requeue-after outcome", () => {
    expect(WorkQueue.run(queue, () => Effect.succeed({ requeueAfter: "30 seconds" }), { concurrency: 1 })).type
      .toBe<Effect.Effect<void>>()
    expect(WorkQueue.run).type.not.toBeCallableWith(queue, () => Effect.succeed(42), { concurrency: 1 })
    expect(WorkQueue.run).type.not.toBeCallableWith(queue, reconcile, {})
  })

  it("the key type of run follows the queue", () => {
    expect(WorkQueue.run).type.not.toBeCallableWith(numbers, reconcile, { concurrency: 1 })
  })
})
