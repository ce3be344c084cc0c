/**
 * One measurement of the metadata benchmark in a fresh process:
 * `metadata-worker.ts <full|metadata> <kubeconfig> <namespace> <n>`. Starts operatorkit's Informer on
 * the ConfigMaps of the namespace (the whole objects, or `Kind.metadataOnly`), waits until synced and
 * prints the time to synced and the heap it retains after GC (over a baseline taken after the modules
 * were loaded and a Client made).
 */
import { Effect, Scope } from "effect"
import * as Client from "operatorkit/Client"
import * as Informer from "operatorkit/Informer"
import * as Kind from "operatorkit/Kind"
import * as KubeConfig from "operatorkit/KubeConfig"

const [impl, kubeconfigPath, namespace, n] = process.argv.slice(2) as [string, string, string, string]
if (impl !== "full" && impl !== "metadata") throw new Error(`unknown impl ${impl}`)
const MB = 2 ** 20
const gc = () => {
  globalThis.gc!()
  globalThis.gc!()
}

const config = await Effect.runPromise(KubeConfig.fromFile(kubeconfigPath))
const scope = await Effect.runPromise(Scope.make())
const client = await Effect.runPromise(Client.make(config).pipe(Scope.provide(scope)))
const kind = impl === "metadata" ? Kind.metadataOnly(Kind.ConfigMap) : Kind.ConfigMap
gc()
const baseline = process.memoryUsage().heapUsed
const t0 = performance.now()
const cpu0 = process.cpuUsage()
const informer = await Effect.runPromise(
  (Informer.make(kind, { namespace }) as Effect.Effect<Informer.Informer<Kind.KubeObject>, never, Client.Client | Scope.Scope>).pipe(
    Effect.provideService(Client.Client, client),
    Scope.provide(scope)
  )
)
await Effect.runPromise(informer.synced)
const syncMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const size = Effect.runSync(informer.store.size)
if (size !== Number(n)) throw new Error(`${impl}: synced with ${size} objects, expected ${n}`)
gc()
const { heapUsed, rss } = process.memoryUsage()
const round1 = (x: number) => Math.round(x * 10) / 10
process.stdout.write(JSON.stringify({
  sync_ms: Math.round(syncMs),
  sync_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
  retained_mb: round1((heapUsed - baseline) / MB),
  rss_mb: round1(rss / MB)
}) + "\n")
process.exit(0)
