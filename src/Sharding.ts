/**
 * Sharding: several replicas of an operator share the objects of its kinds, each reconciling its
 * own share, instead of one leader doing everything. Kubernetes is the whole engine: Leases for
 * membership, a label per object for assignment, label-selected watches for each replica's share.
 *
 * - Membership. Each replica holds a shard Lease `<ring>-shard-<id>` in the operator's namespace,
 *   renewed by the same elector as {@link LeaderElection} (same durations, same rules) and
 *   released on shutdown. A replica whose Lease expired, or was released, is gone.
 * - Assignment. One replica, elected on the Lease `<ring>-sharder`, is the sharder: it keeps a
 *   consistent-hash ring (1,000 virtual nodes per shard) over the live shards and labels each object
 *   of the ring's kinds `shard.<group>/<ring>: <shard id>`. Objects of the owned kinds follow their
 *   controller owner's shard. Each replica's controllers watch with a selector for their own label,
 *   so the objects each replica caches and reconciles fall with the number of replicas.
 * - Handoff. When a shard joins, objects the ring gives it are drained from their current shard:
 *   the sharder sets `drain.<group>/<ring>`, the current shard finishes its reconcile of the object
 *   in flight (reconciles of one key never overlap), stops, and acknowledges by removing both
 *   labels; only then does the sharder assign the new shard. A shard that is gone cannot
 *   acknowledge: the sharder first takes over its Lease (once it has expired, judged as a standby
 *   judges a leader's Lease), holds it while it moves that shard's objects, then releases it.
 * - Fencing. A replica reconciles only while it holds its shard Lease: when it cannot renew within
 *   the renew deadline it stops by itself, reconciles in flight are interrupted, and any write
 *   through a reconcile's Client is refused from that instant on (the reconcile is interrupted, its
 *   key requeued). When it holds the Lease again it relists its caches before reconciling, so it
 *   never acts on objects that moved while it was away.
 *
 * The guarantee: **no object is reconciled by two replicas at the same time**. It holds as long as
 * no replica is paused (or its requests delayed) for longer than `leaseDuration - renewDeadline`
 * (5 s with the defaults) between the fence check of a write and the write reaching the API
 * server, and no clock runs faster than another by that much over a Lease duration: a replica is
 * fenced `renewDeadline` after its last renewal began, while the sharder moves its objects no
 * sooner than `leaseDuration` after it saw that renewal. Side effects outside the API server are
 * fenced with {@link fence}. (Leader election rests on the same assumption.)
 *
 * Failover arithmetic (the same as leader election's): a replica that dies (`kill -9`) is declared
 * gone `leaseDuration` after its last renewal, plus up to one `retryPeriod` (the sharder's check);
 * its objects then move at the rate the sharder writes (about two writes per object, owned objects
 * included). A replica that shuts down gracefully releases its Lease: its objects move at once.
 * Defaults: 15 s lease, 10 s renew deadline, 2 s retry period: failover of a dead shard 15-17 s,
 * like a leader's.
 *
 * @since 0.1.0
 */
import * as Os from "node:os"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Client from "./Client.ts"
import { checkTiming } from "./internal/leaseTiming.ts"
import * as Labels from "./internal/sharding/labels.ts"
import * as Ring from "./internal/sharding/ring.ts"
import * as ShardClient from "./internal/sharding/shardClient.ts"
import * as Sharder from "./internal/sharding/sharder.ts"
import * as Kind from "./Kind.ts"
import * as LeaderElection from "./LeaderElection.ts"
import * as Patch from "./Patch.ts"
import * as Rbac from "./Rbac.ts"

