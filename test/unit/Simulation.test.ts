/**
 * The simulation catches what it promises to catch: each built-in invariant is broken on purpose by
 * a small operator with that bug, and the run says so; a seed replays with the same trace; a
 * failure is shrunk to the events it needs, and its shrunk history replays to the same failure; a
 * crash abandons a replica (its Lease is never released), unlike a scale-down; webhooks run
 * inside a run (served by its replicas) and RBAC is held to the declaration.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import * as Admission from "../../src/Admission.ts"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Watch from "../../src/Watch.ts"
import * as Framework from "../../src/Framework.ts"
import { Probe } from "../../src/internal/controller/probe.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Patch from "../../src/Patch.ts"
import * as Rbac from "../../src/Rbac.ts"
import * as Simulation from "../../src/testing/Simulation.ts"
import * as Webhooks from "../../src/Webhooks.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"
const prefix = "simulation.test"
const finalizer = `${prefix}/copier`

/** Keeps `copy-<name>` with the data of every ConfigMap labelled `role=source`; `bug` breaks it on purpose. */
const copier = (bug?: {
  readonly ensureCreated?: (cm: ConfigMap) => Effect.Effect<void, unknown, Client.Client | Framework.Reconciliation>
  readonly ensureDeleted?: (cm: ConfigMap) => Effect.Effect<void, unknown, Client.Client | Framework.Reconciliation>
}) =>
  Framework.make<ConfigMap>()({
    name: "copy",
    ensureCreated: (cm) =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const name = `copy-${cm.metadata.name}`
        const existing = yield* client.get(Kind.ConfigMap, { namespace: ns, name }).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone))
        if (Option.isNone(existing)) yield* client.create(Kind.ConfigMap, { metadata: { name, namespace: ns }, data: cm.data ?? {} })
        else if (JSON.stringify(existing.value.data ?? {}) !== JSON.stringify(cm.data ?? {})) yield* client.replace(Kind.ConfigMap, { ...existing.value, data: cm.data ?? {} })
        if (bug?.ensureCreated !== undefined) yield* bug.ensureCreated(cm)
      }),
    ensureDeleted: (cm) =>
      Effect.gen(function*() {
        if (bug?.ensureDeleted !== undefined) yield* bug.ensureDeleted(cm)
        const client = yield* Client.Client
        yield* client.delete(Kind.ConfigMap, { namespace: ns, name: `copy-${cm.metadata.name}` }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone))
      }),
    permissions: [Rbac.allow(Kind.ConfigMap, ["get", "create", "update", "delete"], { namespace: ns })]
  })

const controller = (resource: ReturnType<typeof copier>, options: { readonly leaderElection?: boolean } = {}) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const make = Controller.make({ name: "copier", kind: Kind.ConfigMap, finalizerPrefix: prefix, namespace: ns, labelSelector: "role=source", resources: [resource] })
    if (options.leaderElection === false) return yield* make
    const elector = yield* LeaderElection.make({ name: "copier", namespace: ns })
    yield* Effect.provideService(make, LeaderElection.Leadership, elector)
  }))

const sources = (options: { readonly actions?: number } = {}) =>
  Simulation.objects(Kind.ConfigMap, {
    names: 3,
    actions: options.actions ?? 8,
    create: (name, draw) => ({ metadata: { name, namespace: ns, labels: { role: "source" } }, data: { v: String(draw.int(1, 9)) } }),
    update: (cm, draw) => ({ ...cm, data: { v: String(draw.int(1, 9)) } })
  })

const copied = Simulation.converges(Kind.ConfigMap, (cm) =>
  cm.metadata.labels?.["role"] !== "source" ? true : Effect.gen(function*() {
    const client = yield* Client.Client
    const copy = yield* client.get(Kind.ConfigMap, { namespace: ns, name: `copy-${cm.metadata.name}` }).pipe(Effect.option)
    return Option.isSome(copy) && copy.value.data?.["v"] === cm.data?.["v"] ? true : "no copy with its data"
  }))

const simulation = (options: Partial<Simulation.Options> & Pick<Simulation.Options, "operator">) =>
  Simulation.make({
    name: "copier",
    kinds: [],
    workload: sources(),
    faults: Simulation.faults.none,
    converged: [copied],
    duration: "20 seconds",
    settleTimeout: "1 minute",
    ...options
  })

const violated = (sim: Simulation.Simulation, seeds: ReadonlyArray<number> = [1, 2, 3]) =>
  Effect.gen(function*() {
    for (const seed of seeds) {
      const report = yield* Simulation.run(sim, seed)
      if (report.violation !== undefined) return report.violation
    }
    return undefined
  })

