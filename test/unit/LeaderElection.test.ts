import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

const lease = { name: "operator", namespace: "default" }

/** Moves the TestClock in small steps, so every sleep and timeout fires in order. */
const advance = (millis: number, step = 50) =>
  Effect.gen(function*() {
    for (let t = 0; t < millis; t += step) yield* TestClock.adjust(Math.min(step, millis - t))
  })

/** A Client whose calls hang while `link.cut` is set (a partitioned candidate). */
const cuttable = (client: Client.ClientService, link: { cut: boolean }): Client.ClientService => {
  const gate = <A, E>(call: () => Effect.Effect<A, E>): Effect.Effect<A, E> => Effect.suspend(() => (link.cut ? Effect.never : call()))
  return {
    ...client,
    get: (kind, ref, options) => gate(() => client.get(kind, ref, options)),
    create: (kind, object, options) => gate(() => client.create(kind, object, options)),
    replace: (kind, object, options) => gate(() => client.replace(kind, object, options))
  }
}

interface Candidate {
  readonly elector: LeaderElection.Elector
  readonly scope: Scope.Closeable
  readonly link: { cut: boolean }
  /** [Clock millis, leading] for every change after the start. */
  readonly transitions: Array<readonly [number, boolean]>
}

const candidate = (identity: string, options: Partial<LeaderElection.Options> = {}) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const scope = yield* Scope.make()
    const link = { cut: false }
    const elector = yield* LeaderElection.make({ ...lease, identity, ...options }).pipe(
      Effect.provideService(Client.Client, cuttable(client, link)),
      Scope.provide(scope)
    )
    const transitions: Array<readonly [number, boolean]> = []
    yield* elector.changes.pipe(
      Stream.drop(1),
      Stream.runForEach((leading) => Effect.map(Clock.currentTimeMillis, (now) => void transitions.push([now, leading]))),
      Effect.forkIn(scope)
    )
    yield* advance(10, 10)
    return { elector, scope, link, transitions } satisfies Candidate
  })

const getLease = Effect.flatMap(Client.Client, (client) => client.get(Kind.Lease, lease))

/** Intervals during which a candidate led, from its transitions. */
const intervals = (c: Candidate, end: number) => {
  const out: Array<readonly [number, number]> = []
  let since: number | undefined
  for (const [at, leading] of c.transitions) {
    if (leading && since === undefined) since = at
    if (!leading && since !== undefined) {
      out.push([since, at])
      since = undefined
    }
  }
  if (since !== undefined) out.push([since, end])
  return out
}

const overlapping = (a: ReadonlyArray<readonly [number, number]>, b: ReadonlyArray<readonly [number, number]>) =>
  a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1))

