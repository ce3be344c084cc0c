/**
 * The live summary `npm start` shows: what the operator manages and how it is doing, read from its
 * informers' Stores, its controller's stats, its elector and the reconcile-time histogram. On a
 * terminal it is a block redrawn in place (log lines scroll above it); in a plain log it is one
 * line whenever the figures change.
 */
import { Effect, Metric, Option } from "effect"
import { Controller, Informer, Kind, LeaderElection, Status } from "operatorkit"
import { controllerName, managedBy } from "./resources.ts"
import type { Tenant } from "./Tenant.ts"

export interface Figures {
  readonly tenants: { readonly total: number; readonly ready: number; readonly failing: number; readonly deleting: number }
  readonly owned: { readonly namespaces: number; readonly quotas: number; readonly bindings: number; readonly configMaps: number }
  readonly reconciles: number
  readonly errors: number
  readonly queue: number
  readonly inFlight: number
  /** Of `controller_runtime_reconcile_time_seconds`, in milliseconds. */
  readonly latency: { readonly count: number; readonly mean: number; readonly p95AtMost: number | undefined; readonly max: number } | undefined
  /** undefined without leader election. */
  readonly leadership: { readonly leading: boolean; readonly holder: string | undefined; readonly lease: string } | undefined
  /** Every Tenant Ready for its current spec, and nothing queued or running. */
  readonly converged: boolean
}

/** Reads the figures of a running operator; the owned objects come from the shared informers the controller uses. */
export const makeReader = (running: {
  readonly controller: Controller.Controller<Tenant>
  readonly elector: LeaderElection.Elector | undefined
}) =>
  Effect.gen(function*() {
    const informers = yield* Informer.Informers
    // the same options as the controller's watches, so these are its informers, not new ones
    const namespaces = yield* informers.get(Kind.Namespace, {})
    const quotas = yield* informers.get(Kind.ResourceQuota, { labelSelector: managedBy })
    const bindings = yield* informers.get(Kind.RoleBinding, { labelSelector: managedBy })
    const configMaps = yield* informers.get(Kind.ConfigMap, { labelSelector: managedBy })
    const count = (informer: Informer.Informer<any>) => Effect.map(informer.stats, (s) => s.storeSize)

    return Effect.gen(function*() {
      const tenants = yield* running.controller.informer.store.list()
      const stats = yield* running.controller.stats
      const ready = tenants.filter((t) => Status.isTrue(t.status?.conditions, "Ready", t.metadata.generation)).length
      const deleting = tenants.filter((t) => t.metadata.deletionTimestamp !== undefined).length
      const failing = tenants.filter((t) =>
        t.metadata.deletionTimestamp === undefined &&
        Option.match(Status.getCondition(t.status?.conditions, "Ready"), { onNone: () => false, onSome: (c) => c.status === "False" })
      ).length
      const ownedNamespaces = (yield* namespaces.store.list()).filter((ns) =>
        ns.metadata.labels?.["app.kubernetes.io/managed-by"] === controllerName
      ).length
      const elector = running.elector === undefined ? undefined : yield* running.elector.stats
      return {
        tenants: { total: tenants.length, ready, failing, deleting },
        owned: {
          namespaces: ownedNamespaces,
          quotas: yield* count(quotas),
          bindings: yield* count(bindings),
          configMaps: yield* count(configMaps)
        },
        reconciles: stats.reconciles,
        errors: stats.errors,
        queue: stats.queue.depth + stats.queue.delayed,
        inFlight: stats.queue.processing,
        latency: latencyOf(yield* Metric.snapshot),
        leadership: elector === undefined
          ? undefined
          : { leading: elector.leading, holder: elector.holder, lease: `${elector.namespace}/${elector.name}` },
        converged: tenants.length > 0 && ready === tenants.length && stats.queue.depth === 0 && stats.queue.processing === 0
      } satisfies Figures
    })
  })

