/**
 * Echo suppression (internal/controller/writeTracker.ts) must never swallow someone else's change:
 * the watch event a reconcile's own write causes does not requeue its key, but an event is only
 * that write's echo when the write is known to have made its version, and only a watch event
 * carries one version at a time. Both cases below were found by the deterministic simulation
 * (test/simulation): a replica's status write, retried on conflict from a fresh read, answered a
 * version holding a spec change its reconcile never saw; the informer then relisted after a 410 and
 * went straight from the old version to that one, and the controller kept the old generation's
 * status forever.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import type * as Informer from "../../src/Informer.ts"
import { cacheOf, WriteTracker } from "../../src/internal/controller/writeTracker.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import * as Store from "../../src/Store.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"

/**
 * A controller whose first reconcile stops at a gate, then makes `write`; it records the `v` of
 * every object it reconciles. The test changes the object behind its back while it waits.
 */
const gated = (write: (cm: ConfigMap) => Effect.Effect<unknown, unknown, Client.Client>) =>
  Effect.gen(function*() {
    const entered = yield* Deferred.make<void>()
    const gate = yield* Deferred.make<void>()
    const wrote = yield* Deferred.make<void>()
    const seen: Array<string | undefined> = []
    const resource = Framework.make<ConfigMap>()({
      name: "gated",
      ensureCreated: (cm) =>
        Effect.gen(function*() {
          seen.push(cm.data?.["v"])
          if (seen.length > 1) return
          yield* Deferred.succeed(entered, undefined)
          yield* Deferred.await(gate)
          yield* write(cm)
          yield* Deferred.succeed(wrote, undefined)
        }),
      ensureDeleted: () => Effect.void
    })
    yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "gated", kind: Kind.ConfigMap, namespace: ns, resources: [resource] })
    return { entered, gate, wrote, seen }
  })

/** Sets `v` on the object as another writer would (not through a reconcile). */
const setV = (v: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    yield* client.patch(Kind.ConfigMap, { namespace: ns, name: "x" }, Patch.merge({ data: { v } }))
  })

describe("Echo suppression (in-memory server, TestClock)", () => {
  it.effect("a relist that jumps over someone else's change to our write's version still requeues the key", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      // a read-modify-write retried on conflict from a fresh read, as Status.update does
      const { entered, gate, seen, wrote } = yield* gated((cm) =>
        Effect.gen(function*() {
          const c = yield* Client.Client
          const mark = (o: ConfigMap) => ({ ...o, metadata: { ...o.metadata, annotations: { mirrored: "yes" } } })
          yield* c.replace(Kind.ConfigMap, mark(cm)).pipe(
            Effect.catchTag("Conflict", () => Effect.flatMap(c.get(Kind.ConfigMap, { namespace: ns, name: "x" }), (fresh) => c.replace(Kind.ConfigMap, mark(fresh))))
          )
        })
      )
      yield* client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: ns }, data: { v: "1" } })
      yield* settle()
      yield* Deferred.await(entered)
      // the watch drops (the informer backs off on the TestClock), v changes, the reconcile writes,
      // the history is compacted
      yield* server.cutWatches
      yield* setV("2")
      yield* Deferred.succeed(gate, undefined)
      yield* Deferred.await(wrote)
      yield* server.compact
      // the informer comes back, gets 410 and relists: the object jumps from v=1 to our write
      yield* settle(100, "100 millis")
      assert.deepStrictEqual(seen, ["1", "2"])
    }).pipe(withServer))

  it.effect("a write without a precondition that changed nothing answers someone else's version: its event still requeues the key", () =>
    Effect.gen(function*() {
      const server = yield* TestServer.TestServer
      const client = yield* Client.Client
      // a merge patch of what the object already holds: the server answers its current version
      const { entered, gate, seen, wrote } = yield* gated(() =>
        Effect.flatMap(Client.Client, (c) => c.patch(Kind.ConfigMap, { namespace: ns, name: "x" }, Patch.merge({ metadata: { annotations: { touched: "yes" } } })))
      )
      yield* client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: ns, annotations: { touched: "yes" } }, data: { v: "1" } })
      yield* settle()
      yield* Deferred.await(entered)
      // the watch drops; v changes; the reconcile's no-op patch answers that change's version
      yield* server.cutWatches
      yield* setV("2")
      yield* Deferred.succeed(gate, undefined)
      yield* Deferred.await(wrote)
      // the informer resumes its watch and gets the change as a watch event
      yield* settle(100, "100 millis")
      assert.deepStrictEqual(seen, ["1", "2"])
    }).pipe(withServer))
})

describe("WriteTracker: what a write leaves to wait for", () => {
  type Object = Kind.KubeObject
  const at = (rv: number): Object => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: ns, uid: "u-a", resourceVersion: String(rv) } })
  /** A cache over a Store the test drives, as the informer would (its Store first, then `observe`). */
  const setup = () => {
    const store = Store.makeCache<Object>()
    const informer = { store: store.store, waitForResourceVersion: () => Effect.never } as unknown as Informer.Informer<Object>
    const cache = cacheOf("primary", Kind.ConfigMap, informer, { namespace: ns })
    const tracker = new WriteTracker([cache], () => Effect.void)
    const show = (object: Object) => {
      const old = store.set(object)
      tracker.observe(cache, old === undefined ? { _tag: "Added", object, source: "watch" } : { _tag: "Updated", old, object, source: "watch" }, [])
    }
    const write = (answer: Object) =>
      tracker.around("default/a", Kind.ConfigMap, { namespace: ns, name: "a" }, Effect.succeed(answer), (o) => ({ _tag: "Present", object: o, echo: true }))
    return { tracker, show, write }
  }

  it.effect("the cache showing the written version ends the wait: nothing is kept for the key's next reconcile", () =>
    Effect.gen(function*() {
      const { tracker, show, write } = setup()
      show(at(4))
      yield* write(at(5))
      // the echo has not come: the next reconcile would wait for it
      assert.isTrue(tracker.waits("default/a"))
      show(at(5))
      assert.isFalse(tracker.waits("default/a"))
    }))

  it.effect("an echo that came before the write's answer leaves nothing to wait for", () =>
    Effect.gen(function*() {
      const { tracker, show, write } = setup()
      show(at(4))
      show(at(5))
      yield* write(at(5))
      assert.isFalse(tracker.waits("default/a"))
    }))

  it.effect("a version short of the written one keeps the wait", () =>
    Effect.gen(function*() {
      const { tracker, show, write } = setup()
      show(at(4))
      yield* write(at(6))
      show(at(5))
      assert.isTrue(tracker.waits("default/a"))
      show(at(7))
      assert.isFalse(tracker.waits("default/a"))
    }))
})
