/**
 * Webhooks: AdmissionReviews answered per second and the p99 latency, at concurrency 16 over
 * keep-alive HTTPS connections (as kube-apiserver calls a webhook), for `Webhooks.serve` with full
 * Schema decoding of the object plus a check, against a floor: a bare `node:https` server that
 * parses the body and answers `allowed: true`. Target: operatorkit ≥ 0.8× the floor's throughput.
 *
 * Each server runs in its own process (webhooks-server.ts); this process sends the reviews. Each
 * round measures both, alternating which goes first, after a warm-up; figures are medians over
 * rounds. No control plane is needed. `BENCH_CPU_PROF=<dir>` writes each server's CPU profile there.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Certs from "../src/internal/webhook/certificates.ts"
import { log, type Measurement, median, pool, printTable, summarize, writeResults } from "./lib.ts"
import { path, review } from "./webhooks-config.ts"

const REQUESTS = 20_000
const WARMUP = 2_000
const CONCURRENCY = 16

const start = (impl: string, certDir: string) =>
  new Promise<{ port: number; stop: () => Promise<void> }>((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--conditions=@operatorkit/source", ...(process.env["BENCH_CPU_PROF"] !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${process.env["BENCH_CPU_PROF"]}`] : []), Path.join(import.meta.dirname, "webhooks-server.ts"), impl, certDir],
      { stdio: ["pipe", "pipe", "inherit"] }
    )
    let out = ""
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString()
      const line = out.split("\n").find((l) => l.startsWith("{"))
      if (line !== undefined && out.includes("\n")) {
        resolve({
          port: (JSON.parse(line) as { port: number }).port,
          stop: () =>
            new Promise((done) => {
              child.once("exit", () => done())
              child.stdin.end()
            })
        })
      }
    })
    child.once("exit", (code) => reject(new Error(`webhooks-server ${impl} exited with ${code}: ${out}`)))
  })

const measure = async (port: number, ca: string, first: number, n: number, check: boolean) => {
  const agent = new Https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca })
  const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify(review(i)))
  const latencies: Array<number> = []
  const send = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = bodies[i % bodies.length]!
      const t0 = process.hrtime.bigint()
      const req = Https.request({ host: "127.0.0.1", port, method: "POST", path, agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
          if (check) {
            const answer = JSON.parse(Buffer.concat(chunks).toString()) as { response?: { allowed?: boolean } }
            if (res.statusCode !== 200 || answer.response?.allowed !== true) return reject(new Error(`not admitted: ${res.statusCode} ${Buffer.concat(chunks).toString()}`))
          }
          resolve()
        })
      })
      req.once("error", reject)
      req.end(body)
    })
  const t0 = performance.now()
  await pool(n, CONCURRENCY, (i) => send(first + i))
  const seconds = (performance.now() - t0) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return { perSecond: n / seconds, p50: median(latencies), p99: latencies[Math.floor(latencies.length * 0.99)]! }
}

export const main = async (rounds = 5) => {
  const certDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-webhooks-"))
  const now = Date.now()
  const ca = await Effect.runPromise(Certs.makeCa({ commonName: "bench-ca", notBefore: now - 60_000, notAfter: now + 86_400_000 }))
  const leaf = await Effect.runPromise(Certs.issue(ca, { commonName: "bench", hosts: ["127.0.0.1"], notBefore: now - 60_000, notAfter: now + 86_400_000 }))
  Fs.writeFileSync(Path.join(certDir, "tls.crt"), leaf.cert)
  Fs.writeFileSync(Path.join(certDir, "tls.key"), leaf.key)
  const measurements: Array<Measurement> = []
  const impls = ["floor", "operatorkit"] as const
  try {
    for (let round = 0; round < rounds; round++) {
      for (const impl of round % 2 === 0 ? impls : [...impls].reverse()) {
        const server = await start(impl, certDir)
        try {
          await measure(server.port, ca.cert, 0, WARMUP, true)
          const r = await measure(server.port, ca.cert, WARMUP, REQUESTS, true)
          measurements.push({ impl, metric: "reviews_per_s", value: r.perSecond })
          measurements.push({ impl, metric: "p50_ms", value: r.p50 })
          measurements.push({ impl, metric: "p99_ms", value: r.p99 })
        } finally {
          await server.stop()
        }
      }
      log(`webhooks: round ${round + 1}/${rounds}`)
    }
  } finally {
    Fs.rmSync(certDir, { recursive: true, force: true })
  }
  const results = summarize(measurements)
  const rate = (impl: string) => results.find((r) => r.impl === impl && r.metric === "reviews_per_s")!.median
  const ratio = Math.round((rate("operatorkit") / rate("floor")) * 100) / 100
  const file = writeResults("webhooks", rounds, results, { requests: REQUESTS, concurrency: CONCURRENCY, ratio, target: 0.8 })
  printTable("webhooks", results)
  process.stdout.write(`\noperatorkit / floor throughput: ${ratio} (target ≥ 0.8)\nresults: ${file}\n`)
}
