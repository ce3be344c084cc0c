/**
 * Sharding on kube-apiserver 1.20.2 with replica processes (test/support/shardReplica.ts): 3
 * replicas on 1,000 ConfigMaps, scaled to 5, down to 2 (SIGTERM), one more, one `kill -9`, one
 * SIGSTOPped past its Lease then SIGCONTinued. Each reconcile prints (object, start, end) when it
 * commits (the fence held at that instant); the test asserts no two intervals of one object
 * overlap, and after each change waits until every object is labelled where the ring over the
 * live replicas puts it and was last reconciled there (after the change, if it moved).
 *
 * Durations are shortened (6 s lease, 4 s renew deadline, 1 s retry) to keep it quick; the rules
 * are those of client-go's 15/10/2. Not shorter: on a loaded machine a Lease renewal (a read and a
 * write) can take seconds, and a replica whose renewal ends past its renew deadline is fenced
 * though its Lease looks fresh to the sharder. SHARDING_N sets the number of objects (default
 * 1,000).
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import { hashKey } from "../../src/internal/sharding/sharder.ts"
import * as Ring from "../../src/internal/sharding/ring.ts"
import * as Kind from "../../src/Kind.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import type { ReplicaConfig } from "../support/shardReplica.ts"

const N = Number(process.env["SHARDING_N"] ?? 1000)
const SHARD_LABEL = "shard.operatorkit.test/work"
const DRAIN_LABEL = "drain.operatorkit.test/work"
const replicaScript = Path.join(import.meta.dirname, "../support/shardReplica.ts")

interface Run {
  readonly object: string
  readonly replica: string
  readonly start: number
  readonly end: number
}

interface Replica {
  readonly id: string
  readonly child: ChildProcess.ChildProcess
  state: "running" | "stopped" | "killed" | "exited"
  readonly exited: Promise<number | null>
  readonly stderr: () => string
}

const makeLedger = () => {
  const runs: Array<Run> = []
  const last = new Map<string, Run>()
  const fenced: Array<{ readonly object: string; readonly replica: string }> = []
  const record = (run: Run) => {
    runs.push(run)
    if ((last.get(run.object)?.end ?? -1) <= run.end) last.set(run.object, run)
  }
  const overlaps = () => {
    const byObject = new Map<string, Array<Run>>()
    for (const run of runs) {
      const list = byObject.get(run.object)
      if (list === undefined) byObject.set(run.object, [run])
      else list.push(run)
    }
    const found: Array<string> = []
    for (const [object, list] of byObject) {
      const sorted = [...list].sort((a, b) => a.start - b.start)
      for (let i = 1; i < sorted.length; i++) {
        const prev = sorted[i - 1]!
        const next = sorted[i]!
        if (next.start < prev.end) {
          found.push(`${object}: ${prev.replica} [${prev.start.toFixed(1)}, ${prev.end.toFixed(1)}] and ${next.replica} [${next.start.toFixed(1)}, ${next.end.toFixed(1)}]`)
        }
      }
    }
    return found
  }
  return { runs, last, fenced, record, overlaps }
}

const spawnReplica = (config: ReplicaConfig, ledger: ReturnType<typeof makeLedger>): Replica => {
  const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", replicaScript, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let partial = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split("\n")
    partial = lines.pop()!
    for (const line of lines) {
      const [tag, object, start, end] = line.split(" ")
      if (tag === "R") ledger.record({ object: object!, replica: config.id, start: Number(start), end: Number(end) })
      else if (tag === "F") ledger.fenced.push({ object: object!, replica: config.id })
    }
  })
  // the last lines of its log, for a failure's message
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const replica: Replica = {
    id: config.id,
    child,
    state: "running",
    exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
    stderr: () => stderr
  }
  void replica.exited.then(() => {
    if (replica.state !== "killed") replica.state = "exited"
  })
  return replica
}

const ringOf = (ids: ReadonlyArray<string>) => Ring.make(ids)

layer(cluster(), { excludeTestServices: true })("Sharding on kube-apiserver 1.20.2 (replica processes)", (it) => {
  it.effect(
    `3 replicas on ${N} objects, to 5, to 2, one more, one kill -9, one SIGSTOP past its Lease and SIGCONT: no overlapping reconciles, every object reconciled where it moved`,
    () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const client = yield* Client.Client
        const namespace = yield* freshNamespace("shard")
        const ledger = makeLedger()
        const replicas: Array<Replica> = []
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL")
            await Promise.all(replicas.map((r) => r.exited))
          })
        )
        const timing = { leaseMillis: 6_000, renewMillis: 4_000, retryMillis: 1_000 }
        const start = (id: string) =>
          Effect.sync(() =>
            void replicas.push(spawnReplica({ kubeconfig: env.kubeconfigPath, namespace, id, ...timing, concurrency: 4, workMillis: 20 }, ledger))
          )
        const live = () => replicas.filter((r) => r.state === "running")
        const find = (id: string) => replicas.find((r) => r.id === id)!

        yield* Effect.forEach(Array.from({ length: N }, (_, i) => `cm-${i}`), (name) =>
          client.create(Kind.ConfigMap, { metadata: { name, namespace, labels: { app: "sharded" } }, data: { v: "0" } }), {
          concurrency: 16,
          discard: true
        })

        const labels = Effect.map(
          client.list(Kind.ConfigMap, { namespace, labelSelector: "app=sharded" }),
          (list) => list.items.map((o) => ({ name: o.metadata.name, object: o, labels: o.metadata.labels ?? {} }))
        )
        let touches = 0
        /** A third of the objects changed: replicas are reconciling while objects move. */
        const touchSome = Effect.suspend(() => {
          touches++
          return Effect.forEach(Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === touches % 3), (i) =>
            client.patch(Kind.ConfigMap, { namespace, name: `cm-${i}` }, { _tag: "MergePatch", patch: { data: { touched: String(touches) } } }), {
            concurrency: 8,
            discard: true
          })
        })

        const converged = (before: ReadonlyMap<string, string | undefined>, since: number) =>
          Effect.gen(function*() {
            const ids = live().map((r) => r.id)
            const ring = ringOf(ids)
            const problems: Array<string> = []
            for (const { labels: l, name, object } of yield* labels) {
              const shard = l[SHARD_LABEL]
              const expected = Ring.lookup(ring, hashKey(Kind.ConfigMap, object))
              const last = ledger.last.get(name)
              if (shard !== expected) problems.push(`${name} on ${shard ?? "no shard"}, not ${expected}`)
              else if (l[DRAIN_LABEL] !== undefined) problems.push(`${name} draining`)
              else if (last?.replica !== shard) problems.push(`${name} last reconciled by ${last?.replica ?? "nobody"}, not ${shard}`)
              else if (before.get(name) !== shard && last.start < since) problems.push(`${name} moved to ${shard} and was not reconciled there since`)
              if (problems.length > 5) break
            }
            for (const r of replicas) {
              if (r.state === "exited") problems.push(`replica ${r.id} exited unasked: ${r.stderr()}`)
            }
            assert.deepStrictEqual(problems, [], `live: ${ids.join(", ")}`)
          })

        const steps: Array<{ readonly what: string; readonly seconds: number; readonly reconciles: number }> = []
        const step = (what: string, change: Effect.Effect<void>) =>
          Effect.gen(function*() {
            const before = new Map((yield* labels).map((o) => [o.name, o.labels[SHARD_LABEL]]))
            const t0 = performance.now()
            const since = performance.timeOrigin + t0
            const runsBefore = ledger.runs.length
            yield* touchSome
            yield* change
            // generous: the machine has 2 shared cores; each step needs a few Lease periods and ~N writes
            yield* eventually(converged(before, since), { timeout: "150 seconds", interval: "500 millis" }).pipe(
              Effect.mapError((e) => new Error(`${what}: ${String(e)}\nthe replicas' last log lines:\n${replicas.map((r) => `--- ${r.id} (${r.state})\n${r.stderr().slice(-1500)}`).join("\n")}`))
            )
            assert.deepStrictEqual(ledger.overlaps(), [], `${what}: overlapping reconciles`)
            steps.push({ what, seconds: Math.round((performance.now() - t0) / 100) / 10, reconciles: ledger.runs.length - runsBefore })
          })

        yield* step("3 replicas", Effect.forEach(["r0", "r1", "r2"], start, { discard: true }))
        yield* step("scaled to 5", Effect.forEach(["r3", "r4"], start, { discard: true }))
        yield* step(
          "down to 2 (SIGTERM r0, r1, r2)",
          Effect.sync(() => {
            for (const id of ["r0", "r1", "r2"]) {
              const r = find(id)
              r.state = "killed" // asked to go: its exit is expected
              r.child.kill("SIGTERM")
            }
          })
        )
        yield* step("one more (r5)", start("r5"))
        const sharder = (yield* client.get(Kind.Lease, { namespace, name: "work-sharder" })).spec?.holderIdentity ?? ""
        assert.include(["r3", "r4", "r5"], sharder)
        yield* step(
          `kill -9 the sharder (${sharder})`,
          Effect.sync(() => {
            const r = find(sharder)
            r.state = "killed"
            r.child.kill("SIGKILL")
          })
        )
        const paused = live()[0]!
        yield* step(
          `SIGSTOP ${paused.id} past its Lease`,
          Effect.gen(function*() {
            paused.state = "stopped"
            paused.child.kill("SIGSTOP")
            // past its Lease: the others took its objects (the step waits for that), then it continues
          })
        )
        yield* step(
          `SIGCONT ${paused.id}`,
          Effect.sync(() => {
            paused.child.kill("SIGCONT")
            paused.state = "running"
          })
        )
        // a replica stopped mid-reconcile finds its fence down when it continues: never committed
        assert.isTrue(ledger.fenced.every((f) => f.replica === paused.id || f.replica === sharder || ["r0", "r1", "r2"].includes(f.replica)), JSON.stringify(ledger.fenced.slice(0, 5)))
        assert.isAbove(ledger.runs.length, N)
        yield* Effect.logInfo(`sharding steps: ${JSON.stringify(steps)}`)
      }),
    600_000
  )
})
