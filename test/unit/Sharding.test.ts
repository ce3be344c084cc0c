/**
 * Sharding on the in-memory API server with TestClock: replicas in one process, each with its own
 * Client and its own Clock behind a gate, so a replica can be paused (SIGSTOP: every call and
 * sleep of it waits, time goes on) and continued, or frozen for good (kill -9: nothing more, not
 * even a release). Every reconcile records (object, replica, start, end) when it commits.
 */
import { assert, describe, it } from "@effect/vitest"
import * as PromClient from "prom-client"
import { Clock, Effect, Exit, Schema, Scope, Stream, Tracer } from "effect"
import * as Client from "../../src/Client.ts"
import * as HttpClient from "../../src/internal/http/client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Informer from "../../src/Informer.ts"
import type { Transport } from "../../src/internal/http/transport.ts"
import { hashKey } from "../../src/internal/sharding/sharder.ts"
import * as Ring from "../../src/internal/sharding/ring.ts"
import * as Kind from "../../src/Kind.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Rbac from "../../src/Rbac.ts"
import * as RbacGuard from "../../src/testing/RbacGuard.ts"
import * as Sharding from "../../src/Sharding.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { parse, valueOf } from "../support/promText.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const NS = "default"
/** The I/O step of a reconcile (virtual time). */
const WORK = "50 millis"
const RING = "work"
const SHARD_LABEL = "shard.operatorkit.test/work"
const DRAIN_LABEL = "drain.operatorkit.test/work"

/** Holds a replica's calls and sleeps while paused; holds them for good once killed. */
class Gate {
  mode: "running" | "paused" | "killed" = "running"
  private waiting: Array<() => void> = []
  readonly pass: Effect.Effect<void> = Effect.suspend(() =>
    this.mode === "running" ? Effect.void : Effect.callback<void>((resume) => {
      this.waiting.push(() => resume(Effect.void))
    })
  )
  pause() {
    this.mode = "paused"
  }
  resume() {
    this.mode = "running"
    for (const wake of this.waiting.splice(0)) wake()
  }
  kill() {
    this.mode = "killed"
  }
}

const gatedTransport = (transport: Transport, gate: Gate): Transport => ({
  request: (req) => gate.pass.pipe(Effect.andThen(transport.request(req)), Effect.tap(() => gate.pass)),
  watch: (req) => Stream.unwrap(Effect.as(gate.pass, transport.watch(req).pipe(Stream.mapEffect((event) => Effect.as(gate.pass, event))))),
})

const gatedClock = (base: Clock.Clock, gate: Gate): Clock.Clock => ({
  currentTimeMillisUnsafe: () => base.currentTimeMillisUnsafe(),
  currentTimeMillis: base.currentTimeMillis,
  currentTimeNanosUnsafe: () => base.currentTimeNanosUnsafe(),
  currentTimeNanos: base.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => base.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: base.monotonicTimeNanos,
  sleep: (duration) => Effect.andThen(base.sleep(duration), gate.pass)
})

interface Run {
  readonly object: string
  readonly replica: string
  readonly start: number
  readonly end: number
}

const makeLedger = (clock: Clock.Clock) => {
  const runs: Array<Run> = []
  /** The latest run of each object. */
  const last = new Map<string, Run>()
  const record = (run: Run) => {
    runs.push(run)
    if ((last.get(run.object)?.end ?? -1) <= run.end) last.set(run.object, run)
  }
  const fenced: Array<{ readonly object: string; readonly replica: string }> = []
  const resource = (replica: string) =>
    Framework.make<ConfigMap>()({
      name: "work",
      ensureCreated: (cm) =>
        Effect.suspend(() => {
          const start = clock.currentTimeMillisUnsafe()
          // the I/O step, then the commit: recorded only if the shard Lease is held at that instant
          return Effect.sleep(WORK).pipe(
            Effect.andThen(Sharding.fence),
            Effect.andThen(Effect.sync(() => record({ object: cm.metadata.name, replica, start, end: clock.currentTimeMillisUnsafe() }))),
            Effect.onInterrupt(() => Effect.sync(() => void fenced.push({ object: cm.metadata.name, replica })))
          )
        }),
      ensureDeleted: () => Effect.void
    })
  const overlaps = () => {
    const byObject = new Map<string, Array<Run>>()
    for (const run of runs) byObject.set(run.object, [...(byObject.get(run.object) ?? []), run])
    const found: Array<string> = []
    for (const [object, list] of byObject) {
      const sorted = [...list].sort((a, b) => a.start - b.start)
      for (let i = 1; i < sorted.length; i++) {
        const prev = sorted[i - 1]!
        const next = sorted[i]!
        if (next.start < prev.end) found.push(`${object}: ${prev.replica} [${prev.start}, ${prev.end}] and ${next.replica} [${next.start}, ${next.end}]`)
      }
    }
    return found
  }
  return { runs, last, fenced, resource, overlaps }
}

