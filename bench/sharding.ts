/**
 * Sharding: replica processes (test/support/shardReplica.ts) of one ring on kube-apiserver.
 *
 * - Throughput: 2,000 ConfigMaps labelled for the ring over n = 1, 2, 4 replicas (a sharder
 *   started after them finds each in place); each replica runs its controller at concurrency 1, a
 *   reconcile awaiting a 20 ms I/O step (one replica's ceiling: 50/s), and re-dispatches its
 *   objects every second, so its worker is never idle and, once the first pass put the finalizers
 *   on, reconciles make no write: the figure is the replicas' own, not the API server's. After the
 *   first pass, reconciles per second until 2,000 more have ended (`throughput_per_s_<n>`), and the
 *   ratio to linear, n × the single replica's (`throughput_vs_linear_<n>`).
 * - Heap: 10,000 ConfigMaps of about 1 KB, already labelled for the ring over n replicas; n
 *   replicas (not standing for the sharder) each reconcile their share, then report the heap they
 *   retain after a GC, from a baseline taken after their imports (`replica_heap_mb_<n>`, the
 *   largest of the n). What a replica holds whatever its objects (`replica_heap_mb_0`) is the heap
 *   at zero objects of the least-squares line through every replica's (objects, heap) of the round
 *   (`replica_heap_kb_per_object` its slope): heap snapshots of replicas with 0, 2,536 and 10,000
 *   objects showed about 1.9 MB that does not grow with the objects and that a replica that never
 *   had one does not hold, all of it compiled code (optimized code, its relocation and
 *   deoptimization data, baseline code, feedback vectors), so a cold replica is no baseline. The
 *   stores' part of a replica is the rest (`replica_store_heap_mb_<n>`), and its ratio to 1/n of
 *   the single replica's (`replica_store_heap_vs_share_<n>`). Cross-checks:
 *   `replica_heap_mb_cold` (a replica that never had an object, the baseline of earlier runs) and
 *   `replica_heap_mb_warm` (one that reconciled 2,000 objects, then saw them deleted).
 *   A process running only the sharder, started after them, reports its own on a line of its own
 *   (`sharder_heap_mb_<n>`): it watches the metadata of every object.
 *
 * `npm run bench -- sharding [rounds]` (default 1 round; each round measures every n);
 * `SHARDING_BENCH=throughput` or `=heap` runs one part.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Client from "../src/Client.ts"
import { hashKey } from "../src/internal/sharding/sharder.ts"
import * as Ring from "../src/internal/sharding/ring.ts"
import * as Kind from "../src/Kind.ts"
import * as KubeConfig from "../src/KubeConfig.ts"
import * as Envtest from "../src/testing/Envtest.ts"
import type { ReplicaConfig } from "../test/support/shardReplica.ts"
import { log, type Measurement, printTable, summarize, writeResults } from "./lib.ts"

const REPLICAS = [1, 2, 4] as const
const RECONCILES = 2_000
const WORK_MS = 20
const HEAP_OBJECTS = 10_000
/** Objects the warm baseline replica reconciles before they are deleted. */
const WARM_OBJECTS = 2_000
const PAYLOAD_CHARS = 900
const SHARD_LABEL = "shard.operatorkit.test/work"
const script = Path.join(import.meta.dirname, "../test/support/shardReplica.ts")
const timing = { leaseMillis: 3_000, renewMillis: 2_000, retryMillis: 500 }
const part = process.env["SHARDING_BENCH"]

interface Proc {
  readonly id: string
  readonly child: ChildProcess.ChildProcess
  readonly reconciled: Set<string>
  /** Ends of the reconciles that started after `since`. */
  readonly after: Array<number>
  since: number
  heap: number | undefined
  stderr: string
  readonly exited: Promise<void>
}

const spawn = (config: ReplicaConfig): Proc => {
  const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", "--expose-gc", script, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const proc: Proc = {
    id: config.id,
    child,
    reconciled: new Set(),
    after: [],
    since: Infinity,
    heap: undefined,
    stderr: "",
    exited: new Promise((resolve) => child.once("exit", () => resolve()))
  }
  let partial = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n")
    partial = lines.pop()!
    for (const line of lines) {
      const [tag, a, start, end] = line.split(" ")
      if (tag === "R") {
        proc.reconciled.add(a!)
        if (Number(start) >= proc.since) proc.after.push(Number(end))
      } else if (tag === "H") proc.heap = Number(a)
    }
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    proc.stderr = (proc.stderr + chunk.toString()).slice(-20_000)
  })
  return proc
}