/**
 * A sharded kind: its objects are spread over the ring. Namespace and label selector narrow the
 * objects the sharder assigns (use the controller's own).
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardedKind {
  readonly kind: Kind.Any
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
}

/**
 * Options of a ring.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The ring's name: usually the controller's. Lease names (`<name>-shard-<id>`, `<name>-sharder`)
   * and label keys (`shard.<group>/<name>`) derive from it, so it is a DNS label (lowercase
   * letters, digits and `-`, at most 63 characters).
   */
  readonly name: string
  /** Where the Leases live: the operator's namespace. */
  readonly namespace: string
  /** The kinds whose objects are spread over the replicas (the controllers' primary kinds). */
  readonly kinds: ReadonlyArray<Kind.Any | ShardedKind>
  /** Kinds the controllers own (e.g. via `Watch.owns`): each object follows its controller owner's shard. */
  readonly owned?: ReadonlyArray<Kind.Any | ShardedKind> | undefined
  /** The domain of the label keys. Default: the API group of the first custom kind in `kinds`. */
  readonly group?: string | undefined
  /**
   * This replica's shard id, unique among the replicas and stable for the process's life. Default:
   * the host name, which in a Pod is the Pod's name. Lowercase letters, digits, `-` and `.`.
   */
  readonly id?: string | undefined
  /** Points per shard on the hash ring (default 1,000: the largest share about 4 % over an even one; 100 points gave 9 %, up to 29 %). */
  readonly virtualNodes?: number | undefined
  /** As in {@link LeaderElection.Options}; default 15 s. */
  readonly leaseDuration?: Duration.Input | undefined
  /** As in {@link LeaderElection.Options}; default 10 s. */
  readonly renewDeadline?: Duration.Input | undefined
  /** As in {@link LeaderElection.Options}; default 2 s. Also how often the sharder checks the shards' Leases. */
  readonly retryPeriod?: Duration.Input | undefined
  /** Whether this replica stands for the sharder role (default true). */
  readonly sharder?: boolean | undefined
  /** Label writes the sharder makes at once (default 8). */
  readonly concurrency?: number | undefined
}

/**
 * Options that cannot give a working ring: names that are not valid in Lease names or label keys,
 * no group for the label keys, or durations leader election refuses.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const report = Effect.catchTag("ShardingConfigError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ShardingConfigError extends Schema.TaggedError<ShardingConfigError>()("ShardingConfigError", {
  ring: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `sharding ring ${this.ring}: ${this.reason}`
  }
}

/**
 * The names a ring uses.
 *
 * @since 0.1.0
 * @category models
 */
