/**
 * Where the change → reconcile-start latency goes (`npm run bench -- reconcile-latency [rounds]`):
 * the reconcile benchmark's latency run (200 merge patches a second for 10 s over 100 ConfigMaps,
 * a controller with concurrency 4 and a probe resource), with operatorkit instrumented from the
 * bench (bench/reconcile-latency-worker.ts: nothing in the library), a raw watch and client-go's
 * controller (bench/go/reconcile, when Go is available) running at the same time in other
 * processes, so all see the same events. Each change is stamped with the
 * writer's clock in microseconds (`performance.timeOrigin + performance.now()`), then at each
 * stage: (a) bytes at the transport, (b) line parsed, (c) in the Store, (d) at the Controller's
 * subscriber, (e) key added to the WorkQueue, (f) taken by a worker, (g) ensureCreated started.
 * Prints each stage's delay (p50, p99, and its mean over the slowest 1 % of changes), the floor's
 * arrival of the same changes, the GC pauses, event-loop delay and timer rounds of the window, and
 * writes everything to bench/results/reconcile-latency.json.
 *
 * - `BENCH_CPU_PROF=1`: also a CPU profile of each round's window (bench/results/reconcile-latency-<round>.cpuprofile).
 * - `BENCH_ALONE=1`: operatorkit's process alone, as the reconcile benchmark runs it.
 * - `BENCH_H2=1`: also a raw watch over HTTP/2 (client-go's protocol), compared with the floor's HTTP/1.1.
 * - `BENCH_NODE_FLAGS="--trace-gc …"`: flags for operatorkit's worker.
 * - `BENCH_DEBUG=1`: the workers say where they are on stderr.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import * as Fs from "node:fs"
import * as Os from "node:os"
import { prepareGo } from "./go.ts"
import { log, runJson, writeResults } from "./lib.ts"
import { FINALIZER, LATENCY_NAMESPACE, LATENCY_OBJECTS } from "./reconcile-config.ts"

const worker = Path.join(import.meta.dirname, "reconcile-latency-worker.ts")
const writer = Path.join(import.meta.dirname, "reconcile-writer.ts")

interface Worker {
  readonly ready: Promise<void>
  readonly stop: () => Promise<any>
}

const start = (impl: string, kubeconfigPath: string, env: Record<string, string>): Worker => {
  const flags = impl === "operatorkit" ? (process.env["BENCH_NODE_FLAGS"] ?? "").split(" ").filter((f) => f !== "") : []
  const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", "--expose-gc", ...flags, worker, impl, kubeconfigPath], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...env }
  })
  let out = ""
  let onReady!: () => void
  const ready = new Promise<void>((r) => (onReady = r))
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString()
    if (/^ready$/m.test(out)) onReady()
  })
  const exited = new Promise<any>((resolve, reject) =>
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${impl} worker exited with ${code}`))
      resolve(JSON.parse(out.trim().split("\n").at(-1)!))
    })
  )
  return {
    ready: Promise.race([ready, exited.then(() => Promise.reject(new Error(`${impl} worker ended before it was ready`)))]),
    stop: () => {
      child.stdin.end("stop\n")
      return exited
    }
  }
}

/**
 * client-go's controller (bench/go/reconcile, protobuf) in the same window: its latency mode runs a
 * driver command once synced; here that command is a gate that says it started (a file) and ends
 * when the writer is done (another file), so the program measures the same writes.
 */
const startGo = (binary: string, kubeconfigPath: string): Worker => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "reconcile-latency-"))
  const started = Path.join(dir, "started")
  const done = Path.join(dir, "done")
  const gate = `: > ${started}; while [ ! -e ${done} ]; do sleep 0.02; done`
  const result = runJson(binary, [
    "-mode", "latency", "-workers", "4", "-namespace", LATENCY_NAMESPACE, "-n", String(LATENCY_OBJECTS),
    "-kubeconfig", kubeconfigPath, "-content-type", "protobuf", "--", "sh", "-c", gate
  ])
  const ready = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (Fs.existsSync(started)) {
        clearInterval(poll)
        resolve()
      }
    }, 20)
    result.catch((e) => {
      clearInterval(poll)
      reject(e)
    })
  })
  return {
    ready,
    stop: () => {
      Fs.writeFileSync(done, "")
      return result.finally(() => Fs.rmSync(dir, { recursive: true, force: true }))
    }
  }
}

