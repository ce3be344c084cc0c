/**
 * Reconcile throughput and latency.
 * - startup: 10,000 ConfigMaps (already carrying the controller's finalizer, as after a restart),
 *   no-op resources; time from start to every object reconciled once, at concurrency 1, 4 and 16,
 *   next to the same run's informer time to synced.
 * - latency: while another process writes 200 changes a second (merge patches of its Date.now()),
 *   the time from the stamp to the start of the reconcile that sees it, p50 and p99; next to a floor
 *   in the same run: a raw watch with JSON.parse measuring the same stamp.
 * Both also run a client-go controller (bench/go/reconcile: informer, lister, rate-limited work
 * queue, no-op reconcile) in protobuf and in JSON when Go is available (bench/go.ts).
 * Each measurement runs in a fresh process; rounds alternate the implementations.
 */
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import { prepareGo } from "./go.ts"
import { log, nodeCommand, printTable, runJson, runWorker, summarize, type Measurement, writeResults } from "./lib.ts"
import { FINALIZER, LATENCY_NAMESPACE, LATENCY_OBJECTS, N, STARTUP_NAMESPACE, WRITES_PER_SECOND } from "./reconcile-config.ts"

const worker = Path.join(import.meta.dirname, "reconcile-worker.ts")
const writer = Path.join(import.meta.dirname, "reconcile-writer.ts")

interface Startup {
  readonly synced_ms: number
  readonly reconciled_ms: number
  readonly synced_cpu_ms: number
  readonly reconciled_cpu_ms: number
}

/** One implementation: its startup measurement (when it has one) and its latency measurement. */
interface Impl {
  readonly name: string
  readonly startup?: (kubeconfigPath: string, concurrency: number) => Promise<Startup>
  readonly latency: (kubeconfigPath: string) => Promise<{ p50: number; p99: number; samples: number }>
}

const operatorkit: Impl = {
  name: "operatorkit",
  startup: (kubeconfigPath, concurrency) => runWorker(worker, ["startup", String(concurrency), kubeconfigPath]),
  latency: (kubeconfigPath) => runWorker(worker, ["latency", "operatorkit", kubeconfigPath])
}

const floor: Impl = {
  name: "floor",
  latency: (kubeconfigPath) => runWorker(worker, ["latency", "floor", kubeconfigPath])
}

/** client-go's controller (bench/go/reconcile); the latency run drives the same writer. */
const goImpl = (name: string, binary: string, contentType: "protobuf" | "json"): Impl => {
  const common = (kubeconfigPath: string) => ["-kubeconfig", kubeconfigPath, "-content-type", contentType]
  return {
    name,
    startup: (kubeconfigPath, concurrency) =>
      runJson(binary, ["-mode", "startup", "-workers", String(concurrency), "-namespace", STARTUP_NAMESPACE, "-n", String(N), ...common(kubeconfigPath)]),
    latency: (kubeconfigPath) =>
      runJson(binary, [
        "-mode", "latency", "-workers", "4", "-namespace", LATENCY_NAMESPACE, "-n", String(LATENCY_OBJECTS), ...common(kubeconfigPath),
        "--", ...nodeCommand(writer, [kubeconfigPath])
      ])
  }
}

const implementations = async (): Promise<ReadonlyArray<Impl>> => {
  const go = await prepareGo()
  if (!go.available) {
    log(`reconcile: client-go left out: ${go.reason}`)
    return [operatorkit, floor]
  }
  return [operatorkit, floor, goImpl("client-go", go.path("reconcile"), "protobuf"), goImpl("client-go-json", go.path("reconcile"), "json")]
}

/** `xs` rotated by `by`, so no implementation always runs first or last. */
const rotate = <A>(xs: ReadonlyArray<A>, by: number) => xs.map((_, i) => xs[(i + by) % xs.length]!)

