/**
 * Two operators with their own finalizer on one kind, under simulation: `painter` keeps a
 * ConfigMap `paint-<widget>` with the Widget's color, `auditor` keeps `audit-<widget>` with its
 * size; each deletes its ConfigMap in its ensureDeleted (the auditor's fails one time in three, for
 * the first minute after the deletion, so deletions are retried). Each operator elects its own leader on its own Lease, so the two
 * finalizers are added and removed by independent replicas. The painter's ConfigMap is owned by its
 * Widget and watched metadata only (`Watch.owns(Kind.metadataOnly(Kind.ConfigMap))`), so the
 * caches the simulation holds equal to the server include a metadata-only one. Every live Widget
 * must carry both finalizers and have both ConfigMaps as its spec says; no ConfigMap may outlive
 * its Widget.
 */
import { Clock, Effect, Layer, Option, Random, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Simulation from "../../src/testing/Simulation.ts"
import * as Watch from "../../src/Watch.ts"

export const Widget = Kind.custom({
  group: "simulation.operatorkit.dev",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ color: Schema.String, size: Schema.Number })
})
export type Widget = Kind.Type<typeof Widget>

const namespace = "default"

const getOption = (name: string) =>
  Client.Client.use((client) =>
    client.get(Kind.ConfigMap, { namespace, name }).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone))
  )

/** A resource keeping one ConfigMap per Widget, `<prefix>-<widget>`, with `data` (owned by the Widget when `owned`). */
const keeper = (prefix: string, data: (widget: Widget) => Record<string, string>, options: { readonly flakyCleanup: boolean; readonly owned: boolean }) =>
  Framework.make<Widget>()({
    name: prefix,
    ensureCreated: (widget) =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const name = `${prefix}-${widget.metadata.name}`
        const existing = yield* getOption(name)
        if (Option.isNone(existing)) {
          const ownerReferences = options.owned
            ? [{ apiVersion: Widget.apiVersion, kind: Widget.kind, name: widget.metadata.name, uid: widget.metadata.uid!, controller: true }]
            : undefined
          yield* client.create(Kind.ConfigMap, { metadata: { name, namespace, ...(ownerReferences !== undefined ? { ownerReferences } : {}) }, data: data(widget) }).pipe(
            Effect.catchTag("AlreadyExists", () => Effect.void)
          )
        } else if (JSON.stringify(existing.value.data) !== JSON.stringify(data(widget))) {
          yield* client.replace(Kind.ConfigMap, { ...existing.value, data: data(widget) })
        }
      }),
    ensureDeleted: (widget) =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        // a flaky cleanup, but not forever: a minute after the deletion it succeeds (an unbounded
        // streak of failures, retried with backoff up to 2 minutes apart, could outlast any settle
        // timeout: seed 212 failed 11 times in a row)
        const deletedAt = Date.parse(widget.metadata.deletionTimestamp ?? "")
        const now = yield* Clock.currentTimeMillis
        if (options.flakyCleanup && !(now - deletedAt > 60_000) && (yield* Random.nextIntBetween(0, 2)) === 0) {
          return yield* Effect.fail(new Error(`${prefix}: cleanup of ${widget.metadata.name} failed (simulated)`))
        }
        yield* client.delete(Kind.ConfigMap, { namespace, name: `${prefix}-${widget.metadata.name}` }).pipe(
          Effect.catchTag("NotFound", () => Effect.succeedNone)
        )
      })
  })

/** One operator: a controller with its own finalizer, led on its own Lease. */
const operator = (name: string, resource: Framework.Resource<Widget, unknown, Client.Client>, watches: ReadonlyArray<Watch.Watch> = []) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const elector = yield* LeaderElection.make({ name, namespace })
    yield* Controller.make({ name, kind: Widget, namespace, resources: [resource], watches }).pipe(
      Effect.provideService(LeaderElection.Leadership, elector)
    )
  }))

export const painter = operator(
  "painter",
  keeper("paint", (w) => ({ color: w.spec.color }), { flakyCleanup: false, owned: true }),
  // its ConfigMaps, metadata only: a change or deletion of one brings its Widget back
  [Watch.owns(Kind.metadataOnly(Kind.ConfigMap))]
)
export const auditor = operator("auditor", keeper("audit", (w) => ({ size: String(w.spec.size) }), { flakyCleanup: true, owned: false }))

const finalizers = ["simulation.operatorkit.dev/painter", "simulation.operatorkit.dev/auditor"]

export const simulation = Simulation.make({
  name: "finalizers",
  operator: Layer.mergeAll(painter, auditor),
  kinds: [Widget],
  replicas: 2,
  workload: Simulation.workload(
    Simulation.objects(Widget, {
      names: 5,
      actions: 16,
      create: (name, draw) => ({ metadata: { name, namespace }, spec: { color: draw.pick(["red", "green", "blue"]), size: draw.int(1, 9) } }),
      update: (widget, draw) => ({ ...widget, spec: { color: draw.pick(["red", "green", "blue"]), size: draw.int(1, 9) } })
    }),
    Simulation.replicaChurn()
  ),
  converged: [
    Simulation.converges(Widget, (widget) =>
      Effect.gen(function*() {
        const missing = finalizers.filter((f) => !(widget.metadata.finalizers ?? []).includes(f))
        if (missing.length > 0) return `without ${missing.join(", ")}`
        const paint = yield* getOption(`paint-${widget.metadata.name}`)
        if (Option.isNone(paint) || paint.value.data?.["color"] !== widget.spec.color) return "paint ConfigMap differs from the spec"
        const audit = yield* getOption(`audit-${widget.metadata.name}`)
        if (Option.isNone(audit) || audit.value.data?.["size"] !== String(widget.spec.size)) return "audit ConfigMap differs from the spec"
        return true
      }))
  ],
  invariants: [{
    name: "no-orphan-configmaps",
    when: "quiet",
    check: (world) => {
      const widgets = new Set(world.objects(Widget, { namespace }).map((w) => w.metadata.name))
      const orphans = world.objects(Kind.ConfigMap, { namespace })
        .map((cm) => cm.metadata.name)
        .filter((name) => /^(paint|audit)-/.test(name) && !widgets.has(name.replace(/^(paint|audit)-/, "")))
      return orphans.length > 0 ? `ConfigMaps outlived their Widget: ${orphans.join(", ")}` : undefined
    }
  }]
})
