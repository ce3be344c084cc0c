/**
 * `reconcile-latency-worker.ts operatorkit|floor <kubeconfig>`: one side of the change → reconcile
 * breakdown (bench/reconcile-latency.ts). Prints `ready` once watching, records until a line
 * `stop` arrives on stdin, then prints its records as one JSON line.
 *
 * - operatorkit: a controller as in reconcile-worker.ts's latency mode (concurrency 4, a probe
 *   resource), instrumented from here, nothing in the library: the bench wraps the prototypes of
 *   the classes on the path (the same module instances the library uses, resolved from src/) and
 *   stamps each change with `performance.timeOrigin + performance.now()` at (a) the watch body's
 *   bytes arriving (`NdjsonDecoder.push` entered), (b) its line parsed (`push` returned), (c) the
 *   object set in the Store (`Store.Cache.set`), (d) the Controller's subscriber handed the change
 *   (`WriteTracker.observe`), (e) the key added to the WorkQueue (`Core.add`, with the key's state:
 *   new, already waiting, or being processed), (f) a worker taking the key (`Core.take`) and (g)
 *   the probe's `ensureCreated` starting. Beside them: GC pauses (`PerformanceObserver` "gc"),
 *   the event loop's delay (`monitorEventLoopDelay`), and the `setImmediate`/`setTimeout` rounds
 *   (Effect's scheduler yields through `setImmediate`, its sleeps through `setTimeout`) with how
 *   long each waited to run. `BENCH_CPU_PROF=<file>` also writes a CPU profile of the window.
 * - floor: a raw watch (`node:https`, `JSON.parse` per line), stamping each event's arrival.
 */
import * as Fs from "node:fs"
import * as Http2 from "node:http2"
import * as Https from "node:https"
import * as Inspector from "node:inspector/promises"
import * as Readline from "node:readline"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { Effect } from "effect"
import { Client, Controller, Framework, Kind, KubeConfig } from "operatorkit"
import { WriteTracker } from "../src/internal/controller/writeTracker.ts"
import { NdjsonDecoder } from "../src/internal/http/ndjson.ts"
import { Core } from "../src/internal/workqueue.ts"
import { Cache } from "../src/Store.ts"
import { LATENCY_NAMESPACE } from "./reconcile-config.ts"

const [impl, kubeconfigPath] = process.argv.slice(2) as [string, string]
const now = () => performance.timeOrigin + performance.now()
type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

/** The stamps of one change (name + writer's stamp), in epoch milliseconds. */
interface Change {
  a?: number
  /** The event loop's active and idle time (ms) since the previous chunk arrived, and that wall time. */
  activeBefore?: number
  idleBefore?: number
  b?: number
  /** Lines parsed in the same chunk. */
  lines?: number
  c?: number
  d?: number
}
const changes = new Map<string, Change>()
const change = (name: string, stamp: string) => {
  const id = `${name}@${stamp}`
  let c = changes.get(id)
  if (c === undefined) changes.set(id, c = {})
  return c
}
let recording = false
const stampOf = (o: any): string | undefined => o?.data?.stampHr

const stop = new Promise<void>((resolve) => {
  Readline.createInterface({ input: process.stdin }).on("line", (line) => line.trim() === "stop" && resolve())
})
const ready = () => process.stdout.write("ready\n")
const debug = process.env["BENCH_DEBUG"] !== undefined ? (msg: string) => process.stderr.write(`[${impl}] ${msg}\n`) : () => {}