const runWriter = (kubeconfigPath: string) =>
  new Promise<void>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", writer, kubeconfigPath], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, BENCH_STAMP: "hr" }
    })
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))))
  })

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

const stages = [
  ["server → bytes at operatorkit's transport (a)", "arrive"],
  ["  the floor's arrival of the same change", "floorArrive"],
  ["  operatorkit's arrival − the floor's", "behindFloor"],
  ["(a) → line parsed (b)", "parse"],
  ["(b) → in the Store (c): stream, decode, Reflector", "store"],
  ["(c) → Controller's subscriber (d)", "subscriber"],
  ["(d) → key added to the WorkQueue (e)", "enqueue"],
  ["(e) → taken by a worker (f)", "queued"],
  ["(f) → ensureCreated starts (g)", "start"],
  ["(a) → (g): inside the process", "inside"],
  ["stamp → ensureCreated starts (total)", "total"]
] as const
type Stage = (typeof stages)[number][1]

/** Joins one round's records: one row per reconcile start, with each stage's delay in ms. */
const analyse = (opk: any, floor: any) => {
  const rows: Array<Record<Stage, number> & { state: string; gc: number; gcLate: number; activeBefore: number; idleBefore: number; lines: number }> = []
  let unmatched = 0
  for (const [name, stamp, g] of opk.starts as Array<[string, string, number]>) {
    const c = opk.changes[`${name}@${stamp}`]
    const fl = floor.changes[`${name}@${stamp}`]
    const list = (opk.ops[`${LATENCY_NAMESPACE}/${name}`] ?? []) as Array<[number, string, string]>
    if (c?.a === undefined || c.c === undefined || c.d === undefined) {
      unmatched++
      continue
    }
    const add = list.find(([t, op]) => op === "add" && t >= c.d)
    const take = add !== undefined ? list.find(([t, op]) => op === "take" && t >= add[0]) : undefined
    if (add === undefined || take === undefined) {
      unmatched++
      continue
    }
    const s = Number(stamp)
    const overlap = (from: number, to: number) =>
      (opk.gcs as Array<[number, number, number]>).reduce((sum, [t, d]) => sum + Math.max(0, Math.min(t + d, to) - Math.max(t, from)), 0)
    const gc = overlap(s, g)
    rows.push({
      arrive: c.a - s,
      floorArrive: fl?.a !== undefined ? fl.a - s : NaN,
      behindFloor: fl?.a !== undefined ? c.a - fl.a : NaN,
      parse: c.b - c.a,
      store: c.c - c.b,
      subscriber: c.d - c.c,
      enqueue: add[0] - c.d,
      queued: take[0] - add[0],
      start: g - take[0],
      inside: g - c.a,
      total: g - s,
      state: add[2],
      gc,
      // GC while operatorkit's arrival lagged the floor's
      gcLate: fl?.a !== undefined && c.a > fl.a ? overlap(fl.a, c.a) : 0,
      activeBefore: c.activeBefore ?? NaN,
      idleBefore: c.idleBefore ?? NaN,
      lines: c.lines ?? 1
    })
  }
  return { rows, unmatched }
}

const report = (rows: ReturnType<typeof analyse>["rows"]) => {
  const slowest = [...rows].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(rows.length / 100)))
  const table = stages.map(([label, stage]) => {
    const xs = rows.map((r) => r[stage]).filter((x) => !Number.isNaN(x))
    const slow = slowest.map((r) => r[stage]).filter((x) => !Number.isNaN(x))
    return { stage: label, p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs), slowest1pct: mean(slow) }
  })
  const states = new Map<string, number>()
  for (const r of rows) states.set(r.state, (states.get(r.state) ?? 0) + 1)
  return {
    table,
    slowest: slowest.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 100) / 100 : v]))),
    addStates: Object.fromEntries(states),
    gcInWindowOfSlowest: mean(slowest.map((r) => r.gc)),
    // the changes operatorkit received over 5 ms after the floor: what its loop did meanwhile
    late: lateness(rows),
    linesPerChunk: { p50: percentile(rows.map((r) => r.lines), 50), max: Math.max(...rows.map((r) => r.lines)) }
  }
}

