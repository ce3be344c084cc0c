import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { TestClock } from "effect/testing"
import * as PromClient from "prom-client"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Metrics from "../../src/Metrics.ts"
import { isolated } from "../support/isolated.ts"
import { parse, valueOf } from "../support/promText.ts"
import { instrument, rateLimitOf } from "../../src/internal/http/clientMetrics.ts"
import * as HttpClient from "../../src/internal/http/client.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { HttpStatus, type Transport } from "../../src/internal/http/transport.ts"
import { Fiber, Option, Stream } from "effect"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>


const until = (check: Effect.Effect<boolean>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400; i++) {
      if (yield* check) return
      yield* Effect.yieldNow
      yield* TestClock.adjust("5 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

const scrape = Effect.gen(function*() {
  const metrics = yield* Metrics.Metrics
  const { body, contentType } = yield* metrics.scrape
  return { families: parse(body), body, contentType }
})

/** A resource that fails its first call for objects named `fail-once`. */
const flaky = () => {
  let failed = false
  return Framework.make<ConfigMap>()({
    name: "flaky",
    ensureCreated: (cm) =>
      Effect.suspend(() => {
        if (cm.metadata.name === "fail-once" && !failed) {
          failed = true
          return Effect.fail(new Error("once"))
        }
        return Effect.void
      }),
    ensureDeleted: () => Effect.void
  }).pipe(Framework.withMetrics)
}

describe("Metrics (prom-client Registry, bridged at scrape time)", () => {
  it.effect("after a run: reconcile, workqueue, operation, informer and leader series under controller-runtime's names, strictly valid", () =>
    isolated(Effect.gen(function*() {
      const client = yield* Client.Client
      const elector = yield* LeaderElection.make({ name: "demo-lease", namespace: "default", identity: "me" })
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "demo", kind: Kind.ConfigMap, namespace: "default", resources: [flaky()], concurrency: 3 }).pipe(
        Effect.provideService(LeaderElection.Leadership, elector)
      )
      yield* controller.synced
      yield* client.create(Kind.ConfigMap, { metadata: { name: "ok", namespace: "default" } })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "fail-once", namespace: "default" } })
      yield* until(Effect.map(controller.stats, (s) => s.reconciles === 3 && s.activeWorkers === 0 && s.queue.depth === 0), "3 reconciles")
      const { families, contentType } = yield* scrape.pipe(Effect.provide(Metrics.layer(), { local: true }))
      assert.strictEqual(contentType, "text/plain; version=0.0.4; charset=utf-8")

      const c = { controller: "demo" }
      const q = { name: "demo", controller: "demo" }
      assert.strictEqual(families.get("controller_runtime_reconcile_total")!.type, "counter")
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "success" }), 2)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "error" }), 1)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "requeue" }), 0)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { ...c, result: "requeue_after" }), 0)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_errors_total", c), 1)
      assert.strictEqual(families.get("controller_runtime_reconcile_time_seconds")!.type, "histogram")
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_time_seconds", c, "controller_runtime_reconcile_time_seconds_count"), 3)
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_time_seconds", { ...c, le: "0.005" }, "controller_runtime_reconcile_time_seconds_bucket"), 3)
      assert.strictEqual(valueOf(families, "controller_runtime_max_concurrent_reconciles", c), 3)
      assert.strictEqual(valueOf(families, "controller_runtime_active_workers", c), 0)

      assert.strictEqual(valueOf(families, "workqueue_depth", q), 0)
      assert.strictEqual(valueOf(families, "workqueue_adds_total", q), 3, "two objects and one retry")
      assert.strictEqual(valueOf(families, "workqueue_retries_total", q), 1)
      assert.strictEqual(valueOf(families, "workqueue_queue_duration_seconds", q, "workqueue_queue_duration_seconds_count"), 3)
      assert.strictEqual(valueOf(families, "workqueue_work_duration_seconds", q, "workqueue_work_duration_seconds_count"), 3)
      assert.strictEqual(valueOf(families, "workqueue_work_duration_seconds", { ...q, le: "1e-8" }, "workqueue_work_duration_seconds_bucket"), 3)
      assert.strictEqual(valueOf(families, "workqueue_unfinished_work_seconds", q), 0)
      assert.strictEqual(valueOf(families, "workqueue_longest_running_processor_seconds", q), 0)

      assert.strictEqual(valueOf(families, "leader_election_master_status", { name: "demo-lease" }), 1)

      const op = { resource: "flaky", operation: "ensureCreated" }
      assert.strictEqual(valueOf(families, "operatorkit_controller_operation_total", op), 3)
      assert.strictEqual(valueOf(families, "operatorkit_controller_operation_errors_total", op), 1)
      assert.strictEqual(valueOf(families, "operatorkit_controller_operation", op, "operatorkit_controller_operation_count"), 3)

      const cms = { group: "", kind: "ConfigMap" }
      assert.strictEqual(valueOf(families, "operatorkit_informer_cache_size", cms), 2)
      assert.strictEqual(valueOf(families, "operatorkit_informer_synced", cms), 1)
      assert.strictEqual(valueOf(families, "operatorkit_informer_lists_total", cms), 1)
      assert.isAtLeast(valueOf(families, "operatorkit_informer_watch_event_total", { ...cms, event: "added" }), 2)
      assert.strictEqual(valueOf(families, "operatorkit_informer_decode_failures_total", cms), 0)
      assert.strictEqual(valueOf(families, "operatorkit_informer_very_short_watches_total", cms), 0)
    })))

  it.effect("a controller that did nothing yet shows its series at zero; a standby shows leader_election_master_status 0", () =>
    isolated(Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.create(Kind.Lease, {
        metadata: { name: "held", namespace: "default" },
        spec: { holderIdentity: "someone-else", leaseDurationSeconds: 15, renewTime: "1970-01-01T00:00:00.000000Z" }
      })
      const elector = yield* LeaderElection.make({ name: "held", namespace: "default", identity: "me" })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "idle", kind: Kind.ConfigMap, namespace: "kube-public", resources: [] }).pipe(
        Effect.provideService(LeaderElection.Leadership, elector)
      )
      yield* until(Effect.map(elector.stats, (s) => s.decided), "the first attempt")
      const { families } = yield* scrape.pipe(Effect.provide(Metrics.layer(), { local: true }))
      for (const result of Metrics.reconcileResults) {
        assert.strictEqual(valueOf(families, "controller_runtime_reconcile_total", { controller: "idle", result }), 0)
      }
      assert.strictEqual(valueOf(families, "controller_runtime_reconcile_errors_total", { controller: "idle" }), 0)
      assert.strictEqual(valueOf(families, "workqueue_adds_total", { name: "idle", controller: "idle" }), 0)
      assert.strictEqual(valueOf(families, "leader_election_master_status", { name: "held" }), 0)
      // no observation yet: HELP and TYPE only, which is valid exposition
      assert.strictEqual(families.get("controller_runtime_reconcile_time_seconds")!.samples.length, 0)
      assert.strictEqual(families.get("controller_runtime_reconcile_time_seconds")!.type, "histogram")
    })))

  it.effect("your own Registry keeps your metrics, gets ours next to them (and your Effect metrics), and loses ours on shutdown", () =>
    isolated(Effect.gen(function*() {
      const registry = new PromClient.Registry()
      const mine = new PromClient.Counter({ name: "my_requests_total", help: "mine", registers: [registry] })
      mine.inc(7)
      const tenants = Metric.gauge("tenants", { description: "Tenants under management" })
      const latency = Metric.histogram("tenant_sync_seconds", { description: "Sync time", boundaries: [0.1, 1] })
      yield* Metric.update(tenants, 12)
      yield* Metric.update(latency, 0.5)
      yield* Metric.update(latency, 5)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Metrics.make({ registry, effectMetrics: [tenants, latency] })
        const families = parse(yield* Effect.promise(() => registry.metrics()))
        assert.strictEqual(valueOf(families, "my_requests_total", {}), 7)
        assert.strictEqual(valueOf(families, "tenants", {}), 12)
        assert.strictEqual(families.get("tenants")!.help, "Tenants under management")
        assert.strictEqual(valueOf(families, "tenant_sync_seconds", { le: "0.1" }, "tenant_sync_seconds_bucket"), 0)
        assert.strictEqual(valueOf(families, "tenant_sync_seconds", { le: "1" }, "tenant_sync_seconds_bucket"), 1)
        assert.strictEqual(valueOf(families, "tenant_sync_seconds", { le: "+Inf" }, "tenant_sync_seconds_bucket"), 2)
        assert.strictEqual(valueOf(families, "tenant_sync_seconds", {}, "tenant_sync_seconds_sum"), 5.5)
        assert.isTrue(families.has("workqueue_depth"))
      }))
      const after = parse(yield* Effect.promise(() => registry.metrics()))
      assert.deepStrictEqual([...after.keys()], ["my_requests_total"])
      // and it can be bridged again (no "already registered")
      yield* Effect.scoped(Metrics.make({ registry }))
    })))

  it.effect("Metrics.layer() gives every layer build its own Registry", () =>
    isolated(Effect.gen(function*() {
      const a = yield* Effect.provide(Metrics.Metrics, Layer.fresh(Metrics.layer()))
      const b = yield* Effect.provide(Metrics.Metrics, Layer.fresh(Metrics.layer()))
      assert.notStrictEqual(a.registry, b.registry)
    })))
})

