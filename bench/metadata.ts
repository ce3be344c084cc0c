/**
 * Metadata-only informers: 10,000 ConfigMaps with 1 KB of data each in one namespace; operatorkit's
 * Informer on the whole objects ("full") and on `Kind.metadataOnly(Kind.ConfigMap)` ("metadata"),
 * each in a fresh process (metadata-worker.ts), alternating within each round. Metrics: retained heap
 * after GC, time and CPU to synced, RSS. Target (issue 20): metadata-only retained heap ≤ 0.3× the
 * full informer's.
 */
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { log, printTable, runWorker, summarize, type Measurement, writeResults } from "./lib.ts"

const N = Number(process.env["OPERATORKIT_BENCH_N"] ?? 10_000)
const NAMESPACE = "bench-metadata"
const worker = Path.join(import.meta.dirname, "metadata-worker.ts")
const impls = ["full", "metadata"] as const

export const main = async (rounds = 5) => {
  const measurements: Array<Measurement> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("metadata: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
    yield* client.create(Kind.Namespace, { metadata: { name: NAMESPACE } })
    log(`metadata: seeding ${N} ConfigMaps with 1 KB of data`)
    yield* Effect.forEach(
      Array.from({ length: N }, (_, i) => i),
      (i) =>
        client.create(Kind.ConfigMap, {
          metadata: { name: `cm-${i}`, namespace: NAMESPACE, labels: { app: "bench", shard: String(i % 16) } },
          // random, so no two payloads share storage
          data: { payload: Crypto.randomBytes(768).toString("base64") }
        }),
      { concurrency: 16, discard: true }
    )
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? impls : [...impls].reverse()
      for (const impl of order) {
        const r = yield* Effect.promise(() => runWorker(worker, [impl, env.kubeconfigPath, NAMESPACE, String(N)]))
        log(`metadata: round ${round + 1}/${rounds} ${impl}: ${JSON.stringify(r)}`)
        for (const [metric, value] of Object.entries(r)) measurements.push({ impl, metric, value: value as number })
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("metadata", rounds, results, { n: N, data_bytes: 1024 })
  printTable("metadata", results)
  const get = (impl: string) => results.find((r) => r.impl === impl && r.metric === "retained_mb")?.median ?? NaN
  const ratio = Math.round((get("metadata") / get("full")) * 100) / 100
  process.stdout.write(`\ntargets:\n  metadata-only retained heap vs full informer ${ratio}  (target ≤ 0.3) ${ratio <= 0.3 ? "met" : "MISSED"}\nresults: ${file}\n`)
}