/** Of the changes operatorkit's transport saw over 5 ms after the floor's: GC, a busy loop, or an idle one. */
const lateness = (rows: ReturnType<typeof analyse>["rows"]) => {
  const late = rows.filter((r) => r.behindFloor > 5)
  return {
    count: late.length,
    ofAll: late.length / rows.length,
    behindFloorMean: mean(late.map((r) => r.behindFloor)),
    gcMean: mean(late.map((r) => r.gc)),
    gcWhileLateMean: mean(late.map((r) => r.gcLate)),
    loopActiveBeforeMean: mean(late.map((r) => r.activeBefore)),
    loopIdleBeforeMean: mean(late.map((r) => r.idleBefore))
  }
}

const runtime = (opk: any) => {
  const gcs = opk.gcs as Array<[number, number, number]>
  const imm = (opk.rounds.immediate as Array<[number, number]>).map(([t, r]) => r - t)
  const tim = (opk.rounds.timeout as Array<[number, number, number]>).map(([t, ms, r]) => r - t - ms)
  return {
    gc: { count: gcs.length, totalMs: gcs.reduce((s, [, d]) => s + d, 0), maxMs: Math.max(0, ...gcs.map(([, d]) => d)), pauses: gcs.map(([, d, kind]) => `${d.toFixed(1)} ms (kind ${kind})`) },
    eventLoopDelayMs: opk.loop,
    heapMb: opk.heap,
    setImmediate: { count: imm.length, waitP50: percentile(imm, 50), waitP99: percentile(imm, 99), waitMax: Math.max(0, ...imm) },
    setTimeout: { count: tim.length, lateP50: percentile(tim, 50), lateP99: percentile(tim, 99), lateMax: Math.max(0, ...tim) }
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–")

export const main = async (rounds = 3) => {
  // BENCH_ALONE=1: operatorkit's process alone, as the reconcile benchmark runs it (no floor, no client-go)
  const alone = process.env["BENCH_ALONE"] !== undefined
  // BENCH_H2=1: also a raw watch over HTTP/2 in the same window
  const h2 = process.env["BENCH_H2"] !== undefined && !alone
  const h2Diffs: Array<number> = []
  const go = alone ? { available: false as const, reason: "BENCH_ALONE" } : await prepareGo()
  if (!go.available) log(`reconcile-latency: client-go left out: ${go.reason}`)
  const goResults: Array<{ p50: number; p99: number; samples: number }> = []
  const all: Array<ReturnType<typeof analyse>["rows"][number]> = []
  const perRound: Array<unknown> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("reconcile-latency: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig))
    yield* client.create(Kind.Namespace, { metadata: { name: LATENCY_NAMESPACE } })
    yield* Effect.forEach(
      Array.from({ length: LATENCY_OBJECTS }, (_, i) => i),
      (i) => client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace: LATENCY_NAMESPACE, finalizers: [FINALIZER] }, data: { v: "x".repeat(200), stamp: "0" } }),
      { concurrency: 16, discard: true }
    )
    for (let round = 0; round < rounds; round++) {
      const profile = process.env["BENCH_CPU_PROF"] !== undefined
        ? { BENCH_CPU_PROF: Path.resolve(import.meta.dirname, "results", `reconcile-latency-${round + 1}.cpuprofile`) }
        : {}
      const results = yield* Effect.promise(async () => {
        const workers = [
          start("operatorkit", env.kubeconfigPath, profile),
          ...(alone ? [] : [start("floor", env.kubeconfigPath, {})]),
          ...(h2 ? [start("floor-h2", env.kubeconfigPath, {})] : []),
          ...(go.available && !alone ? [startGo(go.path("reconcile"), env.kubeconfigPath)] : [])
        ]
        await Promise.all(workers.map((w) => w.ready))
        log("reconcile-latency: all ready, writing")
        await runWriter(env.kubeconfigPath)
        await new Promise((r) => setTimeout(r, 300))
        return Promise.all(workers.map((w) => w.stop()))
      })
      const [opk, floor] = results
      const floorH2 = h2 ? results[2] : undefined
      const clientGo = results[h2 ? 3 : 2]
      if (clientGo !== undefined) goResults.push(clientGo)
      if (floorH2 !== undefined) {
        // the same events over both protocols: how much later (+) HTTP/1.1's arrival was
        const diff: Array<number> = []
        for (const [id, c] of Object.entries(floor.changes as Record<string, { a: number }>)) {
          const other = floorH2.changes[id] as { a: number } | undefined
          if (other !== undefined) diff.push(c.a - other.a)
        }
        h2Diffs.push(...diff)
        log(`reconcile-latency: floor over HTTP/1.1 − over HTTP/2, same events: p1 ${fmt(percentile(diff, 1))}, p50 ${fmt(percentile(diff, 50))}, p99 ${fmt(percentile(diff, 99))} ms (${diff.length})`)
      }
      const { rows, unmatched } = analyse(opk, floor ?? { changes: {} })
      all.push(...rows)
      const r = { round: round + 1, reconciles: rows.length, unmatched, ...report(rows), runtime: runtime(opk) }
      perRound.push(r)
      log(`reconcile-latency: round ${round + 1}/${rounds}: ${rows.length} reconcile starts (${unmatched} unmatched), total p50 ${fmt(r.table.at(-1)!.p50)} ms, p99 ${fmt(r.table.at(-1)!.p99)} ms` +
        `${clientGo !== undefined ? `; client-go in the same window (ms resolution): ${JSON.stringify(clientGo)}` : ""}; ${JSON.stringify(r.runtime)}`)
    }
  })))
  const pooled = report(all)
  const file = writeResults("reconcile-latency", rounds, [], { pooled, perRound, clientGo: goResults })
  const width = Math.max(...stages.map(([l]) => l.length))
  const lines = [
    `\nreconcile-latency (${rounds} rounds, ${all.length} reconcile starts; ms)`,
    `${"stage".padEnd(width)}  ${"p50".padStart(7)}  ${"p99".padStart(7)}  ${"max".padStart(7)}  slowest 1 % (mean)`,
    ...pooled.table.map((t) => `${t.stage.padEnd(width)}  ${fmt(t.p50).padStart(7)}  ${fmt(t.p99).padStart(7)}  ${fmt(t.max).padStart(7)}  ${fmt(t.slowest1pct).padStart(7)}`),
    `key's state when added: ${JSON.stringify(pooled.addStates)}; GC inside the slowest 1 %'s windows: ${fmt(pooled.gcInWindowOfSlowest)} ms (mean); lines per chunk: ${JSON.stringify(pooled.linesPerChunk)}`,
    `arrivals over 5 ms after the floor's: ${JSON.stringify(pooled.late, (_, v) => (typeof v === "number" ? Math.round(v * 1000) / 1000 : v))}`,
    ...(goResults.length > 0
      ? [`client-go (protobuf) in the same windows, p50 / p99 per round (ms, whole-millisecond stamps): ${goResults.map((g) => `${g.p50} / ${g.p99}`).join(", ")}`]
      : []),
    ...(h2Diffs.length > 0
      ? [`floor over HTTP/1.1 − over HTTP/2, same events (ms): p1 ${fmt(percentile(h2Diffs, 1))}, p50 ${fmt(percentile(h2Diffs, 50))}, p99 ${fmt(percentile(h2Diffs, 99))}`]
      : []),
    `results: ${file}`
  ]
  process.stdout.write(lines.join("\n") + "\n")
}
