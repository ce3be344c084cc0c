/**
 * Where the CPU of a watch event goes, on demand (not part of `npm run bench`):
 *
 * ```sh
 * node --conditions=@operatorkit/source --expose-gc bench/profile-informer.ts [rounds] [impl,impl]
 * PROFILE=0 node … bench/profile-informer.ts 3 operatorkit@/tmp/base,operatorkit,floor
 * ```
 *
 * The informer benchmark's setup (a fresh Envtest, 10,000 ConfigMaps of about 1.5 KB, a separate
 * updater process patching each once at 500 a second), with informer-worker.ts run under a CPU
 * profile (100 µs sampling) from before the updater starts to the last event; only the samples
 * between the first and the last event count. Default: operatorkit and the floor, alternating,
 * one round. Prints, per implementation, the self time grouped by where it is spent in µs per
 * event, and the top functions; the profiles are kept in bench/results/ (open them in Chrome's
 * DevTools or VS Code). An impl written `operatorkit@<dir>` runs the worker of another checkout
 * (a worktree with node_modules) against the same server, for a same-run A/B of two versions;
 * `PROFILE=0` leaves the profiler out and only compares `cpu_us_per_event`.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect } from "effect"
import { N, NAMESPACE } from "./informer-config.ts"
import { seeded } from "./informer.ts"
import { log, runWorker } from "./lib.ts"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}
interface Recorded {
  readonly window: { readonly startMicros: number; readonly endMicros: number; readonly events: number }
  readonly profile: Profile
}

/** The group a function's self time belongs to; first match wins. */
const groups: ReadonlyArray<readonly [string, (f: CallFrame) => boolean]> = [
  ["GC", (f) => f.functionName === "(garbage collector)"],
  ["native, not JS ((program): TLS, libuv, V8 runtime)", (f) => f.functionName === "(program)"],
  ["JSON.parse and line splitting", (f) =>
    /\/ndjson\.ts$/.test(f.url) || (f.url === "" && f.functionName === "parse") ||
    // the floor's data handler: split and JSON.parse (inlined), then its Map
    (/informer-worker\.ts$/.test(f.url) && f.functionName === "")],
  ["Node socket/TLS/HTTP/stream reading (JS)", (f) => f.url.startsWith("node:")],
  ["decoding (Schema guard, toEvent)", (f) =>
    /\/internal\/codec\.ts$|\/http\/events\.ts$/.test(f.url) || /\/effect\/dist\/(Schema|schema\/)/.test(f.url)],
  ["managedFields drop and interning (transform)", (f) =>
    /\/Reflector\.ts$/.test(f.url) && /withoutManagedFields|compactDefault|TightObject|^$/.test(f.functionName)],
  ["Store (cache and Reflector upsert)", (f) => /\/Store\.ts$|\/Reflector\.ts$/.test(f.url)],
  ["Effect run loop and fiber hand-offs", (f) => /\/node_modules\/effect\//.test(f.url)],
  ["operatorkit stream steps (transport, Client.watch, metrics, Watcher, Informer, handoff)", (f) =>
    /\/src\/.*\.ts$/.test(f.url)],
  ["benchmark's subscriber", (f) => /informer-worker\.ts$/.test(f.url)]
]
const OTHER = "other"
const IDLE = "(idle)"

const groupOf = (f: CallFrame) => f.functionName === "(idle)" ? IDLE : groups.find(([, test]) => test(f))?.[0] ?? OTHER

/** Self microseconds by node id over the events window (a sample's weight is the time to the next one). */
export const selfTimes = ({ profile, window }: Recorded) => {
  const byNode = new Map<number, number>()
  let t = profile.startTime
  const n = profile.samples.length
  for (let i = 0; i < n; i++) {
    t += profile.timeDeltas[i]!
    const weight = i + 1 < n ? profile.timeDeltas[i + 1]! : 0
    if (t < window.startMicros || t > window.endMicros) continue
    const id = profile.samples[i]!
    byNode.set(id, (byNode.get(id) ?? 0) + weight)
  }
  return byNode
}

export const summarize = (recorded: Recorded) => {
  const { profile, window } = recorded
  if (window.startMicros < profile.startTime || window.endMicros > profile.endTime) {
    throw new Error(`the events window is not inside the profile: clocks differ? ${JSON.stringify({ window, start: profile.startTime, end: profile.endTime })}`)
  }
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const byGroup = new Map<string, number>()
  const byFunction = new Map<string, { group: string; micros: number }>()
  for (const [id, micros] of selfTimes(recorded)) {
    const f = frames.get(id)!
    const group = groupOf(f)
    byGroup.set(group, (byGroup.get(group) ?? 0) + micros)
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(src|node_modules|bench)\//, "$1/")}:${f.lineNumber + 1}`
    const entry = byFunction.get(name) ?? { group, micros: 0 }
    entry.micros += micros
    byFunction.set(name, entry)
  }
  const busy = [...byGroup].filter(([g]) => g !== IDLE).reduce((a, [, m]) => a + m, 0)
  return { events: window.events, busy, byGroup, byFunction }
}

const perEvent = (micros: number, events: number) => (micros / events).toFixed(1)

const print = (results: ReadonlyArray<{ readonly impl: string; readonly summary: ReturnType<typeof summarize> }>) => {
  const names = [...groups.map(([g]) => g), OTHER]
  const head = ["group (self time, µs per event)", ...results.map((r) => r.impl)]
  const rows = names.map((g) => [g, ...results.map((r) => perEvent(r.summary.byGroup.get(g) ?? 0, r.summary.events))])
  rows.push(["total (busy)", ...results.map((r) => perEvent(r.summary.busy, r.summary.events))])
  const width = Math.max(...[head, ...rows].map((r) => r[0]!.length))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i === 0 ? c.padEnd(width) : c.padStart(12))).join(" ")
  process.stdout.write(`\n${line(head)}\n${rows.map(line).join("\n")}\n`)
  for (const { impl, summary } of results) {
    process.stdout.write(`\n${impl}: top functions by self time (µs per event, % of busy)\n`)
    const top = [...summary.byFunction].filter(([, e]) => e.group !== IDLE).sort((a, b) => b[1].micros - a[1].micros).slice(0, 30)
    for (const [name, { group, micros }] of top) {
      process.stdout.write(`  ${perEvent(micros, summary.events).padStart(6)}  ${((micros / summary.busy) * 100).toFixed(1).padStart(5)} %  ${name}  [${group}]\n`)
    }
  }
}