if (impl === "floor" || impl === "floor-h2") {
  const text = Fs.readFileSync(kubeconfigPath, "utf8")
  const url = new URL(/server: (\S+)/.exec(text)![1]!)
  const token = /token: (\S+)/.exec(text)![1]!
  const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(text)![1]!, "base64")
  const path = `/api/v1/namespaces/${LATENCY_NAMESPACE}/configmaps?watch=1&resourceVersion=0`
  const onBody = (res: NodeJS.ReadableStream) => {
    let buffer = ""
    res.setEncoding("utf8")
    res.on("data", (chunk: string) => {
      const a = now()
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const event = JSON.parse(line) as { object?: { metadata: { name: string }; data?: Record<string, string> } }
        const stamp = stampOf(event.object)
        if (recording && stamp !== undefined) {
          const c = change(event.object!.metadata.name, stamp)
          c.a = a
          c.b = now()
        }
      }
    })
  }
  // floor-h2: the same watch over HTTP/2 (client-go's protocol to the API server), for comparison
  const close = impl === "floor-h2"
    ? (() => {
      const session = Http2.connect(url.origin, { ca })
      const stream = session.request({ ":path": path, authorization: `Bearer ${token}` })
      onBody(stream)
      return () => session.destroy()
    })()
    : (() => {
      const req = Https.request({ host: url.hostname, port: url.port, path, headers: { authorization: `Bearer ${token}` }, ca }, onBody)
      req.end()
      return () => req.destroy()
    })()
  await new Promise((r) => setTimeout(r, 1000))
  recording = true
  ready()
  await stop
  close()
  // a pipe is written asynchronously: exit once the line is out
  process.stdout.write(JSON.stringify({ changes: Object.fromEntries(changes) }) + "\n", () => process.exit(0))
  await new Promise(() => {})
}

// ---- operatorkit, instrumented from outside the library ----

const decoderPush = NdjsonDecoder.prototype.push
let lastElu = performance.eventLoopUtilization()
NdjsonDecoder.prototype.push = function(this: NdjsonDecoder, chunk: Buffer, out: Array<unknown>) {
  if (!recording) return decoderPush.call(this, chunk, out)
  const a = now()
  // was the loop busy (JS, GC) or waiting since the previous chunk: a late arrival's cause
  const elu = performance.eventLoopUtilization()
  const activeBefore = elu.active - lastElu.active
  const idleBefore = elu.idle - lastElu.idle
  lastElu = elu
  const from = out.length
  decoderPush.call(this, chunk, out)
  const b = now()
  for (let i = from; i < out.length; i++) {
    const o = (out[i] as any)?.object
    const stamp = stampOf(o)
    if (stamp === undefined) continue
    const c = change(o.metadata.name, stamp)
    c.a = a
    c.activeBefore = activeBefore
    c.idleBefore = idleBefore
    c.b = b
    c.lines = out.length - from
  }
}
const cacheSet = Cache.prototype.set
Cache.prototype.set = function(this: Cache<any>, object: any, k?: string) {
  const replaced = cacheSet.call(this, object, k)
  const stamp = stampOf(object)
  if (recording && stamp !== undefined) change(object.metadata.name, stamp).c = now()
  return replaced
}
const observe = WriteTracker.prototype.observe
WriteTracker.prototype.observe = function(this: WriteTracker, cache, ch, keys) {
  const stamp = stampOf(ch.object)
  if (recording && stamp !== undefined) change(ch.object.metadata.name, stamp).d = now()
  return observe.call(this, cache, ch, keys)
}
/** Queue operations per key, in order: [t, op, state]. */
const ops = new Map<string, Array<[number, "add" | "take" | "done", string]>>()
const op = (key: string, kind: "add" | "take" | "done", state = "") => {
  let list = ops.get(key)
  if (list === undefined) ops.set(key, list = [])
  list.push([now(), kind, state])
}
const coreAdd = Core.prototype.add
Core.prototype.add = function(this: Core<any>, key: any, priority, t) {
  if (recording) {
    const slot = (this as any).slots.get(key)
    op(key, "add", slot === undefined ? "new" : slot.startedAt >= 0 ? (slot.dirty !== undefined ? "processing+waiting" : "processing") : slot.dirty !== undefined ? "waiting" : "new")
  }
  return coreAdd.call(this, key, priority, t)
}
const coreTake = Core.prototype.take
Core.prototype.take = function(this: Core<any>, t) {
  const slot = coreTake.call(this, t)
  if (recording && slot !== undefined) op(slot.key, "take")
  return slot
}
// done and settled both end in the private finish(slot, now)
const proto = Core.prototype as unknown as { finish: (slot: { key: any }, t: number) => void }
const coreFinish = proto.finish
proto.finish = function(this: Core<any>, slot, t) {
  if (recording) op(slot.key, "done")
  return coreFinish.call(this, slot, t)
}

