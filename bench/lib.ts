/**
 * Shared benchmark plumbing: a control plane for the run, child processes per measurement (so each
 * implementation starts from a fresh heap), medians over alternating rounds, results as JSON + table.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface Measurement {
  readonly impl: string
  readonly metric: string
  readonly value: number
}

export interface Result {
  readonly impl: string
  readonly metric: string
  readonly median: number
  readonly min: number
  readonly max: number
}

export const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const summarize = (measurements: ReadonlyArray<Measurement>): Array<Result> => {
  const groups = new Map<string, Array<number>>()
  for (const m of measurements) {
    const key = `${m.impl}\u0000${m.metric}`
    groups.set(key, [...(groups.get(key) ?? []), m.value])
  }
  return [...groups.entries()].map(([key, values]) => {
    const [impl, metric] = key.split("\u0000") as [string, string]
    const round = (n: number) => Math.round(n * 100) / 100
    return { impl, metric, median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)) }
  })
}

/** Runs a command (a measurement in a fresh process) and returns the JSON it prints last. */
export const runJson = (command: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<any> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...env }
    })
    const name = `${Path.basename(command)} ${args.join(" ")}`
    let out = ""
    child.stdout.on("data", (c: Buffer) => (out += c.toString()))
    child.once("error", reject)
    child.once("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? ""
      if (code !== 0) return reject(new Error(`${name} exited with ${code}: ${out.slice(-2000)}`))
      try {
        resolve(JSON.parse(last))
      } catch {
        reject(new Error(`${name} printed no JSON result: ${out.slice(-2000)}`))
      }
    })
  })

/** Runs a worker script in a fresh Node (this one: Node 24) and returns the JSON it prints last. */
export const runWorker = (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<any> =>
  runJson(process.execPath, ["--conditions=@operatorkit/source", "--expose-gc", script, ...args], env)

/** The command line that runs a Node script of the benchmarks (for the client-go programs' drivers). */
export const nodeCommand = (script: string, args: ReadonlyArray<string>) => [process.execPath, "--conditions=@operatorkit/source", script, ...args]

export const writeResults = (bench: string, rounds: number, results: ReadonlyArray<Result>, notes: Record<string, unknown> = {}) => {
  const dir = Path.resolve(import.meta.dirname, "results")
  Fs.mkdirSync(dir, { recursive: true })
  const file = Path.join(dir, `${bench}.json`)
  Fs.writeFileSync(file, JSON.stringify({ bench, node: process.version, rounds, ...notes, results }, null, 2) + "\n")
  return file
}

export const printTable = (bench: string, results: ReadonlyArray<Result>) => {
  const rows = [["impl", "metric", "median", "min", "max"], ...results.map((r) => [r.impl, r.metric, String(r.median), String(r.min), String(r.max)])]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  process.stdout.write(`\n${bench}\n${line(rows[0]!)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`)
  for (const r of rows.slice(1)) process.stdout.write(line(r) + "\n")
}

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`)

/** Samples heap and RSS peaks while `f` runs. */
export const withPeaks = async <A>(f: () => Promise<A>) => {
  let heapPeak = 0
  let rssPeak = 0
  const sample = () => {
    const m = process.memoryUsage()
    heapPeak = Math.max(heapPeak, m.heapUsed)
    rssPeak = Math.max(rssPeak, m.rss)
  }
  const timer = setInterval(sample, 5)
  sample()
  try {
    const value = await f()
    sample()
    return { value, heapPeakMb: heapPeak / 2 ** 20, rssPeakMb: rssPeak / 2 ** 20 }
  } finally {
    clearInterval(timer)
  }
}

/** Runs `n` tasks with at most `concurrency` in flight. */
export const pool = async (n: number, concurrency: number, task: (i: number) => Promise<unknown>) => {
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      await task(i)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
