/**
 * Every metric of the library, defined once: name, help, type and buckets. The Controller, its
 * WorkQueue hooks and `Framework.withMetrics` record them through the series built here; `Metrics.ts`
 * exposes them (and the gauges it reads from stats) under these same definitions.
 *
 * Names are controller-runtime's and client-go's where they have one, so their dashboards and
 * alerts work unchanged; the operatorkit_* ones are the Go operatorkit's and our informers'.
 *
 * Series are built with their attributes fixed: `Metric.withAttributes` would merge them into the
 * context and key the series again on every update (about 2 µs of each reconcile).
 * @internal
 */
import * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import type * as WorkQueue from "../WorkQueue.ts"
import type { FamilyType } from "./prometheus.ts"

export interface Definition {
  readonly name: string
  readonly help: string
  readonly type: FamilyType
  readonly boundaries?: ReadonlyArray<number>
}

const define = <const D extends Definition>(d: D): D => d

const latencyBuckets = Metric.exponentialBoundaries({ start: 1e-8, factor: 10, count: 10 })

// controller-runtime
export const reconcileTotal = define({ name: "controller_runtime_reconcile_total", help: "Total number of reconciliations per controller", type: "counter" })
export const reconcileErrors = define({ name: "controller_runtime_reconcile_errors_total", help: "Total number of reconciliation errors per controller", type: "counter" })
export const reconcileTime = define({
  name: "controller_runtime_reconcile_time_seconds",
  help: "Length of time per reconciliation per controller",
  type: "histogram",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60]
})
export const maxConcurrentReconciles = define({ name: "controller_runtime_max_concurrent_reconciles", help: "Maximum number of concurrent reconciles per controller", type: "gauge" })
export const activeWorkers = define({ name: "controller_runtime_active_workers", help: "Number of currently used workers per controller", type: "gauge" })

// client-go's workqueue
export const workqueueDepth = define({ name: "workqueue_depth", help: "Current depth of workqueue", type: "gauge" })
export const workqueueAdds = define({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", type: "counter" })
export const workqueueQueueDuration = define({
  name: "workqueue_queue_duration_seconds",
  help: "How long in seconds an item stays in workqueue before being requested",
  type: "histogram",
  boundaries: latencyBuckets
})
export const workqueueWorkDuration = define({
  name: "workqueue_work_duration_seconds",
  help: "How long in seconds processing an item from workqueue takes",
  type: "histogram",
  boundaries: latencyBuckets
})
export const workqueueRetries = define({ name: "workqueue_retries_total", help: "Total number of retries handled by workqueue", type: "counter" })
export const workqueueUnfinishedWork = define({
  name: "workqueue_unfinished_work_seconds",
  help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
  type: "gauge"
})
export const workqueueLongestRunning = define({
  name: "workqueue_longest_running_processor_seconds",
  help: "How many seconds has the longest running processor for workqueue been running.",
  type: "gauge"
})

// client-go's leader election
export const leaderElectionMasterStatus = define({
  name: "leader_election_master_status",
  help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
  type: "gauge"
})

// the Go operatorkit's resource operations (Framework.withMetrics)
export const operationTotal = define({ name: "operatorkit_controller_operation_total", help: "Calls of resource operations, failures included", type: "counter" })
export const operationErrors = define({ name: "operatorkit_controller_operation_errors_total", help: "Failed calls of resource operations", type: "counter" })
export const operationSeconds = define({
  name: "operatorkit_controller_operation",
  help: "Duration of resource operations in seconds",
  type: "histogram",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 16 })
})

