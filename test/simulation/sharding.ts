/**
 * A sharded controller under simulation: three replicas share the Widgets of one ring (Sharding:
 * membership Leases, the elected sharder, shard labels, drain hand-offs), scaled and killed, under
 * the fault profile. Each Widget must get its ConfigMap `size-<widget>` with its size, and no two
 * replicas may reconcile one Widget at the same time (a built-in invariant).
 */
import { Effect, Layer, Option, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as Sharding from "../../src/Sharding.ts"
import * as Simulation from "../../src/testing/Simulation.ts"

export const Widget = Kind.custom({
  group: "simulation.operatorkit.dev",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ size: Schema.Number })
})
export type Widget = Kind.Type<typeof Widget>

const namespace = "default"

const getOption = (name: string) =>
  Client.Client.use((client) =>
    client.get(Kind.ConfigMap, { namespace, name }).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone))
  )

const sizer = Framework.make<Widget>()({
  name: "sizer",
  ensureCreated: (widget) =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const name = `size-${widget.metadata.name}`
      const data = { size: String(widget.spec.size) }
      const existing = yield* getOption(name)
      if (Option.isNone(existing)) {
        yield* client.create(Kind.ConfigMap, { metadata: { name, namespace }, data }).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
      } else if (existing.value.data?.["size"] !== data.size) {
        yield* client.replace(Kind.ConfigMap, { ...existing.value, data })
      }
    }),
  ensureDeleted: (widget) =>
    Client.Client.use((client) =>
      client.delete(Kind.ConfigMap, { namespace, name: `size-${widget.metadata.name}` }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone))
    )
})

export const simulation = Simulation.make({
  name: "sharding",
  operator: (replica) =>
    Controller.layer({ name: "sizer", kind: Widget, namespace, resources: [sizer] }).pipe(
      Layer.provide(Sharding.layer({ name: "sizer", namespace, kinds: [Widget], id: replica.name }))
    ),
  kinds: [Widget],
  replicas: 3,
  maxReplicas: 4,
  workload: Simulation.workload(
    Simulation.objects(Widget, {
      names: 8,
      actions: 24,
      create: (name, draw) => ({ metadata: { name, namespace }, spec: { size: draw.int(1, 9) } }),
      update: (widget, draw) => ({ ...widget, spec: { size: draw.int(1, 9) } })
    }),
    Simulation.replicaChurn({ scales: 2, kills: 1 })
  ),
  converged: [
    Simulation.converges(Widget, (widget) =>
      Effect.map(getOption(`size-${widget.metadata.name}`), (cm) =>
        Option.isSome(cm) && cm.value.data?.["size"] === String(widget.spec.size) ? true : "size ConfigMap differs from the spec"))
  ]
})
