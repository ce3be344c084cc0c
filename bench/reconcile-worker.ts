/**
 * `reconcile-worker.ts startup <concurrency> <kubeconfig>` or `reconcile-worker.ts latency <impl> <kubeconfig>`.
 */
import * as ChildProcess from "node:child_process"
import * as Https from "node:https"
import * as Path from "node:path"
import { Effect, type Scope } from "effect"
import { Client, Controller, Framework, Kind, KubeConfig } from "operatorkit"
import { median } from "./lib.ts"
import { LATENCY_NAMESPACE, LATENCY_SECONDS, N, STARTUP_NAMESPACE } from "./reconcile-config.ts"

const [mode, arg, kubeconfigPath] = process.argv.slice(2) as [string, string, string]
type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const withClient = async <A>(f: (client: Client.ClientService) => Effect.Effect<A, unknown, Scope.Scope | Client.Client>) => {
  const config = await Effect.runPromise(KubeConfig.fromFile(kubeconfigPath))
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make(config)
    return yield* f(client).pipe(Effect.provideService(Client.Client, client))
  })))
}

const percentile = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}

if (mode === "startup") {
  const concurrency = Number(arg)
  const result = await withClient(() =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      let done!: () => void
      const all = new Promise<void>((r) => (done = r))
      const noop = Framework.make<ConfigMap>()({
        name: "noop",
        ensureCreated: (cm) =>
          Effect.sync(() => {
            seen.add(cm.metadata.name)
            if (seen.size === N) done()
          }),
        ensureDeleted: () => Effect.void
      })
      const start = performance.now()
      const cpu0 = process.cpuUsage()
      const cpuMs = () => {
        const { system, user } = process.cpuUsage(cpu0)
        return Math.round((user + system) / 1000)
      }
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "bench", kind: Kind.ConfigMap, namespace: STARTUP_NAMESPACE, resources: [noop], concurrency })
      yield* controller.synced
      const synced = performance.now() - start
      const syncedCpu = cpuMs()
      yield* Effect.promise(() => all)
      const reconciled = performance.now() - start
      const reconciledCpu = cpuMs()
      // CPU time of the whole process over the same spans: the work, whatever else the machine runs
      return { synced_ms: Math.round(synced), reconciled_ms: Math.round(reconciled), synced_cpu_ms: syncedCpu, reconciled_cpu_ms: reconciledCpu }
    })
  )
  process.stdout.write(JSON.stringify(result) + "\n")
} else {
  const impl = arg
  const latencies: Array<number> = []
  const record = (stamp: string | undefined) => {
    const t = Number(stamp)
    if (t > 0) latencies.push(Date.now() - t)
  }
  const writer = () =>
    new Promise<void>((resolve, reject) => {
      const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", Path.join(import.meta.dirname, "reconcile-writer.ts"), kubeconfigPath], {
        stdio: ["ignore", "inherit", "inherit"]
      })
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))))
    })
  if (impl === "operatorkit") {
    await withClient(() =>
      Effect.gen(function*() {
        const probe = Framework.make<ConfigMap>()({
          name: "probe",
          ensureCreated: (cm) => Effect.sync(() => record(cm.data?.["stamp"])),
          ensureDeleted: () => Effect.void
        })
        const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "bench", kind: Kind.ConfigMap, namespace: LATENCY_NAMESPACE, resources: [probe], concurrency: 4 })
        yield* controller.synced
        yield* Effect.sleep("500 millis")
        latencies.length = 0
        yield* Effect.promise(writer)
        yield* Effect.sleep("300 millis")
      })
    )
  } else {
    // the floor: a raw watch, JSON.parse per line, the stamp of each event
    const Fs = await import("node:fs")
    const text = Fs.readFileSync(kubeconfigPath, "utf8")
    const url = new URL(/server: (\S+)/.exec(text)![1]!)
    const token = /token: (\S+)/.exec(text)![1]!
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(text)![1]!, "base64")
    const req = Https.request({
      host: url.hostname,
      port: url.port,
      path: `/api/v1/namespaces/${LATENCY_NAMESPACE}/configmaps?watch=1&resourceVersion=0`,
      headers: { authorization: `Bearer ${token}` },
      ca
    }, (res) => {
      let buffer = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buffer += chunk
        let nl: number
        while ((nl = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, nl)
          buffer = buffer.slice(nl + 1)
          const event = JSON.parse(line) as { object?: { data?: Record<string, string> } }
          record(event.object?.data?.["stamp"])
        }
      })
    })
    req.end()
    await new Promise((r) => setTimeout(r, 1000))
    latencies.length = 0
    await writer()
    await new Promise((r) => setTimeout(r, 300))
    req.destroy()
  }
  process.stdout.write(JSON.stringify({
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    median: median(latencies),
    samples: latencies.length,
    seconds: LATENCY_SECONDS
  }) + "\n")
}
process.exit(0)

