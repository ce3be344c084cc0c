/**
 * One informer benchmark measurement in a fresh process: `informer-worker.ts <impl> <kubeconfig> <namespace> <value>`.
 *
 * In order: time to synced; retained heap and RSS after GC; CPU per watch event while a separate process
 * (informer-updater.ts) updates every object; the heap peak during a forced relist against the
 * steady heap after GC just before it. Prints one JSON line of metrics.
 *
 * Each implementation imports only its own modules, and the baseline heap is taken after those
 * imports, so the retained figure is the informer's own; `retained_with_modules_mb` counts the
 * modules too (from before the implementation's first import).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Inspector from "node:inspector/promises"
import * as Path from "node:path"
import * as V8 from "node:v8"
// types only (erased): each implementation loads its own modules below
import type { Client as ClientT, Informer as InformerT, Kind as KindT } from "operatorkit"
import { N } from "./informer-config.ts"

const [impl, kubeconfigPath, namespace, value] = process.argv.slice(2) as [string, string, string, string]
const MB = 2 ** 20

interface Subject {
  /** Lists and resolves once the implementation says it is synced. */
  readonly start: () => Promise<void>
  readonly size: () => number
  /** Calls `onUpdate` for every watch MODIFIED event from now on; resolves once that is in place. */
  readonly subscribe: (onUpdate: () => void) => Promise<void>
  /** Forces a relist the implementation's own way; resolves once it is over. */
  readonly relist: () => Promise<void>
  readonly close: () => Promise<void>
}

