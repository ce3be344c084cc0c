/**
 * Prometheus metrics on a prom-client `Registry` provided as a service, under controller-runtime's
 * names and labels, so its dashboards and alerts work unchanged.
 *
 * Nothing runs between scrapes: the figures are bridged into the Registry when it is read.
 * Counters and histograms come from Effect's metric registry, where the Controller and the
 * Framework record them (`Metric.snapshot`); gauges come from the `stats` of the running
 * controllers (`Controller.Registry`), informers (their controllers' and the shared `Informers`)
 * leader electors (`LeaderElection.Registry`) and shards (`Sharding.Registry`: per shard, whether it
 * holds its Lease, drains acknowledged, writes fenced; on the sharder, objects per shard, moves,
 * drain time, ring changes).
 *
 * | metric | type | labels | source |
 * | --- | --- | --- | --- |
 * | `controller_runtime_reconcile_total` | counter | controller, result | Controller |
 * | `controller_runtime_reconcile_errors_total` | counter | controller | Controller |
 * | `controller_runtime_reconcile_time_seconds` | histogram | controller | Controller |
 * | `controller_runtime_max_concurrent_reconciles` | gauge | controller | Controller stats |
 * | `controller_runtime_active_workers` | gauge | controller | Controller stats |
 * | `workqueue_depth` | gauge | name, controller | WorkQueue stats |
 * | `workqueue_adds_total` | counter | name, controller | Controller |
 * | `workqueue_queue_duration_seconds` | histogram | name, controller | Controller |
 * | `workqueue_work_duration_seconds` | histogram | name, controller | Controller |
 * | `workqueue_retries_total` | counter | name, controller | Controller |
 * | `workqueue_unfinished_work_seconds` | gauge | name, controller | WorkQueue stats |
 * | `workqueue_longest_running_processor_seconds` | gauge | name, controller | WorkQueue stats |
 * | `leader_election_master_status` | gauge | name (the Lease) | elector stats |
 * | `operatorkit_controller_operation_total` | counter | resource, operation | `Framework.withMetrics` |
 * | `operatorkit_controller_operation_errors_total` | counter | resource, operation | `Framework.withMetrics` |
 * | `operatorkit_controller_operation` | histogram (seconds) | resource, operation | `Framework.withMetrics` |
 * | `operatorkit_informer_watch_event_total` | counter | group, kind, event | Informer stats |
 * | `operatorkit_informer_lists_total`, `…_relists_total`, `…_watch_restarts_total`, `…_very_short_watches_total`, `…_stalls_total`, `…_decode_failures_total`, `…_errors_total` | counter | group, kind | Informer stats |
 * | `operatorkit_informer_cache_size` | gauge | group, kind | Informer stats |
 * | `operatorkit_informer_synced` | gauge | group, kind | Informer stats |
 * | `operatorkit_informer_last_sync_timestamp_seconds` | gauge | group, kind | Informer stats |
 * | `operatorkit_controller_finalizing_objects` | gauge | controller | objects being deleted that still carry the controller's finalizer (its cache) |
 * | `operatorkit_controller_oldest_finalizing_seconds` | gauge | controller | how long the oldest of them has waited (0 when none) |
 * | `rest_client_requests_total` | counter | code, method, host | Client (every HTTP request and watch, as client-go) |
 * | `rest_client_request_duration_seconds` | histogram | verb, host | Client (to the answer, the rate limiter's wait included; not watches, as client-go) |
 * | `rest_client_rate_limiter_duration_seconds` | histogram | verb, host | Client with `qps` (client-go's `QPS`): each request's wait for its rate limiter, zero waits included; without one, no series |
 * | `controller_runtime_webhook_requests_total` | counter | webhook (path), code | Webhooks |
 * | `controller_runtime_webhook_latency_seconds` | histogram | webhook | Webhooks |
 * | `controller_runtime_webhook_requests_in_flight` | gauge | webhook | Webhooks |
 *
 * As controller-runtime does, every running controller's reconcile series start at 0 for each
 * result (`success`, `error`, `requeue`, `requeue_after`).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PromClient from "prom-client"
import * as Controller from "./Controller.ts"
import * as Informer from "./Informer.ts"
import * as Def from "./internal/metrics.ts"
import * as Prom from "./internal/prometheus.ts"
import type * as Kind from "./Kind.ts"
import * as LeaderElection from "./LeaderElection.ts"
import * as Sharding from "./Sharding.ts"

/**
 * The metrics service: the Registry every figure is bridged into, and its exposition.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricsService {
  readonly registry: PromClient.Registry
  /** The Registry's exposition (what `/metrics` serves) and its content type. */
  readonly scrape: Effect.Effect<{ readonly contentType: string; readonly body: string }>
}