interface Replica {
  readonly id: string
  readonly gate: Gate
  readonly scope: Scope.Closeable
  readonly shard: Sharding.ShardService
}

const timing = { leaseDuration: "15 seconds", renewDeadline: "10 seconds", retryPeriod: "2 seconds" } as const

const shardingOptions = (id: string) => ({
  name: RING,
  namespace: NS,
  group: "operatorkit.test",
  kinds: [{ kind: Kind.ConfigMap, namespace: NS, labelSelector: "app=sharded" }],
  id,
  ...timing
})

const controllerOptions = (id: string, ledger: ReturnType<typeof makeLedger>) => ({
  name: RING,
  kind: Kind.ConfigMap,
  namespace: NS,
  labelSelector: "app=sharded",
  finalizerPrefix: "operatorkit.test",
  resources: [ledger.resource(id)],
  concurrency: 8
})

const startReplica = (id: string, ledger: ReturnType<typeof makeLedger>, wrap: (client: Client.ClientService) => Client.ClientService = (c) => c) =>
  Effect.gen(function*() {
    const server = yield* TestServer.TestServer
    const gate = new Gate()
    const clock = gatedClock(yield* Clock.Clock, gate)
    const client = wrap(HttpClient.make(gatedTransport(transportOf(server), gate)))
    const scope = yield* Scope.make()
    // everything the replica runs sees its own Client and Clock
    const shard = yield* Effect.gen(function*() {
      const shard = yield* Sharding.make(shardingOptions(id)).pipe(Effect.orDie)
      yield* Controller.make(controllerOptions(id, ledger)).pipe(Effect.provideService(Sharding.Shard, shard))
      return shard
    }).pipe(Effect.provideService(Client.Client, client), Effect.provideService(Clock.Clock, clock), Scope.provide(scope))
    return { id, gate, scope, shard } satisfies Replica
  })

/** Stops a replica gracefully (its controllers stop, then it releases its Lease), in the background: that takes (virtual) time. */
const stopReplica = (replica: Replica) => Effect.forkDetach(Scope.close(replica.scope, Exit.void))

/**
 * Every object is where the ring over the `live` replicas puts it, with no drain pending; the last
 * reconcile of each was made by that replica; and each object that moved since `before` was
 * reconciled there after `since`. Labels are read from an informer of the test's own (a list of
 * the server's objects at every check would cost more than the replicas).
 */
const converged = (
  ledger: ReturnType<typeof makeLedger>,
  view: Informer.Informer<ConfigMap>,
  live: ReadonlyArray<Replica>,
  before: ReadonlyMap<string, string | undefined>,
  since: number,
  count: number
) =>
  Effect.gen(function*() {
    const ring = ringOf(live.map((r) => r.id))
    const problems: Array<string> = []
    const objects = yield* view.store.list()
    // every object, not a view still listing
    if (objects.length !== count) problems.push(`the test's view has ${objects.length} objects, not ${count}`)
    for (const object of objects) {
      const name = object.metadata.name
      const shard = object.metadata.labels?.[SHARD_LABEL]
      const expected = Ring.lookup(ring, hashKey(Kind.ConfigMap, object))
      const last = ledger.last.get(name)
      if (shard !== expected) problems.push(`${name} on ${shard ?? "no shard"}, not ${expected}`)
      else if (object.metadata.labels?.[DRAIN_LABEL] !== undefined) problems.push(`${name} draining`)
      else if (last?.replica !== shard) problems.push(`${name} last reconciled by ${last?.replica ?? "nobody"}, not ${shard}`)
      else if (before.get(name) !== shard && last!.start < since) problems.push(`${name} moved to ${shard} and was not reconciled there since`)
      if (problems.length > 5) break
    }
    assert.deepStrictEqual(problems, [])
  })

const rings = new Map<string, Ring.Ring>()
const ringOf = (ids: ReadonlyArray<string>) => {
  const key = [...ids].sort().join(",")
  const ring = rings.get(key) ?? Ring.make(ids)
  rings.set(key, ring)
  return ring
}

const shards = (view: Informer.Informer<ConfigMap>) =>
  Effect.map(view.store.list(), (objects) => new Map(objects.map((o) => [o.metadata.name, o.metadata.labels?.[SHARD_LABEL]])))

