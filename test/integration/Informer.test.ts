import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import { cluster, freshNamespace, restrictedClient } from "../support/cluster.ts"
import { installCrd, openCrd } from "../support/crds.ts"
import { eventually } from "../../src/testing/helpers.ts"
import * as TcpProxy from "../support/tcpProxy.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

/** Every change an informer dispatches, as "Tag name@resourceVersion" lines after the initial replay. */
const record = <A extends Kind.KubeObject>(informer: Informer.Informer<A>) =>
  Effect.gen(function*() {
    const seen: Array<Informer.Change<A>> = []
    yield* informer.changes.pipe(Stream.runForEach((c) => Effect.sync(() => seen.push(c))), Effect.forkScoped)
    return seen
  })

const describeChange = (c: Informer.Change<Kind.KubeObject>) =>
  `${c._tag} ${c.object.metadata.name}@${c.object.metadata.resourceVersion}`

/** A Client through a proxy in front of the API server, with short deadlines so faults surface fast. */
const clientViaProxy = Effect.gen(function*() {
  const env = yield* Envtest.Envtest
  const port = Number(new URL(env.server).port)
  const proxy = yield* TcpProxy.make(port)
  const config = yield* KubeConfig.fromString(env.kubeconfig.replace(env.server, `https://127.0.0.1:${proxy.port}`))
  const client = yield* Client.make(config, { timeout: "2 seconds" })
  return { proxy, client, port }
}).pipe(Effect.orDie)

/** The server's list, as "name@resourceVersion". */
const serverState = (namespace: string, labelSelector?: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const list = yield* client.list(Kind.ConfigMap, { namespace, labelSelector })
    return list.items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort()
  })

const storeState = (informer: Informer.Informer<ConfigMap>) =>
  Effect.map(informer.store.list(), (items) => items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort())

/**
 * Creates `n` ConfigMaps, then waits until the watch cache holds them: an informer's first list
 * (resourceVersion=0) is served from it, and may otherwise miss the newest objects.
 */
const seed = (namespace: string, n: number, labels?: Record<string, string>) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const created = yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) => client.create(Kind.ConfigMap, { metadata: { name: `cm-${i}`, namespace, ...(labels ? { labels } : {}) }, data: { v: "0" } }),
      { concurrency: 8 }
    )
    const newest = Math.max(...created.map((cm) => Number(cm.metadata.resourceVersion)))
    yield* client.list(Kind.ConfigMap, { namespace, resourceVersion: String(newest), resourceVersionMatch: "NotOlderThan" })
  })

const bump = (namespace: string, name: string, v: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const cm = yield* client.get(Kind.ConfigMap, { namespace, name })
    return yield* client.replace(Kind.ConfigMap, { ...cm, data: { v } })
  })

