/**
 * Writes the Grafana dashboard and the Prometheus alerts shipped in observability/, from the panel
 * and rule definitions below (edit these, then `node scripts/observability.ts`).
 * test/integration/Observability.test.ts scrapes a running operator and fails when either names a
 * metric or a label it does not export, or when the files are not what this script writes.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

export const root = Path.resolve(import.meta.dirname, "..")
export const dashboardFile = Path.join(root, "observability", "grafana-dashboard.json")
export const alertsFile = Path.join(root, "observability", "prometheus-alerts.yaml")

/** Selects the operator's series: the job and namespace Prometheus gives its targets, and the controller. */
const sel = (extra = "") => `{job=~"$job", namespace=~"$namespace"${extra}}`
const ctl = (extra = "") => sel(`, controller=~"$controller"${extra}`)

interface Panel {
  readonly title: string
  readonly description: string
  readonly unit: string
  readonly targets: ReadonlyArray<readonly [expr: string, legend: string]>
  readonly stack?: boolean
}

const rows: ReadonlyArray<readonly [string, ReadonlyArray<Panel>]> = [
  ["Reconciles", [
    {
      title: "Reconciles by result",
      description: "Reconciles per second of each controller, by result (success, error, requeue_after).",
      unit: "ops",
      stack: true,
      targets: [[`sum by (controller, result) (rate(controller_runtime_reconcile_total${ctl()}[5m]))`, "{{controller}} {{result}}"]]
    },
    {
      title: "Reconcile errors",
      description: "Failed reconciles per second (each is retried with backoff, logged, and a Warning Event on its object).",
      unit: "ops",
      targets: [[`sum by (controller) (rate(controller_runtime_reconcile_errors_total${ctl()}[5m]))`, "{{controller}}"]]
    },
    {
      title: "Reconcile latency",
      description: "50th, 90th and 99th percentile of the time one reconcile takes.",
      unit: "s",
      targets: [0.5, 0.9, 0.99].map((q) => [
        `histogram_quantile(${q}, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket${ctl()}[5m])))`,
        `{{controller}} p${q * 100}`
      ] as const)
    },
    {
      title: "Workers",
      description: "Reconciles running now, against the most a controller runs at once.",
      unit: "short",
      targets: [
        [`sum by (controller) (controller_runtime_active_workers${ctl()})`, "{{controller}} active"],
        [`max by (controller) (controller_runtime_max_concurrent_reconciles${ctl()})`, "{{controller}} max"]
      ]
    }
  ]],
  ["Work queue", [
    {
      title: "Queue depth",
      description: "Keys waiting for a worker.",
      unit: "short",
      targets: [[`sum by (name) (workqueue_depth${ctl()})`, "{{name}}"]]
    },
    {
      title: "Queue latency",
      description: "How long a key waits in the queue before a worker takes it (99th and 50th percentile).",
      unit: "s",
      targets: [0.99, 0.5].map((q) => [
        `histogram_quantile(${q}, sum by (name, le) (rate(workqueue_queue_duration_seconds_bucket${ctl()}[5m])))`,
        `{{name}} p${q * 100}`
      ] as const)
    },
    {
      title: "Adds and retries",
      description: "Keys added, and keys requeued with backoff after a failure.",
      unit: "ops",
      targets: [
        [`sum by (name) (rate(workqueue_adds_total${ctl()}[5m]))`, "{{name}} adds"],
        [`sum by (name) (rate(workqueue_retries_total${ctl()}[5m]))`, "{{name}} retries"]
      ]
    },
    {
      title: "Stuck work",
      description: "Seconds of work in progress not yet finished, and the longest running reconcile.",
      unit: "s",
      targets: [
        [`sum by (name) (workqueue_unfinished_work_seconds${ctl()})`, "{{name}} unfinished"],
        [`max by (name) (workqueue_longest_running_processor_seconds${ctl()})`, "{{name}} longest"]
      ]
    }
  ]],
  ["Informers", [
    {
      title: "Synced",
      description: "1 once an informer completed its first list (readiness waits for all of them).",
      unit: "short",
      targets: [[`min by (group, kind) (operatorkit_informer_synced${sel()})`, "{{kind}}.{{group}}"]]
    },
    {
      title: "Relists and watch restarts",
      description: "Lists after 410 Gone, and watches started again; a steady stream means a watch that cannot keep up.",
      unit: "ops",
      targets: [
        [`sum by (group, kind) (rate(operatorkit_informer_relists_total${sel()}[5m]))`, "{{kind}}.{{group}} relists"],
        [`sum by (group, kind) (rate(operatorkit_informer_watch_restarts_total${sel()}[5m]))`, "{{kind}}.{{group}} watch restarts"]
      ]
    },
    {
      title: "Since the last event",
      description: "Seconds since an informer last completed a list or received a watch event (bookmarks included).",
      unit: "s",
      targets: [[`time() - max by (group, kind) (operatorkit_informer_last_sync_timestamp_seconds${sel()})`, "{{kind}}.{{group}}"]]
    },
    {
      title: "Cache size and errors",
      description: "Objects cached, and failed lists and watches.",
      unit: "short",
      targets: [
        [`max by (group, kind) (operatorkit_informer_cache_size${sel()})`, "{{kind}}.{{group}} cached"],
        [`sum by (group, kind) (rate(operatorkit_informer_errors_total${sel()}[5m]))`, "{{kind}}.{{group}} errors/s"]
      ]
    }
  ]],
  ["API client", [
    {
      title: "Requests by code",
      description: "Requests to the API server per second, by HTTP status code (<error>: no answer).",
      unit: "reqps",
      stack: true,
      targets: [[`sum by (code) (rate(rest_client_requests_total${sel()}[5m]))`, "{{code}}"]]
    },
    {
      title: "Requests by method",
      description: "Requests to the API server per second, by HTTP method.",
      unit: "reqps",
      targets: [[`sum by (method) (rate(rest_client_requests_total${sel()}[5m]))`, "{{method}}"]]
    },
    {
      title: "Request latency",
      description: "99th percentile of the time to an answer (a watch: to its first bytes), by verb.",
      unit: "s",
      targets: [[`histogram_quantile(0.99, sum by (verb, le) (rate(rest_client_request_duration_seconds_bucket${sel()}[5m])))`, "{{verb}}"]]
    },
    {
      title: "Client-side throttling",
      description: "99th percentile of the time requests waited for the Client's own rate limiter (its qps and burst), by verb; empty when the Client has none.",
      unit: "s",
      targets: [[`histogram_quantile(0.99, sum by (verb, le) (rate(rest_client_rate_limiter_duration_seconds_bucket${sel()}[5m])))`, "{{verb}}"]]
    }
  ]],
  ["Sharding", [
    {
      title: "Objects per shard",
      description: "Objects of each ring's kinds assigned to each shard, and those with no shard yet (reported by the replica that is the sharder).",
      unit: "short",
      stack: true,
      targets: [
        [`max by (ring, shard) (operatorkit_sharding_objects${sel()})`, "{{ring}} {{shard}}"],
        [`max by (ring) (operatorkit_sharding_unassigned_objects${sel()})`, "{{ring}} unassigned"]
      ]
    },
    {
      title: "Shards",
      description: "Live shards in each ring (their Lease held and current), objects drained and not yet acknowledged, and changes of the ring.",
      unit: "short",
      targets: [
        [`max by (ring) (operatorkit_sharding_live_shards${sel()})`, "{{ring}} live shards"],
        [`max by (ring) (operatorkit_sharding_draining_objects${sel()})`, "{{ring}} draining"],
        [`sum by (ring) (increase(operatorkit_sharding_ring_changes_total${sel()}[5m]))`, "{{ring}} ring changes (5m)"]
      ]
    },
    {
      title: "Shard Leases",
      description: "1 while a replica holds its shard Lease (it may reconcile); writes it refused because the Lease lapsed (a replica paused or cut off).",
      unit: "short",
      targets: [
        [`min by (ring, shard) (operatorkit_sharding_lease_held${sel()})`, "{{ring}} {{shard}} held"],
        [`sum by (ring, shard) (rate(operatorkit_sharding_fenced_writes_total${sel()}[5m]))`, "{{ring}} {{shard}} fenced writes/s"]
      ]
    }
  ]],
  ["Shard moves", [
    {
      title: "Moves",
      description: "Objects moved off each shard per second: rebalance (drained and acknowledged, when the ring changes) or gone (its Lease expired or was released).",
      unit: "ops",
      stack: true,
      targets: [[`sum by (ring, shard, reason) (rate(operatorkit_sharding_moves_total${sel()}[5m]))`, "{{ring}} off {{shard}} ({{reason}})"]]
    },
    {
      title: "Drain time",
      description: "From the sharder marking an object draining to its shard acknowledging (the reconcile in flight there finished): 50th and 99th percentile.",
      unit: "s",
      targets: [0.5, 0.99].map((q) => [
        `histogram_quantile(${q}, sum by (ring, le) (rate(operatorkit_sharding_drain_seconds_bucket${sel()}[5m])))`,
        `{{ring}} p${q * 100}`
      ] as const)
    }
  ]],
  ["Leadership and deletions", [
    {
      title: "Leader",
      description: "1 on the replica that leads each Lease, 0 on standbys.",
      unit: "short",
      targets: [[`max by (name, pod) (leader_election_master_status${sel()})`, "{{name}} {{pod}}"]]
    },
    {
      title: "Objects waiting for their finalizer",
      description: "Objects being deleted that still carry a controller's finalizer, and how long the oldest has waited.",
      unit: "short",
      targets: [
        [`max by (controller) (operatorkit_controller_finalizing_objects${ctl()})`, "{{controller}} objects"],
        [`max by (controller) (operatorkit_controller_oldest_finalizing_seconds${ctl()})`, "{{controller}} oldest (s)"]
      ]
    }
  ]]
]

