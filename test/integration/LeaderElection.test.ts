/**
 * Two instances of one operator in one process, each with its own Client (the first through a TCP
 * proxy, so it can be partitioned), its own Lease elector and its own Controller, against a real
 * kube-apiserver. Durations are shortened (3 s lease, 2 s renew deadline, 0.5 s retry) to keep
 * the tests quick; the rules are the same as with client-go's 15/10/2.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { eventually, type EventuallyOptions } from "../../src/testing/helpers.ts"
import * as TcpProxy from "../support/tcpProxy.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const timing = { leaseDuration: "3 seconds", renewDeadline: "2 seconds", retryPeriod: "500 millis" } as const
const LEASE_MS = 3_000
const RETRY_MS = 500
/**
 * What a loaded machine may add to a timing: timers run late and API calls take longer. The
 * bounds below say which mechanism acted (the Lease expiring, a release, a renew deadline); the
 * exact timings are tested on TestClock in test/unit/LeaderElection.test.ts.
 */
const LOADED_MS = 3_000

/** Who reconciles when: every reconcile's start and end, and any start while the other instance had one in flight. */
const makeLedger = () => {
  const inFlight = new Map<string, number>()
  const runs: Array<{ readonly instance: string; readonly name: string; readonly start: number; end: number | undefined }> = []
  const overlaps: Array<string> = []
  const resource = (instance: string) =>
    Framework.make<ConfigMap>()({
      name: "work",
      ensureCreated: (cm) =>
        Effect.suspend(() => {
          for (const [other, n] of inFlight) {
            if (other !== instance && n > 0) overlaps.push(`${instance} started ${cm.metadata.name} while ${other} had ${n} in flight`)
          }
          inFlight.set(instance, (inFlight.get(instance) ?? 0) + 1)
          const run = { instance, name: cm.metadata.name, start: performance.now(), end: undefined as number | undefined }
          runs.push(run)
          // keep working: each object is reconciled again and again while its instance leads
          return Effect.sleep("150 millis").pipe(
            Effect.andThen(Framework.requeueAfter("50 millis")),
            Effect.ensuring(Effect.sync(() => {
              run.end = performance.now()
              inFlight.set(instance, inFlight.get(instance)! - 1)
            }))
          )
        }),
      ensureDeleted: () => Effect.void
    })
  const by = (instance: string) => runs.filter((r) => r.instance === instance)
  return { runs, overlaps, resource, by }
}

interface Instance {
  readonly id: string
  readonly scope: Scope.Closeable
  readonly elector: LeaderElection.Elector
  readonly controller: Controller.Controller<ConfigMap>
  /** performance.now() of each leadership change. */
  readonly transitions: Array<readonly [number, boolean]>
}

const startInstance = (
  id: string,
  client: Client.ClientService,
  namespace: string,
  ledger: ReturnType<typeof makeLedger>,
  options: Partial<LeaderElection.Options> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const elector = yield* LeaderElection.make({ name: "ha-operator", namespace, identity: id, ...timing, ...options }).pipe(
      Effect.provideService(Client.Client, client),
      Scope.provide(scope),
      Effect.orDie
    )
    const transitions: Array<readonly [number, boolean]> = []
    yield* elector.changes.pipe(
      Stream.drop(1),
      Stream.runForEach((leading) => Effect.sync(() => void transitions.push([performance.now(), leading]))),
      Effect.forkIn(scope)
    )
    const controller = yield* Controller.make({
      finalizerPrefix: "operatorkit.test",
      name: "ha",
      kind: Kind.ConfigMap,
      namespace,
      labelSelector: "ha=yes",
      resources: [ledger.resource(id)],
      shutdownTimeout: "2 seconds"
    }).pipe(
      Effect.provideService(Client.Client, client),
      Effect.provideService(LeaderElection.Leadership, elector),
      Scope.provide(scope)
    )
    return { id, scope, elector, controller, transitions } satisfies Instance
  })