export const main = async (rounds = 3) => {
  // before the control plane starts: a first build of the Go programs takes the CPUs for a while
  const impls = await implementations()
  // BENCH_RECONCILE=latency (or startup) runs one part only
  const part = process.env["BENCH_RECONCILE"]
  const measurements: Array<Measurement> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("reconcile: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
    for (const ns of [STARTUP_NAMESPACE, LATENCY_NAMESPACE]) yield* client.create(Kind.Namespace, { metadata: { name: ns } })
    log(`reconcile: seeding ${N} ConfigMaps`)
    const seed = (ns: string, n: number) =>
      Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: ns, finalizers: [FINALIZER] }, data: { v: "x".repeat(200), stamp: "0" } }),
        { concurrency: 16, discard: true }
      )
    if (part !== "latency") yield* seed(STARTUP_NAMESPACE, N)
    yield* seed(LATENCY_NAMESPACE, LATENCY_OBJECTS)
    const kubeconfigPath = env.kubeconfigPath
    for (let round = 0; round < rounds; round++) {
      for (const concurrency of part === "latency" ? [] : [1, 4, 16]) {
        for (const impl of rotate(impls, round)) {
          if (impl.startup === undefined) continue
          const r = yield* Effect.promise(() => impl.startup!(kubeconfigPath, concurrency))
          log(`reconcile: round ${round + 1}/${rounds} startup ${impl.name} c=${concurrency}: ${JSON.stringify(r)}`)
          measurements.push({ impl: impl.name, metric: `synced_ms_c${concurrency}`, value: r.synced_ms })
          measurements.push({ impl: impl.name, metric: `reconciled_ms_c${concurrency}`, value: r.reconciled_ms })
          measurements.push({ impl: impl.name, metric: `ratio_c${concurrency}`, value: r.reconciled_ms / r.synced_ms })
          measurements.push({ impl: impl.name, metric: `synced_cpu_ms_c${concurrency}`, value: r.synced_cpu_ms })
          measurements.push({ impl: impl.name, metric: `reconciled_cpu_ms_c${concurrency}`, value: r.reconciled_cpu_ms })
        }
      }
      for (const impl of part === "startup" ? [] : rotate(impls, round)) {
        const r = yield* Effect.promise(() => impl.latency(kubeconfigPath))
        log(`reconcile: round ${round + 1}/${rounds} latency ${impl.name}: ${JSON.stringify(r)}`)
        measurements.push({ impl: impl.name, metric: "latency_p50_ms", value: r.p50 })
        measurements.push({ impl: impl.name, metric: "latency_p99_ms", value: r.p99 })
        measurements.push({ impl: impl.name, metric: "latency_samples", value: r.samples })
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("reconcile", rounds, results, { n: N, writesPerSecond: WRITES_PER_SECOND })
  printTable("reconcile", results)
  const get = (impl: string, metric: string) => results.find((r) => r.impl === impl && r.metric === metric)?.median ?? NaN
  const round2 = (n: number) => Math.round(n * 100) / 100
  const lines = [
    `targets: all reconciled ≤ 1.1× synced → c1 ${round2(get("operatorkit", "ratio_c1"))}×, c4 ${round2(get("operatorkit", "ratio_c4"))}×, c16 ${round2(get("operatorkit", "ratio_c16"))}× ; ` +
    `latency ≤ 1.2× floor → p50 ${round2(get("operatorkit", "latency_p50_ms") / get("floor", "latency_p50_ms"))}×, ` +
    `p99 ${round2(get("operatorkit", "latency_p99_ms") / get("floor", "latency_p99_ms"))}×`,
    ...impls.filter((impl) => impl.name.startsWith("client-go")).map((impl) => {
      const vs = (metric: string) => round2(get("operatorkit", metric) / get(impl.name, metric))
      return `targets vs ${impl.name} (≤ 1×): all reconciled → c1 ${vs("reconciled_ms_c1")}×, c4 ${vs("reconciled_ms_c4")}×, c16 ${vs("reconciled_ms_c16")}× ; ` +
        `latency → p50 ${vs("latency_p50_ms")}×, p99 ${vs("latency_p99_ms")}×`
    })
  ]
  process.stdout.write(`\n${lines.join("\n")}\nresults: ${file}\n`)
}