export interface Names {
  readonly ring: string
  /** `shard.<group>/<ring>`: which shard an object is assigned to. */
  readonly shardLabel: string
  /** `drain.<group>/<ring>`: the sharder asks the object's shard to let it go. */
  readonly drainLabel: string
  /** The Lease of a shard. */
  readonly leaseName: (id: string) => string
  /** The Lease the sharder is elected on. */
  readonly sharderLease: string
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const shardId = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/**
 * The label keys and Lease names of a ring.
 *
 * @example
 * ```ts
 * import { Sharding } from "operatorkit"
 *
 * const names = Sharding.names("example.com", "widgets")
 * names.shardLabel // => "shard.example.com/widgets"
 * names.leaseName("widgets-7d9f-x2") // => "widgets-shard-widgets-7d9f-x2"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const names = (group: string, ring: string): Names => ({
  ring,
  shardLabel: `shard.${group}/${ring}`,
  drainLabel: `drain.${group}/${ring}`,
  leaseName: (id) => `${ring}-shard-${id}`,
  sharderLease: `${ring}-sharder`
})

/**
 * Durations of a ring's Leases, resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Timing {
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
}

/**
 * A ring's options, checked and resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config extends Names, Timing {
  readonly namespace: string
  readonly group: string
  readonly id: string
  readonly kinds: ReadonlyArray<ShardedKind>
  readonly owned: ReadonlyArray<ShardedKind>
  readonly virtualNodes: number
  readonly concurrency: number
}

const toSharded = (k: Kind.Any | ShardedKind): ShardedKind => ("kind" in k && typeof k.kind === "object" ? k as ShardedKind : { kind: k as Kind.Any })

/**
 * Checks a ring's options (names valid in Lease names and label keys, durations leader election
 * accepts) and resolves their defaults.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Kind, Sharding } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * const config = Sharding.resolve({ name: "widgets", namespace: "operators", kinds: [Widget], id: "replica-0" })
 * Effect.runSync(Effect.map(config, (c) => c.shardLabel)) // => "shard.example.com/widgets"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (options: Options): Effect.Effect<Config, ShardingConfigError> =>
  Effect.gen(function*() {
    const invalid = (reason: string) => Effect.fail(new ShardingConfigError({ ring: options.name, reason }))
    if (!dnsLabel.test(options.name) || options.name.length > 63 - "-sharder".length) {
      return yield* invalid(`the name must be a DNS label of at most ${63 - "-sharder".length} characters (lowercase letters, digits, "-"): it names Leases and label keys`)
    }
    if (options.namespace === "") return yield* invalid("the namespace of the Leases must not be empty")
    const kinds = options.kinds.map(toSharded)
    const owned = (options.owned ?? []).map(toSharded)
    if (kinds.length === 0) return yield* invalid("kinds is empty: name the kinds whose objects are spread over the replicas")
    const group = options.group ?? kinds.find((k) => !k.kind.builtin)?.kind.group
    if (group === undefined) {
      return yield* invalid(`every kind is built in, so no API group is a domain of yours to name the labels after: set group (e.g. "example.com")`)
    }
    if (!dnsSubdomain.test(`shard.${group}`) || `drain.${group}`.length > 253) {
      return yield* invalid(`group ${JSON.stringify(group)} is not a DNS subdomain (it prefixes the label keys)`)
    }
    const id = options.id ?? Os.hostname().toLowerCase()
    if (!shardId.test(id) || id.length > 63 || `${options.name}-shard-${id}`.length > 253) {
      return yield* invalid(`shard id ${JSON.stringify(id)} is not valid in a label value and a Lease name (lowercase letters, digits, "-" and ".", at most 63): set id (e.g. to the Pod's name)`)
    }
    const virtualNodes = options.virtualNodes ?? Ring.defaultVirtualNodes
    if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 10_000) return yield* invalid("virtualNodes must be an integer from 1 to 10000")
    const timing = {
      leaseDuration: Duration.fromInputUnsafe(options.leaseDuration ?? LeaderElection.defaults.leaseDuration),
      renewDeadline: Duration.fromInputUnsafe(options.renewDeadline ?? LeaderElection.defaults.renewDeadline),
      retryPeriod: Duration.fromInputUnsafe(options.retryPeriod ?? LeaderElection.defaults.retryPeriod)
    }
    const problem = checkTiming(timing)
    if (problem !== undefined) return yield* invalid(problem)
    return {
      ...names(group, options.name),
      ...timing,
      namespace: options.namespace,
      group,
      id,
      kinds,
      owned,
      virtualNodes,
      concurrency: Math.max(1, options.concurrency ?? 8)
    }
  })

/**
 * What the sharder knows, on the replica that is the sharder now.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharderStats {
  /** The live shards, as the ring has them. */
  readonly members: ReadonlyArray<string>
  /** Objects of the primary kinds per shard label value (live or not). */
  readonly assigned: ReadonlyArray<{ readonly shard: string; readonly objects: number }>
  readonly unassigned: number
  /** Objects whose drain is not acknowledged yet. */
  readonly draining: number
  /** Gone shards whose Lease the sharder holds while it moves their objects. */
  readonly reclaiming: ReadonlyArray<string>
  readonly ringChanges: number
}

/**
 * What a replica knows about its ring, read at scrape time by metrics.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly ring: string
  readonly id: string
  /** This replica holds its shard Lease now (it may reconcile). */
  readonly holdsLease: boolean
  /** Drains this replica acknowledged. */
  readonly acknowledged: number
  /** Writes refused because the Lease was not held at that instant. */
  readonly fencedWrites: number
  /** What the sharder knows, on the replica that is the sharder now. */
  readonly sharder: SharderStats | undefined
}

/**
 * This replica's place in a ring, as its controllers see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardService {
  readonly config: Config
  /** The selector of this shard's objects: `shard.<group>/<ring>=<id>`. */
  readonly selector: string
  /** Holding the shard Lease: controllers reconcile while it says true (the Controller's `Leadership`). */
  readonly leadership: LeaderElection.LeadershipService
  /** Whether this replica holds its shard Lease at this instant (its last renewal began less than `renewDeadline` ago). */
  readonly holds: () => boolean
  /** Whether objects of this kind are spread over the ring (a primary kind) or follow their owner (an owned kind). */
  readonly role: (kind: Kind.Any) => "primary" | "owned" | undefined
  /** A label selector narrowed to this shard's objects. */
  readonly narrow: (labelSelector: string | undefined) => string
  /** The sharder asked this shard to let the object go. */
  readonly draining: (object: Kind.KubeObject) => boolean
  /** The patch that lets a drained object go (removes both labels; fails its test if the drain was withdrawn meanwhile). */
  readonly acknowledgement: (object: Kind.KubeObject) => Patch.JsonPatch
  /** Counts an acknowledged drain. */
  readonly acknowledged: (object: Kind.KubeObject) => Effect.Effect<void>
  /** The Client controllers write through: fenced by the Lease, stamping owned objects it creates. */
  readonly client: (base: Client.ClientService) => Client.ClientService
  readonly stats: Effect.Effect<Stats>
}