/** A Client with its own connection pool, direct or through a proxy that can cut it off. */
const clients = Effect.gen(function*() {
  const env = yield* Envtest.Envtest
  const proxy = yield* TcpProxy.make(Number(new URL(env.server).port))
  const own = (yaml: string) =>
    Effect.flatMap(KubeConfig.fromString(yaml), (config) => Client.make(config, { timeout: "5 seconds" })).pipe(Effect.orDie)
  const viaProxy = yield* own(env.kubeconfig.replace(env.server, `https://127.0.0.1:${proxy.port}`))
  const direct = yield* own(env.kubeconfig)
  return { proxy, viaProxy, direct }
})

const seed = (namespace: string, n: number) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    yield* Effect.forEach(Array.from({ length: n }, (_, i) => `cm-${i}`), (name) =>
      client.create(Kind.ConfigMap, { metadata: { name, namespace, labels: { ha: "yes" } } }), { discard: true })
  })

const leading = (instance: Instance) => instance.elector.isLeader

/** Waits until the instance leads. */
const leads = (instance: Instance, options?: EventuallyOptions) =>
  eventually(Effect.map(leading(instance), (l) => assert.isTrue(l)), options)

const leaseIn = (namespace: string) => Effect.flatMap(Client.Client, (c) => c.get(Kind.Lease, { namespace, name: "ha-operator" }))

/**
 * Leader `a` behind the proxy (it does not release the Lease when stopped, as a killed process),
 * standby `b` direct, and `n` objects each reconciled at least twice by `a`.
 */
const leaderBehindProxy = (ns: string, ledger: ReturnType<typeof makeLedger>, n: number) =>
  Effect.gen(function*() {
    const { direct, proxy, viaProxy } = yield* clients
    const a = yield* startInstance("a", viaProxy, ns, ledger, { releaseOnShutdown: false })
    yield* leads(a)
    const b = yield* startInstance("b", direct, ns, ledger)
    yield* seed(ns, n)
    yield* eventually(Effect.sync(() => assert.isAtLeast(ledger.by("a").length, 2 * n)))
    return { a, b, proxy }
  })

const stop = (instance: Instance) => Scope.close(instance.scope, Exit.void)

