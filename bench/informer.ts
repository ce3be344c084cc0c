/**
 * Informer: 10,000 ConfigMaps of about 1.5 KB in one namespace, for operatorkit's Informer,
 * @kubernetes/client-node's makeInformer, a floor (one list GET with resourceVersion=0 and
 * JSON.parse into a Map; a raw watch with JSON.parse per line into the same Map), and client-go's
 * shared informer (bench/go/informer) in protobuf and in JSON when Go is available (bench/go.ts).
 *
 * Metrics: time to synced, retained heap after GC, the heap peak during a forced relist against the
 * steady heap, and CPU time per watch event while another process updates all 10,000 objects.
 * Each measurement runs in a fresh process (informer-worker.ts, or the Go program); implementations alternate
 * within each round; the figures are medians over rounds.
 */
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { N, NAMESPACE, PAYLOAD_CHARS, UPDATE_RATE, WRITE_CONCURRENCY } from "./informer-config.ts"
import { prepareGo } from "./go.ts"
import { log, nodeCommand, printTable, type Result, runJson, runWorker, summarize, type Measurement, writeResults } from "./lib.ts"

/** One implementation: how a measurement of it runs, in a fresh process, printing the worker's metrics. */
interface Impl {
  readonly name: string
  readonly measure: (kubeconfigPath: string, value: string) => Promise<Record<string, number>>
}

const worker = Path.join(import.meta.dirname, "informer-worker.ts")
const updater = Path.join(import.meta.dirname, "informer-updater.ts")

const nodeImpl = (name: string): Impl => ({
  name,
  measure: (kubeconfigPath, value) => runWorker(worker, [name, kubeconfigPath, NAMESPACE, value])
})

/** client-go's shared informer (bench/go/informer), with the same updater driving its events. */
const goImpl = (name: string, binary: string, contentType: "protobuf" | "json"): Impl => ({
  name,
  measure: (kubeconfigPath, value) =>
    runJson(binary, [
      "-kubeconfig", kubeconfigPath, "-namespace", NAMESPACE, "-n", String(N), "-content-type", contentType,
      "--", ...nodeCommand(updater, [kubeconfigPath, NAMESPACE, value])
    ])
})

const implementations = async (): Promise<ReadonlyArray<Impl>> => {
  const node = ["operatorkit", "client-node", "floor"].map(nodeImpl)
  const go = await prepareGo()
  if (!go.available) {
    log(`informer: client-go left out: ${go.reason}`)
    return node
  }
  return [...node, goImpl("client-go", go.path("informer"), "protobuf"), goImpl("client-go-json", go.path("informer"), "json")]
}

/** The target ratios of the issue, from the medians. */
const targets = (results: ReadonlyArray<Result>) => {
  const get = (impl: string, metric: string) => results.find((r) => r.impl === impl && r.metric === metric)?.median ?? NaN
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100
  const line = (name: string, value: number, limit: number) =>
    `  ${name.padEnd(44)} ${String(value).padStart(5)}  (target ≤ ${limit}) ${value <= limit ? "met" : "MISSED"}`
  return [
    "targets (operatorkit):",
    line("sync time vs floor", ratio(get("operatorkit", "sync_ms"), get("floor", "sync_ms")), 1.15),
    line("retained heap vs client-node", ratio(get("operatorkit", "retained_mb"), get("client-node", "retained_mb")), 0.5),
    line("relist peak vs steady heap (median of rounds)", get("operatorkit", "relist_peak_ratio"), 1.5),
    line("CPU per event vs floor", ratio(get("operatorkit", "cpu_us_per_event"), get("floor", "cpu_us_per_event")), 1.25),
    ...["client-go", "client-go-json"].filter((impl) => results.some((r) => r.impl === impl)).flatMap((impl) => [
      line(`sync time vs ${impl}`, ratio(get("operatorkit", "sync_ms"), get(impl, "sync_ms")), 1),
      line(`retained heap vs ${impl}`, ratio(get("operatorkit", "retained_mb"), get(impl, "retained_mb")), 1)
    ])
  ].join("\n")
}

/**
 * A fresh Envtest control plane with the benchmark's N ConfigMaps in NAMESPACE (also used by
 * profile-informer.ts); `objectBytes` is the size of one as the server sends it.
 */
export const seeded = Effect.gen(function*() {
  log("informer: starting Envtest")
  const env = yield* Envtest.make()
  const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
  yield* client.create(Kind.Namespace, { metadata: { name: NAMESPACE } })
  log(`informer: seeding ${N} ConfigMaps of ~1.5 KB`)
  const started = performance.now()
  yield* Effect.forEach(
    Array.from({ length: N }, (_, i) => i),
    (i) =>
      client.create(Kind.ConfigMap, {
        metadata: { name: `cm-${i}`, namespace: NAMESPACE, labels: { app: "bench", shard: String(i % 16) } },
        // random, so no two payloads share storage
        data: { payload: Crypto.randomBytes(Math.ceil((PAYLOAD_CHARS * 3) / 4)).toString("base64").slice(0, PAYLOAD_CHARS), i: String(i), v: "0" }
      }),
    { concurrency: WRITE_CONCURRENCY, discard: true }
  )
  log(`informer: seeded in ${Math.round(performance.now() - started)} ms`)
  // the size of an object as the server sends it in a list
  const sample = yield* client.raw({ method: "GET", path: `/api/v1/namespaces/${NAMESPACE}/configmaps/cm-0` })
  return { env, objectBytes: JSON.stringify(sample).length }
})

export const main = async (rounds = 5) => {
  // before the control plane starts: a first build of the Go programs takes the CPUs for a while
  const impls = await implementations()
  const measurements: Array<Measurement> = []
  let objectBytes = 0
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { env, objectBytes: bytes } = yield* seeded
    objectBytes = bytes
    for (let round = 0; round < rounds; round++) {
      // rotate the order so no implementation always runs first or last
      const order = impls.map((_, i) => impls[(i + round) % impls.length]!)
      for (const impl of order) {
        const r = yield* Effect.promise(() => impl.measure(env.kubeconfigPath, `${impl.name}-${round}`))
        log(`informer: round ${round + 1}/${rounds} ${impl.name}: ${JSON.stringify(r)}`)
        if (r["events"] !== N) throw new Error(`${impl.name} received ${r["events"]} of ${N} update events`)
        for (const [metric, value] of Object.entries(r)) measurements.push({ impl: impl.name, metric, value })
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("informer", rounds, results, { n: N, object_bytes: objectBytes })
  printTable("informer", results)
  // an updater that falls behind its pace delivers events in bursts, which lowers CPU per event
  const paced = (N * 1000) / UPDATE_RATE
  const late = measurements.filter((m) => m.metric === "update_ms" && m.value > paced * 1.05)
  const pace = late.length === 0 ? "" : `\nthe updater fell behind its pace (${Math.round(paced)} ms) in ${late.length} of ${rounds * impls.length} measurements ` +
    `(${late.map((m) => `${m.impl} ${m.value} ms`).join(", ")}): the machine was busy, CPU per event is disturbed there`
  process.stdout.write(`\n${targets(results)}${pace}\nresults: ${file}\n`)
}