export const dashboard = () => {
  const panels: Array<unknown> = []
  let id = 1
  let y = 0
  for (const [title, row] of rows) {
    panels.push({ id: id++, type: "row", title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] })
    y += 1
    row.forEach((panel, i) => {
      panels.push({
        id: id++,
        type: "timeseries",
        title: panel.title,
        description: panel.description,
        datasource: { type: "prometheus", uid: "${datasource}" },
        gridPos: { h: 8, w: 24 / row.length, x: (24 / row.length) * i, y },
        fieldConfig: {
          defaults: {
            unit: panel.unit,
            custom: { drawStyle: "line", lineWidth: 1, fillOpacity: panel.stack === true ? 30 : 10, stacking: { mode: panel.stack === true ? "normal" : "none" } }
          },
          overrides: []
        },
        options: { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } },
        targets: panel.targets.map(([expr, legendFormat], t) => ({
          datasource: { type: "prometheus", uid: "${datasource}" },
          expr,
          legendFormat,
          refId: String.fromCharCode(65 + t)
        }))
      })
    })
    y += 8
  }
  const variable = (name: string, query: string) => ({
    name,
    label: name,
    type: "query",
    datasource: { type: "prometheus", uid: "${datasource}" },
    query: { query, refId: name },
    definition: query,
    includeAll: true,
    multi: true,
    allValue: ".*",
    current: { selected: true, text: ["All"], value: ["$__all"] },
    refresh: 2,
    sort: 1
  })
  return {
    title: "operatorkit operator",
    uid: "operatorkit-operator",
    description: "An operatorkit operator: reconciles, work queues, informers, API client, shards, leadership (controller-runtime's metric names).",
    tags: ["kubernetes", "operator", "operatorkit"],
    timezone: "browser",
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: "30s",
    time: { from: "now-3h", to: "now" },
    templating: {
      list: [
        { name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: {}, hide: 0 },
        variable("job", "label_values(controller_runtime_reconcile_total, job)"),
        variable("namespace", `label_values(controller_runtime_reconcile_total{job=~"$job"}, namespace)`),
        variable("controller", `label_values(controller_runtime_reconcile_total{job=~"$job", namespace=~"$namespace"}, controller)`)
      ]
    },
    annotations: { list: [] },
    panels
  }
}