describe("Simulation", () => {
  it.effect("a correct operator passes with the standard faults; a seed replays with the same trace, another seed differs", () =>
    Effect.gen(function*() {
      const sim = simulation({ operator: controller(copier()), replicas: 2, faults: Simulation.faults.standard })
      const first = yield* Simulation.run(sim, 11)
      const again = yield* Simulation.run(sim, 11)
      const other = yield* Simulation.run(sim, 12)
      assert.isUndefined(first.violation, first.violation?.message)
      assert.isAbove(first.reconciles, 0)
      assert.isAbove(first.plan.filter((e) => e.source === "faults").length, 0, "the standard profile plans faults")
      assert.strictEqual(again.digest, first.digest)
      assert.deepStrictEqual(again.trace, first.trace)
      assert.notStrictEqual(other.digest, first.digest)
    }))

  it.effect("no-overlapping-reconciles: two replicas without leader election reconcile one object at once", () =>
    Effect.gen(function*() {
      const slow = copier({ ensureCreated: () => Effect.sleep("200 millis") })
      const v = yield* violated(simulation({ operator: controller(slow, { leaderElection: false }), replicas: 2 }))
      assert.strictEqual(v?.invariant, "no-overlapping-reconciles")
      assert.match(v!.message, /replica-\d started reconciling default\/configmap-\d while replica-\d's reconcile of it/)
      // with leader election, the same operator never overlaps
      assert.isUndefined(yield* violated(simulation({ operator: controller(slow), replicas: 2 })))
    }))

  it.effect("finalizer-removed-after-cleanup: a resource that drops the finalizer before its cleanup fails", () =>
    Effect.gen(function*() {
      const dropsFinalizer = copier({
        ensureDeleted: (cm) =>
          Effect.gen(function*() {
            const client = yield* Client.Client
            const i = cm.metadata.finalizers?.indexOf(finalizer) ?? -1
            if (i >= 0) yield* client.patch(Kind.ConfigMap, { namespace: ns, name: cm.metadata.name }, Patch.json([{ op: "remove", path: `/metadata/finalizers/${i}` }]))
            return yield* Effect.fail("cleanup failed")
          })
      })
      const v = yield* violated(simulation({ operator: controller(dropsFinalizer) }))
      assert.strictEqual(v?.invariant, "finalizer-removed-after-cleanup")
      assert.match(v!.message, /finalizer simulation\.test\/copier was removed from ConfigMap default\/configmap-\d .* but no deletion pass of controller copier succeeded for it/)
    }))

  it.effect("no-finalizer-left-behind: a cleanup that never succeeds keeps deleted objects once quiet", () =>
    Effect.gen(function*() {
      const v = yield* violated(simulation({ operator: controller(copier({ ensureDeleted: () => Effect.fail("never") })) }))
      assert.strictEqual(v?.invariant, "no-finalizer-left-behind")
      assert.match(v!.message, /ConfigMap default\/configmap-\d is being deleted and still carries simulation\.test\/copier/)
    }))

  it.effect("no-hot-loop: a reconcile that requeues itself at once floods the server; one that polls keeps the quiet rate up", () =>
    Effect.gen(function*() {
      const flood = yield* violated(simulation({ operator: controller(copier({ ensureCreated: () => Framework.requeueAfter(0) })) }))
      assert.strictEqual(flood?.invariant, "no-hot-loop")
      assert.match(flood!.message, /replica-0 sent 1001 requests within 10 simulated seconds \(the limit is 1000\)/)
      const poll = yield* violated(simulation({ operator: controller(copier({ ensureCreated: () => Framework.requeueAfter("100 millis") })) }))
      assert.strictEqual(poll?.invariant, "no-hot-loop")
      assert.match(poll!.message, /replica-0 sent \d+ requests in 10 quiet seconds \(at most 50 expected once settled\)/)
    }))

  it.effect("no-hot-loop: the quiet window starts again after a sharding hand-off; hand-offs that never stop fail the run", () =>
    Effect.gen(function*() {
      // stands in for a sharder: reports a hand-off at the given simulated times (millis from the start)
      const handingOff = (at: (t: number) => boolean) =>
        Layer.mergeAll(
          controller(copier()),
          Layer.effectDiscard(Effect.gen(function*() {
            const probe = yield* Probe
            yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
              yield* Effect.sleep("1 second")
              const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
              if (at(now)) probe?.handedOff("ring", "Widget default/w: moved")
            })))
          }))
        )
      // one hand-off 2 s into the quiet window (the run settles about 23 s in): the window starts again after it
      const once = yield* Simulation.run(simulation({ operator: handingOff((t) => t === 26_000) }), 1)
      assert.isUndefined(once.violation, once.violation?.message)
      assert.isTrue(once.trace.some((l) => l.includes("objects were handed off: the quiet window starts again")))
      const forever = yield* Simulation.run(simulation({ operator: handingOff((t) => t > 20_000) }), 1)
      assert.strictEqual(forever.violation?.invariant, "no-hot-loop")
      assert.match(forever.violation!.message, /objects kept moving between replicas .* after the faults healed: \d+ hand-off writes since then/)
    }))

  it.effect("store-equals-server: a cache that does not hold what the server holds", () =>
    Effect.gen(function*() {
      // a watched kind whose informer rewrites every resourceVersion: its Store never equals the server
      const skewed = Layer.effectDiscard(Controller.make({
        name: "copier",
        kind: Kind.ConfigMap,
        finalizerPrefix: prefix,
        namespace: ns,
        labelSelector: "role=source",
        resources: [copier()],
        watches: [Watch.watches(Kind.Secret, () => [], { namespace: ns, transform: (s) => ({ ...s, metadata: { ...s.metadata, resourceVersion: "1" } }) })]
      }))
      const withSecret = simulation({
        operator: skewed,
        setup: Client.Client.use((client) => client.create(Kind.Secret, { metadata: { name: "s", namespace: ns } }))
      })
      const v = yield* violated(withSecret, [1])
      assert.strictEqual(v?.invariant, "store-equals-server")
      assert.match(v!.message, /replica-0, controller copier, cache of Secret: stale default\/s \(cached 1, server \d+\)/)
      // a metadata-only cache is held to the server too
      const skewedMeta = Layer.effectDiscard(Controller.make({
        name: "copier",
        kind: Kind.ConfigMap,
        finalizerPrefix: prefix,
        namespace: ns,
        labelSelector: "role=source",
        resources: [copier()],
        watches: [Watch.owns(Kind.metadataOnly(Kind.Secret), { namespace: ns, transform: (s) => ({ ...s, metadata: { ...s.metadata, resourceVersion: "1" } }) })]
      }))
      const meta = yield* violated(simulation({ ...withSecret.options, operator: skewedMeta }), [1])
      assert.strictEqual(meta?.invariant, "store-equals-server")
      assert.match(meta!.message, /replica-0, controller copier, cache of Secret \(metadata only\): stale default\/s \(cached 1, server \d+\)/)
    }))

  it.effect("converged and your own invariants, after every change and once quiet", () =>
    Effect.gen(function*() {
      const never = yield* violated(simulation({ operator: controller(copier()), converged: [Simulation.converges(Kind.ConfigMap, (cm) => cm.metadata.name.startsWith("copy-") || "not yet")] }))
      assert.strictEqual(never?.invariant, "converged")
      assert.match(never!.message, /ConfigMap default\/configmap-\d: not yet/)
      const always = yield* violated(simulation({
        operator: controller(copier()),
        invariants: [{ name: "at-most-one-copy", check: (world) => world.objects(Kind.ConfigMap, { namespace: ns }).filter((c) => c.metadata.name.startsWith("copy-")).length > 1 ? "two copies" : undefined }]
      }))
      assert.strictEqual(always?.invariant, "at-most-one-copy")
      const quiet = yield* violated(simulation({
        operator: controller(copier()),
        invariants: [{ name: "no-copies-once-quiet", when: "quiet", check: (world) => world.objects(Kind.ConfigMap, { namespace: ns }).some((c) => c.metadata.name.startsWith("copy-")) ? "copies" : undefined }]
      }))
      assert.strictEqual(quiet?.invariant, "no-copies-once-quiet")
    }))

  it.effect("a failure is shrunk to the events it needs; its report says how to replay it, and the replay fails the same way, with the same trace twice", () =>
    Effect.gen(function*() {
      // the bug needs a deletion; creates and updates of other names, and the faults, are noise
      const sim = simulation({
        operator: controller(copier({ ensureDeleted: () => Effect.fail("never") })),
        workload: sources({ actions: 12 }),
        faults: Simulation.faults.standard
      })
      const failure = yield* Effect.flip(Simulation.check(sim, { seeds: 5 }))
      assert.strictEqual(failure._tag, "SimulationFailed")
      assert.strictEqual(failure.invariant, "no-finalizer-left-behind")
      const full = yield* Simulation.run(sim, failure.seed)
      assert.isBelow(failure.events.length, full.events.length)
      const shrunk = yield* Simulation.run(sim, failure.seed, { events: failure.events })
      assert.deepStrictEqual(shrunk.events.map((e) => e.description).filter((d) => d.startsWith("delete")).length > 0, true)
      assert.match(failure.message, new RegExp(`simulation copier failed with seed ${failure.seed}: no-finalizer-left-behind`))
      assert.include(failure.message, `Fault schedule of seed ${failure.seed}`)
      assert.include(failure.message, "Shortest history that still fails")
      assert.include(failure.message, `Simulation.replay(simulation, ${failure.seed}, { events: [${failure.events.join(", ")}] })`)
      const replays = yield* Effect.all([1, 2].map(() => Effect.flip(Simulation.replay(sim, failure.seed, { events: failure.events }))))
      assert.strictEqual(replays[0]!.invariant, "no-finalizer-left-behind")
      assert.strictEqual(replays[0]!.report, replays[1]!.report)
      assert.strictEqual(shrunk.violation?.invariant, "no-finalizer-left-behind")
    }))

  it.effect("a crash abandons a replica: it never releases its Lease; a scale-down shuts down gracefully and does", () =>
    Effect.gen(function*() {
      const once = (action: Simulation.Action): Simulation.Workload => ({ plan: () => [{ at: 5000, description: action._tag, action }] })
      const crashed = yield* Simulation.run(simulation({ operator: controller(copier()), workload: once({ _tag: "Kill", replica: 0, restartAfterMillis: 1000 }) }), 1)
      const scaled = yield* Simulation.run(simulation({ operator: controller(copier()), workload: once({ _tag: "Scale", replicas: 0 }) }), 1)
      const releases = (r: Simulation.Report) => r.trace.filter((l) => l.includes("released the Lease"))
      const early = (r: Simulation.Report) => r.trace.filter((l) => l < "00:19") // before the teardown
      assert.isUndefined(crashed.violation, crashed.violation?.message)
      assert.deepStrictEqual(releases({ ...crashed, trace: early(crashed) }), [])
      assert.isTrue(crashed.trace.some((l) => /replica-0 crashed/.test(l)))
      assert.isTrue(crashed.trace.some((l) => /replica-1 started/.test(l)), "a new replica replaces the crashed one")
      assert.isUndefined(scaled.violation, scaled.violation?.message)
      assert.strictEqual(releases({ ...scaled, trace: early(scaled) }).length, 1)
      assert.isTrue(scaled.trace.some((l) => /replica-0 stopped/.test(l)))
    }))
})