layer(cluster(), { excludeTestServices: true })("Informer on kube-apiserver 1.20.2", (it) => {
  it.effect("lists, then watches: the Store follows the server and each change is dispatched once", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 20)
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns })
      yield* informer.synced
      const seen = yield* record(informer)
      yield* eventually(Effect.sync(() => assert.strictEqual(seen.length, 20)))
      assert.isTrue(seen.every((c) => c._tag === "Added" && c.source === "list"))
      assert.isUndefined((yield* informer.store.get(`${ns}/cm-0`)).pipe((o) => (o._tag === "Some" ? o.value.metadata.managedFields : undefined)))

      const updated = yield* bump(ns, "cm-1", "1")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-2" })
      const created = yield* client.create(Kind.ConfigMap, { metadata: { name: "new", namespace: ns } })
      yield* informer.waitForResourceVersion(created.metadata.resourceVersion!)
      // the Store is current now; the subscriber drains its queue a moment later
      yield* eventually(Effect.sync(() => assert.strictEqual(seen.length, 23)))
      const live = seen.slice(20).map(describeChange)
      assert.deepStrictEqual(live.map((l) => l.split("@")[0]), ["Updated cm-1", "Deleted cm-2", "Added new"])
      assert.strictEqual(live[0], `Updated cm-1@${updated.metadata.resourceVersion}`)
      assert.deepStrictEqual(yield* storeState(informer), yield* serverState(ns))
      const stats = yield* informer.stats
      assert.strictEqual(stats.lists, 1)
      assert.isTrue(stats.synced)
    }))

  it.effect("API server stopped and restarted mid-watch: the Store matches the server, changes around the restart are dispatched, nothing unchanged again", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.Envtest
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 30)
      const { client: proxied } = yield* clientViaProxy
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, backoff: { initial: "100 millis", max: "1 second" } })
        .pipe(Effect.provideService(Client.Client, proxied))
      yield* informer.synced
      const seen = yield* record(informer)
      yield* eventually(Effect.sync(() => assert.strictEqual(seen.length, 30)))

      yield* bump(ns, "cm-1", "before")
      yield* env.restartApiServer
      yield* bump(ns, "cm-2", "after")
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-3" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "born-after", namespace: ns } })

      yield* eventually(Effect.gen(function*() {
        assert.deepStrictEqual(yield* storeState(informer), yield* serverState(ns))
      }), { timeout: "30 seconds" })
      const live = seen.slice(30).map(describeChange).map((l) => l.split("@")[0]).sort()
      assert.deepStrictEqual(live, ["Added born-after", "Deleted cm-3", "Updated cm-1", "Updated cm-2"])
      const stats = yield* informer.stats
      assert.isAbove(stats.watchRestarts, 0)
    }))

  it.effect("a watch stalled behind a proxy is restarted at its inactivity deadline and nothing is lost", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 10)
      const { client: proxied, proxy } = yield* clientViaProxy
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, inactivityTimeout: "2 seconds", watchTimeout: "5 minutes" })
        .pipe(Effect.provideService(Client.Client, proxied))
      yield* informer.synced
      const seen = yield* record(informer)
      yield* eventually(Effect.sync(() => assert.strictEqual(seen.length, 10)))
      yield* Effect.sleep("300 millis") // let the watch start
      proxy.stallOpen()
      yield* bump(ns, "cm-4", "during-stall")
      yield* client.create(Kind.ConfigMap, { metadata: { name: "during-stall", namespace: ns } })
      yield* Effect.sleep("500 millis")
      assert.strictEqual(seen.length, 10, "nothing arrives through the stalled connection")
      yield* eventually(Effect.gen(function*() {
        assert.deepStrictEqual(yield* storeState(informer), yield* serverState(ns))
      }), { timeout: "15 seconds" })
      assert.deepStrictEqual(seen.slice(10).map(describeChange).map((l) => l.split("@")[0]).sort(), ["Added during-stall", "Updated cm-4"])
      assert.isAtLeast((yield* informer.stats).stalls, 1)
    }))

  it.effect("a label-selected informer never sees a non-matching object", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 5, { app: "yes" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "other", namespace: ns, labels: { app: "no" } } })
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, labelSelector: "app=yes" })
      yield* informer.synced
      const seen = yield* record(informer)
      yield* client.create(Kind.ConfigMap, { metadata: { name: "other-2", namespace: ns, labels: { app: "no" } } })
      const cm0 = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "cm-0" })
      yield* client.replace(Kind.ConfigMap, { ...cm0, metadata: { ...cm0.metadata, labels: { app: "no" } } })
      const last = yield* client.create(Kind.ConfigMap, { metadata: { name: "late", namespace: ns, labels: { app: "yes" } } })
      yield* informer.waitForResourceVersion(last.metadata.resourceVersion!)
      yield* eventually(Effect.sync(() => assert.isTrue(seen.some((c) => c.object.metadata.name === "late"))))
      for (const c of seen) assert.strictEqual(c.object.metadata.labels?.["app"], "yes", describeChange(c))
      assert.deepStrictEqual(yield* storeState(informer), yield* serverState(ns, "app=yes"))
      assert.isTrue(seen.some((c) => c._tag === "Deleted" && c.object.metadata.name === "cm-0"), "leaving the selector is a delete")
    }))

  it.effect("a restricted user: errors reported and retried, the informer syncs once RBAC allows", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 3)
      const { client: restricted, user } = yield* restrictedClient
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, backoff: { initial: "200 millis", max: "1 second" } })
        .pipe(Effect.provideService(Client.Client, restricted))
      yield* eventually(Effect.gen(function*() {
        const stats = yield* informer.stats
        assert.isAtLeast(stats.errors, 2)
        assert.strictEqual(stats.lastError?._tag, "Forbidden")
      }))
      assert.isFalse((yield* informer.stats).synced)
      yield* client.create(Kind.Role, {
        metadata: { name: "read-cm", namespace: ns },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list", "watch"] }]
      })
      yield* client.create(Kind.RoleBinding, {
        metadata: { name: "read-cm", namespace: ns },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-cm" },
        subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user.name }]
      })
      yield* informer.synced.pipe(Effect.timeout("10 seconds"))
      assert.strictEqual((yield* informer.store.size), 3)
    }))

  it.effect("an object that does not decode is reported and the stream goes on", () =>
    Effect.gen(function*() {
      const Gadget = Kind.custom({
        group: "informer.test.operatorkit.dev",
        version: "v1",
        kind: "Gadget",
        namespaced: true,
        spec: Schema.Struct({ size: Schema.Number })
      })
      yield* installCrd(openCrd("informer.test.operatorkit.dev", "Gadget", "gadgets"), Gadget)
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* client.create(Gadget, { metadata: { name: "good", namespace: ns }, spec: { size: 1 } })
      yield* client.raw({
        method: "POST",
        path: `/apis/informer.test.operatorkit.dev/v1/namespaces/${ns}/gadgets`,
        body: { apiVersion: "informer.test.operatorkit.dev/v1", kind: "Gadget", metadata: { name: "bad" }, spec: { size: "huge" } }
      })
      const informer = yield* Informer.make(Gadget, { namespace: ns })
      yield* informer.synced
      // the first list comes from the watch cache (resourceVersion=0), which may not hold the two
      // objects yet: they then arrive on the watch. Either way "bad" is reported once, before "later"
      const later = yield* client.create(Gadget, { metadata: { name: "later", namespace: ns }, spec: { size: 2 } })
      yield* informer.waitForResourceVersion(later.metadata.resourceVersion!)
      assert.strictEqual((yield* informer.stats).decodeFailures, 1)
      assert.deepStrictEqual([...(yield* informer.store.keys)].sort(), [`${ns}/good`, `${ns}/later`])
    }))

  it.effect("informers are shared per kind, namespace and selectors", () =>
    Effect.gen(function*() {
      const ns = yield* freshNamespace()
      yield* seed(ns, 2)
      const context = yield* Layer.build(Informer.layer)
      const informers = Context.get(context, Informer.Informers)
      const a = yield* informers.get(Kind.ConfigMap, { namespace: ns })
      const b = yield* informers.get(Kind.ConfigMap, { namespace: ns })
      const other = yield* informers.get(Kind.ConfigMap, { namespace: ns, labelSelector: "x=y" })
      assert.strictEqual(a, b)
      assert.notStrictEqual(a, other)
      yield* a.synced
      assert.strictEqual((yield* a.stats).lists, 1)
      assert.strictEqual((yield* informers.all).length, 2)
    }))
})