const latencyOf = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>): Figures["latency"] => {
  const snapshot = snapshots.find((s) =>
    s.id === "controller_runtime_reconcile_time_seconds" && s.type === "Histogram" &&
    (s.attributes as Record<string, string> | undefined)?.["controller"] === controllerName
  )
  if (snapshot === undefined || snapshot.type !== "Histogram" || snapshot.state.count === 0) return undefined
  const { buckets, count, max, sum } = snapshot.state
  // buckets hold cumulative counts per upper bound: the first bound holding 95% bounds the p95
  const p95 = buckets.find(([, n]) => n >= 0.95 * count)?.[0]
  return { count, mean: (sum / count) * 1000, p95AtMost: p95 === undefined ? undefined : p95 * 1000, max: max * 1000 }
}

const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ms`)

const latencyText = (f: Figures) =>
  f.latency === undefined
    ? "latency n/a"
    : `latency mean ${ms(f.latency.mean)}, p95 ≤ ${f.latency.p95AtMost === undefined ? "60 s+" : ms(f.latency.p95AtMost)}, max ${ms(f.latency.max)}`

const leadershipText = (f: Figures) =>
  f.leadership === undefined
    ? "leading (no election)"
    : f.leadership.leading
    ? `leading (Lease ${f.leadership.lease})`
    : `standing by: ${f.leadership.holder === undefined || f.leadership.holder === "" ? "no leader yet" : `${f.leadership.holder} leads`}`

/** One line, for logs. */
export const line = (f: Figures) =>
  [
    `tenants ${f.tenants.total} (ready ${f.tenants.ready}, failing ${f.tenants.failing}, deleting ${f.tenants.deleting})`,
    `owned ${f.owned.namespaces} namespaces, ${f.owned.quotas} quotas, ${f.owned.bindings} role bindings, ${f.owned.configMaps} config maps`,
    `reconciles ${f.reconciles}, errors ${f.errors}, queued ${f.queue}`,
    latencyText(f),
    leadershipText(f)
  ].join(" · ")

/** The block for a terminal. */
export const block = (f: Figures, convergedAfter: number | undefined) => [
  `  tenants      ${f.tenants.total} · ready ${f.tenants.ready} · failing ${f.tenants.failing} · deleting ${f.tenants.deleting}`,
  `  owned        ${f.owned.namespaces} namespaces · ${f.owned.quotas} quotas · ${f.owned.bindings} role bindings · ${f.owned.configMaps} config maps`,
  `  reconciles   ${f.reconciles} · errors ${f.errors} · queued ${f.queue} · running ${f.inFlight}`,
  `  ${latencyText(f).replace(/^latency /, "latency      ")}`,
  `  state        ${f.converged ? "converged" : "converging…"}${convergedAfter !== undefined ? ` (first in ${ms(convergedAfter)})` : ""} · ${leadershipText(f)}`
]

/** What changed since the last plain line (figures that always move are left out). */
export const fingerprint = (f: Figures) =>
  JSON.stringify([f.tenants, f.owned, f.reconciles, f.errors, f.queue, f.leadership?.leading, f.converged])

/**
 * Writes to a stream: `log` puts a line above the live block (or just writes it), `show` redraws
 * the block on a terminal; `done` leaves the last block on screen.
 */
export const makeRenderer = (out: NodeJS.WriteStream, tty: boolean) => {
  let drawn = 0
  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}F\x1b[J`)
    drawn = 0
  }
  let last: ReadonlyArray<string> = []
  return {
    tty,
    log: (text: string) => {
      if (!tty) return void out.write(`${text}\n`)
      clear()
      out.write(`${text}\n`)
      if (last.length > 0) {
        out.write(`${last.join("\n")}\n`)
        drawn = last.length
      }
    },
    show: (lines: ReadonlyArray<string>) => {
      if (!tty) return
      clear()
      last = lines
      out.write(`${lines.join("\n")}\n`)
      drawn = lines.length
    },
    done: () => {
      drawn = 0
      last = []
    }
  }
}