interface Alert {
  readonly alert: string
  readonly expr: string
  readonly for: string
  readonly severity: "warning" | "critical"
  readonly summary: string
  readonly description: string
}

export const alerts: ReadonlyArray<Alert> = [
  {
    alert: "OperatorReconcileErrorsRising",
    expr: "sum by (namespace, job, controller) (rate(controller_runtime_reconcile_errors_total[5m]))\n" +
      "  / sum by (namespace, job, controller) (rate(controller_runtime_reconcile_total[5m])) > 0.1",
    for: "15m",
    severity: "warning",
    summary: "More than 10% of the reconciles of {{ $labels.controller }} fail",
    description: "Controller {{ $labels.controller }} ({{ $labels.namespace }}/{{ $labels.job }}) failed {{ $value | humanizePercentage }} of its reconciles over 15 minutes. Failed objects carry a Warning Event (kubectl describe) and the operator's log says why."
  },
  {
    alert: "OperatorWorkQueueNotDraining",
    expr: "sum by (namespace, job, controller, name) (workqueue_depth) > 0\n" +
      "  and sum by (namespace, job, controller, name) (rate(workqueue_work_duration_seconds_count[10m])) == 0",
    for: "15m",
    severity: "warning",
    summary: "The work queue of {{ $labels.controller }} has keys but finishes none",
    description: "{{ $value }} keys wait in the work queue {{ $labels.name }} ({{ $labels.namespace }}/{{ $labels.job }}) and no reconcile finished in 10 minutes: no replica leads, or reconciles hang (see workqueue_longest_running_processor_seconds)."
  },
  {
    alert: "OperatorReconcileStuck",
    expr: "max by (namespace, job, controller, name) (workqueue_longest_running_processor_seconds) > 600",
    for: "5m",
    severity: "warning",
    summary: "A reconcile of {{ $labels.controller }} has run for over 10 minutes",
    description: "The longest running reconcile of {{ $labels.name }} ({{ $labels.namespace }}/{{ $labels.job }}) has run for {{ $value | humanizeDuration }}: give its Resources a timeout (Framework.timeout)."
  },
  {
    alert: "OperatorNoLeader",
    expr: "max by (namespace, job, name) (leader_election_master_status) < 1",
    for: "5m",
    severity: "critical",
    summary: "No replica leads {{ $labels.name }}",
    description: "No replica of {{ $labels.namespace }}/{{ $labels.job }} has led the Lease {{ $labels.name }} for 5 minutes, so nothing is reconciled: check the Lease (kubectl get lease {{ $labels.name }} -o yaml) and the replicas' logs."
  },
  {
    alert: "OperatorFinalizerStuck",
    expr: "max by (namespace, job, controller) (operatorkit_controller_oldest_finalizing_seconds) > 900",
    for: "5m",
    severity: "warning",
    summary: "An object deleted over 15 minutes ago still waits for the finalizer of {{ $labels.controller }}",
    description: "Controller {{ $labels.controller }} ({{ $labels.namespace }}/{{ $labels.job }}) has an object whose deletion has waited {{ $value | humanizeDuration }} for its cleanup (its ensureDeleted fails, or keeps the finalizer): the object's Events and the operator's log say why."
  },
  {
    alert: "OperatorWatchRelisting",
    expr: "sum by (namespace, job, group, kind) (increase(operatorkit_informer_relists_total[15m])) > 3",
    for: "15m",
    severity: "warning",
    summary: "The informer of {{ $labels.kind }} relists again and again",
    description: "The informer of {{ $labels.kind }}.{{ $labels.group }} ({{ $labels.namespace }}/{{ $labels.job }}) relisted {{ $value }} times in 15 minutes: its watch keeps expiring (410 Gone), so every relist reads the whole collection. Check the API server's watch cache and the operator's connection to it."
  },
  {
    alert: "OperatorShardObjectsUnassigned",
    expr: "max by (namespace, job, ring) (operatorkit_sharding_unassigned_objects) > 0",
    for: "10m",
    severity: "critical",
    summary: "Objects of ring {{ $labels.ring }} have no shard",
    description: "{{ $value }} objects of the ring {{ $labels.ring }} ({{ $labels.namespace }}/{{ $labels.job }}) have had no shard for 10 minutes, so no replica reconciles them: no replica holds a current shard Lease (operatorkit_sharding_live_shards), or the sharder cannot label them (a 403 or other failure in its log)."
  },
  {
    alert: "OperatorShardDrainStuck",
    expr: "max by (namespace, job, ring) (operatorkit_sharding_draining_objects) > 0\n" +
      "  unless sum by (namespace, job, ring) (rate(operatorkit_sharding_moves_total{reason=\"rebalance\"}[10m])) > 0",
    for: "15m",
    severity: "warning",
    summary: "Drains in ring {{ $labels.ring }} are not acknowledged",
    description: "{{ $value }} objects of the ring {{ $labels.ring }} ({{ $labels.namespace }}/{{ $labels.job }}) wait for their shard to let them go and none was acknowledged in 10 minutes: the old shard's reconcile of them hangs (see workqueue_longest_running_processor_seconds) or its acknowledgement fails (its log). Until then they are not reconciled by the new shard."
  },
  {
    alert: "OperatorShardLeaseLost",
    expr: "min by (namespace, job, ring, shard) (operatorkit_sharding_lease_held) < 1",
    for: "5m",
    severity: "warning",
    summary: "Replica {{ $labels.shard }} of ring {{ $labels.ring }} does not hold its shard Lease",
    description: "Shard {{ $labels.shard }} of {{ $labels.ring }} ({{ $labels.namespace }}/{{ $labels.job }}) has not held its shard Lease for 5 minutes, so it reconciles nothing and its objects moved to other shards: it cannot renew (the API server unreachable from it, or too slow) or another holder took the Lease (a duplicate shard id)."
  },
  {
    alert: "OperatorInformerNotSynced",
    expr: "min by (namespace, job, group, kind) (operatorkit_informer_synced) < 1",
    for: "10m",
    severity: "warning",
    summary: "The informer of {{ $labels.kind }} has not synced",
    description: "The informer of {{ $labels.kind }}.{{ $labels.group }} ({{ $labels.namespace }}/{{ $labels.job }}) has not completed its first list in 10 minutes (the replica is not ready): RBAC (a 403 in the log) or the CRD is missing."
  }
]