// informers
export const informerWatchEvents = define({ name: "operatorkit_informer_watch_event_total", help: "Watch events received by informers", type: "counter" })
export const informerLists = define({ name: "operatorkit_informer_lists_total", help: "Lists made by informers, the initial one included", type: "counter" })
export const informerRelists = define({ name: "operatorkit_informer_relists_total", help: "Lists made by informers after 410 Gone", type: "counter" })
export const informerWatchRestarts = define({ name: "operatorkit_informer_watch_restarts_total", help: "Watches informers started again", type: "counter" })
export const informerVeryShortWatches = define({
  name: "operatorkit_informer_very_short_watches_total",
  help: "Watches the server ended within a second with no event (backed off like failures)",
  type: "counter"
})
export const informerStalls = define({ name: "operatorkit_informer_stalls_total", help: "Watches restarted because they went silent", type: "counter" })
export const informerDecodeFailures = define({ name: "operatorkit_informer_decode_failures_total", help: "Objects informers could not decode", type: "counter" })
export const informerErrors = define({ name: "operatorkit_informer_errors_total", help: "Failed lists and watches of informers", type: "counter" })
export const informerCacheSize = define({ name: "operatorkit_informer_cache_size", help: "Objects in informer caches", type: "gauge" })
export const informerSynced = define({ name: "operatorkit_informer_synced", help: "Whether informers completed their first list (1) or not (0)", type: "gauge" })
export const informerLastSync = define({
  name: "operatorkit_informer_last_sync_timestamp_seconds",
  help: "When informers last completed a list or received a watch event, in seconds since the epoch",
  type: "gauge"
})

// controller-runtime's webhook server (labels webhook; requests also code)
export const webhookRequests = define({ name: "controller_runtime_webhook_requests_total", help: "Total number of admission requests by HTTP status code.", type: "counter" })
export const webhookLatency = define({
  name: "controller_runtime_webhook_latency_seconds",
  help: "Histogram of the latency of processing admission requests",
  type: "histogram",
  // prometheus.DefBuckets, which controller-runtime's histogram uses
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
})
export const webhookInFlight = define({ name: "controller_runtime_webhook_requests_in_flight", help: "Current number of admission requests being served.", type: "gauge" })

// sharding (labels ring, shard; moves also reason)
export const shardingLeaseHeld = define({ name: "operatorkit_sharding_lease_held", help: "Whether this replica holds its shard Lease (1: it may reconcile) or not (0)", type: "gauge" })
export const shardingAcknowledged = define({ name: "operatorkit_sharding_drains_acknowledged_total", help: "Objects this shard let go when the sharder drained them", type: "counter" })
export const shardingFencedWrites = define({ name: "operatorkit_sharding_fenced_writes_total", help: "Writes refused because this shard did not hold its Lease at that instant", type: "counter" })
export const shardingObjects = define({ name: "operatorkit_sharding_objects", help: "Objects of the ring's kinds assigned to each shard, as the sharder sees them (reported by the sharder)", type: "gauge" })
export const shardingUnassigned = define({ name: "operatorkit_sharding_unassigned_objects", help: "Objects of the ring's kinds with no shard yet (reported by the sharder)", type: "gauge" })
export const shardingDraining = define({ name: "operatorkit_sharding_draining_objects", help: "Objects drained and not acknowledged yet (reported by the sharder)", type: "gauge" })
export const shardingLiveShards = define({ name: "operatorkit_sharding_live_shards", help: "Shards in the ring: their Lease is held and current (reported by the sharder)", type: "gauge" })
export const shardingMoves = define({
  name: "operatorkit_sharding_moves_total",
  help: "Objects moved off a shard: reason rebalance (drained and acknowledged) or gone (its Lease expired or was released)",
  type: "counter"
})
export const shardingDrainSeconds = define({
  name: "operatorkit_sharding_drain_seconds",
  help: "Time from the sharder marking an object draining to its shard acknowledging",
  type: "histogram",
  boundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
})
export const shardingRingChanges = define({ name: "operatorkit_sharding_ring_changes_total", help: "Changes of the set of live shards seen by the sharder", type: "counter" })

