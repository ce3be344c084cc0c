/**
 * Reconcile throughput and latency.
 * - startup: 10,000 ConfigMaps (already carrying the controller's finalizer, as after a restart),
 *   no-op resources; time from start to every object reconciled once, at concurrency 1, 4 and 16,
 *   next to the same run's informer time to synced.
 * - latency: while another process writes 200 changes a second (merge patches of its Date.now()),
 *   the time from the stamp to the start of the reconcile that sees it, p50 and p99; next to a floor
 *   in the same run: a raw watch with JSON.parse measuring the same stamp.
 * Each measurement runs in a fresh process; rounds alternate the implementations.
 */
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { log, printTable, runWorker, summarize, type Measurement, writeResults } from "./lib.ts"
import { FINALIZER, LATENCY_NAMESPACE, LATENCY_OBJECTS, N, STARTUP_NAMESPACE } from "./reconcile-config.ts"

const worker = Path.join(import.meta.dirname, "reconcile-worker.ts")

export const main = async (rounds = 3) => {
  const measurements: Array<Measurement> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("reconcile: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.fromKubeConfig(yield* KubeConfig.fromString(env.kubeconfig))
    for (const ns of [STARTUP_NAMESPACE, LATENCY_NAMESPACE]) yield* client.create(Kind.Namespace, { metadata: { name: ns } })
    log(`reconcile: seeding ${N} ConfigMaps`)
    const seed = (ns: string, n: number) =>
      Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: ns, finalizers: [FINALIZER] }, data: { v: "x".repeat(200), stamp: "0" } }),
        { concurrency: 16, discard: true }
      )
    yield* seed(STARTUP_NAMESPACE, N)
    yield* seed(LATENCY_NAMESPACE, LATENCY_OBJECTS)
    const run = (args: ReadonlyArray<string>) => Effect.promise(() => runWorker(worker, [...args, env.kubeconfigPath]))
    for (let round = 0; round < rounds; round++) {
      for (const concurrency of [1, 4, 16]) {
        const r = yield* run(["startup", String(concurrency)])
        log(`reconcile: round ${round + 1}/${rounds} startup c=${concurrency}: ${JSON.stringify(r)}`)
        measurements.push({ impl: "operatorkit", metric: `synced_ms_c${concurrency}`, value: r.synced_ms })
        measurements.push({ impl: "operatorkit", metric: `reconciled_ms_c${concurrency}`, value: r.reconciled_ms })
        measurements.push({ impl: "operatorkit", metric: `ratio_c${concurrency}`, value: r.reconciled_ms / r.synced_ms })
      }
      const order = round % 2 === 0 ? ["operatorkit", "floor"] : ["floor", "operatorkit"]
      for (const impl of order) {
        const r = yield* run(["latency", impl])
        log(`reconcile: round ${round + 1}/${rounds} latency ${impl}: ${JSON.stringify(r)}`)
        measurements.push({ impl, metric: "latency_p50_ms", value: r.p50 })
        measurements.push({ impl, metric: "latency_p99_ms", value: r.p99 })
        measurements.push({ impl, metric: "latency_samples", value: r.samples })
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("reconcile", rounds, results, { n: N, writesPerSecond: 200 })
  printTable("reconcile", results)
  const get = (impl: string, metric: string) => results.find((r) => r.impl === impl && r.metric === metric)?.median ?? NaN
  const round2 = (n: number) => Math.round(n * 100) / 100
  process.stdout.write(
    `\ntargets: all reconciled ≤ 1.1× synced → c1 ${round2(get("operatorkit", "ratio_c1"))}×, c4 ${round2(get("operatorkit", "ratio_c4"))}×, c16 ${round2(get("operatorkit", "ratio_c16"))}× ; ` +
      `latency ≤ 1.2× floor → p50 ${round2(get("operatorkit", "latency_p50_ms") / get("floor", "latency_p50_ms"))}×, ` +
      `p99 ${round2(get("operatorkit", "latency_p99_ms") / get("floor", "latency_p99_ms"))}×\nresults: ${file}\n`
  )
}
