/**
 * The sharder: one replica of a ring, elected on the Lease `<ring>-sharder`, keeps the hash ring
 * over the live shards and labels every object of the ring's kinds with its shard.
 *
 * While elected it watches the shard Leases (a shard is live while its holder is itself and the
 * Lease changed less than its duration ago, judged by this process's clock from when it saw the
 * change, as a standby judges a leader's Lease) and the metadata of the sharded objects (a
 * transform keeps only what assignment needs). Each object is a key in a WorkQueue; processing
 * it carries out {@link Plan.decide}. Every write is a JSON patch guarded by the resourceVersion
 * it was decided on, and is made only while this replica holds the sharder Lease at that instant
 * (and, for an object of a gone shard, that shard's Lease too).
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Client from "../../Client.ts"
import * as Informer from "../../Informer.ts"
import * as Kind from "../../Kind.ts"
import * as LeaderElection from "../../LeaderElection.ts"
import * as Patch from "../../Patch.ts"
import type { Config, SharderStats } from "../../Sharding.ts"
import * as Store from "../../Store.ts"
import * as WorkQueue from "../../WorkQueue.ts"
import * as Def from "../metrics.ts"
import { whenTraced } from "../tracing.ts"
import { Probe } from "../controller/probe.ts"
import * as Labels from "./labels.ts"
import * as Plan from "./plan.ts"
import * as Ring from "./ring.ts"

/** What the sharder knows, for metrics. */
export type Stats = SharderStats


/** The metadata the sharder keeps of an object: what placement and ownership need. */
const slim = (shardLabel: string, drainLabel: string) => <A extends Kind.KubeObject>(object: A): A => {
  const m = object.metadata
  const labels = m.labels
  const kept: Record<string, string> | undefined = labels === undefined ? undefined : {}
  if (labels !== undefined) {
    if (labels[shardLabel] !== undefined) kept![shardLabel] = labels[shardLabel]
    if (labels[drainLabel] !== undefined) kept![drainLabel] = labels[drainLabel]
  }
  const owner = m.ownerReferences?.find((r) => r.controller === true)
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: m.name,
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
      // present (maybe empty) when the object has labels: a label write must know whether the map exists
      ...(kept !== undefined ? { labels: kept } : {}),
      ...(owner !== undefined ? { ownerReferences: [owner] } : {})
    }
  } as unknown as A
}

interface Entry {
  readonly index: number
  readonly kind: Kind.Any
  /** The same kind, metadata only: what the sharder lists, watches and patches. */
  readonly meta: Kind.Kind<Kind.PartialObjectMetadata>
  readonly role: "primary" | "owned"
  readonly informer: Informer.Informer<Kind.KubeObject>
}

export interface Observed {
  readonly rv: string
  /** Clock millis when this process saw the Lease at `rv`. */
  readonly at: number
  readonly holder: string
  readonly durationMs: number
}

interface Takeover {
  readonly scope: Scope.Closeable
  readonly elector: LeaderElection.Elector
  readonly since: number
  moved: number
}

const refOf = (object: Kind.KubeObject) => ({ name: object.metadata.name, namespace: object.metadata.namespace })
const describe = (kind: Kind.Any, object: Kind.KubeObject) =>
  `${kind.kind} ${object.metadata.namespace !== undefined ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`

const describeLabels = (set: Readonly<Record<string, string | undefined>>) =>
  Object.entries(set).map(([k, v]) => (v === undefined ? `-${k}` : `${k}=${v}`)).join(", ")

/** The ring position of a primary object: its group, kind, namespace and name. */
export const hashKey = (kind: Kind.Any, object: { readonly metadata: { readonly name: string; readonly namespace?: string | undefined } }) =>
  `${kind.group}/${kind.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`

/**
 * The shard Leases as this process saw them change. Every replica standing for the sharder keeps
 * it, so a new sharder judges expiry from when the Leases last changed, not from its election.
 */
export interface LeaseView {
  /** By shard id. */
  readonly observed: ReadonlyMap<string, Observed>
  /** A tick after each change of `observed`. */
  readonly changes: Stream.Stream<number>
  readonly synced: Effect.Effect<void>
}