layer(cluster({ watchCache: false }), { excludeTestServices: true })("Informer without the watch cache", (it) => {
  it.effect("etcd compacted while disconnected, objects deleted and re-created meanwhile: one relist, its diff dispatched, no hot loop", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.Envtest
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* seed(ns, 20)
      const { client: proxied, proxy, port } = yield* clientViaProxy
      const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns, backoff: { initial: "100 millis", max: "500 millis" } })
        .pipe(Effect.provideService(Client.Client, proxied))
      yield* informer.synced
      const seen = yield* record(informer)
      yield* eventually(Effect.sync(() => assert.strictEqual(seen.length, 20)))
      const oldUid = (yield* client.get(Kind.ConfigMap, { namespace: ns, name: "cm-5" })).metadata.uid

      // disconnect: every connection cut, new ones refused
      proxy.retarget(1)
      proxy.cut()
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-1" })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-2" })
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "cm-5" })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "cm-5", namespace: ns }, data: { v: "reborn" } })
      yield* bump(ns, "cm-6", "x")
      yield* bump(ns, "cm-6", "y")
      yield* env.compactEtcd
      proxy.retarget(port)

      yield* eventually(Effect.gen(function*() {
        assert.deepStrictEqual(yield* storeState(informer), yield* serverState(ns))
      }), { timeout: "20 seconds" })
      const live = seen.slice(20)
      // pages come in key order; vanished objects are deleted after the last page
      assert.deepStrictEqual(live.map(describeChange).map((l) => l.split("@")[0]), [
        "Deleted cm-5",
        "Added cm-5",
        "Updated cm-6",
        "Deleted cm-1",
        "Deleted cm-2"
      ])
      const deletedCm5 = live.find((c) => c._tag === "Deleted" && c.object.metadata.name === "cm-5")!
      assert.strictEqual(deletedCm5.object.metadata.uid, oldUid, "the delete carries the old object")
      assert.isTrue(live.every((c) => c.source === "list"), "the relist's diff")
      yield* Effect.sleep("1 second")
      const stats = yield* informer.stats
      assert.strictEqual(stats.relists, 1)
      assert.strictEqual(stats.lists, 2, "the initial list and one relist, no more")
      assert.strictEqual(seen.length, 25, "nothing more was dispatched")
    }))
})