/**
 * The prom-client Registry holding the operator's metrics.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics } from "operatorkit"
 *
 * const text = Effect.gen(function*() {
 *   const metrics = yield* Metrics.Metrics
 *   return (yield* metrics.scrape).body
 * }).pipe(Effect.provide(Metrics.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Metrics extends Context.Service<Metrics, MetricsService>()("operatorkit/Metrics") {}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Your own Registry (default: a new one). The bridged families are removed from it on shutdown. */
  readonly registry?: PromClient.Registry | undefined
  /** Your own Effect metrics (counters, gauges, histograms) to expose too. */
  readonly effectMetrics?: ReadonlyArray<Metric.Metric<any, any>> | undefined
  /** Also collect prom-client's default process metrics (CPU, memory, event loop lag). Default false. */
  readonly processMetrics?: boolean | undefined
}

/**
 * The reconcile results controller-runtime counts.
 *
 * @example
 * ```ts
 * import { Metrics } from "operatorkit"
 *
 * Metrics.reconcileResults // => ["success", "error", "requeue", "requeue_after"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const reconcileResults = ["success", "error", "requeue", "requeue_after"] as const

interface Sources {
  readonly effect: ReadonlyArray<Metric.Metric.Snapshot>
  readonly controllers: ReadonlyArray<Controller.Stats>
  readonly informers: ReadonlyArray<{ readonly kind: Kind.Any; readonly stats: Informer.Stats }>
  readonly electors: ReadonlyArray<LeaderElection.Stats>
  readonly shards: ReadonlyArray<Sharding.Stats>
  /** Per controller: objects being deleted that still carry its finalizer, and the oldest one's wait. */
  readonly finalizing: ReadonlyArray<{ readonly controller: string; readonly objects: number; readonly oldestSeconds: number }>
}

type Collect = (sources: Sources) => Prom.Collected

const fromEffect = (id: string, zero?: (controllers: ReadonlyArray<Controller.Stats>) => ReadonlyArray<Prom.Labels>): Collect => (sources) => {
  const points: Array<Prom.Point> = []
  const histograms: Array<Prom.HistogramPoint> = []
  for (const s of sources.effect) {
    if (s.id !== id) continue
    const labels = Prom.cleanLabels(s.attributes)
    switch (s.type) {
      case "Counter":
        points.push({ labels, value: Number((s.state as Metric.CounterState<number | bigint>).count) })
        break
      case "Gauge":
        points.push({ labels, value: Number((s.state as Metric.GaugeState<number | bigint>).value) })
        break
      case "Histogram": {
        const state = s.state as Metric.HistogramState
        histograms.push({ labels, buckets: state.buckets, count: state.count, sum: state.sum })
        break
      }
    }
  }
  for (const labels of zero?.(sources.controllers) ?? []) points.push({ labels, value: 0 })
  return { points, histograms }
}

const perController = (f: (c: Controller.Stats) => number, merge?: (a: number, b: number) => number): Collect => (sources) => ({
  points: Prom.mergePoints(sources.controllers.map((c) => ({ labels: { controller: c.name }, value: f(c) })), merge)
})

const perQueue = (f: (c: Controller.Stats) => number, merge?: (a: number, b: number) => number): Collect => (sources) => ({
  points: Prom.mergePoints(sources.controllers.map((c) => ({ labels: { name: c.queue.name, controller: c.name }, value: f(c) })), merge)
})

const informerLabels = (kind: Kind.Any) => ({ group: kind.group, kind: kind.kind })

const perInformer = (f: (s: Informer.Stats) => number | undefined, merge?: (a: number, b: number) => number): Collect => (sources) => ({
  points: Prom.mergePoints(
    sources.informers.flatMap(({ kind, stats }) => {
      const value = f(stats)
      return value === undefined ? [] : [{ labels: informerLabels(kind), value }]
    }),
    merge
  )
})

const perShard = (f: (s: Sharding.Stats) => number): Collect => (sources) => ({
  points: Prom.mergePoints(sources.shards.map((s) => ({ labels: { ring: s.ring, shard: s.id }, value: f(s) })))
})

const perSharder = (f: (s: NonNullable<Sharding.Stats["sharder"]>) => number): Collect => (sources) => ({
  points: sources.shards.flatMap((s) => (s.sharder === undefined ? [] : [{ labels: { ring: s.ring }, value: f(s.sharder) }]))
})

const max = (a: number, b: number) => Math.max(a, b)
const min = (a: number, b: number) => Math.min(a, b)

const zeroResults = (controllers: ReadonlyArray<Controller.Stats>) =>
  controllers.flatMap((c) => reconcileResults.map((result) => ({ controller: c.name, result })))
