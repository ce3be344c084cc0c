/**
 * Client throughput: 2,000 GETs and 2,000 creates at concurrency 16, against the same Envtest, for
 * operatorkit (full Schema decoding), @kubernetes/client-node's CoreV1Api, and a floor (plain
 * node:https with a keep-alive agent and JSON.parse, no decoding). Each measurement runs in a fresh
 * Node process; implementations alternate within each round.
 */
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { log, printTable, runWorker, summarize, type Measurement, writeResults } from "./lib.ts"

import { CONCURRENCY, N, SEED_NAMESPACE } from "./client-config.ts"

const impls = ["operatorkit", "client-node", "floor"] as const
const payload = "x".repeat(1024)

export const main = async (rounds = 5) => {
  const measurements: Array<Measurement> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("client: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
    yield* client.create(Kind.Namespace, { metadata: { name: SEED_NAMESPACE } })
    log(`client: seeding ${N} ConfigMaps of ~1 KB`)
    yield* Effect.forEach(
      Array.from({ length: N }, (_, i) => i),
      (i) => client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: SEED_NAMESPACE }, data: { payload, i: String(i) } }),
      { concurrency: 16, discard: true }
    )
    for (let round = 0; round < rounds; round++) {
      // rotate the order so no implementation always runs first or last
      const order = impls.map((_, i) => impls[(i + round) % impls.length]!)
      for (const impl of order) {
        const ns = `bench-create-${impl}-${round}`
        yield* client.create(Kind.Namespace, { metadata: { name: ns } })
        const r = yield* Effect.promise(() =>
          runWorker(Path.join(import.meta.dirname, "client-worker.ts"), [impl, env.kubeconfigPath, ns])
        )
        log(`client: round ${round + 1}/${rounds} ${impl}: ${JSON.stringify(r)}`)
        for (const [metric, value] of Object.entries(r)) measurements.push({ impl, metric, value: value as number })
        // keep etcd small between rounds
        yield* client.raw({ method: "DELETE", path: `/api/v1/namespaces/${ns}/configmaps` })
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("client", rounds, results, { n: N, concurrency: CONCURRENCY })
  printTable("client", results)
  const get = (impl: string, metric: string) => results.find((r) => r.impl === impl && r.metric === metric)?.median ?? NaN
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100
  process.stdout.write(
    `\ntargets: GETs ≥ 0.8× floor → ${ratio(get("operatorkit", "gets_per_s"), get("floor", "gets_per_s"))}× ; ` +
      `creates vs floor ${ratio(get("operatorkit", "creates_per_s"), get("floor", "creates_per_s"))}× ; ` +
      `vs client-node GETs ${ratio(get("operatorkit", "gets_per_s"), get("client-node", "gets_per_s"))}× ; ` +
      `peak heap ${get("operatorkit", "heap_peak_mb")} MB vs client-node ${get("client-node", "heap_peak_mb")} MB\n` +
      `results: ${file}\n`
  )
}
