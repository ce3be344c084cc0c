/**
 * The Grafana dashboard and the Prometheus alerts of observability/ against a running operator: the
 * Tenant operator (leader election, Events, a finalizer, owned objects) on kube-apiserver 1.20.2,
 * with its `/metrics` scraped over HTTP. Every metric and every label the dashboard's queries and
 * the alerts' expressions name must be in that exposition (Prometheus's own target labels aside),
 * read with Prometheus's PromQL grammar; and the files must be what scripts/observability.ts writes.
 */
import * as Fs from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as Health from "../../src/Health.ts"
import * as Metrics from "../../src/Metrics.ts"
import { eventually } from "../../src/testing/helpers.ts"
import * as TenantOperator from "../../examples/tenant/operator.ts"
import { samples } from "../../examples/tenant/samples.ts"
import { Tenant, TenantCrd } from "../../examples/tenant/Tenant.ts"
import { alerts, alertsFile, alertsYaml, dashboard, dashboardFile, dashboardJson } from "../../scripts/observability.ts"
import { cluster } from "../support/cluster.ts"
import { exported, references, unexported } from "../support/promql.ts"

layer(cluster(), { excludeTestServices: true })("observability/ on a running operator (kube-apiserver 1.20.2)", (it) => {
  it.effect("every metric and label the dashboard and the alerts name is exported; the files are the script's", () =>
    Effect.gen(function*() {
      assert.strictEqual(Fs.readFileSync(dashboardFile, "utf8"), dashboardJson(), "observability/grafana-dashboard.json is stale: node scripts/observability.ts")
      assert.strictEqual(Fs.readFileSync(alertsFile, "utf8"), alertsYaml(), "observability/prometheus-alerts.yaml is stale: node scripts/observability.ts")

      yield* (yield* Crd.Crd).ensureCreated(TenantCrd)
      const admin = yield* Client.Client
      const running = yield* TenantOperator.start({ leaderElection: { namespace: "default", identity: "pod-a" } })
      yield* running.controller.synced
      yield* admin.create(Tenant, { ...samples[0]!, metadata: { name: "observed" } })
      yield* eventually(Effect.map(admin.get(Tenant, { name: "observed" }), (t) => assert.isTrue(TenantOperator.isReady(t))))
      const server = yield* Health.make({ port: 0, host: "127.0.0.1" })
      const body = yield* Effect.promise(() => fetch(`${server.url}/metrics`).then((r) => r.text()))
      const series = exported(body)

      const expressions: Array<{ readonly where: string; readonly expr: string }> = [
        ...(dashboard().panels as ReadonlyArray<{ title: string; targets?: ReadonlyArray<{ expr: string }> }>)
          .flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr.replaceAll(/\$\w+/g, ".*") }))),
        ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr }))
      ]
      assert.isAtLeast(expressions.length, 20)
      const problems = expressions.flatMap(({ where, expr }) => references(expr).flatMap((r) => unexported(r, series).map((p) => `${where}: ${p}`)))
      assert.deepStrictEqual(problems, [])
      // what the issue asks the dashboard and the alerts to cover
      const named = new Set(expressions.flatMap(({ expr }) => references(expr).flatMap((r) => r.metrics)))
      for (const metric of [
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_errors_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_depth",
        "workqueue_retries_total",
        "workqueue_queue_duration_seconds_bucket",
        "operatorkit_informer_synced",
        "operatorkit_informer_relists_total",
        "rest_client_requests_total",
        "leader_election_master_status",
        "operatorkit_controller_oldest_finalizing_seconds"
      ]) assert.isTrue(named.has(metric), metric)

      // the check is not vacuous: a wrong name and a wrong label are found
      assert.isNotEmpty(references("rate(controller_runtime_reconcile_totl[5m])").flatMap((r) => unexported(r, series)))
      assert.isNotEmpty(references("sum by (kontroller) (controller_runtime_reconcile_total)").flatMap((r) => unexported(r, series)))
      yield* admin.delete(Tenant, { name: "observed" }).pipe(Effect.ignore)
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Metrics.layer(), Crd.layer), { local: true })))
})