const zeroController = (controllers: ReadonlyArray<Controller.Stats>) => controllers.map((c) => ({ controller: c.name }))
const zeroQueue = (controllers: ReadonlyArray<Controller.Stats>) => controllers.map((c) => ({ name: c.queue.name, controller: c.name }))

const families: ReadonlyArray<readonly [Def.Definition, Collect]> = [
  [Def.reconcileTotal, fromEffect(Def.reconcileTotal.name, zeroResults)],
  [Def.reconcileErrors, fromEffect(Def.reconcileErrors.name, zeroController)],
  [Def.reconcileTime, fromEffect(Def.reconcileTime.name)],
  [Def.maxConcurrentReconciles, perController((c) => c.maxConcurrentReconciles)],
  [Def.activeWorkers, perController((c) => c.activeWorkers)],
  [Def.workqueueDepth, perQueue((c) => c.queue.depth)],
  [Def.workqueueAdds, fromEffect(Def.workqueueAdds.name, zeroQueue)],
  [Def.workqueueQueueDuration, fromEffect(Def.workqueueQueueDuration.name)],
  [Def.workqueueWorkDuration, fromEffect(Def.workqueueWorkDuration.name)],
  [Def.workqueueRetries, fromEffect(Def.workqueueRetries.name, zeroQueue)],
  [Def.workqueueUnfinishedWork, perQueue((c) => c.queue.unfinishedWorkSeconds)],
  [Def.workqueueLongestRunning, perQueue((c) => c.queue.longestRunningProcessorSeconds, max)],
  [Def.leaderElectionMasterStatus, (sources) => ({
    points: Prom.mergePoints(sources.electors.map((e) => ({ labels: { name: e.name }, value: e.leading ? 1 : 0 })), max)
  })],
  [Def.shardingLeaseHeld, perShard((s) => (s.holdsLease ? 1 : 0))],
  [Def.shardingAcknowledged, perShard((s) => s.acknowledged)],
  [Def.shardingFencedWrites, perShard((s) => s.fencedWrites)],
  [Def.shardingObjects, (sources) => ({
    points: sources.shards.flatMap((s) => s.sharder?.assigned.map(({ objects, shard }) => ({ labels: { ring: s.ring, shard }, value: objects })) ?? [])
  })],
  [Def.shardingUnassigned, perSharder((s) => s.unassigned)],
  [Def.shardingDraining, perSharder((s) => s.draining)],
  [Def.shardingLiveShards, perSharder((s) => s.members.length)],
  [Def.shardingMoves, fromEffect(Def.shardingMoves.name)],
  [Def.shardingDrainSeconds, fromEffect(Def.shardingDrainSeconds.name)],
  [Def.shardingRingChanges, fromEffect(Def.shardingRingChanges.name)],
  [Def.operationTotal, fromEffect(Def.operationTotal.name)],
  [Def.operationErrors, fromEffect(Def.operationErrors.name)],
  [Def.operationSeconds, fromEffect(Def.operationSeconds.name)],
  [Def.webhookRequests, fromEffect(Def.webhookRequests.name)],
  [Def.webhookLatency, fromEffect(Def.webhookLatency.name)],
  [Def.webhookInFlight, fromEffect(Def.webhookInFlight.name)],
  [Def.finalizingObjects, (sources) => ({
    points: Prom.mergePoints(sources.finalizing.map((f) => ({ labels: { controller: f.controller }, value: f.objects })), max)
  })],
  [Def.oldestFinalizing, (sources) => ({
    points: Prom.mergePoints(sources.finalizing.map((f) => ({ labels: { controller: f.controller }, value: f.oldestSeconds })), max)
  })],
  [Def.restClientRequests, fromEffect(Def.restClientRequests.name)],
  [Def.restClientRequestDuration, fromEffect(Def.restClientRequestDuration.name)],
  [Def.restClientRateLimiterDuration, fromEffect(Def.restClientRateLimiterDuration.name)],
  [Def.informerWatchEvents, (sources) => ({
    points: Prom.mergePoints(sources.informers.flatMap(({ kind, stats }) =>
      (["added", "modified", "deleted", "bookmarks"] as const).map((event) => ({
        labels: { ...informerLabels(kind), event: event === "bookmarks" ? "bookmark" : event },
        value: stats.events[event]
      }))
    ))
  })],
  [Def.informerLists, perInformer((s) => s.lists)],
  [Def.informerRelists, perInformer((s) => s.relists)],
  [Def.informerWatchRestarts, perInformer((s) => s.watchRestarts)],
  [Def.informerVeryShortWatches, perInformer((s) => s.veryShortWatches)],
  [Def.informerStalls, perInformer((s) => s.stalls)],
  [Def.informerDecodeFailures, perInformer((s) => s.decodeFailures)],
  [Def.informerErrors, perInformer((s) => s.errors)],
  [Def.informerCacheSize, perInformer((s) => s.storeSize)],
  [Def.informerSynced, perInformer((s) => (s.synced ? 1 : 0), min)],
  [Def.informerLastSync, perInformer((s) => (s.lastSyncMillis === undefined ? undefined : s.lastSyncMillis / 1000), max)]
]

