/**
 * Operating an operator on a real kube-apiserver: /metrics after a run, Warning Events for a
 * failing resource, and the trace of one reconcile.
 */
import { assert, layer } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Events from "../../src/Events.ts"
import * as Framework from "../../src/Framework.ts"
import * as Health from "../../src/Health.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Patch from "../../src/Patch.ts"
import * as Tracing from "../../src/Tracing.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { parse, valueOf } from "../support/promText.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
type Deployment = Kind.Type<typeof Kind.Deployment>

layer(cluster(), { excludeTestServices: true })("Operations on kube-apiserver 1.20.2", (it) => {
  it.effect("/metrics after a run shows plausible reconcile and workqueue series and parses strictly", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace("metrics")
      const failedOnce = new Set<string>()
      const work = Framework.make<ConfigMap>()({
        name: "work",
        ensureCreated: (cm) =>
          Effect.gen(function*() {
            // a real call per reconcile, so durations are real
            yield* client.get(Kind.ConfigMap, { namespace: ns, name: cm.metadata.name })
            if (cm.metadata.name === "cm-0" && !failedOnce.has("cm-0")) {
              failedOnce.add("cm-0")
              return yield* Effect.fail(new Error("first attempt fails"))
            }
          }),
        ensureDeleted: () => Effect.void
      }).pipe(Framework.withMetrics)
      const elector = yield* LeaderElection.make({ name: "metrics-operator", namespace: ns })
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: `metrics-${ns}`, kind: Kind.ConfigMap, namespace: ns, resources: [work] }).pipe(
        Effect.provideService(LeaderElection.Leadership, elector)
      )
      const metrics = yield* Metrics.make()
      const endpoints = yield* Health.make({ port: 0, host: "127.0.0.1" }).pipe(Effect.provideService(Metrics.Metrics, metrics))
      yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => `cm-${i}`), (name) => client.create(Kind.ConfigMap, { metadata: { name, namespace: ns } }), {
        concurrency: 5,
        discard: true
      })
      yield* eventually(Effect.map(controller.stats, (s) => {
        assert.strictEqual(s.reconciles - s.errors, 10)
        assert.strictEqual(s.queue.depth + s.queue.processing + s.queue.delayed, 0)
      }))

      const res = yield* Effect.promise(async () => {
        const r = await fetch(`${endpoints.url}/metrics`)
        return { status: r.status, type: r.headers.get("content-type"), body: await r.text() }
      })
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.type, "text/plain; version=0.0.4; charset=utf-8")
      const families = parse(res.body) // throws on anything Prometheus would refuse

      const c = { controller: `metrics-${ns}` }
      const q = { name: `metrics-${ns}`, controller: `metrics-${ns}` }
      const success = valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "success" })
      assert.strictEqual(success, 10)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "error" }), 1)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_errors_total", c), 1)
      const count = valueOf(families, "controller_runtime_reconcile_time_seconds", c, "controller_runtime_reconcile_time_seconds_count")
      const sum = valueOf(families, "controller_runtime_reconcile_time_seconds", c, "controller_runtime_reconcile_time_seconds_sum")
      assert.strictEqual(count, 11)
      assert.isAbove(sum, 0, "reconciles with an API call take time")
      assert.isBelow(sum / count, 1, "a get and a patch take well under a second")
      assert.strictEqual(valueOf(families, "controller_runtime_max_concurrent_reconciles", c), 4)
      assert.strictEqual(valueOf(families, "controller_runtime_active_workers", c), 0)

      assert.strictEqual(valueOf(families, "workqueue_depth", q), 0)
      assert.isAtLeast(valueOf(families, "workqueue_adds_total", q), 11, "ten objects and one retry")
      assert.strictEqual(valueOf(families, "workqueue_retries_total", q), 1)
      const queued = valueOf(families, "workqueue_queue_duration_seconds", q, "workqueue_queue_duration_seconds_count")
      assert.isAtLeast(queued, 11)
      assert.strictEqual(valueOf(families, "workqueue_work_duration_seconds", q, "workqueue_work_duration_seconds_count"), 11)
      const workSum = valueOf(families, "workqueue_work_duration_seconds", q, "workqueue_work_duration_seconds_sum")
      assert.isAtLeast(workSum, sum * 0.9, "work time covers the reconcile time")
      assert.isBelow(valueOf(families, "workqueue_queue_duration_seconds", q, "workqueue_queue_duration_seconds_sum") / queued, 5)
      assert.strictEqual(valueOf(families, "workqueue_unfinished_work_seconds", q), 0)
      assert.strictEqual(valueOf(families, "workqueue_longest_running_processor_seconds", q), 0)
      assert.strictEqual(valueOf(families, "leader_election_master_status", { name: "metrics-operator" }), 1)

      const op = { resource: "work", operation: "ensureCreated" }
      assert.isAtLeast(valueOf(families, "operatorkit_controller_operation_total", op), 11)
      assert.isAtLeast(valueOf(families, "operatorkit_controller_operation_errors_total", op), 1)
      assert.isAtLeast(valueOf(families, "operatorkit_informer_cache_size", { group: "", kind: "ConfigMap" }), 10)
    }), 60_000)

  it.effect("a failing resource produces a Warning Event on its object, aggregated on repeats", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace("events")
      const recorder = yield* Events.make({ component: "ignored-default" })
      const failing = Framework.make<ConfigMap>()({
        name: "quota",
        ensureCreated: (cm) => Effect.fail(new Error(`tenant ${cm.metadata.name} exceeds its quota of 10 namespaces`)),
        ensureDeleted: () => Effect.void
      })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "tenants", kind: Kind.ConfigMap, namespace: ns, resources: [failing], workQueue: { baseDelay: "100 millis" } }).pipe(
        Effect.provideService(Events.Recorder, recorder)
      )
      const cm = yield* client.create(Kind.ConfigMap, { metadata: { name: "tenant-a", namespace: ns } })
      const eventsOf = Effect.map(
        client.list(Kind.Event, { namespace: ns, fieldSelector: `involvedObject.name=${cm.metadata.name}` }),
        (list) => list.items
      )
      yield* eventually(Effect.gen(function*() {
        const events = yield* eventsOf
        assert.strictEqual(events.length, 1, "one Event, however often it happened")
        assert.isAtLeast(events[0]!.count ?? 0, 3)
      }), { timeout: "20 seconds" })
      const [event] = yield* eventsOf
      assert.strictEqual(event!.type, "Warning")
      assert.strictEqual(event!.reason, "ReconcileError")
      assert.strictEqual(event!.message, "tenant tenant-a exceeds its quota of 10 namespaces")
      assert.strictEqual(event!.source?.component, "tenants")
      assert.strictEqual(event!.involvedObject.kind, "ConfigMap")
      assert.strictEqual(event!.involvedObject.uid, cm.metadata.uid)
      assert.isAbove(Date.parse(event!.lastTimestamp!), Date.parse(event!.firstTimestamp!) - 1, "lastTimestamp moves on")
      const stats = yield* recorder.stats
      assert.strictEqual(stats.created, 1)
      assert.isAtLeast(stats.aggregated, 2)
      assert.strictEqual(stats.failed, 0)
    }), 60_000)

  it.effect("the trace of one reconcile: a root span linked to its watch event, resource steps and API calls below it", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const spans = () => exporter.getFinishedSpans()
      yield* Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace("trace")
        const reader = Framework.make<Deployment>()({
          name: "reader",
          ensureCreated: (d) => Effect.asVoid(client.get(Kind.Deployment, { namespace: ns, name: d.metadata.name })),
          ensureDeleted: () => Effect.void
        }).pipe(Framework.withTracing)
        const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "traced", kind: Kind.Deployment, namespace: ns, resources: [reader] }).pipe(
          Effect.withSpan("app")
        )
        yield* controller.synced
        yield* Effect.sleep("100 millis")
        const created = yield* client.create(Kind.Deployment, {
          metadata: { name: "web", namespace: ns },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "web" } },
            template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } }
          }
        })
        const reconciled = (list: ReadonlyArray<ReadableSpan>) =>
          list.find((s) => s.name === "Controller.reconcile" && s.attributes["k8s.namespace"] === ns && s.attributes["operatorkit.result"] !== undefined)
        yield* eventually(Effect.sync(() => assert.isDefined(reconciled(spans()))))
        const all = spans()
        const reconcile = reconciled(all)!
        const childrenOf = (parent: ReadableSpan) =>
          all.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId).sort((x, y) =>
            x.startTime[0] - y.startTime[0] || x.startTime[1] - y.startTime[1]
          )

        assert.isUndefined(reconcile.parentSpanContext, "its own trace")
        assert.deepStrictEqual(reconcile.attributes, {
          "operatorkit.controller": "traced",
          "k8s.kind": "Deployment",
          "k8s.namespace": ns,
          "k8s.name": "web",
          "k8s.resource_version": created.metadata.resourceVersion!,
          "k8s.generation": 1,
          "operatorkit.mode": "create",
          "operatorkit.result": "success"
        })
        const event = all.find((s) => s.spanContext().spanId === reconcile.links[0]?.context.spanId)
        assert.strictEqual(reconcile.links.length, 1)
        assert.strictEqual(event?.name, "Controller.watchEvent")
        assert.strictEqual(event!.attributes["operatorkit.event"], "Added")
        assert.strictEqual(event!.attributes["k8s.resource_version"], created.metadata.resourceVersion)

        const children = childrenOf(reconcile)
        assert.deepStrictEqual(children.map((s) => s.name), ["Client.get", "Client.patch", "resource.reader.ensureCreated"])
        const [read, finalizer, step] = children
        assert.strictEqual(read!.attributes["k8s.name"], "web")
        assert.strictEqual(finalizer!.attributes["k8s.kind"], "Deployment")
        assert.strictEqual(step!.attributes["operatorkit.step"], "ensureCreated")
        assert.strictEqual(step!.attributes["k8s.generation"], 1)
        assert.deepStrictEqual(childrenOf(step!).map((s) => s.name), ["Client.get"])
        for (const s of [reconcile, ...children, ...childrenOf(step!)]) assert.strictEqual(s.spanContext().traceId, reconcile.spanContext().traceId)

        // a spec change: the next reconcile links to its Updated event and sees generation 2
        exporter.reset()
        const updated = yield* client.patch(Kind.Deployment, { namespace: ns, name: "web" }, Patch.merge({ spec: { replicas: 2 } }))
        yield* eventually(Effect.sync(() => assert.isDefined(reconciled(spans()))))
        const again = reconciled(spans())!
        const cause = spans().find((s) => s.spanContext().spanId === again.links[0]?.context.spanId)
        assert.strictEqual(cause?.attributes["operatorkit.event"], "Updated")
        assert.strictEqual(again.attributes["k8s.resource_version"], updated.metadata.resourceVersion)
        assert.strictEqual(again.attributes["k8s.generation"], 2)
      }).pipe(Effect.provide(Tracing.layer({ serviceName: "operatorkit-test", exporter, processor: "simple" }), { local: true }))
    }), 60_000)
})