export const watchLeases = (config: Config) =>
  Effect.gen(function*() {
    const leaseSeconds = Math.max(1, Math.ceil(Duration.toSeconds(config.leaseDuration)))
    const informer = yield* Informer.make(Kind.Lease, { namespace: config.namespace, labelSelector: config.shardLabel })
    const clock = yield* Clock.Clock
    const observed = new Map<string, Observed>()
    const version = yield* SubscriptionRef.make(0)
    yield* informer.changes.pipe(
      Stream.runForEach((change) => {
        const lease = change.object
        const id = lease.metadata.labels?.[config.shardLabel]
        if (id === undefined || lease.metadata.name !== config.leaseName(id)) return Effect.void
        if (change._tag === "Deleted") {
          observed.delete(id)
        } else {
          const rv = lease.metadata.resourceVersion ?? ""
          if (observed.get(id)?.rv === rv) return Effect.void
          observed.set(id, {
            rv,
            at: clock.currentTimeMillisUnsafe(),
            holder: lease.spec?.holderIdentity ?? "",
            durationMs: (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000
          })
        }
        return SubscriptionRef.update(version, (n) => n + 1)
      }),
      Effect.forkScoped
    )
    return { observed, changes: SubscriptionRef.changes(version), synced: informer.synced } satisfies LeaseView
  })

/**
 * Runs the sharder until the scope closes.
 */
export const run = (config: Config, client: Client.ClientService, sharderLease: LeaderElection.Elector, view: LeaseView) =>
  Effect.gen(function*() {
    const tag = `sharding ${config.ring}`
    // a simulation's probe (internal/controller/probe.ts); none outside one
    const probe = yield* Probe
    const transform = slim(config.shardLabel, config.drainLabel)
    const entries: Array<Entry> = []
    for (const [role, kinds] of [["primary", config.kinds], ["owned", config.owned]] as const) {
      for (const sharded of kinds) {
        // metadata only (PartialObjectMetadata), slimmed further to what placement needs
        const meta = Kind.metadataOnly(sharded.kind)
        const informer = yield* Informer.make<Kind.KubeObject>(meta, {
          namespace: sharded.namespace,
          labelSelector: sharded.labelSelector,
          transform,
          indexLabels: [config.shardLabel],
          ...(role === "owned"
            ? { indexers: { owner: (o: Kind.KubeObject) => (o.metadata.ownerReferences ?? []).flatMap((r) => (r.uid !== undefined ? [r.uid] : [])) } }
            : {})
        })
        entries.push({ index: entries.length, kind: sharded.kind, meta, role, informer })
      }
    }
    const primaries = entries.filter((e) => e.role === "primary")
    const owneds = entries.filter((e) => e.role === "owned")
    yield* view.synced
    yield* Effect.forEach(entries, (e) => e.informer.synced, { discard: true })

    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    const queue = yield* WorkQueue.make<string>({ name: `${config.ring}-sharder` })
    const qkey = (entry: Entry, key: string) => `${entry.index}|${key}`
    const enqueue = (entry: Entry, key: string, priority: WorkQueue.Priority) => queue.add(qkey(entry, key), { priority })

    // --- the shards, from their Leases --------------------------------------------------------
    const observed = view.observed
    const isLive = (id: string) => {
      const o = observed.get(id)
      return o !== undefined && o.holder === id && now() < o.at + o.durationMs
    }

    let ring = Ring.make([], config.virtualNodes)
    let ringChanges = 0
    const ringChangesSeries = Def.counter(Def.shardingRingChanges, { ring: config.ring })
    const drains = new Map<string, { readonly from: string; readonly at: number }>()
    const takeovers = new Map<string, Takeover>()
    const movesOf = (shard: string, reason: "rebalance" | "gone") =>
      Metric.update(Def.counter(Def.shardingMoves, { ring: config.ring, shard, reason }), 1)

    const enqueueAll = Effect.forEach(entries, (entry) =>
      Effect.flatMap(entry.informer.store.keys, (keys) => Effect.forEach(keys, (key) => enqueue(entry, key, "bulk"), { discard: true })), { discard: true })

    /** Objects of every kind still labelled for a shard. */
    const labelledFor = (id: string) =>
      Effect.map(Effect.forEach(entries, (e) => e.informer.store.byLabel(config.shardLabel, id)), (lists) => lists.reduce((n, l) => n + l.length, 0))

    const recompute = Effect.gen(function*() {
      const live = Array.from(observed.keys()).filter(isLive)
      // every retry period: the ring is made again only when its members changed
      if (Ring.hasMembers(ring, live, config.virtualNodes)) return
      const next = Ring.make(live, config.virtualNodes)
      const added = next.members.filter((m) => !ring.members.includes(m))
      const removed = ring.members.filter((m) => !next.members.includes(m))
      ring = next
      ringChanges++
      yield* Metric.update(ringChangesSeries, 1)
      const change = [...added.map((m) => `+${m}`), ...removed.map((m) => `-${m}`)].join(" ")
      yield* Effect.logInfo(
        `${tag}: ring changed (${change === "" ? "initial" : change}): ${next.members.length} live shard${next.members.length === 1 ? "" : "s"}` +
          (next.members.length > 0 ? ` (${next.members.join(", ")})` : "; objects wait for a shard")
      )
      // a shard that came back is not gone after all
      for (const id of next.members) yield* release(id, "is live again")
      yield* enqueueAll
    })

    // --- gone shards: hold their Lease while their objects move ---------------------------------
    const release = (id: string, why: string) =>
      Effect.suspend(() => {
        const takeover = takeovers.get(id)
        if (takeover === undefined) return Effect.void
        takeovers.delete(id)
        const took = Duration.format(Duration.millis(now() - takeover.since))
        return Effect.andThen(
          Scope.close(takeover.scope, Exit.void),
          Effect.logInfo(`${tag}: shard ${id} ${why}; released its Lease (${takeover.moved} object${takeover.moved === 1 ? "" : "s"} moved off it in ${took})`)
        )
      })

    const takeOver = (id: string) =>
      Effect.gen(function*() {
        const held = takeovers.get(id)
        if (held !== undefined) return held.elector.isLeaderUnsafe()
        const o = observed.get(id)
        const scope = yield* Scope.make()
        const elector = yield* LeaderElection.make({
          name: config.leaseName(id),
          namespace: config.namespace,
          identity: `sharder/${config.id}`,
          leaseDuration: config.leaseDuration,
          renewDeadline: config.renewDeadline,
          retryPeriod: config.retryPeriod,
          ...(o !== undefined ? { observed: { resourceVersion: o.rv, atMillis: o.at } } : {})
        }).pipe(Effect.provideService(Client.Client, client), Scope.provide(scope), Effect.orDie)
        takeovers.set(id, { scope, elector, since: now(), moved: 0 })
        const why = o === undefined ? "has no Lease" : o.holder === "" ? "released its Lease" : o.holder === id ? "did not renew its Lease" : `lost its Lease to ${o.holder}`
        yield* Effect.logInfo(`${tag}: shard ${id} is gone (${why}); taking its Lease over to move its objects`)
        // once held, every object still labelled for it is moved
        yield* elector.changes.pipe(
          Stream.filter((leading) => leading),
          Stream.runForEach(() =>
            Effect.gen(function*() {
              const count = yield* labelledFor(id)
              yield* Effect.logInfo(`${tag}: holding the Lease of gone shard ${id}; moving its ${count} object${count === 1 ? "" : "s"}`)
              for (const entry of entries) {
                for (const object of yield* entry.informer.store.byLabel(config.shardLabel, id)) yield* enqueue(entry, Store.keyOf(object), "live")
              }
              if (count === 0) yield* release(id, "has no objects left")
            })
          ),
          Effect.forkIn(scope)
        )
        return elector.isLeaderUnsafe()
      })

    /** Releases the Lease of a gone shard once nothing is labelled for it any more. */
    const settleTakeover = (id: string) =>
      Effect.suspend(() => {
        if (!takeovers.has(id)) return Effect.void
        return Effect.flatMap(labelledFor(id), (n) => (n === 0 ? release(id, "has no objects left") : Effect.void))
      })

    // --- writes --------------------------------------------------------------------------------
    /** One label write; false when it was not made (no longer the sharder, or the object moved on: its event requeues it). */
    const write = (entry: Entry, object: Kind.KubeObject, set: Readonly<Record<string, string | undefined>>, holding: () => boolean) =>
      Effect.suspend((): Effect.Effect<boolean, unknown> => {
        if (!sharderLease.isLeaderUnsafe() || !holding()) {
          return Effect.as(Effect.logDebug(`${tag}: no longer holding the Leases to move ${describe(entry.kind, object)}; left as is`), false)
        }
        const ops = Labels.move(object, set)
        if (ops.length === 1) return Effect.succeed(true)
        return client.patch(entry.meta, refOf(object), Patch.json(ops)).pipe(
          Effect.tap(() => Effect.sync(() => probe?.handedOff(config.ring, `${describe(entry.kind, object)}: ${describeLabels(set)}`))),
          Effect.as(true),
          // moved on since this copy (422: the resourceVersion test), or gone: its event brings it back
          Effect.catchIf((e) => e._tag === "Invalid" || e._tag === "Conflict" || e._tag === "NotFound", () => Effect.succeed(false))
        )
      })
    const always = () => true

    const ownedOf = (object: Kind.KubeObject) =>
      object.metadata.uid === undefined
        ? Effect.succeed([])
        : Effect.forEach(owneds, (entry) =>
          Effect.map(entry.informer.store.byIndex("owner", object.metadata.uid!), (objects) => objects.map((o) => ({ entry, object: o }))))
          .pipe(Effect.map((lists) => lists.flat()))

    /** Owned objects go ahead of their owner, so they are in the new shard's caches when it arrives. */
    const followOwned = (object: Kind.KubeObject, to: string, holding: () => boolean) =>
      Effect.flatMap(ownedOf(object), (owned) =>
        Effect.forEach(owned, ({ entry, object: o }) => {
          const placement = placementOf(o)
          return placement.shard === to && !placement.draining
            ? Effect.void
            : write(entry, o, { [config.shardLabel]: to, [config.drainLabel]: undefined }, holding)
        }, { discard: true }))

    const placementOf = (object: Kind.KubeObject): Plan.Placement => ({
      shard: object.metadata.labels?.[config.shardLabel],
      draining: object.metadata.labels?.[config.drainLabel] !== undefined
    })

    const ownerOf = (object: Kind.KubeObject) =>
      Effect.gen(function*() {
        const ref = object.metadata.ownerReferences?.[0]
        if (ref === undefined) return undefined
        const group = ref.apiVersion.includes("/") ? ref.apiVersion.slice(0, ref.apiVersion.indexOf("/")) : ""
        for (const entry of primaries) {
          if (entry.kind.kind !== ref.kind || entry.kind.group !== group) continue
          const key = Store.key({ name: ref.name, namespace: entry.kind.namespaced ? object.metadata.namespace : undefined })
          const owner = yield* entry.informer.store.get(key)
          if (Option.isSome(owner) && owner.value.metadata.uid === ref.uid) return { entry, object: owner.value }
        }
        return undefined
      })

    // --- one object ----------------------------------------------------------------------------
    const processKey = (key: string): Effect.Effect<void, unknown> =>
      Effect.gen(function*() {
        const bar = key.indexOf("|")
        const entry = entries[Number(key.slice(0, bar))]!
        const found = yield* entry.informer.store.get(key.slice(bar + 1))
        if (Option.isNone(found)) {
          drains.delete(key)
          return
        }
        const object = found.value
        if (entry.role === "owned") {
          const owner = yield* ownerOf(object)
          const target = owner === undefined
            ? undefined
            : Plan.ownedTarget(placementOf(owner.object), Ring.lookup(ring, hashKey(owner.entry.kind, owner.object)))
          const action = Plan.decideOwned(placementOf(object), target)
          if (action._tag !== "Follow") return
          return yield* traced(entry, object, action, write(entry, object, { [config.shardLabel]: action.to, [config.drainLabel]: undefined }, always))
        }
        const action = Plan.decide(placementOf(object), Ring.lookup(ring, hashKey(entry.kind, object)), isLive)
        switch (action._tag) {
          case "Keep":
            return
          case "AwaitAck":
            // a drain another sharder started: measured from now
            if (!drains.has(key)) drains.set(key, { from: action.from, at: now() })
            return
          case "Drain": {
            const done = yield* traced(entry, object, action, write(entry, object, { [config.drainLabel]: "true" }, always))
            if (done) drains.set(key, { from: action.from, at: now() })
            return
          }
          case "Undrain": {
            const done = yield* traced(entry, object, action, write(entry, object, { [config.drainLabel]: undefined }, always))
            if (done) drains.delete(key)
            return
          }
          case "Assign": {
            const done = yield* traced(
              entry,
              object,
              action,
              Effect.andThen(
                followOwned(object, action.to, always),
                write(entry, object, { [config.shardLabel]: action.to, [config.drainLabel]: undefined }, always)
              )
            )
            const drain = drains.get(key)
            if (done && drain !== undefined) {
              drains.delete(key)
              yield* Metric.update(Def.histogram(Def.shardingDrainSeconds, { ring: config.ring, shard: drain.from }), (now() - drain.at) / 1000)
              yield* movesOf(drain.from, "rebalance")
            }
            return
          }
          case "Reclaim": {
            const holding = yield* takeOver(action.from)
            if (!holding) return // once the Lease is held, every object of the shard is enqueued again
            const takeover = takeovers.get(action.from)!
            const holds = () => takeover.elector.isLeaderUnsafe()
            const done = yield* traced(
              entry,
              object,
              action,
              Effect.andThen(
                followOwned(object, action.to, holds),
                write(entry, object, { [config.shardLabel]: action.to, [config.drainLabel]: undefined }, holds)
              )
            )
            if (done) {
              drains.delete(key)
              takeover.moved++
              yield* movesOf(action.from, "gone")
            }
            return
          }
        }
      })

    const traced = <X, E>(entry: Entry, object: Kind.KubeObject, action: Plan.Action, self: Effect.Effect<X, E>) =>
      whenTraced(self, (self) =>
        Effect.withSpan(self, "Sharding.move", {
          attributes: {
            "operatorkit.ring": config.ring,
            "operatorkit.action": action._tag,
            "k8s.kind": entry.kind.kind,
            "k8s.name": object.metadata.name,
            ...(object.metadata.namespace !== undefined ? { "k8s.namespace": object.metadata.namespace } : {}),
            ...("from" in action && action.from !== undefined ? { "operatorkit.shard.from": action.from } : {}),
            ...("to" in action ? { "operatorkit.shard.to": action.to } : {})
          }
        }))

    // --- wiring --------------------------------------------------------------------------------
    yield* view.changes.pipe(Stream.runForEach(() => recompute), Effect.forkScoped)
    for (const entry of entries) {
      yield* entry.informer.changes.pipe(
        Stream.runForEach((change) =>
          Effect.gen(function*() {
            const key = Store.keyOf(change.object)
            yield* enqueue(entry, key, change.source === "watch" ? "live" : "bulk")
            if (change._tag !== "Updated") return
            const before = change.old.metadata.labels?.[config.shardLabel]
            const after = change.object.metadata.labels?.[config.shardLabel]
            if (before === after) return
            // its owned objects follow; a gone shard it left may be done with
            if (entry.role === "primary") {
              for (const { entry: e, object: o } of yield* ownedOf(change.object)) yield* enqueue(e, Store.keyOf(o), "live")
            }
            if (before !== undefined) yield* settleTakeover(before)
          })
        ),
        Effect.forkScoped
      )
    }
    yield* recompute
    if (ring.members.length === 0) yield* Effect.logInfo(`${tag}: sharder ${config.id} sees no live shard yet`)

    // Leases expire without an event: look again every retry period (the arithmetic of a
    // standby's polls), and tidy up the Leases of shards long gone.
    const cleanupAfterMs = Math.max(60_000, 4 * Duration.toMillis(config.leaseDuration))
    const cleanup = Effect.gen(function*() {
      for (const [id, o] of Array.from(observed)) {
        if (isLive(id) || takeovers.has(id) || now() - o.at < cleanupAfterMs || !sharderLease.isLeaderUnsafe()) continue
        if ((yield* labelledFor(id)) > 0) continue
        yield* client.delete(Kind.Lease, { name: config.leaseName(id), namespace: config.namespace }, { preconditions: { resourceVersion: o.rv } }).pipe(
          Effect.andThen(Effect.logInfo(`${tag}: deleted the Lease of shard ${id}, gone for ${Duration.format(Duration.millis(now() - o.at))}`)),
          Effect.catchIf((e) => e._tag === "NotFound" || e._tag === "Conflict", () => Effect.void),
          Effect.catch((e) => Effect.logWarning(`${tag}: could not delete the Lease of gone shard ${id}: ${e.message}`))
        )
      }
    })
    yield* Effect.forkScoped(Effect.forever(
      Effect.andThen(Effect.sleep(config.retryPeriod), Effect.andThen(recompute, Effect.andThen(Effect.forEach(Array.from(takeovers.keys()), settleTakeover, { discard: true }), cleanup)))
    ))
    yield* Effect.addFinalizer(() => Effect.forEach(Array.from(takeovers.keys()), (id) => release(id, "is no longer this replica's to move (not the sharder)"), { discard: true }))
    yield* queue.pipe(WorkQueue.run(processKey, { concurrency: config.concurrency }), Effect.forkScoped)

    const stats: Effect.Effect<Stats> = Effect.gen(function*() {
      const counts = new Map<string, number>()
      let unassigned = 0
      for (const entry of primaries) {
        for (const object of yield* entry.informer.store.list()) {
          const shard = object.metadata.labels?.[config.shardLabel]
          if (shard === undefined) unassigned++
          else counts.set(shard, (counts.get(shard) ?? 0) + 1)
        }
      }
      for (const member of ring.members) if (!counts.has(member)) counts.set(member, 0)
      return {
        members: ring.members,
        assigned: Array.from(counts, ([shard, objects]) => ({ shard, objects })),
        unassigned,
        draining: drains.size,
        reclaiming: Array.from(takeovers.keys()),
        ringChanges
      }
    })
    return { stats }
  })

/**
 * Stands for the sharder role: runs the sharder while this replica holds `<ring>-sharder`, stops
 * it at once when it does not.
 */
export const campaign = (config: Config, client: Client.ClientService) =>
  Effect.gen(function*() {
    const elector = yield* LeaderElection.make({
      name: config.sharderLease,
      namespace: config.namespace,
      identity: config.id,
      leaseDuration: config.leaseDuration,
      renewDeadline: config.renewDeadline,
      retryPeriod: config.retryPeriod
    }).pipe(Effect.provideService(Client.Client, client), Effect.orDie)
    const view = yield* watchLeases(config).pipe(Effect.provideService(Client.Client, client))
    let current: { readonly scope: Scope.Closeable; stats: Effect.Effect<Stats> | undefined } | undefined
    const stop = Effect.suspend(() => {
      const running = current
      current = undefined
      return running === undefined ? Effect.void : Scope.close(running.scope, Exit.void)
    })
    const start = Effect.gen(function*() {
      if (current !== undefined) return
      const scope = yield* Scope.make()
      const running: { readonly scope: Scope.Closeable; stats: Effect.Effect<Stats> | undefined } = { scope, stats: undefined }
      current = running
      yield* Effect.logInfo(`sharding ${config.ring}: ${config.id} is the sharder`)
      yield* run(config, client, elector, view).pipe(
        Effect.provideService(Client.Client, client),
        Effect.tap((sharder) => Effect.sync(() => void (running.stats = sharder.stats))),
        Scope.provide(scope),
        Effect.catchCause((cause) => Effect.logError(`sharding ${config.ring}: the sharder failed`, cause)),
        Effect.forkIn(scope)
      )
    })
    yield* elector.changes.pipe(
      Stream.changes,
      Stream.runForEach((leading) =>
        leading ? start : Effect.andThen(stop, Effect.logInfo(`sharding ${config.ring}: ${config.id} is not the sharder any more`))
      ),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => stop)
    return {
      elector,
      stats: Effect.suspend(() => (current?.stats === undefined ? Effect.succeed(undefined) : current.stats))
    }
  })