layer(cluster(), { excludeTestServices: true })("Leader election on kube-apiserver 1.20.2", (it) => {
  it.effect("of two instances exactly one reconciles; the standby keeps a synced cache and does nothing", () =>
    Effect.gen(function*() {
      const ns = yield* freshNamespace("le")
      const ledger = makeLedger()
      const { direct, viaProxy } = yield* clients
      const a = yield* startInstance("a", viaProxy, ns, ledger)
      yield* leads(a)
      const b = yield* startInstance("b", direct, ns, ledger)
      yield* seed(ns, 5)
      yield* eventually(Effect.sync(() => {
        for (let i = 0; i < 5; i++) assert.isAtLeast(ledger.runs.filter((r) => r.name === `cm-${i}`).length, 3)
      }))
      yield* Effect.sleep("1 second")
      assert.isTrue(yield* leading(a))
      assert.isFalse(yield* leading(b))
      assert.strictEqual(ledger.by("b").length, 0, "the standby never reconciled")
      assert.deepStrictEqual(ledger.overlaps, [])
      const standby = yield* b.controller.stats
      assert.isFalse(standby.leading)
      const cache = yield* b.controller.informer.stats
      assert.isTrue(cache.synced)
      assert.strictEqual(cache.storeSize, 5, "the standby's informer holds every object")
      const lease = yield* leaseIn(ns)
      assert.strictEqual(lease.spec?.holderIdentity, "a")
      assert.strictEqual(lease.spec?.leaseDurationSeconds, 3)
      yield* stop(b)
      yield* stop(a)
    }), 60_000)

  it.effect("killing the leader hands over once the Lease has not changed for its duration (within lease + 2 retry periods)", () =>
    Effect.gen(function*() {
      const ns = yield* freshNamespace("le")
      const ledger = makeLedger()
      const { a, b, proxy } = yield* leaderBehindProxy(ns, ledger, 3)
      // the process dies: its connections drop, nothing more comes from it, the Lease is not released
      const killedAt = performance.now()
      proxy.blackHole(true)
      proxy.cut()
      yield* stop(a)
      yield* leads(b, { timeout: "15 seconds", interval: "20 millis" })
      const handover = b.transitions[0]![0] - killedAt
      assert.isAtLeast(handover, LEASE_MS - 1.2 * RETRY_MS, "not before the Lease could have expired")
      assert.isAtMost(handover, LEASE_MS + 2 * 1.2 * RETRY_MS + LOADED_MS, "within the lease duration after the last renewal it saw")
      yield* eventually(Effect.sync(() => assert.isAtLeast(ledger.by("b").length, 3)))
      assert.deepStrictEqual(ledger.overlaps, [])
      const lease = yield* leaseIn(ns)
      assert.strictEqual(lease.spec?.holderIdentity, "b")
      assert.strictEqual(lease.spec?.leaseTransitions, 1)
      yield* stop(b)
    }), 60_000)

  it.effect("a leader that cannot renew stops reconciling before the other acquires: never two reconciling at once", () =>
    Effect.gen(function*() {
      const ns = yield* freshNamespace("le")
      const ledger = makeLedger()
      const { a, b, proxy } = yield* leaderBehindProxy(ns, ledger, 4)
      // a is partitioned from the API server but keeps running: its reconciles (which need no
      // API call) would go on, and its renewals hang
      const partitionedAt = performance.now()
      proxy.stall()
      yield* leads(b, { timeout: "15 seconds", interval: "20 millis" })
      yield* eventually(Effect.sync(() => assert.isAtLeast(ledger.by("b").length, 4)))
      const aStopped = a.transitions.find(([, l]) => !l)![0]
      const bStarted = b.transitions.find(([, l]) => l)![0]
      assert.isBelow(aStopped - partitionedAt, 2_000 + 1.2 * RETRY_MS + LOADED_MS, "a stopped within the renew deadline of its last renewal")
      assert.isBelow(aStopped, bStarted, "a stopped before b acquired")
      assert.isAbove(ledger.by("a").filter((r) => r.start > partitionedAt).length, 0, "a was reconciling while partitioned")
      // a's reconciles were interrupted when it stepped down: none ran on until b started
      for (const run of ledger.by("a")) {
        assert.isDefined(run.end)
        assert.isBelow(run.end!, bStarted, `${run.name} still ran when b started leading`)
        assert.isBelow(run.end!, aStopped + LOADED_MS, `${run.name} ran on after a stopped leading`)
      }
      // every run of a ended before any run of b started
      const lastA = Math.max(...ledger.by("a").map((r) => r.end!))
      const firstB = Math.min(...ledger.by("b").map((r) => r.start))
      assert.isBelow(lastA, firstB)
      assert.deepStrictEqual(ledger.overlaps, [])
      // the partition heals: b keeps the Lease, a stays a standby
      proxy.resume()
      yield* Effect.sleep("2 seconds")
      assert.isFalse(yield* leading(a))
      assert.isTrue(yield* leading(b))
      assert.deepStrictEqual(ledger.overlaps, [])
      yield* stop(b)
      yield* stop(a)
    }), 60_000)

  it.effect("a graceful stop releases the Lease: the standby takes over in about one retry period", () =>
    Effect.gen(function*() {
      const ns = yield* freshNamespace("le")
      const ledger = makeLedger()
      const { direct, viaProxy } = yield* clients
      const a = yield* startInstance("a", viaProxy, ns, ledger)
      yield* leads(a)
      const b = yield* startInstance("b", direct, ns, ledger)
      yield* seed(ns, 3)
      yield* eventually(Effect.sync(() => assert.isAtLeast(ledger.by("a").length, 6)))
      const stopping = performance.now()
      yield* stop(a) // reconciles in flight finish, then the Lease is released
      const released = performance.now()
      const lease = yield* leaseIn(ns)
      assert.include(["", "b"], lease.spec?.holderIdentity, "a is no longer the holder")
      yield* leads(b, { timeout: "10 seconds", interval: "20 millis" })
      const takeover = b.transitions[0]![0]
      // the Lease expiring would take at least its duration less a retry period after a's last renewal
      assert.isBelow(takeover - released, LEASE_MS - 1.2 * RETRY_MS, "taken over after the release, not the Lease's expiry")
      assert.isBelow(takeover - stopping, LEASE_MS + LOADED_MS, "sooner than the lease duration, give or take a loaded machine")
      yield* eventually(Effect.sync(() => assert.isAtLeast(ledger.by("b").length, 3)))
      assert.deepStrictEqual(ledger.overlaps, [])
      yield* stop(b)
    }), 60_000)
})
