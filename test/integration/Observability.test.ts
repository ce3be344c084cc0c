/**
 * The Grafana dashboard and the Prometheus alerts of observability/ against running operators: the
 * Tenant operator (Events, a finalizer, owned objects) on kube-apiserver 1.20.2, first with leader
 * election, then sharded over two replicas (in this process, one joining after the other, so
 * objects move) with a rate-limited Client; each with its `/metrics` scraped over HTTP. Every
 * metric and every label the dashboard's queries and the alerts' expressions name must be in what
 * one of them exports (Prometheus's own target labels aside), read with Prometheus's PromQL
 * grammar; and the files must be what scripts/observability.ts writes.
 */
import * as Fs from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as Events from "../../src/Events.ts"
import * as Health from "../../src/Health.ts"
import { hashKey } from "../../src/internal/sharding/sharder.ts"
import * as Ring from "../../src/internal/sharding/ring.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Sharding from "../../src/Sharding.ts"
import { eventually } from "../../src/testing/helpers.ts"
import * as TenantOperator from "../../examples/tenant/operator.ts"
import { controllerName } from "../../examples/tenant/resources.ts"
import { samples } from "../../examples/tenant/samples.ts"
import { Tenant, TenantCrd } from "../../examples/tenant/Tenant.ts"
import { alerts, alertsFile, alertsYaml, dashboard, dashboardFile, dashboardJson } from "../../scripts/observability.ts"
import { cluster } from "../support/cluster.ts"
import { exported, references, unexported } from "../support/promql.ts"

const RING = "tenants"
const SHARDED = "observability.operatorkit.test/sharded=true"

/** The series the operators in this process export now. */
const scrape = Effect.gen(function*() {
  const server = yield* Health.make({ port: 0, host: "127.0.0.1" })
  return exported(yield* Effect.promise(() => fetch(`${server.url}/metrics`).then((r) => r.text())))
}).pipe(Effect.scoped)