// what waits for a controller's finalizer (from its cache, at scrape time)
export const finalizingObjects = define({
  name: "operatorkit_controller_finalizing_objects",
  help: "Objects being deleted that still carry the controller's finalizer",
  type: "gauge"
})
export const oldestFinalizing = define({
  name: "operatorkit_controller_oldest_finalizing_seconds",
  help: "How long the oldest object being deleted has waited for the controller's finalizer, in seconds (0 when none)",
  type: "gauge"
})

// client-go's REST client (k8s.io/component-base/metrics/prometheus/restclient): its names, labels and buckets
const restClientBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60]
export const restClientRequests = define({
  name: "rest_client_requests_total",
  help: "Number of HTTP requests, partitioned by status code, method, and host.",
  type: "counter"
})
export const restClientRequestDuration = define({
  name: "rest_client_request_duration_seconds",
  help: "Request latency in seconds. Broken down by verb, and host.",
  type: "histogram",
  boundaries: restClientBuckets
})
export const restClientRateLimiterDuration = define({
  name: "rest_client_rate_limiter_duration_seconds",
  help: "Client side rate limiter latency in seconds. Broken down by verb, and host.",
  type: "histogram",
  boundaries: restClientBuckets
})

/**
 * What of `context` a metric update reads, alone: the registry holding the series and the extra
 * attributes (`Metric.CurrentMetricAttributes`). An update looks both up again each time (the
 * registry owns the series), which in a program's context walks its overlays: updates on hot
 * paths (five per reconcile) go to this context of two entries instead, the same series.
 */
export const metricContext = (context: Context.Context<never>): Context.Context<never> =>
  Context.make(Metric.MetricRegistry, Context.get(context, Metric.MetricRegistry)).pipe(
    Context.add(Metric.CurrentMetricAttributes, Context.get(context, Metric.CurrentMetricAttributes))
  )

/** An Effect counter of a definition, with its attributes fixed. */
export const counter = (d: Definition, attributes: Metric.Metric.Attributes): Metric.Counter<number> =>
  Metric.counter(d.name, { description: d.help, incremental: true, attributes })

/** An Effect histogram of a definition, with its attributes fixed. */
export const histogram = (d: Definition, attributes: Metric.Metric.Attributes): Metric.Histogram<number> =>
  Metric.histogram(d.name, { description: d.help, boundaries: d.boundaries ?? [], attributes })

/** A controller's reconcile series, built once. */
export const reconcileSeries = (controller: string) => {
  const attributes = { controller }
  return {
    success: counter(reconcileTotal, { ...attributes, result: "success" }),
    requeueAfter: counter(reconcileTotal, { ...attributes, result: "requeue_after" }),
    error: counter(reconcileTotal, { ...attributes, result: "error" }),
    errors: counter(reconcileErrors, attributes),
    time: histogram(reconcileTime, attributes)
  }
}

/**
 * The per-event workqueue metrics of a controller's queue under client-go's names, recorded in the
 * registry of `context` (the hooks are synchronous), then passed on to the user's hooks; the gauges
 * come from the queue's `stats` at scrape time.
 */
export const workQueueHooks = (
  name: string,
  user: WorkQueue.MetricHooks | undefined,
  context: Context.Context<never>
): WorkQueue.MetricHooks => {
  const attributes = { name, controller: name }
  const adds = counter(workqueueAdds, attributes)
  const retries = counter(workqueueRetries, attributes)
  const queueDuration = histogram(workqueueQueueDuration, attributes)
  const workDuration = histogram(workqueueWorkDuration, attributes)
  const record = <I>(metric: Metric.Metric<I, any>, input: I) => metric.updateUnsafe(input, context)
  return {
    onAdd: (priority) => {
      record(adds, 1)
      user?.onAdd?.(priority)
    },
    onRetry: () => {
      record(retries, 1)
      user?.onRetry?.()
    },
    onQueueDuration: (seconds, priority) => {
      record(queueDuration, seconds)
      user?.onQueueDuration?.(seconds, priority)
    },
    onWorkDuration: (seconds) => {
      record(workDuration, seconds)
      user?.onWorkDuration?.(seconds)
    }
  }
}