describe("LeaderElection (Lease elector, TestClock)", () => {
  it.effect("acquires a free Lease at once with client-go's fields, then renews it every retry period", () =>
    Effect.gen(function*() {
      const a = yield* candidate("a")
      assert.isTrue(yield* a.elector.isLeader)
      const first = yield* getLease
      assert.deepStrictEqual(first.spec, {
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        acquireTime: "1970-01-01T00:00:00.000000Z",
        renewTime: "1970-01-01T00:00:00.000000Z",
        leaseTransitions: 0
      })
      yield* advance(2_000)
      const renewed = yield* getLease
      assert.strictEqual(renewed.spec?.renewTime, "1970-01-01T00:00:02.000000Z")
      assert.strictEqual(renewed.spec?.acquireTime, "1970-01-01T00:00:00.000000Z")
      assert.notStrictEqual(renewed.metadata.resourceVersion, first.metadata.resourceVersion)
      const stats = yield* a.elector.stats
      assert.strictEqual(stats.holder, "a")
      assert.isTrue(stats.leading)
      assert.strictEqual(stats.lastRenewMillis, 2_000)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("of two candidates starting together exactly one leads; the other stands by and keeps standing by", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([candidate("a"), candidate("b")], { concurrency: "unbounded" })
      yield* advance(30_000, 100)
      const leaders = [yield* a.elector.isLeader, yield* b.elector.isLeader].filter(Boolean)
      assert.strictEqual(leaders.length, 1)
      assert.strictEqual((yield* getLease).spec?.leaseTransitions, 0)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("a standby takes over a dead leader's Lease only once it has not changed for the lease duration", () =>
    Effect.gen(function*() {
      const a = yield* candidate("a", { releaseOnShutdown: false })
      const b = yield* candidate("b")
      assert.isTrue(yield* a.elector.isLeader)
      assert.isFalse(yield* b.elector.isLeader)
      yield* advance(4_100) // a renewed at 2 s and 4 s
      yield* Scope.close(a.scope, Exit.void) // killed: no release
      assert.strictEqual((yield* getLease).spec?.holderIdentity, "a")
      // b saw the 4 s renewal at its next poll, after 4 s: the Lease is a's until at least 19 s
      yield* advance(18_900 - 4_100)
      assert.isFalse(yield* b.elector.isLeader, "not before the lease expired")
      // and it is b's by its first poll after (observed + 15 s): at most 4 + 2.4 + 15 + 2.4 s
      yield* advance(23_900 - 18_900)
      assert.isTrue(yield* b.elector.isLeader)
      const taken = yield* getLease
      assert.strictEqual(taken.spec?.holderIdentity, "b")
      assert.strictEqual(taken.spec?.leaseTransitions, 1)
      assert.isAtLeast(b.transitions[0]![0], 19_000)
      assert.strictEqual(Date.parse(taken.spec!.acquireTime!), b.transitions[0]![0], "acquireTime is the takeover")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("a leader that cannot renew stops leading at the renew deadline, before the standby may take over", () =>
    Effect.gen(function*() {
      const a = yield* candidate("a", { releaseOnShutdown: false })
      const b = yield* candidate("b")
      yield* advance(5_000) // renewals at 2 s and 4 s
      a.link.cut = true // every call of a hangs from now on
      yield* advance(13_900 - 5_000)
      assert.isTrue(yield* a.elector.isLeader, "still within the renew deadline (4 s + 10 s)")
      yield* advance(14_100 - 13_900)
      assert.isFalse(yield* a.elector.isLeader, "stopped leading at the deadline, although its request still hangs")
      assert.deepStrictEqual(a.transitions.map(([at, leading]) => [Math.round(at / 100) * 100, leading]), [[14_000, false]])
      yield* advance(25_000 - 14_100)
      assert.isTrue(yield* b.elector.isLeader)
      const aStopped = a.transitions.at(-1)![0]
      const bStarted = b.transitions[0]![0]
      assert.isAbove(bStarted - aStopped, 4_000, "the lease duration's margin over the renew deadline")
      assert.isFalse(overlapping([[0, aStopped]], intervals(b, 25_000)), "never two leaders")
      // a comes back: the Lease is b's, so a stays a standby
      a.link.cut = false
      yield* advance(10_000)
      assert.isFalse(yield* a.elector.isLeader)
      assert.isTrue(yield* b.elector.isLeader)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("on shutdown the leader stops leading and releases the Lease; a standby takes over within a retry period", () =>
    Effect.gen(function*() {
      const a = yield* candidate("a")
      const b = yield* candidate("b")
      yield* advance(5_000)
      const before = yield* Clock.currentTimeMillis
      yield* Scope.close(a.scope, Exit.void)
      assert.isFalse(yield* a.elector.isLeader)
      const released = yield* getLease
      assert.strictEqual(released.spec?.holderIdentity, "")
      assert.strictEqual(released.spec?.leaseDurationSeconds, 1)
      yield* advance(2_500)
      assert.isTrue(yield* b.elector.isLeader)
      assert.isAtMost(b.transitions[0]![0] - before, 2_400, "within one jittered retry period")
      assert.strictEqual((yield* getLease).spec?.leaseTransitions, 1)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("a leader that sees another holder in the Lease stops leading at its next renewal", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const a = yield* candidate("a")
      yield* advance(1_000)
      const current = yield* getLease
      yield* client.replace(Kind.Lease, { ...current, spec: { ...current.spec, holderIdentity: "intruder" } })
      yield* advance(1_100)
      assert.isFalse(yield* a.elector.isLeader)
      // it waits out the intruder's lease duration before trying again
      yield* advance(10_000)
      assert.isFalse(yield* a.elector.isLeader)
      assert.strictEqual((yield* getLease).spec?.holderIdentity, "intruder")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("API errors while renewing are retried until the deadline; one success keeps the lead", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const a = yield* candidate("a")
      yield* advance(1_000)
      // the renewals at 2 s, 4 s and 6 s fail; 8 s succeeds (deadline 0 s + 10 s)
      yield* server.failNext({ verb: "update", kind: Kind.Lease, code: 500, times: 3 })
      yield* advance(9_000)
      assert.isTrue(yield* a.elector.isLeader)
      assert.deepStrictEqual(a.transitions, [])
      const stats = yield* a.elector.stats
      assert.strictEqual(stats.failures, 3)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("options that cannot give a safe election are refused", () =>
    Effect.gen(function*() {
      const tooLong = yield* Effect.flip(LeaderElection.make({ ...lease, renewDeadline: "15 seconds" }))
      assert.strictEqual(tooLong._tag, "LeaderElectionConfigError")
      assert.include(tooLong.message, "renewDeadline (15000 ms) must be shorter than leaseDuration (15000 ms)")
      const tooShort = yield* Effect.flip(LeaderElection.make({ ...lease, renewDeadline: "2 seconds", retryPeriod: "2 seconds" }))
      assert.include(tooShort.message, "longer than 1.2 × retryPeriod")
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("electors are registered while they run", () =>
    Effect.gen(function*() {
      const registry = new Set<LeaderElection.Elector>()
      yield* Effect.gen(function*() {
        const a = yield* candidate("a")
        assert.deepStrictEqual([...registry].map((e) => e.identity), ["a"])
        yield* Scope.close(a.scope, Exit.void)
        assert.strictEqual(registry.size, 0)
      }).pipe(Effect.provideService(LeaderElection.Registry, registry))
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))
})