const operatorkit = async (): Promise<Subject> => {
  const { Effect, Exit, Scope, Stream } = await import("effect")
  const Client = await import("operatorkit/Client")
  const Informer = await import("operatorkit/Informer")
  const Kind = await import("operatorkit/Kind")
  const KubeConfig = await import("operatorkit/KubeConfig")
  const KubeError = await import("operatorkit/KubeError")
  const config = await Effect.runPromise(KubeConfig.fromFile(kubeconfigPath))
  const scope = await Effect.runPromise(Scope.make())
  const real = await Effect.runPromise(Client.make(config).pipe(Scope.provide(scope)))
  // The relist is forced at the Client boundary: once armed, the next watch the Informer opens fails
  // with the Gone error the Client produces for a real 410, so the Informer runs its own 410 path (a
  // consistent, paged relist diffed against the Store). Its watches end every 5 to 10 seconds
  // (watchTimeout), so no wrapper sits in the way of the events; the next watch after the relist
  // marks its end.
  let armed = false
  let onWatch: (() => void) | undefined
  const client: ClientT.ClientService = {
    ...real,
    watch: (kind, options) => {
      onWatch?.()
      if (!armed) return real.watch(kind, options)
      armed = false
      return Stream.fail(new KubeError.Gone({ request: { verb: "watch", path: "(benchmark)" }, detail: "forced by the benchmark", causes: [] }))
    }
  }
  let informer: InformerT.Informer<KindT.Type<typeof KindT.ConfigMap>> | undefined
  return {
    start: async () => {
      informer = await Effect.runPromise(
        Informer.make(Kind.ConfigMap, { namespace, watchTimeout: "5 seconds" }).pipe(Effect.provideService(Client.Client, client), Scope.provide(scope))
      )
      await Effect.runPromise(informer.synced)
    },
    size: () => Effect.runSync(informer!.store.size),
    subscribe: (onUpdate) =>
      new Promise((resolve) => {
        let replayed = 0
        Effect.runFork(Stream.runForEach(informer!.changes, (change) =>
          Effect.sync(() => {
            if (change._tag === "Updated") onUpdate()
            else if (change._tag === "Added" && ++replayed === N) resolve()
          })))
      }),
    relist: () =>
      new Promise((resolve, reject) => {
        armed = true
        onWatch = () => {
          if (armed) return // this watch fails with Gone; the next one follows the relist
          onWatch = undefined
          const stats = Effect.runSync(informer!.stats)
          if (stats.relists === 1) resolve()
          else reject(new Error(`expected one relist, stats say ${JSON.stringify(stats)}`))
        }
      }),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const clientNode = async (): Promise<Subject> => {
  const K8s = await import("@kubernetes/client-node")
  const kc = new K8s.KubeConfig()
  kc.loadFromFile(kubeconfigPath)
  const api = kc.makeApiClient(K8s.CoreV1Api)
  // the same list as the others: resourceVersion=0, served from the API server's watch cache
  const informer = K8s.makeInformer(
    kc,
    `/api/v1/namespaces/${namespace}/configmaps`,
    () => api.listNamespacedConfigMap({ namespace, resourceVersion: "0" })
  )
  let quiet = false
  informer.on("error", (err: unknown) => {
    if (!quiet) process.stderr.write(`[client-node] informer error: ${String(err)}\n`)
  })
  let added = 0
  let listed: (() => void) | undefined
  informer.on("add", () => {
    if (++added === N) listed?.()
  })
  // ListWatch's internals: its 410 path is doneHandler({ statusCode: 410 }) → list → diff → watch
  const internals = informer as unknown as {
    stopped: boolean
    _stop: () => void
    doneHandler: (err: unknown) => Promise<void>
  }
  return {
    // synced = its first list applied (every "add" callback ran); start() itself also waits for
    // the watch's response headers, which is left out
    start: () =>
      new Promise((resolve, reject) => {
        listed = resolve
        informer.start().catch(reject)
      }),
    size: () => informer.list(namespace).length,
    subscribe: async (onUpdate) => informer.on("update", onUpdate),
    relist: async () => {
      // end the current watch quietly first (its abort reports an error it would otherwise act on)
      quiet = true
      internals.stopped = true
      internals._stop()
      await new Promise((r) => setTimeout(r, 200))
      internals.stopped = false
      quiet = false
      await internals.doneHandler({ statusCode: 410 })
    },
    close: async () => {
      quiet = true
      await informer.stop()
    }
  }
}

const floor = async (): Promise<Subject> => {
  const Https = await import("node:https")
  const { call, rawFromKubeconfig } = await import("./informer-raw.ts")
  const raw = rawFromKubeconfig(kubeconfigPath)
  const path = `/api/v1/namespaces/${namespace}/configmaps`
  type Obj = { metadata: { name: string; namespace: string; resourceVersion: string } }
  let objects = new Map<string, Obj>()
  let resourceVersion = ""
  let onUpdate: (() => void) | undefined
  let watchReq: ReturnType<typeof Https.request> | undefined
  const list = async () => {
    const res = await call(raw, "GET", `${path}?resourceVersion=0`)
    if (res.status !== 200) throw new Error(`list: HTTP ${res.status}`)
    const body = JSON.parse(res.body) as { metadata: { resourceVersion: string }; items: Array<Obj> }
    const next = new Map<string, Obj>()
    for (const o of body.items) next.set(`${o.metadata.namespace}/${o.metadata.name}`, o)
    resourceVersion = body.metadata.resourceVersion
    return next
  }
  const watch = () => {
    watchReq = Https.request({
      agent: raw.agent,
      host: raw.host,
      port: raw.port,
      path: `${path}?watch=1&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`,
      headers: raw.headers
    }, (res) => {
      res.setEncoding("utf8")
      let rest = ""
      res.on("data", (chunk: string) => {
        let text = rest + chunk
        let nl: number
        while ((nl = text.indexOf("\n")) !== -1) {
          const line = text.slice(0, nl)
          text = text.slice(nl + 1)
          if (line === "") continue
          const event = JSON.parse(line) as { type: string; object: Obj }
          const key = `${event.object.metadata.namespace}/${event.object.metadata.name}`
          if (event.type === "DELETED") objects.delete(key)
          else if (event.type === "ADDED" || event.type === "MODIFIED") {
            objects.set(key, event.object)
            if (event.type === "MODIFIED") onUpdate?.()
          }
        }
        rest = text
      })
    })
    watchReq.on("error", () => {})
    watchReq.end()
  }
  return {
    start: async () => {
      objects = await list()
    },
    size: () => objects.size,
    subscribe: async (f) => {
      onUpdate = f
      watch()
    },
    relist: async () => {
      // a new list while the old one is held, then the diff (deletes) and the swap
      const next = await list()
      let deleted = 0
      for (const key of objects.keys()) if (!next.has(key)) deleted++
      objects = next
      if (deleted < 0) throw new Error("unreachable")
    },
    close: async () => {
      watchReq?.destroy()
      raw.agent.destroy()
    }
  }
}

const gc = () => {
  globalThis.gc!()
  globalThis.gc!()
}

/** Samples heapUsed every 2 ms, and takes V8's used heap before every GC, so a peak inside a long synchronous step is caught too. */
const heapPeak = async (f: () => Promise<void>) => {
  let peak = 0
  const sample = () => (peak = Math.max(peak, process.memoryUsage().heapUsed))
  const profiler = new V8.GCProfiler()
  profiler.start()
  const timer = setInterval(sample, 2)
  sample()
  try {
    await f()
    sample()
  } finally {
    clearInterval(timer)
  }
  for (const s of profiler.stop()?.statistics ?? []) peak = Math.max(peak, s.beforeGC.heapStatistics.usedHeapSize)
  return peak
}

const make = { operatorkit, "client-node": clientNode, floor }[impl]
if (make === undefined) throw new Error(`unknown impl ${impl}`)
gc()
const bare = process.memoryUsage().heapUsed
const subject = await make()
gc()
const baseline = process.memoryUsage().heapUsed

// 1. time to synced
const t0 = performance.now()
const cpu0 = process.cpuUsage()
await subject.start()
const syncMs = performance.now() - t0
const syncCpu = process.cpuUsage(cpu0)
if (subject.size() !== N) throw new Error(`${impl}: synced with ${subject.size()} objects, expected ${N}`)

// 2. retained heap and RSS after GC
gc()
const { heapUsed: synced, rss: syncedRss } = process.memoryUsage()

// 3. CPU per watch event while another process updates every object
let events = 0
let cpuFirst: NodeJS.CpuUsage | undefined
let cpuLast: NodeJS.CpuUsage | undefined
// monotonic microseconds of the first and last event, V8's profile clock (for profile-informer.ts)
let firstMicros = 0
let lastMicros = 0
let allReceived: () => void = () => {}
const received = new Promise<void>((resolve) => (allReceived = resolve))
await subject.subscribe(() => {
  if (++events === 1) {
    cpuFirst = process.cpuUsage()
    firstMicros = Number(process.hrtime.bigint() / 1000n)
  }
  if (events === N) {
    cpuLast = process.cpuUsage()
    lastMicros = Number(process.hrtime.bigint() / 1000n)
    allReceived()
  }
})
// OPERATORKIT_BENCH_PROFILE=<file>: a CPU profile (100 µs sampling) over the events, written to <file>
// with the events window; bench/profile-informer.ts sums it up
const profileFile = process.env["OPERATORKIT_BENCH_PROFILE"]
const session = profileFile !== undefined ? new Inspector.Session() : undefined
if (session !== undefined) {
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
}
const updater = ChildProcess.spawn(
  process.execPath,
  ["--conditions=@operatorkit/source", Path.join(import.meta.dirname, "informer-updater.ts"), kubeconfigPath, namespace, value],
  { stdio: ["ignore", "pipe", "inherit"] }
)
let updaterOut = ""
updater.stdout.on("data", (c: Buffer) => (updaterOut += c.toString()))
const updaterDone = new Promise<void>((resolve, reject) =>
  updater.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`updater exited with ${code}`))))
)
let deadline: NodeJS.Timeout | undefined
await Promise.race([
  Promise.all([received, updaterDone]),
  new Promise((_, reject) => {
    deadline = setTimeout(() => reject(new Error(`${impl}: ${events} of ${N} update events after 180 s`)), 180_000)
  })
])
clearTimeout(deadline)
if (session !== undefined) {
  const { profile } = await session.post("Profiler.stop")
  session.disconnect()
  Fs.writeFileSync(profileFile!, JSON.stringify({ window: { startMicros: firstMicros, endMicros: lastMicros, events: N - 1 }, profile }))
}
const cpuMicros = (cpuLast!.user + cpuLast!.system) - (cpuFirst!.user + cpuFirst!.system)
const updateMs = (JSON.parse(updaterOut.trim().split("\n").at(-1)!) as { ms: number }).ms

// 4. heap peak during a forced relist, against the steady heap after GC just before it
await new Promise((r) => setTimeout(r, 200))
gc()
const steady = process.memoryUsage().heapUsed
const peak = await heapPeak(subject.relist)
if (subject.size() !== N) throw new Error(`${impl}: ${subject.size()} objects after the relist, expected ${N}`)

await subject.close()
const round1 = (n: number) => Math.round(n * 10) / 10
process.stdout.write(JSON.stringify({
  sync_ms: Math.round(syncMs),
  // CPU time of the whole process over the same span: the work, whatever else the machine runs
  sync_cpu_ms: Math.round((syncCpu.user + syncCpu.system) / 1000),
  retained_mb: round1((synced - baseline) / MB),
  // the same with the implementation's modules (and its client) counted
  retained_with_modules_mb: round1((synced - bare) / MB),
  // the whole process, as the client-go programs report it
  rss_mb: round1(syncedRss / MB),
  cpu_us_per_event: round1(cpuMicros / (N - 1)),
  events,
  update_ms: updateMs,
  steady_heap_mb: round1(steady / MB),
  relist_peak_mb: round1(peak / MB),
  relist_peak_ratio: Math.round((peak / steady) * 100) / 100
}) + "\n")
process.exit(0)