// ---------------------------------------------------------------------------------------------
// webhooks and RBAC inside a run

const group = "simulation.test"
const GaugeV1 = Kind.custom({ group, version: "v1", kind: "Gauge", namespaced: true, spec: Schema.Struct({ level: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 9 })) }) })
const GaugeV2 = Kind.custom({ group, version: "v2", kind: "Gauge", namespaced: true, spec: Schema.Struct({ levels: Schema.Array(Schema.Int).check(Schema.isMinLength(1)) }) })
const GaugeCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: GaugeV1, storage: true }, { kind: GaugeV2 }] })
/** v1 ↔ v2; v2 cannot hold a level of 0 (`levels` is then empty, which its Schema refuses). */
const gaugeConversion = Conversion.makeUnsafe(GaugeCrd, [Conversion.step(GaugeV1, GaugeV2, {
  decode: (g) => ({ ...g, spec: { levels: g.spec.level === 0 ? [] : [g.spec.level] } }),
  encode: (g) => ({ ...g, spec: { level: g.spec.levels[0] ?? 0 } })
})])
const gaugeOperator = Layer.effectDiscard(Controller.make({
  name: "gauge",
  kind: GaugeV1,
  namespace: ns,
  finalizerPrefix: prefix,
  resources: [Framework.make<Kind.Type<typeof GaugeV1>>()({ name: "noop", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.void })]
}))
/** The only replica crashes at 1 s and comes back at 21 s; in between a user creates a Gauge of level 0 (or in v2, `levels: []`). */
const whileDown = (create: Simulation.Action): Simulation.Workload => ({
  plan: () => [
    { at: 1000, description: "kill the replica", action: { _tag: "Kill", replica: 0, restartAfterMillis: 20_000 } },
    { at: 5000, description: "create a Gauge", action: create }
  ]
})
/** As kubectl sends it: JSON the typed Client, which encodes with the Schema first, would not send. */
const createGauge = (level: number): Simulation.Action => ({
  _tag: "Call",
  run: () =>
    Client.Client.use((client) =>
      client.raw({ method: "POST", path: `/apis/${group}/v1/namespaces/${ns}/gauges`, body: { apiVersion: `${group}/v1`, kind: "Gauge", metadata: { name: "g", namespace: ns }, spec: { level } } })
    ).pipe(Effect.as("created"))
})
const gauges = (options: Partial<Simulation.Options>) =>
  simulation({ operator: gaugeOperator, kinds: [GaugeV1], converged: [], workload: whileDown(createGauge(0)), duration: "30 seconds", ...options })