/** Every reconcile start: the object's name, the stamp it saw, when (g). */
const starts: Array<[string, string, number]> = []

// GC pauses, event-loop delay, setImmediate / setTimeout rounds inside the window
const gcs: Array<[number, number, number]> = []
new PerformanceObserver((list) => {
  if (!recording) return
  for (const e of list.getEntries()) gcs.push([performance.timeOrigin + e.startTime, e.duration, (e as any).detail?.kind ?? 0])
}).observe({ entryTypes: ["gc"] })
const loop = monitorEventLoopDelay({ resolution: 1 })
const rounds = { immediate: [] as Array<[number, number]>, timeout: [] as Array<[number, number, number]> }
const setImmediate0 = globalThis.setImmediate
globalThis.setImmediate = ((f: (...args: Array<any>) => void, ...args: Array<any>) => {
  if (!recording) return setImmediate0(f, ...args)
  const t = now()
  return setImmediate0(() => {
    rounds.immediate.push([t, now()])
    f(...args)
  })
}) as typeof setImmediate
const setTimeout0 = globalThis.setTimeout
globalThis.setTimeout = ((f: (...args: Array<any>) => void, ms?: number, ...args: Array<any>) => {
  if (!recording || typeof f !== "function") return setTimeout0(f, ms, ...args)
  const t = now()
  return setTimeout0(() => {
    rounds.timeout.push([t, ms ?? 0, now()])
    f(...args)
  }, ms)
}) as typeof setTimeout

/** heapUsed (MB) as the window starts and ends. */
const heap: Array<number> = []
const profile = process.env["BENCH_CPU_PROF"]
const session = profile !== undefined ? new Inspector.Session() : undefined

debug("instrumented")
const config = await Effect.runPromise(KubeConfig.fromFile(kubeconfigPath))
await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const client = yield* Client.make(config)
  yield* Effect.gen(function*() {
    const probe = Framework.make<ConfigMap>()({
      name: "probe",
      ensureCreated: (cm) =>
        Effect.sync(() => {
          const stamp = cm.data?.["stampHr"]
          if (recording && stamp !== undefined) starts.push([cm.metadata.name, stamp, now()])
        }),
      ensureDeleted: () => Effect.void
    })
    const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "bench", kind: Kind.ConfigMap, namespace: LATENCY_NAMESPACE, resources: [probe], concurrency: 4 })
    debug("controller made")
    yield* controller.synced
    debug("synced")
    yield* Effect.sleep("500 millis")
    if (session !== undefined) {
      session.connect()
      yield* Effect.promise(() => session.post("Profiler.enable"))
      yield* Effect.promise(() => session.post("Profiler.setSamplingInterval", { interval: 100 }))
      yield* Effect.promise(() => session.post("Profiler.start"))
    }
    heap.push(process.memoryUsage().heapUsed / 2 ** 20)
    loop.enable()
    recording = true
    ready()
    yield* Effect.promise(() => stop)
    recording = false
    heap.push(process.memoryUsage().heapUsed / 2 ** 20)
    loop.disable()
    if (session !== undefined) {
      const { profile: p } = yield* Effect.promise(() => session.post("Profiler.stop"))
      Fs.writeFileSync(profile!, JSON.stringify(p))
    }
  }).pipe(Effect.provideService(Client.Client, client))
})))

process.stdout.write(JSON.stringify({
  changes: Object.fromEntries(changes),
  ops: Object.fromEntries(ops),
  starts,
  gcs,
  loop: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6, mean: loop.mean / 1e6 },
  rounds,
  heap
}) + "\n", () => process.exit(0))