/** Polls a condition every 100 ms up to a (generous) bound. */
const until = async (check: () => boolean, what: string, procs: ReadonlyArray<Proc>, timeoutMs = 300_000) => {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) {
      throw new Error(`sharding bench: no ${what} within ${timeoutMs} ms; last log lines:\n${procs.map((p) => `${p.id}: ${p.stderr.slice(-1500)}`).join("\n")}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const stopAll = async (procs: ReadonlyArray<Proc>) => {
  for (const p of procs) p.child.kill("SIGTERM")
  await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((resolve) => setTimeout(resolve, 30_000))])
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL")
  await Promise.all(procs.map((p) => p.exited))
}

const liveShards = (n: number) => new RegExp(`ring changed \\([^)]*\\): ${n} live shards?`)

const heapOf = async (procs: ReadonlyArray<Proc>) => {
  for (const p of procs) {
    p.heap = undefined
    p.child.kill("SIGUSR2")
  }
  await until(() => procs.every((p) => p.heap !== undefined), "heap report", procs, 60_000)
  return procs.map((p) => p.heap! / 2 ** 20)
}

export const main = async (rounds = 1) => {
  const measurements: Array<Measurement> = []
  const single = { throughput: NaN }
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log("sharding: starting Envtest")
    const env = yield* Envtest.make()
    const client = yield* Client.make(yield* KubeConfig.fromString(env.kubeconfig), { timeout: "30 seconds" })
    const base = { kubeconfig: env.kubeconfigPath, ...timing }
    const record = (metric: string, value: number) => {
      log(`sharding: ${metric} = ${Math.round(value * 100) / 100}`)
      measurements.push({ impl: "operatorkit", metric, value })
    }

    /** A namespace of `count` ConfigMaps already labelled where the ring over `ids` puts them; each id's share. */
    const seed = (namespace: string, ids: ReadonlyArray<string>, count: number, payloadChars: number) =>
      Effect.gen(function*() {
        yield* client.create(Kind.Namespace, { metadata: { name: namespace } })
        const ring = Ring.make(ids)
        const share = new Map(ids.map((id) => [id, 0]))
        yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => {
          const name = `cm-${i}`
          const shard = Ring.lookup(ring, hashKey(Kind.ConfigMap, { metadata: { name, namespace } }))!
          share.set(shard, share.get(shard)! + 1)
          return client.create(Kind.ConfigMap, {
            metadata: { name, namespace, labels: { app: "sharded", [SHARD_LABEL]: shard } },
            data: { payload: Crypto.randomBytes(payloadChars).toString("base64").slice(0, payloadChars) }
          })
        }, { concurrency: 32, discard: true })
        return share
      })

    for (let round = 0; round < rounds; round++) {
      // --- throughput ---------------------------------------------------------------------------
      for (const n of part === "heap" ? [] : REPLICAS) {
        const namespace = `tp-${n}-${round}`
        const ids = Array.from({ length: n }, (_, i) => `t${i}`)
        const share = yield* seed(namespace, ids, RECONCILES, 16)
        // each replica re-dispatches its objects every second: its worker is never idle, and no
        // write is made once its finalizers are on (the first pass)
        const procs = ids.map((id) => spawn({ ...base, namespace, id, concurrency: 1, workMillis: WORK_MS, sharder: false, resyncMillis: 1_000 }))
        const sharder = spawn({ ...base, namespace, id: "sharder", concurrency: 1, workMillis: 0, sharderOnly: true })
        const all = [...procs, sharder]
        yield* Effect.promise(() => until(() => procs.every((p) => p.reconciled.size >= share.get(p.id)!), "a first pass over every share", all))
        const from = performance.timeOrigin + performance.now()
        for (const p of procs) p.since = from
        yield* Effect.promise(() => until(() => procs.reduce((sum, p) => sum + p.after.length, 0) >= RECONCILES, `${RECONCILES} reconciles`, all))
        // the time by which RECONCILES of them had ended
        const ends = procs.flatMap((p) => p.after).sort((a, b) => a - b)
        const seconds = (ends[RECONCILES - 1]! - from) / 1000
        const throughput = RECONCILES / seconds
        if (n === 1) single.throughput = throughput
        record(`throughput_per_s_${n}`, throughput)
        record(`throughput_vs_linear_${n}`, throughput / (n * single.throughput))
        log(`sharding: ${n} replica(s): reconciles per replica ${procs.map((p) => p.after.length).join(", ")}`)
        yield* Effect.promise(() => stopAll(all))
        yield* client.delete(Kind.Namespace, { name: namespace })
      }

      // --- heap ---------------------------------------------------------------------------------
      // what a replica holds with no object (its modules' state, the code its work compiled,
      // Lease, informer, queue): the stores' share is the rest
      const points: Array<readonly [objects: number, mb: number]> = []
      const largestOf = new Map<number, number>()
      if (part !== "throughput") {
        // cold: a replica that never had an object (optimized code is compiled only for code that ran hot)
        const coldNamespace = `heap-cold-${round}`
        yield* client.create(Kind.Namespace, { metadata: { name: coldNamespace } })
        const cold = spawn({ ...base, namespace: coldNamespace, id: "h0", concurrency: 4, workMillis: 0, sharder: false })
        yield* Effect.promise(() => until(() => /holds its shard Lease/.test(cold.stderr), "the cold replica reconciling", [cold]))
        yield* Effect.sleep("1 second")
        record("replica_heap_mb_cold", (yield* Effect.promise(() => heapOf([cold])))[0]!)
        yield* Effect.promise(() => stopAll([cold]))
        yield* client.delete(Kind.Namespace, { name: coldNamespace })
        // warm: it reconciled WARM_OBJECTS objects, which were then deleted (it removes its finalizer
        // from each, so none is left once the namespace holds no ConfigMap)
        const namespace = `heap-warm-${round}`
        yield* seed(namespace, ["h0"], WARM_OBJECTS, PAYLOAD_CHARS)
        const warm = spawn({ ...base, namespace, id: "h0", concurrency: 4, workMillis: 0, sharder: false })
        yield* Effect.promise(() => until(() => warm.reconciled.size >= WARM_OBJECTS, "the warm-up reconciled", [warm]))
        yield* Effect.forEach(Array.from({ length: WARM_OBJECTS }, (_, i) => `cm-${i}`), (name) => client.delete(Kind.ConfigMap, { namespace, name }), { concurrency: 32, discard: true })
        for (let left = Infinity; left > 0;) {
          yield* Effect.sleep("1 second")
          left = (yield* client.list(Kind.ConfigMap, { namespace, labelSelector: "app=sharded" })).items.length
        }
        // the last DELETED events reach the replica
        yield* Effect.sleep("2 seconds")
        record("replica_heap_mb_warm", (yield* Effect.promise(() => heapOf([warm])))[0]!)
        yield* Effect.promise(() => stopAll([warm]))
        yield* client.delete(Kind.Namespace, { name: namespace })
      }
      for (const n of part === "throughput" ? [] : REPLICAS) {
        const namespace = `heap-${n}-${round}`
        const ids = Array.from({ length: n }, (_, i) => `h${i}`)
        log(`sharding: seeding ${HEAP_OBJECTS} ConfigMaps of ~1 KB for ${n} replica(s)`)
        const share = yield* seed(namespace, ids, HEAP_OBJECTS, PAYLOAD_CHARS)
        // the replicas first, so the sharder finds every shard live and every object in place
        const procs = ids.map((id) => spawn({ ...base, namespace, id, concurrency: 4, workMillis: 0, sharder: false }))
        yield* Effect.promise(() => until(() => procs.every((p) => p.reconciled.size >= share.get(p.id)!), "every share reconciled", procs))
        const heaps = yield* Effect.promise(() => heapOf(procs))
        procs.forEach((p, i) => points.push([share.get(p.id)!, heaps[i]!]))
        log(`sharding: ${n} replica(s): objects ${procs.map((p) => share.get(p.id)).join(", ")}, heap (MB) ${heaps.map((h) => h.toFixed(2)).join(", ")}`)
        const largest = Math.max(...heaps)
        largestOf.set(n, largest)
        record(`replica_heap_mb_${n}`, largest)
        const sharder = spawn({ ...base, namespace, id: "sharder", concurrency: 1, workMillis: 0, sharderOnly: true })
        yield* Effect.promise(() => until(() => liveShards(n).test(sharder.stderr), `the sharder's ring of ${n}`, [sharder]))
        // its queue of every object's key drains after the ring line: the least of a few readings
        const readings: Array<number> = []
        for (let i = 0; i < 4; i++) {
          yield* Effect.sleep("1 second")
          readings.push((yield* Effect.promise(() => heapOf([sharder])))[0]!)
        }
        record(`sharder_heap_mb_${n}`, Math.min(...readings))
        yield* Effect.promise(() => stopAll([...procs, sharder]))
        yield* client.delete(Kind.Namespace, { name: namespace })
      }
      if (points.length > 2) {
        // least squares through every replica's (objects, heap): the heap at zero objects
        const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
        const mx = mean(points.map((p) => p[0]))
        const my = mean(points.map((p) => p[1]))
        const slope = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
        // what a replica holds whatever its objects: the stores' part of each is the rest
        const fixed = my - slope * mx
        record("replica_heap_mb_0", fixed)
        record("replica_heap_kb_per_object", slope * 1024)
        const one = largestOf.get(1)! - fixed
        for (const [n, largest] of largestOf) {
          record(`replica_store_heap_mb_${n}`, largest - fixed)
          record(`replica_store_heap_vs_share_${n}`, (largest - fixed) / (one / n))
        }
      }
    }
  })))
  const results = summarize(measurements)
  const file = writeResults("sharding", rounds, results, {
    reconciles: RECONCILES,
    work_ms: WORK_MS,
    heap_objects: HEAP_OBJECTS,
    warm_objects: WARM_OBJECTS,
    payload_chars: PAYLOAD_CHARS
  })
  printTable("sharding", results)
  const get = (metric: string) => results.find((r) => r.metric === metric)?.median ?? NaN
  process.stdout.write(
    `\ntargets (operatorkit):\n` +
      `  throughput at 4 replicas vs linear   ${get("throughput_vs_linear_4")}  (target ≥ 0.8) ${get("throughput_vs_linear_4") >= 0.8 ? "met" : "MISSED"}\n` +
      `  replica stores' heap at 4 vs 1/4     ${get("replica_store_heap_vs_share_4")}  (target ≤ 1.1) ${get("replica_store_heap_vs_share_4") <= 1.1 ? "met" : "MISSED"}\n` +
      `  sharder heap (10,000 objects)        ${get("sharder_heap_mb_4")} MB\n` +
      `results: ${file}\n`
  )
}