describe("Simulation: webhooks and RBAC", () => {
  it.effect("admission-enforced: while no replica serves the webhook, failurePolicy Ignore lets an object its Schema refuses into the store; Fail refuses the write", () =>
    Effect.gen(function*() {
      const webhooks = (failurePolicy: "Fail" | "Ignore") => Webhooks.makeUnsafe({ name: "gauges", admissions: [Admission.make(GaugeV1, { failurePolicy })] })
      const ignored = yield* Simulation.run(gauges({ webhooks: webhooks("Ignore") }), 1)
      assert.strictEqual(ignored.violation?.invariant, "admission-enforced")
      assert.match(ignored.violation!.message, /Gauge default\/g reached the store though its admission \(Gauge v1\) refuses it/)
      assert.isTrue(ignored.trace.some((l) => l.includes("no replica runs to answer")))
      const refused = yield* Simulation.run(gauges({ webhooks: webhooks("Fail") }), 1)
      assert.isUndefined(refused.violation, refused.violation?.message)
      assert.isTrue(refused.trace.some((l) => /create a Gauge: failed: .*InternalError/.test(l)), "the write was refused")
      // with the replica up, its webhook answers and denies
      const served = yield* Simulation.run(gauges({ webhooks: webhooks("Ignore"), workload: { plan: () => [{ at: 5000, description: "create a Gauge", action: createGauge(0) }] } }), 1)
      assert.isUndefined(served.violation, served.violation?.message)
      assert.isTrue(served.trace.some((l) => /replica-0 webhook \/validate-simulation-test-v1-gauge → denied/.test(l)))
    }))

  it.effect("conversion-round-trip: a stored object its conversion cannot take to another version fails the run; writes in v2 are stored in v1 through the replicas' webhook", () =>
    Effect.gen(function*() {
      const webhooks = Webhooks.makeUnsafe({ name: "gauges", conversions: [gaugeConversion] })
      const broken = yield* Simulation.run(gauges({ webhooks }), 1)
      assert.strictEqual(broken.violation?.invariant, "conversion-round-trip")
      assert.match(broken.violation!.message, /Gauge default\/g: v1 → v2 → v1 failed/)
      const inV2: Simulation.Action = {
        _tag: "Call",
        run: () =>
          Client.Client.use((client) =>
            Effect.gen(function*() {
              yield* client.create(GaugeV2, { metadata: { name: "g", namespace: ns }, spec: { levels: [3, 4] } })
              const stored = yield* client.get(GaugeV1, { namespace: ns, name: "g" })
              return `stored as level ${stored.spec.level}`
            })
          )
      }
      const fine = yield* Simulation.run(gauges({ webhooks, workload: { plan: () => [{ at: 5000, description: "create a Gauge in v2", action: inV2 }] } }), 1)
      assert.isUndefined(fine.violation, fine.violation?.message)
      assert.isTrue(fine.trace.some((l) => l.includes("create a Gauge in v2: stored as level 3")))
      assert.isTrue(fine.trace.some((l) => /replica-0 webhook \/convert → Success/.test(l)))
    }))

  it.effect("rbac-declared: a call the declaration lacks fails the run naming the rule; the full declaration passes", () =>
    Effect.gen(function*() {
      const options = { name: "copier", kind: Kind.ConfigMap, namespace: ns, labelSelector: "role=source", resources: [copier()] }
      const partial = Rbac.make({ name: "copier", namespace: ns, permissions: [Controller.permissions(options)] })
      const lacking = yield* Simulation.run(simulation({ operator: controller(copier()), rbac: partial }), 1)
      assert.strictEqual(lacking.violation?.invariant, "rbac-declared")
      assert.match(lacking.violation!.message, /replica-0 made calls its RBAC copier does not declare .*leases.*coordination\.k8s\.io/)
      const full = Rbac.make({ name: "copier", namespace: ns, permissions: [Controller.permissions(options), LeaderElection.permissions({ name: "copier" })] })
      const declared = yield* Simulation.run(simulation({ operator: controller(copier()), rbac: full }), 1)
      assert.isUndefined(declared.violation, declared.violation?.message)
    }))
})
