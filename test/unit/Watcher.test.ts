/**
 * The Watcher's events and the Reflector's changes on their own, on the in-memory API server in
 * virtual time (the Informer composes them; test/unit/Informer.test.ts and
 * test/integration/Informer.test.ts test the whole).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Reflector from "../../src/Reflector.ts"
import { eventually, withServer } from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Watcher from "../../src/Watcher.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
const ns = "default"

const configMap = (name: string, uid: string, resourceVersion: string, data: Record<string, string> = {}): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, uid, resourceVersion },
  data
})

const page = (items: ReadonlyArray<ConfigMap>): Watcher.Event<ConfigMap> => ({
  _tag: "InitPage",
  page: { items, invalid: [], resourceVersion: "10", continue: undefined }
})

describe("Watcher", () => {
  it.effect("a list (Init, pages, InitDone), then watch batches; a 410 brings a relist from etcd", () =>
    withServer(Effect.gen(function*() {
      const client = yield* Client.Client
      const server = yield* TestServer.TestServer
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const watcher = yield* Watcher.make(Kind.ConfigMap, { namespace: ns, pageSize: 1 })
      const events: Array<Watcher.Event<ConfigMap>> = []
      const fiber = yield* watcher.events.pipe(Stream.runForEach((e) => Effect.sync(() => events.push(e))), Effect.forkChild)
      yield* eventually(Effect.sync(() => assert.deepStrictEqual(events.map((e) => e._tag), ["Init", "InitPage", "InitDone"])))
      assert.deepStrictEqual(events[0], { _tag: "Init", relist: false })

      yield* client.create(Kind.ConfigMap, { metadata: { name: "b", namespace: ns } })
      yield* eventually(Effect.sync(() => {
        const last = events.at(-1)
        assert.strictEqual(last?._tag, "Watch")
        if (last?._tag !== "Watch") return
        const added = last.events.find((e) => e.type === "ADDED")
        assert.strictEqual(added?.type === "ADDED" ? added.object.metadata.name : undefined, "b")
        assert.strictEqual(last.resourceVersion, added?.type === "ADDED" ? added.object.metadata.resourceVersion : undefined)
      }))

      // the watch cut and refused once; meanwhile c and d are created and the history compacted
      // past c: the resumed watch answers 410, then a relist
      yield* server.failNext({ verb: "watch", code: 503, times: 1 })
      yield* server.cutWatches
      yield* client.create(Kind.ConfigMap, { metadata: { name: "c", namespace: ns } })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "d", namespace: ns } })
      yield* server.compact
      yield* eventually(Effect.gen(function*() {
        const relists = events.filter((e) => e._tag === "Init" && e.relist)
        assert.strictEqual(relists.length, 1)
        const stats = yield* watcher.stats
        assert.strictEqual(stats.relists, 1)
        assert.strictEqual(stats.lists, 2)
      }))
      const relistAt = events.findIndex((e) => e._tag === "Init" && e.relist)
      const names = events.slice(relistAt).flatMap((e) => (e._tag === "InitPage" ? e.page.items.map((o) => o.metadata.name) : []))
      assert.deepStrictEqual(names, ["a", "b", "c", "d"])
      yield* Fiber.interrupt(fiber)
    })))
})

describe("Reflector", () => {
  it.effect("each version once; a uid change is Deleted then Added; after a relist what it did not bring is Deleted", () =>
    Effect.sync(() => {
      const changes: Array<string> = []
      const reflector = Reflector.make<ConfigMap>({
        onChange: (c) => changes.push(`${c._tag} ${c.object.metadata.name}@${c.object.metadata.resourceVersion} (${c.source})`)
      })
      reflector.apply({ _tag: "Init", relist: false })
      assert.strictEqual(reflector.known(), undefined, "a first list into an empty Store skips nothing")
      reflector.apply(page([configMap("a", "u1", "1"), configMap("b", "u2", "2")]))
      reflector.apply({ _tag: "InitDone", resourceVersion: "2" })
      reflector.apply({
        _tag: "Watch",
        resourceVersion: "4",
        events: [
          { type: "MODIFIED", object: configMap("a", "u1", "1") }, // the same version again: nothing
          { type: "MODIFIED", object: configMap("a", "u1", "3") },
          { type: "ADDED", object: configMap("b", "u3", "4") } // b again, another uid
        ]
      })
      // a relist that brings a (unchanged, recognised from its metadata) and not b
      reflector.apply({ _tag: "Init", relist: true })
      const known = reflector.known()
      assert.isTrue(known?.({ name: "a", namespace: ns, uid: "u1", resourceVersion: "3" }))
      assert.isFalse(known?.({ name: "a", namespace: ns, uid: "u1", resourceVersion: "2" }))
      reflector.apply(page([]))
      reflector.apply({ _tag: "InitDone", resourceVersion: "5" })
      assert.deepStrictEqual(changes, [
        "Added a@1 (list)",
        "Added b@2 (list)",
        "Updated a@3 (watch)",
        "Deleted b@2 (watch)",
        "Added b@4 (watch)",
        "Deleted b@4 (list)"
      ])
      assert.deepStrictEqual(Effect.runSync(reflector.store.keys), ["default/a"])
    }))
})