/**
 * This replica's shard: its controllers reconcile only their share, while it holds its Lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sharding } from "operatorkit"
 *
 * const mine = Effect.map(Sharding.Shard, (shard) => shard.selector)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Shard extends Context.Service<Shard, ShardService>()("operatorkit/Sharding/Shard") {}

/**
 * Running shards, for metrics (a default registry is shared process-wide; provide your own to isolate).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sharding } from "operatorkit"
 *
 * const rings = Effect.map(Sharding.Registry, (registry) => [...registry].map((s) => s.config.ring))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Registry = Context.Reference<Set<ShardService>>("operatorkit/Sharding/Registry", {
  defaultValue: () => new Set()
})

/**
 * Interrupts the current reconcile unless this replica holds its shard Lease at this instant.
 * Writes through the reconcile's Client are fenced already; call this before any other side
 * effect (a call to another system) that must not happen twice at once. Without a `Shard` in
 * context it does nothing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Sharding } from "operatorkit"
 *
 * declare const sendInvoice: Effect.Effect<void>
 * const send = Effect.andThen(Sharding.fence, sendInvoice)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const fence: Effect.Effect<void> = Effect.flatMap(Effect.serviceOption(Shard), (shard) =>
  shard._tag === "None"
    ? Effect.void
    : ShardClient.check({ holds: shard.value.holds, refused: () => Effect.void }, "a fenced effect"))

/**
 * Joins a ring: holds this replica's shard Lease until the scope closes (then releases it), and
 * stands for the sharder role unless `sharder: false`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Kind, Sharding } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * const program = Effect.gen(function*() {
 *   const shard = yield* Sharding.make({ name: "widgets", namespace: "operators", kinds: [Widget] })
 *   yield* Effect.log(`reconciling the objects labelled ${shard.selector}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<ShardService, ShardingConfigError, Client.Client | Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* resolve(options)
    const base = yield* Client.Client
    const membership = yield* LeaderElection.make({
      name: config.leaseName(config.id),
      namespace: config.namespace,
      identity: config.id,
      labels: { [config.shardLabel]: config.id },
      leaseDuration: config.leaseDuration,
      renewDeadline: config.renewDeadline,
      retryPeriod: config.retryPeriod
    }).pipe(Effect.mapError((e) => new ShardingConfigError({ ring: config.ring, reason: e.reason })))
    const sharder = options.sharder === false ? undefined : yield* Sharder.campaign(config, base)

    const counters = { acknowledged: 0, fencedWrites: 0 }
    let refusing = false
    const fenceOf: ShardClient.Fence = {
      holds: membership.isLeaderUnsafe,
      refused: (what) =>
        Effect.suspend(() => {
          counters.fencedWrites++
          // one line per lapse, not per write
          if (refusing) return Effect.logDebug(`sharding ${config.ring}: shard ${config.id} refused to ${what}: its Lease is not held`)
          refusing = true
          return Effect.logWarning(
            `sharding ${config.ring}: shard ${config.id} no longer holds its Lease (not renewed within ${Duration.format(config.renewDeadline)}); ` +
              `refusing writes and interrupting reconciles (first refused: ${what})`
          )
        })
    }
    yield* membership.changes.pipe(
      Stream.runForEach((held) => Effect.sync(() => void (held && (refusing = false)))),
      Effect.forkScoped
    )
    const roles = new Map<string, "primary" | "owned">()
    const kindKey = (kind: Kind.Any) => `${kind.apiVersion}/${kind.kind}`
    for (const k of config.owned) roles.set(kindKey(k.kind), "owned")
    for (const k of config.kinds) roles.set(kindKey(k.kind), "primary")
    const selector = `${config.shardLabel}=${config.id}`
    const stamp: ShardClient.Stamp = { label: config.shardLabel, value: config.id, owned: (kind) => roles.get(kindKey(kind)) === "owned" }

    const shard: ShardService = {
      config,
      selector,
      leadership: membership,
      holds: membership.isLeaderUnsafe,
      role: (kind) => roles.get(kindKey(kind)),
      narrow: (labelSelector) => (labelSelector === undefined || labelSelector === "" ? selector : `${labelSelector},${selector}`),
      draining: (object) => object.metadata.labels?.[config.drainLabel] !== undefined,
      acknowledgement: (object) =>
        Patch.json(Labels.acknowledge(config.shardLabel, config.drainLabel, config.id, object.metadata.labels?.[config.drainLabel] ?? "")),
      acknowledged: (object) =>
        Effect.suspend(() => {
          counters.acknowledged++
          return Effect.logDebug(`sharding ${config.ring}: shard ${config.id} let ${object.metadata.namespace ?? ""}/${object.metadata.name} go`)
        }),
      client: (client) => ShardClient.make(client, fenceOf, stamp),
      stats: Effect.gen(function*() {
        return {
          ring: config.ring,
          id: config.id,
          holdsLease: membership.isLeaderUnsafe(),
          acknowledged: counters.acknowledged,
          fencedWrites: counters.fencedWrites,
          sharder: sharder === undefined ? undefined : yield* sharder.stats
        }
      })
    }
    const registry = yield* Registry
    registry.add(shard)
    yield* Effect.addFinalizer(() => Effect.sync(() => registry.delete(shard)))
    return shard
  })

/**
 * This replica as a shard of a ring, for the controllers it is provided to: a controller whose
 * kind is one of the ring's kinds reconciles only the objects labelled for this shard, while it
 * holds its shard Lease. Provide it to the controllers (`Layer.provide`) so they stop before the
 * Lease is released.
 *
 * @example
 * ```ts
 * import { Layer, Schema } from "effect"
 * import { Client, Controller, Framework, Kind, KubeConfig, Sharding } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * declare const resources: ReadonlyArray<Framework.Resource<Kind.Type<typeof Widget>>>
 * const App = Controller.layer({ name: "widgets", kind: Widget, resources }).pipe(
 *   Layer.provide(Sharding.layer({ name: "widgets", namespace: "operators", kinds: [Widget] })),
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Shard, ShardingConfigError, Client.Client> => Layer.effect(Shard, make(options))

/**
 * Only the sharder role, for a process that assigns objects but reconciles none (a dedicated
 * Deployment, or a benchmark measuring the sharder on its own).
 *
 * @example
 * ```ts
 * import { Layer, Schema } from "effect"
 * import { Client, Kind, KubeConfig, Sharding } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * const Sharder = Sharding.layerSharder({ name: "widgets", namespace: "operators", kinds: [Widget] }).pipe(
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSharder = (options: Options): Layer.Layer<never, ShardingConfigError, Client.Client> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const config = yield* resolve(options)
    yield* Sharder.campaign(config, yield* Client.Client)
  }))

/**
 * What a replica of a ring calls, beyond its controllers' own needs: on Leases in the ring's
 * namespace, `get`, `update` and `create` (its shard Lease; the sharder's; a gone shard's, taken
 * over by the sharder), `list` and `watch` (the sharder watches the shard Leases), `delete` (the
 * Leases of shards long gone); on every sharded and owned kind, `list` and `watch` (the sharder
 * watches their metadata) and `patch` (the sharder's labels, a shard's acknowledgement of a drain).
 * Lease names derive from shard ids, unknown in advance: the Lease rules cannot name them.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind, Sharding } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * const needs = Sharding.permissions({ name: "widgets", namespace: "operators", kinds: [Widget], owned: [Kind.ConfigMap] })
 * needs.map((p) => p.resource) // => ["leases", "leases", "widgets", "configmaps"]
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (options: Pick<Options, "name" | "namespace" | "kinds" | "owned">): ReadonlyArray<Rbac.ResourcePermission> => {
  const ring = `sharding ${options.name}`
  const namespace = options.namespace
  return [
    Rbac.allow(Kind.Lease, ["get", "update", "create", "delete"], {
      namespace,
      reason: `${ring}: each replica's shard Lease, the sharder's, a gone shard's taken over; Leases of shards long gone deleted`
    }),
    Rbac.allow(Kind.Lease, ["list", "watch"], { namespace, reason: `${ring}: the sharder watches the shard Leases` }),
    ...[...options.kinds, ...(options.owned ?? [])].map(toSharded).map((k) =>
      Rbac.allow(k.kind, ["list", "watch", "patch"], {
        namespace: k.namespace,
        reason: `${ring}: the sharder watches ${k.kind.kind} metadata and labels each object with its shard; a shard acknowledges a drain`
      })
    )
  ]
}