/** `impl` or `impl@dir`: the worker of another checkout (e.g. a worktree of main), for a same-run A/B. */
const parseImpl = (spec: string) => {
  const [impl, dir] = spec.split("@") as [string, string | undefined]
  return { impl, label: spec, worker: Path.join(dir !== undefined ? Path.resolve(dir, "bench") : import.meta.dirname, "informer-worker.ts") }
}

export const main = async (rounds = 1, specs: ReadonlyArray<string> = ["operatorkit", "floor"], profiling = true) => {
  const dir = Path.resolve(import.meta.dirname, "results")
  Fs.mkdirSync(dir, { recursive: true })
  const impls = specs.map(parseImpl)
  const results: Array<{ impl: string; summary: ReturnType<typeof summarize> }> = []
  const cpu = new Map<string, Array<number>>()
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const { env } = yield* seeded
    for (let round = 0; round < rounds; round++) {
      for (const { impl, label, worker } of impls.map((_, i) => impls[(i + round) % impls.length]!)) {
        const file = Path.join(dir, `profile-informer-${label.replace(/[^\w.-]+/g, "_")}-${round + 1}.json`)
        const r = yield* Effect.promise(() =>
          runWorker(worker, [impl, env.kubeconfigPath, NAMESPACE, `${label}-${round}`], profiling ? { OPERATORKIT_BENCH_PROFILE: file } : {})
        )
        log(`profile-informer: round ${round + 1}/${rounds} ${label}: ${JSON.stringify(r)}${profiling ? ` → ${file}` : ""}`)
        if (r["events"] !== N) throw new Error(`${label} received ${r["events"]} of ${N} update events`)
        cpu.set(label, [...(cpu.get(label) ?? []), r["cpu_us_per_event"]])
        if (!profiling) continue
        const recorded = JSON.parse(Fs.readFileSync(file, "utf8")) as Recorded
        // DevTools opens the bare profile
        Fs.writeFileSync(file.replace(/\.json$/, ".cpuprofile"), JSON.stringify(recorded.profile))
        results.push({ impl: `${label}#${round + 1}`, summary: summarize(recorded) })
      }
    }
  })))
  if (profiling) print(results)
  process.stdout.write(`\ncpu_us_per_event (whole process, all threads${profiling ? ", profiler included" : ""}):\n`)
  for (const [label, values] of cpu) {
    const sorted = [...values].sort((a, b) => a - b)
    process.stdout.write(`  ${label.padEnd(40)} median ${sorted[Math.floor(sorted.length / 2)]}  (${values.join(", ")})\n`)
  }
}

if (import.meta.main) {
  const [rounds, impls] = process.argv.slice(2)
  await main(rounds !== undefined ? Number(rounds) : undefined, impls?.split(","), process.env["PROFILE"] !== "0")
}