const N = Number(process.env["SHARDING_N"] ?? 1000)

describe("Sharding (in-memory API server, TestClock)", () => {
  it.effect("3 replicas on 1,000 objects, scaled to 5, down to 2, one killed, one paused past its Lease: no object reconciled by two at once, each reconciled where it moved", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const clock = yield* Clock.Clock
      const ledger = makeLedger(clock)
      yield* Effect.forEach(Array.from({ length: N }, (_, i) => `cm-${i}`), (name) =>
        server.client.create(Kind.ConfigMap, { metadata: { name, namespace: NS, labels: { app: "sharded" } }, data: { v: "0" } }), { discard: true })
      // a trickle of changes, so replicas are reconciling while objects move
      let seed = 1
      yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
        yield* Effect.sleep("50 millis")
        seed = (seed * 48271) % 2147483647
        yield* server.client.patch(Kind.ConfigMap, { namespace: NS, name: `cm-${seed % N}` }, { _tag: "MergePatch", patch: { data: { v: String(seed) } } })
      })))
      let touches = 0
      const touchAll = Effect.suspend(() => {
        touches++
        return Effect.forEach(Array.from({ length: N }, (_, i) => `cm-${i}`), (name) =>
          server.client.patch(Kind.ConfigMap, { namespace: NS, name }, { _tag: "MergePatch", patch: { data: { touched: String(touches) } } }), { concurrency: 16, discard: true })
      })
      const view = yield* Informer.make(Kind.ConfigMap, { namespace: NS, labelSelector: "app=sharded" }).pipe(Effect.provideService(Client.Client, server.client))
      const wait = { timeout: "3 minutes", interval: "100 millis" } as const
      const step = <A, E, R>(what: string, change: Effect.Effect<A, E, R>, live: () => ReadonlyArray<Replica>) =>
        Effect.gen(function*() {
          const before = yield* shards(view)
          const since = clock.currentTimeMillisUnsafe()
          // every object changed first: each replica has a backlog, so objects move while their
          // old shard is reconciling them
          yield* touchAll
          const result = yield* change
          yield* eventually(converged(ledger, view, live(), before, since, N), wait).pipe(Effect.mapError((e) => new Error(`${what}: ${String(e)}`)))
          assert.deepStrictEqual(ledger.overlaps(), [], `${what}: overlapping reconciles`)
          return result
        })

      const replicas: Array<Replica> = []
      const start = (id: string) => Effect.map(startReplica(id, ledger), (r) => void replicas.push(r))
      const alive = () => replicas.filter((r) => r.gate.mode === "running")

      yield* step("3 replicas", Effect.forEach(["r0", "r1", "r2"], start, { discard: true }), alive)
      yield* step("scaled to 5", Effect.forEach(["r3", "r4"], start, { discard: true }), alive)
      const stopped = (id: string) => Effect.suspend(() => {
        const r = replicas.find((x) => x.id === id)!
        replicas.splice(replicas.indexOf(r), 1)
        return stopReplica(r)
      })
      yield* step("down to 2 (r0, r1, r2 stop gracefully)", Effect.forEach(["r0", "r1", "r2"], stopped, { discard: true }), alive)
      yield* step("one more (r5)", start("r5"), alive)
      const sharder = (yield* server.client.get(Kind.Lease, { namespace: NS, name: "work-sharder" })).spec?.holderIdentity
      yield* step(`the sharder (${sharder}) killed`, Effect.sync(() => replicas.find((r) => r.id === sharder)!.gate.kill()), alive)
      const paused = alive().find((r) => r.id !== sharder)!
      yield* step(`${paused.id} paused past its Lease`, Effect.sync(() => paused.gate.pause()), alive)
      yield* step(`${paused.id} continued`, Effect.sync(() => paused.gate.resume()), alive)
      // the paused replica may have had reconciles in flight: fenced at their commit, never recorded
      assert.isTrue(ledger.fenced.every((f) => f.replica === paused.id || f.replica === sharder), JSON.stringify(ledger.fenced.slice(0, 5)))
      assert.isAbove(ledger.runs.length, N)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })), 120_000)
})