layer(cluster(), { excludeTestServices: true })("observability/ on running operators (kube-apiserver 1.20.2)", (it) => {
  it.effect("every metric and label the dashboard and the alerts name is exported by the Tenant operator, leader-elected or sharded; the files are the script's", () =>
    Effect.gen(function*() {
      assert.strictEqual(Fs.readFileSync(dashboardFile, "utf8"), dashboardJson(), "observability/grafana-dashboard.json is stale: node scripts/observability.ts")
      assert.strictEqual(Fs.readFileSync(alertsFile, "utf8"), alertsYaml(), "observability/prometheus-alerts.yaml is stale: node scripts/observability.ts")

      yield* (yield* Crd.Crd).ensureCreated(TenantCrd)
      const admin = yield* Client.Client
      const ready = (name: string) => eventually(Effect.map(admin.get(Tenant, { name }), (t) => assert.isTrue(TenantOperator.isReady(t), `${name} ready`)), { timeout: "60 seconds" })

      // one replica, leader-elected
      const elected = yield* Effect.scoped(Effect.gen(function*() {
        const running = yield* TenantOperator.start({ leaderElection: { namespace: "default", identity: "pod-a" } })
        yield* running.controller.synced
        yield* admin.create(Tenant, { ...samples[0]!, metadata: { name: "observed" } })
        yield* ready("observed")
        const series = yield* scrape
        yield* admin.delete(Tenant, { name: "observed" }).pipe(Effect.ignore)
        return series
      }))

      // sharded: r0 takes every Tenant, then r1 joins and the sharder drains some to it
      const names = Sharding.names(Tenant.group, RING)
      const twoShards = Ring.make(["r0", "r1"])
      const candidates = Array.from({ length: 20 }, (_, i) => `sharded-${i}`)
      const shardOf = (name: string) => Ring.lookup(twoShards, hashKey(Tenant, { metadata: { name } }))
      const tenants = [...candidates.filter((n) => shardOf(n) === "r0").slice(0, 1), ...candidates.filter((n) => shardOf(n) === "r1").slice(0, 2)]
      const config = yield* KubeConfig.KubeConfig
      const replica = (id: string) =>
        Effect.gen(function*() {
          const events = yield* Events.make({ component: controllerName, host: id })
          const shard = yield* Sharding.make({ name: RING, namespace: "default", kinds: [{ kind: Tenant, labelSelector: SHARDED }], id })
          yield* TenantOperator.controller({ labelSelector: SHARDED }).pipe(Effect.provideService(Sharding.Shard, shard), Effect.provideService(Events.Recorder, events))
        }).pipe(
          // each replica its own Client, rate-limited (client-go's QPS and Burst)
          Effect.provideServiceEffect(Client.Client, Client.make(config, { qps: 50, burst: 100 }))
        )
      const on = (placed: (name: string) => string | undefined) =>
        eventually(
          Effect.forEach(tenants, (name) =>
            Effect.map(admin.get(Tenant, { name }), (t) => {
              assert.strictEqual(t.metadata.labels?.[names.shardLabel], placed(name), `${name} on ${placed(name)}`)
              assert.isUndefined(t.metadata.labels?.[names.drainLabel], `${name} not draining`)
            })),
          { timeout: "60 seconds" }
        )
      const sharded = yield* Effect.scoped(Effect.gen(function*() {
        yield* replica("r0")
        for (const name of tenants) {
          yield* admin.create(Tenant, { ...samples[1]!, metadata: { name, labels: { [SHARDED.split("=")[0]!]: "true" } } })
        }
        yield* on(() => "r0")
        yield* Effect.forEach(tenants, ready, { discard: true })
        yield* replica("r1")
        yield* on(shardOf)
        // the sharder counts the moves once it has labelled them for r1
        return yield* eventually(Effect.map(scrape, (series) => {
          assert.isTrue(series.has("operatorkit_sharding_drain_seconds_bucket"), "a drain measured")
          return series
        }))
      }))
      yield* Effect.forEach(tenants, (name) => admin.delete(Tenant, { name }).pipe(Effect.ignore), { discard: true })

      const series = new Map<string, Set<string>>()
      for (const scraped of [elected, sharded]) {
        for (const [name, labels] of scraped) series.set(name, new Set([...(series.get(name) ?? []), ...labels]))
      }
      const expressions: Array<{ readonly where: string; readonly expr: string }> = [
        ...(dashboard().panels as ReadonlyArray<{ title: string; targets?: ReadonlyArray<{ expr: string }> }>)
          .flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr.replaceAll(/\$\w+/g, ".*") }))),
        ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr }))
      ]
      assert.isAtLeast(expressions.length, 30)
      const problems = expressions.flatMap(({ where, expr }) => references(expr).flatMap((r) => unexported(r, series).map((p) => `${where}: ${p}`)))
      assert.deepStrictEqual(problems, [])
      // what the issues ask the dashboard and the alerts to cover
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
        "rest_client_rate_limiter_duration_seconds_bucket",
        "leader_election_master_status",
        "operatorkit_controller_oldest_finalizing_seconds",
        "operatorkit_sharding_objects",
        "operatorkit_sharding_unassigned_objects",
        "operatorkit_sharding_live_shards",
        "operatorkit_sharding_moves_total",
        "operatorkit_sharding_drain_seconds_bucket",
        "operatorkit_sharding_lease_held"
      ]) assert.isTrue(named.has(metric), metric)

      // the check is not vacuous: a wrong name and a wrong label are found, and the shard panels
      // name what only the sharded operator exports
      assert.isNotEmpty(references("rate(controller_runtime_reconcile_totl[5m])").flatMap((r) => unexported(r, series)))
      assert.isNotEmpty(references("sum by (kontroller) (controller_runtime_reconcile_total)").flatMap((r) => unexported(r, series)))
      assert.isFalse(elected.has("operatorkit_sharding_moves_total"))
      assert.isFalse(elected.has("operatorkit_sharding_objects"))
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Metrics.layer(), Crd.layer), { local: true })))
})
