/**
 * A standby whose watch has been down takes the lead: it must not reconcile from its stale cache.
 * Found by the deterministic simulation (test/simulation/regressions.ts, finalizers seed 147
 * heavy): the leader cleaned up a deleted object and removed its finalizer while a standby's
 * watch was failing and backing off; the standby then took the Lease, still held the object as
 * live with our finalizer, ran ensureCreated for it, and made its child again, which nothing ever
 * deleted. A controller now lists afresh, on taking the lead, every cache whose watch failed since.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Scope, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { TransportError } from "../../src/KubeError.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"

describe("A standby taking the lead (in-memory server, TestClock)", () => {
  it.effect("lists its troubled caches afresh first: no ensureCreated for an object the old leader already cleaned up", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      const created: Array<string> = []
      // keeps child-<name> for every parent
      const keeper = (replica: string) =>
        Framework.make<ConfigMap>()({
          name: "keeper",
          ensureCreated: (cm) =>
            Effect.gen(function*() {
              const c = yield* Client.Client
              const name = `child-${cm.metadata.name}`
              const existing = yield* c.get(Kind.ConfigMap, { namespace: ns, name }).pipe(Effect.option)
              if (Option.isNone(existing)) {
                created.push(`${replica} ${name}`)
                yield* c.create(Kind.ConfigMap, { metadata: { name, namespace: ns } })
              }
            }),
          ensureDeleted: (cm) =>
            Effect.flatMap(Client.Client, (c) =>
              c.delete(Kind.ConfigMap, { namespace: ns, name: `child-${cm.metadata.name}` }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone)))
        })
      const replica = (name: string, replicaClient: Client.ClientService) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          yield* Effect.gen(function*() {
            const elector = yield* LeaderElection.make({ name: "keeper", namespace: ns, identity: name })
            yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "keeper", kind: Kind.ConfigMap, namespace: ns, labelSelector: "role=parent", resources: [keeper(name)] })
              .pipe(Effect.provideService(LeaderElection.Leadership, elector))
          }).pipe(
            Effect.provideService(Client.Client, replicaClient),
            Effect.provideService(Controller.Registry, new Set()),
            Effect.provideService(LeaderElection.Registry, new Set()),
            Scope.provide(scope)
          )
          return scope
        })
      // the standby's watches fail while `broken` (its lists still work)
      let broken = false
      const flaky: Client.ClientService = {
        ...client,
        watch: (kind, options) =>
          broken ? Stream.fail(new TransportError({ request: { verb: "watch", path: "/api/v1/configmaps" }, code: "ECONNRESET", detail: "watch refused (test)" }) as never) : client.watch(kind, options)
      }
      const a = yield* replica("a", client)
      yield* settle(50, "100 millis")
      yield* replica("b", flaky)
      yield* settle(50, "100 millis")
      yield* client.create(Kind.ConfigMap, { metadata: { name: "p", namespace: ns, labels: { role: "parent" } } })
      yield* settle(50, "100 millis")
      assert.deepStrictEqual(created, ["a child-p"])
      // the standby's watch goes down and stays down; the parent is deleted and cleaned up by a
      broken = true
      yield* server.cutWatches
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "p" })
      yield* settle(50, "100 millis")
      assert.isTrue(Option.isNone(yield* client.get(Kind.ConfigMap, { namespace: ns, name: "p" }).pipe(Effect.option)), "the parent is gone")
      assert.isTrue(Option.isNone(yield* client.get(Kind.ConfigMap, { namespace: ns, name: "child-p" }).pipe(Effect.option)), "a deleted the child")
      // a steps down (releasing the Lease); b takes the lead
      yield* Scope.close(a, Exit.void)
      yield* settle(300, "100 millis")
      assert.deepStrictEqual(created, ["a child-p"], "b made the child of a parent that is gone")
      assert.isTrue(Option.isNone(yield* client.get(Kind.ConfigMap, { namespace: ns, name: "child-p" }).pipe(Effect.option)))
    }).pipe(withServer))
})