export const alertsYaml = () => {
  const indent = (text: string, by: string) => text.split("\n").map((l) => `${by}${l}`).join("\n")
  const rules = alerts.map((a) =>
    [
      `  - alert: ${a.alert}`,
      `    expr: |`,
      indent(a.expr, "      "),
      `    for: ${a.for}`,
      `    labels:`,
      `      severity: ${a.severity}`,
      `    annotations:`,
      `      summary: ${JSON.stringify(a.summary)}`,
      `      description: ${JSON.stringify(a.description)}`
    ].join("\n")
  ).join("\n")
  return [
    "# Alerts for operatorkit operators (controller-runtime's metric names), as a Prometheus rule file.",
    "# With the Prometheus Operator, put the groups under the spec of a PrometheusRule.",
    "# Generated by scripts/observability.ts; checked against a running operator's /metrics by",
    "# test/integration/Observability.test.ts.",
    "groups:",
    "- name: operatorkit",
    "  rules:",
    rules,
    ""
  ].join("\n")
}

export const dashboardJson = () => JSON.stringify(dashboard(), null, 2) + "\n"

if (import.meta.main) {
  Fs.mkdirSync(Path.dirname(dashboardFile), { recursive: true })
  Fs.writeFileSync(dashboardFile, dashboardJson())
  Fs.writeFileSync(alertsFile, alertsYaml())
  process.stdout.write(`wrote ${Path.relative(root, dashboardFile)} and ${Path.relative(root, alertsFile)}\n`)
}