describe("the strict exposition parser the tests rely on", () => {
  const bad: ReadonlyArray<readonly [string, string]> = [
    ["duplicate series", "# TYPE a counter\na{x=\"1\"} 1\na{x=\"1\"} 2\n"],
    ["non-contiguous family", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n"],
    ["histogram without +Inf", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"],
    ["non-cumulative buckets", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"],
    ["+Inf bucket != count", "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"],
    ["bad label name", "a{1x=\"1\"} 1\n"],
    ["unquoted label value", "a{x=1} 1\n"],
    ["bad value", "a 1,5\n"],
    ["negative counter", "# TYPE a counter\na -1\n"],
    ["TYPE after samples", "a 1\n# TYPE a gauge\n"],
    ["unknown type", "# TYPE a gauges\n"],
    ["no final newline", "a 1"],
    ["prom-client's NaN spelling", "a Nan\n"]
  ]
  for (const [what, text] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parse(text))
    })
  }
  it("accepts escapes, timestamps and special values", () => {
    const families = parse("# HELP a line\\nbreak\n# TYPE a gauge\na{x=\"q\\\"\\\\\\n\"} NaN 123\na{x=\"y\"} -Inf\n")
    assert.strictEqual(families.get("a")!.help, "line\nbreak")
    assert.strictEqual(families.get("a")!.samples[0]!.labels["x"], "q\"\\\n")
  })

  it.effect("client-go's rest_client_* metrics: every request by code, method and host; latency by verb and host; watches counted once", () =>
    Effect.gen(function*() {
      const info = { verb: "get", path: "/x" }
      const fake: Transport = {
        request: (req) => Effect.succeed({ status: req.path === "/missing" ? 404 : 200, body: {} }),
        watch: (req) =>
          req.path === "/refused"
            ? Stream.fail(new HttpStatus({ response: { status: 403, body: {} } }))
            : Stream.make({ type: "ADDED" }, { type: "MODIFIED" })
      }
      const transport = instrument(fake, "10.0.0.1:6443")
      yield* transport.request({ method: "GET", path: "/found", timeoutMs: 1000, info })
      yield* transport.request({ method: "GET", path: "/found", timeoutMs: 1000, info })
      yield* transport.request({ method: "GET", path: "/missing", timeoutMs: 1000, info })
      yield* transport.request({ method: "POST", path: "/found", timeoutMs: 1000, info })
      yield* Stream.runDrain(transport.watch({ method: "GET", path: "/w", timeoutMs: 1000, info }))
      yield* Stream.runDrain(transport.watch({ method: "GET", path: "/refused", timeoutMs: 1000, info })).pipe(Effect.ignore)
      const { families } = yield* scrape.pipe(Effect.provide(Metrics.layer(), { local: true }))
      const requests = families.get("rest_client_requests_total")!
      assert.strictEqual(requests.type, "counter")
      const count = (code: string, method: string) =>
        requests.samples.find((s) => s.labels["code"] === code && s.labels["method"] === method && s.labels["host"] === "10.0.0.1:6443")?.value
      // three GETs answered 200: two requests and a watch
      assert.strictEqual(count("200", "GET"), 3)
      assert.strictEqual(count("404", "GET"), 1)
      assert.strictEqual(count("200", "POST"), 1)
      assert.strictEqual(count("403", "GET"), 1)
      const duration = families.get("rest_client_request_duration_seconds")!
      assert.strictEqual(duration.type, "histogram")
      const getCount = duration.samples.find((s) => s.name.endsWith("_count") && s.labels["verb"] === "GET" && s.labels["host"] === "10.0.0.1:6443")
      assert.strictEqual(getCount?.value, 3) // the requests, not the watches
      assert.deepStrictEqual(
        duration.samples.filter((s) => s.name.endsWith("_bucket") && s.labels["verb"] === "GET").map((s) => s.labels["le"]),
        ["0.005", "0.025", "0.1", "0.25", "0.5", "1", "2", "4", "8", "15", "30", "60", "+Inf"]
      )
      assert.strictEqual(families.get("rest_client_rate_limiter_duration_seconds")?.type, "histogram")
    }).pipe(isolated))

  it.effect("client-go's rest_client_rate_limiter_duration_seconds: each request's wait for the Client's rate limiter (qps, burst), zero waits and 429 retries included, by verb and host; watches do not wait", () =>
    isolated(Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "limited", namespace: "default" } })
      // the Client as Client.make builds it with qps 5 and burst 2, over the in-memory server
      const client = HttpClient.make(instrument(transportOf(server), "10.0.0.1:6443", rateLimitOf({ qps: 5, burst: 2 })), {})
      const get = client.get(Kind.ConfigMap, { name: "limited", namespace: "default" })
      const waits = Effect.map(scrape.pipe(Effect.provide(Metrics.layer(), { local: true })), ({ families }) => {
        const samples = families.get("rest_client_rate_limiter_duration_seconds")!.samples.filter((s) => s.labels["verb"] === "GET" && s.labels["host"] === "10.0.0.1:6443")
        const value = (name: string, le?: string) => samples.find((s) => s.name === name && s.labels["le"] === le)?.value
        return {
          count: value("rest_client_rate_limiter_duration_seconds_count"),
          sum: value("rest_client_rate_limiter_duration_seconds_sum"),
          buckets: ["0.005", "0.25", "0.5", "1"].map((le) => value("rest_client_rate_limiter_duration_seconds_bucket", le))
        }
      })

      // a 429 and its retry: two attempts, each takes a token (the burst: no wait)
      yield* server.failNext({ verb: "get", code: 429, retryAfterSeconds: 1 })
      const retried = yield* Effect.forkChild(get)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(retried)
      assert.deepStrictEqual(yield* waits, { count: 2, sum: 0, buckets: [2, 2, 2, 2] })

      // six at once on a full bucket: two go at once, then one every 200 ms
      yield* TestClock.adjust("10 seconds")
      const burst = yield* Effect.forkChild(Effect.all(Array.from({ length: 6 }, () => get), { concurrency: "unbounded" }))
      yield* TestClock.adjust("800 millis")
      yield* Fiber.join(burst)
      const after = yield* waits
      assert.strictEqual(after.count, 8)
      assert.closeTo(after.sum!, 0.2 + 0.4 + 0.6 + 0.8, 1e-9)
      assert.deepStrictEqual(after.buckets, [4, 5, 6, 8])

      // the bucket is empty now: a watch starts without waiting and without an observation
      const watched = yield* Effect.forkChild(Stream.runHead(client.watch(Kind.ConfigMap, { namespace: "default" })))
      yield* Effect.yieldNow
      yield* server.client.create(Kind.ConfigMap, { metadata: { name: "seen", namespace: "default" } })
      const event = yield* Fiber.join(watched)
      assert.isTrue(Option.isSome(event))
      assert.strictEqual((yield* waits).count, 8)
    })))

  it.effect("objects waiting for a controller's finalizer: how many, and how long the oldest has waited", () =>
    isolated(Effect.gen(function*() {
      const client = yield* Client.Client
      const stuck = Framework.make<ConfigMap>()({ name: "stuck", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.fail(new Error("cannot clean up")) })
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "finalizing", kind: Kind.ConfigMap, namespace: "default", resources: [stuck] })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "going", namespace: "default" } })
      yield* until(Effect.map(controller.informer.store.list(), (l) => l.some((o) => (o.metadata.finalizers ?? []).includes(controller.finalizer))), "the finalizer")
      const { families: before } = yield* scrape.pipe(Effect.provide(Metrics.layer(), { local: true }))
      assert.strictEqual(valueOf(before, "operatorkit_controller_finalizing_objects", { controller: "finalizing" }), 0)
      assert.strictEqual(valueOf(before, "operatorkit_controller_oldest_finalizing_seconds", { controller: "finalizing" }), 0)
      yield* client.delete(Kind.ConfigMap, { namespace: "default", name: "going" })
      yield* until(Effect.map(controller.informer.store.list(), (l) => l.some((o) => o.metadata.deletionTimestamp !== undefined)), "the deletion")
      yield* TestClock.adjust("120 seconds")
      const { families } = yield* scrape.pipe(Effect.provide(Metrics.layer(), { local: true }))
      assert.strictEqual(valueOf(families, "operatorkit_controller_finalizing_objects", { controller: "finalizing" }), 1)
      assert.isAtLeast(valueOf(families, "operatorkit_controller_oldest_finalizing_seconds", { controller: "finalizing" })!, 119)
    })))
})