describe("Sharding's metrics and RBAC", () => {
  it.effect("per shard: Lease held, objects assigned, moves and drain time after a join, ring changes; every call of the replicas is in Sharding.permissions and Controller.permissions", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const clock = yield* Clock.Clock
      const ledger = makeLedger(clock)
      const n = 60
      yield* Effect.forEach(Array.from({ length: n }, (_, i) => `cm-${i}`), (name) =>
        server.client.create(Kind.ConfigMap, { metadata: { name, namespace: NS, labels: { app: "sharded" } } }), { discard: true })
      const view = yield* Informer.make(Kind.ConfigMap, { namespace: NS, labelSelector: "app=sharded" }).pipe(Effect.provideService(Client.Client, server.client))
      // Effect's metrics are process-wide: counted from here
      const registry = new PromClient.Registry()
      yield* Metrics.make({ registry })
      const baseline = parse(yield* Effect.promise(() => registry.metrics()))
      const sum = (families: ReturnType<typeof parse>, family: string, keep: (s: { readonly name: string; readonly labels: Readonly<Record<string, string>> }) => boolean = () => true) =>
        families.get(family)?.samples.filter((s) => s.labels["ring"] === RING && keep(s)).reduce((total, s) => total + s.value, 0) ?? 0
      const delta = (family: string, keep?: (s: { readonly name: string; readonly labels: Readonly<Record<string, string>> }) => boolean) =>
        sum(families, family, keep) - sum(baseline, family, keep)
      // every replica's calls go through a guard of the declared RBAC: the controller's and the ring's
      const declared = Rbac.make({
        name: "work",
        namespace: NS,
        permissions: [Controller.permissions(controllerOptions("any", ledger), { recordsEvents: false }), Sharding.permissions(shardingOptions("any"))]
      })
      const guards: Array<RbacGuard.Guard> = []
      const guarded = (client: Client.ClientService) => {
        const guard = RbacGuard.guard(client, declared)
        guards.push(guard)
        return guard.client
      }
      const replicas: Array<Replica> = []
      const join = (id: string) =>
        Effect.gen(function*() {
          const before = yield* shards(view)
          const since = clock.currentTimeMillisUnsafe()
          replicas.push(yield* startReplica(id, ledger, guarded))
          yield* eventually(converged(ledger, view, replicas, before, since, n), { timeout: "2 minutes", interval: "100 millis" })
        })
      yield* join("r0")
      yield* join("r1")
      yield* join("r2")
      const families = parse(yield* Effect.promise(() => registry.metrics()))
      const assigned = families.get("operatorkit_sharding_objects")!.samples
      assert.deepStrictEqual(assigned.map((s) => s.labels["shard"]).sort(), ["r0", "r1", "r2"])
      assert.strictEqual(assigned.reduce((sum, s) => sum + s.value, 0), n)
      for (const id of ["r0", "r1", "r2"]) {
        assert.strictEqual(valueOf(families, "operatorkit_sharding_lease_held", { ring: RING, shard: id }), 1)
        assert.strictEqual(valueOf(families, "operatorkit_sharding_objects", { ring: RING, shard: id }), (yield* view.store.byLabel(SHARD_LABEL, id)).length)
      }
      assert.strictEqual(valueOf(families, "operatorkit_sharding_live_shards", { ring: RING }), 3)
      assert.strictEqual(valueOf(families, "operatorkit_sharding_unassigned_objects", { ring: RING }), 0)
      assert.strictEqual(delta("operatorkit_sharding_ring_changes_total"), 3)
      // r1 and r2 took objects from those before them: each a drain, acknowledged, counted
      const moved = delta("operatorkit_sharding_moves_total", (s) => s.labels["reason"] === "rebalance")
      assert.isAbove(moved, 0)
      assert.strictEqual(sum(families, "operatorkit_sharding_drains_acknowledged_total"), moved)
      assert.strictEqual(delta("operatorkit_sharding_drain_seconds", (s) => s.name === "operatorkit_sharding_drain_seconds_count"), moved)

      // what the sharder and the shards called is declared: nothing refused, and the calls were made
      for (const guard of guards) assert.deepStrictEqual(yield* guard.missingRules, [])
      const made = new Set((yield* Effect.forEach(guards, (g) => g.calls)).flat().flatMap((c) => c.requests).map((r) => r._tag === "ResourceRequest" ? `${r.verb} ${r.resource}` : r.url))
      for (const call of ["watch leases", "create leases", "patch configmaps", "watch configmaps"]) assert.isTrue(made.has(call), `${call} was made: ${[...made].join(", ")}`)
    }).pipe(Effect.provideService(Sharding.Registry, new Set()), Effect.provide(TestServer.layer(), { local: true })), 60_000)
})