const effectType = (metric: Metric.Metric<any, any>): Prom.FamilyType | undefined =>
  metric.type === "Counter" ? "counter" : metric.type === "Gauge" ? "gauge" : metric.type === "Histogram" ? "histogram" : undefined

/**
 * Builds the metrics service on a Registry: registers the bridged families (and removes them when
 * the scope closes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as PromClient from "prom-client"
 * import { Metrics } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const registry = new PromClient.Registry()
 *   const metrics = yield* Metrics.make({ registry })
 *   return yield* Effect.promise(() => registry.metrics())
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const registry = options.registry ?? new PromClient.Registry()
  const context = yield* Effect.context<never>()
  const controllers = yield* Controller.Registry
  const electors = yield* LeaderElection.Registry
  const shards = yield* Sharding.Registry
  const informers = yield* Effect.serviceOption(Informer.Informers)

  const gather: Effect.Effect<Sources> = Effect.gen(function*() {
    const running = Array.from(controllers)
    const controllerStats = yield* Effect.forEach(running, (c) => c.stats)
    const seen = new Set<Informer.Informer<any>>(running.map((c) => c.informer))
    if (Option.isSome(informers)) for (const i of yield* informers.value.all) seen.add(i)
    const informerStats = yield* Effect.forEach(Array.from(seen), (i) => Effect.map(i.stats, (stats) => ({ kind: i.kind as Kind.Any, stats })))
    const electorStats = yield* Effect.forEach(Array.from(electors), (e) => e.stats)
    const shardStats = yield* Effect.forEach(Array.from(shards), (s) => s.stats)
    const now = yield* Clock.currentTimeMillis
    const finalizing = yield* Effect.forEach(running, (c) =>
      Effect.map(c.informer.store.list(), (objects) => {
        let count = 0
        let oldest = 0
        for (const o of objects) {
          const deleted = o.metadata.deletionTimestamp
          if (deleted === undefined || !(o.metadata.finalizers ?? []).includes(c.finalizer)) continue
          count++
          oldest = Math.max(oldest, (now - Date.parse(deleted)) / 1000)
        }
        return { controller: c.name, objects: count, oldestSeconds: oldest }
      }))
    return { effect: Metric.snapshotUnsafe(context), controllers: controllerStats, informers: informerStats, electors: electorStats, finalizing, shards: shardStats }
  })

  // prom-client asks every family in the same tick of one scrape: they share one reading
  let pending: Promise<Sources> | undefined
  const read = () => {
    if (pending === undefined) {
      const current = Effect.runPromiseWith(context)(gather)
      pending = current
      void current.finally(() => {
        if (pending === current) pending = undefined
      })
    }
    return pending
  }

  const bridged = [
    ...families.map(([def, collect]) => new Prom.Family(def.name, def.help, def.type, () => read().then(collect))),
    ...(options.effectMetrics ?? []).flatMap((metric) => {
      const type = effectType(metric)
      if (type === undefined) return []
      return [new Prom.Family(metric.id, metric.description ?? metric.id, type, () => read().then(fromEffect(metric.id)))]
    })
  ]
  for (const family of bridged) registry.registerMetric(family.asMetric())
  if (options.processMetrics === true) PromClient.collectDefaultMetrics({ register: registry })
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const family of bridged) {
        if (registry.getSingleMetric(family.name) === family.asMetric()) registry.removeSingleMetric(family.name)
      }
    })
  )

  return Metrics.of({
    registry,
    scrape: Effect.map(Effect.promise(() => registry.metrics()), (body) => ({ contentType: registry.contentType, body }))
  })
})

/**
 * The metrics service: on a new Registry, or with options (your own Registry, your own Effect
 * metrics, process metrics).
 *
 * @example
 * ```ts
 * import { Layer, Metric } from "effect"
 * import * as PromClient from "prom-client"
 * import { Health, Metrics } from "operatorkit"
 *
 * const Endpoints = Health.layer({ port: 8080 }).pipe(Layer.provide(Metrics.layer()))
 *
 * const tenants = Metric.gauge("tenants", { description: "Tenants under management" })
 * const MetricsLive = Metrics.layer({ registry: new PromClient.Registry(), effectMetrics: [tenants] })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Metrics> => Layer.effect(Metrics, make(options))
