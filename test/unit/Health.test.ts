import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Health from "../../src/Health.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { isolated } from "../support/isolated.ts"
import { parse } from "../support/promText.ts"

// these tests run on the real clock: the probes are real sockets

const http = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    return { status: res.status, body: await res.text(), contentType: res.headers.get("content-type") }
  })

describe("Health endpoints (/healthz, /readyz, /metrics)", () => {
  it.live("/readyz fails until the controllers' informers synced, naming what it waits for; /healthz is ok meanwhile", () =>
    isolated(Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      yield* server.failNext({ verb: "list", kind: Kind.ConfigMap, code: 503, times: 2 })
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: "default", resources: [] })
      const endpoints = yield* Health.make({ port: 0, host: "127.0.0.1" })
      const notReady = yield* http(`${endpoints.url}/readyz`)
      assert.strictEqual(notReady.status, 500)
      assert.strictEqual(notReady.body, "[-]informers failed: not synced yet: ConfigMap\nreadyz check failed\n")
      const alive = yield* http(`${endpoints.url}/healthz`)
      assert.deepStrictEqual([alive.status, alive.body], [200, "ok\n"])
      yield* eventually(Effect.gen(function*() {
        const ready = yield* http(`${endpoints.url}/readyz`)
        assert.deepStrictEqual([ready.status, ready.body], [200, "ok\n"])
      }), { timeout: "15 seconds", interval: "100 millis" })
      const verbose = yield* http(`${endpoints.url}/readyz?verbose`)
      assert.strictEqual(verbose.body, "[+]informers ok\nreadyz check passed\n")
      const live = yield* http(`${endpoints.url}/healthz?verbose`)
      assert.strictEqual(live.body, "[+]ping ok\n[+]leader-election ok\nhealthz check passed\n")
    })), 30_000)

  it.live("a standby is ready once synced, although it does not lead", () =>
    isolated(Effect.gen(function*() {
      const client = yield* Client.Client
      const now = new Date(yield* Clock.currentTimeMillis).toISOString().replace("Z", "000Z")
      yield* client.create(Kind.Lease, {
        metadata: { name: "op", namespace: "default" },
        spec: { holderIdentity: "the-leader", leaseDurationSeconds: 15, renewTime: now, acquireTime: now }
      })
      const elector = yield* LeaderElection.make({ name: "op", namespace: "default", identity: "standby" })
      const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "c", kind: Kind.ConfigMap, namespace: "default", resources: [] }).pipe(
        Effect.provideService(LeaderElection.Leadership, elector)
      )
      yield* controller.synced
      const endpoints = yield* Health.make({ port: 0, host: "127.0.0.1" })
      assert.isFalse(yield* elector.isLeader)
      const ready = yield* http(`${endpoints.url}/readyz`)
      assert.deepStrictEqual([ready.status, ready.body], [200, "ok\n"])
    })))

  it.live("/healthz fails when an elector says it leads but has not renewed for the lease duration plus 20 s", () =>
    isolated(Effect.gen(function*() {
      const registry = yield* LeaderElection.Registry
      const now = yield* Clock.currentTimeMillis
      const stats: LeaderElection.Stats = {
        name: "op",
        namespace: "default",
        identity: "wedged",
        leading: true,
        holder: "wedged",
        leaseTransitions: 0,
        lastRenewMillis: now - 36_000,
        decided: true,
        attempts: 1,
        failures: 0,
        leaseDurationMillis: 15_000,
        renewDeadlineMillis: 10_000,
        retryPeriodMillis: 2_000
      }
      registry.add({ name: "op", namespace: "default", identity: "wedged", changes: Stream.succeed(true), isLeader: Effect.succeed(true), isLeaderUnsafe: () => true, stats: Effect.succeed(stats) })
      const endpoints = yield* Health.make({ port: 0, host: "127.0.0.1" })
      const res = yield* http(`${endpoints.url}/healthz`)
      assert.strictEqual(res.status, 500)
      assert.include(res.body, "[-]leader-election failed: wedged leads Lease default/op but last renewed it 36 s ago")
      const fresh = { ...stats, lastRenewMillis: now - 30_000 }
      registry.clear()
      registry.add({ name: "op", namespace: "default", identity: "ok", changes: Stream.succeed(true), isLeader: Effect.succeed(true), isLeaderUnsafe: () => true, stats: Effect.succeed(fresh) })
      assert.strictEqual((yield* http(`${endpoints.url}/healthz`)).status, 200)
    })))

  it.live("your checks join the lists; one check by path; 404 for unknown paths, 405 for other methods, HEAD without a body", () =>
    isolated(Effect.gen(function*() {
      let warm = false
      const endpoints = yield* Health.make({
        port: 0,
        host: "127.0.0.1",
        readyChecks: [Health.check("cache", Effect.suspend(() => (warm ? Effect.void : Effect.fail("cache is cold"))))],
        healthChecks: [Health.check("slow", Effect.never)],
        checkTimeout: 200
      })
      const ready = yield* http(`${endpoints.url}/readyz`)
      assert.strictEqual(ready.status, 500)
      assert.include(ready.body, "[+]informers ok\n[-]cache failed: cache is cold\n")
      warm = true
      assert.strictEqual((yield* http(`${endpoints.url}/readyz/cache`)).status, 200)
      const slow = yield* http(`${endpoints.url}/healthz/slow`)
      assert.deepStrictEqual([slow.status, slow.body], [500, "[-]slow failed: timed out\nhealthz check failed\n"])
      assert.strictEqual((yield* http(`${endpoints.url}/healthz/ping`)).status, 200)
      assert.strictEqual((yield* http(`${endpoints.url}/readyz/nope`)).status, 404)
      assert.strictEqual((yield* http(`${endpoints.url}/nope`)).status, 404)
      assert.strictEqual((yield* http(`${endpoints.url}/healthz`, { method: "POST" })).status, 405)
      const head = yield* http(`${endpoints.url}/readyz`, { method: "HEAD" })
      assert.deepStrictEqual([head.status, head.body], [200, ""])
    })))

  it.live("/metrics serves the Metrics Registry when provided, and 404 without", () =>
    isolated(Effect.gen(function*() {
      const without = yield* Health.make({ port: 0, host: "127.0.0.1" })
      assert.strictEqual((yield* http(`${without.url}/metrics`)).status, 404)
      yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "scraped", kind: Kind.ConfigMap, namespace: "default", resources: [] })
      const metrics = yield* Metrics.make()
      const endpoints = yield* Health.make({ port: 0, host: "127.0.0.1" }).pipe(Effect.provideService(Metrics.Metrics, metrics))
      const res = yield* http(`${endpoints.url}/metrics`)
      assert.strictEqual(res.status, 200)
      assert.strictEqual(res.contentType, "text/plain; version=0.0.4; charset=utf-8")
      const families = parse(res.body)
      assert.isTrue(families.get("controller_runtime_reconcile_total")!.samples.some((s) => s.labels["controller"] === "scraped"))
    })))

  it.live("a port in use is a HealthServerError naming it; the port is free again once the scope closed", () =>
    isolated(Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.gen(function*() {
        const first = yield* Health.make({ port: 0, host: "127.0.0.1" })
        assert.strictEqual((yield* http(`${first.url}/healthz`)).status, 200)
        const error = yield* Effect.flip(Health.make({ port: first.port, host: "127.0.0.1" }))
        assert.strictEqual(error._tag, "HealthServerError")
        assert.include(error.message, `could not listen on 127.0.0.1:${first.port}`)
        return first.port
      }))
      const again = yield* Effect.scoped(Effect.map(Health.make({ port, host: "127.0.0.1" }), (s) => s.port))
      assert.strictEqual(again, port)
    })))

  it.effect("secure metrics without a Client in context refuse to start, saying why", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Health.make({ port: 0, secureMetrics: { port: 0 } }).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "HealthServerError")
      assert.include(error.message, "provide a Client")
    }))
})