describe("Sharding's spans", () => {
  it.effect("a sharded controller's reconcile spans carry the shard id of the replica that ran them; the sharder's moves are Sharding.move spans from one shard to another", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const server = yield* TestServer.TestServer
      const clock = yield* Clock.Clock
      const ledger = makeLedger(clock)
      const n = 20
      yield* Effect.forEach(Array.from({ length: n }, (_, i) => `cm-${i}`), (name) =>
        server.client.create(Kind.ConfigMap, { metadata: { name, namespace: NS, labels: { app: "sharded" } } }), { discard: true })
      const view = yield* Informer.make(Kind.ConfigMap, { namespace: NS, labelSelector: "app=sharded" }).pipe(Effect.provideService(Client.Client, server.client))
      const replicas: Array<Replica> = []
      const join = (id: string) =>
        Effect.gen(function*() {
          const before = yield* shards(view)
          const since = clock.currentTimeMillisUnsafe()
          replicas.push(yield* startReplica(id, ledger).pipe(Effect.withTracer(tracer)))
          yield* eventually(converged(ledger, view, replicas, before, since, n), { timeout: "2 minutes", interval: "100 millis" })
        })
      yield* join("r0")
      yield* join("r1")

      const attribute = (span: Tracer.NativeSpan, key: string) => span.attributes.get(key)
      const reconciles = spans.filter((s) => s.name === "Controller.reconcile" && attribute(s, "operatorkit.controller") === RING)
      assert.isNotEmpty(reconciles)
      assert.deepStrictEqual([...new Set(reconciles.map((s) => attribute(s, "operatorkit.shard")))].sort(), ["r0", "r1"])
      // r1 reconciled exactly the objects that moved to it (none moves back to r0 here)
      const onR1 = [...(yield* shards(view))].filter(([, shard]) => shard === "r1").map(([name]) => name).sort()
      assert.isNotEmpty(onR1)
      assert.deepStrictEqual([...new Set(reconciles.filter((s) => attribute(s, "operatorkit.shard") === "r1").map((s) => attribute(s, "k8s.name")))].sort(), onR1)
      // the sharder drained each of them from r0 towards r1, then assigned it to r1
      const moves = spans.filter((s) => s.name === "Sharding.move" && attribute(s, "operatorkit.ring") === RING)
      const drained = moves.filter((s) => attribute(s, "operatorkit.action") === "Drain")
      assert.deepStrictEqual([...new Set(drained.map((s) => attribute(s, "k8s.name")))].sort(), onR1)
      for (const span of drained) {
        assert.strictEqual(attribute(span, "operatorkit.shard.from"), "r0")
        assert.strictEqual(attribute(span, "operatorkit.shard.to"), "r1")
      }
      assert.includeMembers(moves.filter((s) => attribute(s, "operatorkit.action") === "Assign" && attribute(s, "operatorkit.shard.to") === "r1").map((s) => attribute(s, "k8s.name")), onR1)
    }).pipe(Effect.provideService(Sharding.Registry, new Set()), Effect.provide(TestServer.layer(), { local: true })), 60_000)
})

describe("Sharding.resolve", () => {
  const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
  const base = { name: "widgets", namespace: "operators", kinds: [Widget], id: "replica-0" }
  const reason = (options: Sharding.Options) => {
    const exit = Effect.runSyncExit(Sharding.resolve(options))
    return Exit.isFailure(exit) ? String(exit.cause) : "ok"
  }

  it("derives names from the custom kind's group and client-go's durations", () => {
    const config = Effect.runSync(Sharding.resolve(base))
    assert.strictEqual(config.shardLabel, "shard.example.com/widgets")
    assert.strictEqual(config.drainLabel, "drain.example.com/widgets")
    assert.strictEqual(config.leaseName("replica-0"), "widgets-shard-replica-0")
    assert.strictEqual(config.sharderLease, "widgets-sharder")
    assert.strictEqual(config.virtualNodes, 1000)
    assert.deepStrictEqual(config.kinds.map((k) => k.kind.kind), ["Widget"])
  })

  it("refuses names that cannot be Lease names or label keys, and durations leader election refuses", () => {
    assert.include(reason({ ...base, name: "Widgets" }), "DNS label")
    assert.include(reason({ ...base, id: "Replica_0" }), "set id")
    assert.include(reason({ ...base, kinds: [Kind.ConfigMap] }), "set group")
    assert.strictEqual(reason({ ...base, kinds: [Kind.ConfigMap], group: "example.com" }), "ok")
    assert.include(reason({ ...base, kinds: [] }), "kinds is empty")
    assert.include(reason({ ...base, leaseDuration: "5 seconds" }), "renewDeadline (10000 ms) must be shorter than leaseDuration (5000 ms)")
  })
})
