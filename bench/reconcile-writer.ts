/**
 * Writes 200 merge patches a second (its Date.now() into data.stamp of a random object) for a while.
 * `BENCH_STAMP=hr` adds `data.stampHr`: `performance.timeOrigin + performance.now()` with
 * microseconds (bench/reconcile-latency.ts).
 */
import { Duration, Effect } from "effect"
import { Client, Kind, KubeConfig, Patch } from "operatorkit"
import { LATENCY_NAMESPACE, LATENCY_OBJECTS, LATENCY_SECONDS, WRITES_PER_SECOND } from "./reconcile-config.ts"

const kubeconfigPath = process.argv[2]!
// `stamp` in whole milliseconds (what reconcile-worker.ts and client-go's program read); with
// BENCH_STAMP=hr also `stampHr` in microseconds, taken at the same instant
const stamps = process.env["BENCH_STAMP"] === "hr"
  ? () => {
    const now = performance.timeOrigin + performance.now()
    return { stamp: String(Math.floor(now)), stampHr: now.toFixed(3) }
  }
  : () => ({ stamp: String(Date.now()) })
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const client = yield* Client.make(yield* KubeConfig.fromFile(kubeconfigPath))
  const total = LATENCY_SECONDS * WRITES_PER_SECOND
  const start = performance.now()
  // writes are paced by the wall clock so that slow answers do not lower the rate
  yield* Effect.forEach(Array.from({ length: total }, (_, i) => i), (i) =>
    Effect.gen(function*() {
      const due = start + (i * 1000) / WRITES_PER_SECOND
      const wait = due - performance.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      const name = `cm-${Math.floor(Math.random() * LATENCY_OBJECTS)}`
      yield* client.patch(Kind.ConfigMap, { namespace: LATENCY_NAMESPACE, name }, Patch.merge({ data: stamps() }))
    }), { concurrency: 16, discard: true })

})))
process.exit(0)
