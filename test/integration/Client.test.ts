import { assert, describe, layer } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect, Exit, Fiber, Option, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Patch from "../../src/Patch.ts"
import { cluster, freshNamespace, restrictedClient } from "../support/cluster.ts"
import { installCrd, openCrd, openKind } from "../support/crds.ts"
import * as TcpProxy from "../support/tcpProxy.ts"

/** A Client on a kubeconfig text (e.g. pointed at a proxy), with its own connection pool. */
const clientFor = (yaml: string, options: Client.ClientOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* KubeConfig.fromString(yaml)
    return yield* Client.make(config, options)
  }).pipe(Effect.orDie)

const viaProxy = (options: Client.ClientOptions = {}) =>
  Effect.gen(function*() {
    const env = yield* Envtest.Envtest
    const proxy = yield* TcpProxy.make(Number(new URL(env.server).port))
    const client = yield* clientFor(env.kubeconfig.replace(env.server, `https://127.0.0.1:${proxy.port}`), options)
    return { proxy, client }
  })

const cm = (namespace: string, name: string, data: Record<string, string> = { k: "v" }) => ({
  metadata: { name, namespace },
  data
})

const Widget = openKind("client.test.operatorkit.dev", "Widget")

const ensureWidgetCrd = installCrd(openCrd("client.test.operatorkit.dev", "Widget", "widgets"), Widget)

layer(cluster(), { excludeTestServices: true })("Client against kube-apiserver 1.20.2", (it) => {
  describe("typed errors", () => {
    it.effect("404, 409 AlreadyExists, 409 Conflict and 422 Invalid are distinct typed errors", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const missing = yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: ns, name: "nope" }))
        assert.strictEqual(missing._tag, "NotFound")
        assert.include(missing.message, `ConfigMap ${ns}/nope`)

        const created = yield* client.create(Kind.ConfigMap, cm(ns, "a"))
        const again = yield* Effect.flip(client.create(Kind.ConfigMap, cm(ns, "a")))
        assert.strictEqual(again._tag, "AlreadyExists")

        yield* client.replace(Kind.ConfigMap, { ...created, data: { k: "2" } })
        const stale = yield* Effect.flip(client.replace(Kind.ConfigMap, { ...created, data: { k: "3" } }))
        assert.strictEqual(stale._tag, "Conflict")

        const invalid = yield* Effect.flip(client.create(Kind.ConfigMap, cm(ns, "Not_Valid")))
        assert.strictEqual(invalid._tag, "Invalid")
        if (invalid._tag === "Invalid") assert.deepStrictEqual(invalid.causes.map((c) => c.field), ["metadata.name"])
      }))

    it.effect("403 names the verb, resource and namespace RBAC refused", () =>
      Effect.gen(function*() {
        const ns = yield* freshNamespace()
        const { client, user } = yield* restrictedClient
        const error = yield* Effect.flip(client.list(Kind.ConfigMap, { namespace: ns }))
        assert.strictEqual(error._tag, "Forbidden")
        if (error._tag !== "Forbidden") return
        assert.strictEqual(error.verb, "list")
        assert.strictEqual(error.resource, "configmaps")
        assert.strictEqual(error.namespace, ns)
        assert.include(error.message, `"list" on "configmaps" in namespace "${ns}"`)
        assert.include(error.detail, user.name)

        const cluster = yield* Effect.flip(client.get(Kind.ClusterRole, { name: "admin" }))
        assert.strictEqual(cluster._tag, "Forbidden")
        if (cluster._tag === "Forbidden") {
          assert.strictEqual(cluster.resource, "clusterroles.rbac.authorization.k8s.io")
          assert.isUndefined(cluster.namespace)
          assert.include(cluster.message, "at cluster scope")
        }
      }))

    it.effect("401 for a token the server does not know", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const bad = yield* clientFor(env.kubeconfig.replace(env.adminToken, "no-such-token"))
        const error = yield* Effect.flip(bad.list(Kind.Namespace))
        assert.strictEqual(error._tag, "Unauthorized")
      }))

    it.effect("requests that cannot be right are refused before anything is sent", () =>
      Effect.gen(function*() {
        const { client, proxy } = yield* viaProxy()
        const strategic = yield* Effect.flip(
          client.patch(Widget, { namespace: "default", name: "w" }, Patch.strategic({ spec: {} }) as never)
        )
        assert.strictEqual(strategic._tag, "InvalidRequest")
        assert.include(strategic.message, "strategic merge patches work on built-in kinds only")
        const noManager = yield* Effect.flip(
          client.patch(Kind.ConfigMap, { namespace: "default", name: "x" }, Patch.apply({}, { fieldManager: "" }))
        )
        assert.strictEqual(noManager._tag, "InvalidRequest")
        const noNamespace = yield* Effect.flip(client.get(Kind.ConfigMap, { name: "x" }))
        assert.strictEqual(noNamespace._tag, "InvalidRequest")
        assert.include(noNamespace.message, "namespaced")
        const badObject = yield* Effect.flip(client.create(Kind.ConfigMap, { metadata: { name: "x", namespace: "default" }, data: { n: 1 } } as never))
        assert.strictEqual(badObject._tag, "InvalidRequest")
        assert.include(badObject.message, `["data"]["n"]`)
        assert.strictEqual(proxy.accepted(), 0, "no connection was opened")
      }))
  })

  describe("transport", () => {
    it.effect("a server that accepts and never answers fails the call within its timeout", () =>
      Effect.gen(function*() {
        // the upper bounds only tell the deadlines apart: a loaded machine runs timers late
        const { client, proxy } = yield* viaProxy({ timeout: "700 millis" })
        proxy.blackHole(true)
        const started = performance.now()
        const error = yield* Effect.flip(client.get(Kind.Namespace, { name: "default" }))
        const elapsed = performance.now() - started
        assert.strictEqual(error._tag, "RequestTimeout")
        assert.isAtLeast(elapsed, 650)
        assert.isBelow(elapsed, 30_000)
        // a per-call deadline overrides the client's
        const { client: patient, proxy: proxy2 } = yield* viaProxy({ timeout: "1 minute" })
        proxy2.blackHole(true)
        const started2 = performance.now()
        const error2 = yield* Effect.flip(patient.get(Kind.Namespace, { name: "default" }, { timeout: "200 millis" }))
        assert.strictEqual(error2._tag, "RequestTimeout")
        assert.isBelow(performance.now() - started2, 30_000, "the call's 200 ms, not the client's minute")
      }))

    it.effect("interrupting a call in flight closes its connection", () =>
      Effect.gen(function*() {
        const { client, proxy } = yield* viaProxy()
        yield* client.get(Kind.Namespace, { name: "default" }) // warm one pooled connection
        proxy.stall()
        const closed = proxy.nextClose()
        const fiber = yield* Effect.forkChild(client.list(Kind.ConfigMap))
        yield* Effect.sleep("300 millis")
        assert.strictEqual(proxy.open(), 1)
        yield* Fiber.interrupt(fiber)
        yield* Effect.promise(() => closed).pipe(Effect.timeout("2 seconds"))
        assert.strictEqual(proxy.open(), 0, "the server side saw the connection close")
      }))

    it.effect("sequential calls reuse one keep-alive connection", () =>
      Effect.gen(function*() {
        const { client, proxy } = yield* viaProxy()
        const ns = yield* freshNamespace()
        for (let i = 0; i < 20; i++) yield* client.create(Kind.ConfigMap, cm(ns, `c${i}`))
        for (let i = 0; i < 20; i++) yield* client.get(Kind.ConfigMap, { namespace: ns, name: `c${i}` })
        yield* client.list(Kind.ConfigMap, { namespace: ns, limit: 5 })
        assert.strictEqual(proxy.accepted(), 1)
      }))

    it.effect("TLS verification stays on unless the kubeconfig turns it off", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const withoutCa = env.kubeconfig.replace(/ {4}certificate-authority-data: .*\n/, "")
        const error = yield* Effect.flip((yield* clientFor(withoutCa)).get(Kind.Namespace, { name: "default" }))
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag === "TransportError") assert.match(error.code ?? "", /CERT|SIGNATURE/)
        const insecure = withoutCa.replace("    server:", "    insecure-skip-tls-verify: true\n    server:")
        const ns = yield* (yield* clientFor(insecure)).get(Kind.Namespace, { name: "default" })
        assert.strictEqual(ns.metadata.name, "default")
      }))

    it.effect("an exec credential plugin authenticates", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const plugin = Path.join(env.dir, "credential-plugin.sh")
        Fs.writeFileSync(
          plugin,
          `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"${env.adminToken}"}}'\n`,
          { mode: 0o755 }
        )
        const yaml = env.kubeconfig.replace(
          `    token: ${env.adminToken}`,
          `    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${plugin}`
        )
        assert.notInclude(yaml, env.adminToken)
        const client = yield* clientFor(yaml)
        const ns = yield* client.get(Kind.Namespace, { name: "kube-system" })
        assert.strictEqual(ns.metadata.name, "kube-system")
      }))
  })

  describe("objects", () => {
    it.effect("fields the Schema does not model survive get → replace", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        // a Pod: the server fills in dozens of fields Kind.Pod does not model
        yield* client.create(Kind.Pod, { metadata: { name: "p", namespace: ns }, spec: { containers: [{ name: "c", image: "busybox" }] } })
        const before = yield* client.get(Kind.Pod, { namespace: ns, name: "p" })
        assert.property(before.spec, "dnsPolicy")
        const after = yield* client.replace(Kind.Pod, { ...before, metadata: { ...before.metadata, labels: { touched: "yes" } } })
        assert.deepStrictEqual(after.spec, before.spec)
        assert.deepStrictEqual(after.metadata.labels, { touched: "yes" })

        // a custom object whose spec holds fields the Kind's Schema does not declare
        yield* ensureWidgetCrd
        const spec = { size: { unmodelled: [1, 2, { deep: true }] }, colour: "teal", nested: { a: { b: "c" } } }
        yield* client.create(Widget, { metadata: { name: "w", namespace: ns }, spec, extraTopLevel: "pruned by the server" } as never)
        const widget = yield* client.get(Widget, { namespace: ns, name: "w" })
        assert.deepStrictEqual(widget.spec, spec)
        const replaced = yield* client.replace(Widget, { ...widget, metadata: { ...widget.metadata, annotations: { a: "b" } } })
        assert.deepStrictEqual(replaced.spec, spec)
        const status = yield* client.replaceStatus(Widget, { ...replaced, status: { phase: "Ready", seen: 3 } })
        assert.deepStrictEqual(status.status, { phase: "Ready", seen: 3 })
        assert.deepStrictEqual((yield* client.getStatus(Widget, { namespace: ns, name: "w" })).spec, spec)
      }))

    it.effect("two field managers applying one field: a typed conflict listing the field; force takes it over", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "applied" }
        const body = (x: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: ref, data: { x } })
        yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body("first"), { fieldManager: "alpha" }))
        const conflict = yield* Effect.flip(client.patch(Kind.ConfigMap, ref, Patch.apply(body("second"), { fieldManager: "beta" })))
        assert.strictEqual(conflict._tag, "Conflict")
        if (conflict._tag === "Conflict") {
          assert.deepStrictEqual(conflict.causes.map((c) => [c.reason, c.field]), [["FieldManagerConflict", ".data.x"]])
          assert.include(conflict.message, ".data.x")
        }
        const forced = yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body("second"), { fieldManager: "beta", force: true }))
        assert.strictEqual(forced.data?.["x"], "second")
        const managers = (forced.metadata.managedFields as Array<{ manager: string }>).map((m) => m.manager)
        assert.include(managers, "beta")
      }))

    it.effect("merge, JSON and strategic patches; JSON patch test op guards the resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "p" }
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "p", { a: "1", b: "2" }))
        const merged = yield* client.patch(Kind.ConfigMap, ref, Patch.merge({ data: { b: null, c: "3" } }))
        assert.deepStrictEqual(merged.data, { a: "1", c: "3" })
        const stale = yield* Effect.flip(client.patch(Kind.ConfigMap, ref, Patch.json([
          { op: "test", path: "/metadata/resourceVersion", value: created.metadata.resourceVersion },
          { op: "add", path: "/data/d", value: "4" }
        ])))
        assert.oneOf(stale._tag, ["Invalid", "Conflict"])
        const guarded = yield* client.patch(Kind.ConfigMap, ref, Patch.json([
          { op: "test", path: "/metadata/resourceVersion", value: merged.metadata.resourceVersion },
          { op: "add", path: "/data/d", value: "4" }
        ]))
        assert.strictEqual(guarded.data?.["d"], "4")
        const strategic = yield* client.patch(Kind.ConfigMap, ref, Patch.strategic({ data: { e: "5" } }))
        assert.deepStrictEqual(strategic.data, { a: "1", c: "3", d: "4", e: "5" })
      }))

    it.effect("dry-run answers as if it wrote and persists nothing", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const answer = yield* client.create(Kind.ConfigMap, cm(ns, "dry"), { dryRun: true })
        assert.strictEqual(answer.metadata.name, "dry")
        const error = yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: ns, name: "dry" }))
        assert.strictEqual(error._tag, "NotFound")
      }))

    it.effect("delete: preconditions, finalizers keep the object, None once gone", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, { ...cm(ns, "d"), metadata: { name: "d", namespace: ns, finalizers: ["example.com/hold"] } })
        const wrongUid = yield* Effect.flip(client.delete(Kind.ConfigMap, { namespace: ns, name: "d" }, { preconditions: { uid: "not-the-uid" } }))
        assert.strictEqual(wrongUid._tag, "Conflict")
        const pending = yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "d" }, { preconditions: { uid: created.metadata.uid! } })
        assert.isTrue(Option.isSome(pending))
        if (Option.isSome(pending)) assert.isString(pending.value.metadata.deletionTimestamp)
        const current = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "d" })
        yield* client.replace(Kind.ConfigMap, { ...current, metadata: { ...current.metadata, finalizers: [] } })
        assert.strictEqual((yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: ns, name: "d" })))._tag, "NotFound")
        yield* client.create(Kind.ConfigMap, cm(ns, "e"))
        assert.isTrue(Option.isNone(yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "e" })))
      }))

    it.effect("list pages, and label and field selectors", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        for (let i = 0; i < 12; i++) {
          yield* client.create(Kind.ConfigMap, { metadata: { name: `s${i}`, namespace: ns, labels: { parity: i % 2 === 0 ? "even" : "odd" } } })
        }
        const pages = yield* Stream.runCollect(client.listPages(Kind.ConfigMap, { namespace: ns, limit: 5 }))
        assert.deepStrictEqual(pages.map((p) => p.items.length), [5, 5, 2])
        const all = yield* client.list(Kind.ConfigMap, { namespace: ns, limit: 5 })
        assert.strictEqual(all.items.length, 12)
        const even = yield* client.list(Kind.ConfigMap, { namespace: ns, labelSelector: "parity=even" })
        assert.strictEqual(even.items.length, 6)
        const one = yield* client.list(Kind.ConfigMap, { namespace: ns, fieldSelector: "metadata.name=s3" })
        assert.deepStrictEqual(one.items.map((c) => c.metadata.name), ["s3"])
      }))
  })

  describe("watch", () => {
    it.effect("streams many small events in order, and one large event intact", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const start = yield* client.list(Kind.ConfigMap, { namespace: ns })
        const n = 200
        const fiber = yield* client.watch(Kind.ConfigMap, { namespace: ns, resourceVersion: start.resourceVersion }).pipe(
          Stream.filter((e) => e.type !== "BOOKMARK"),
          Stream.take(n + 1),
          Stream.runCollect,
          Effect.forkChild
        )
        yield* Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.create(Kind.ConfigMap, cm(ns, `w${i}`)), {
          concurrency: 8,
          discard: true
        })
        const big = "x".repeat(900_000)
        yield* client.create(Kind.ConfigMap, cm(ns, "big", { big }))
        const events = yield* Fiber.join(fiber).pipe(Effect.timeout("20 seconds"))
        assert.strictEqual(events.length, n + 1)
        const rvs = events.map((e) => (e.type === "ADDED" ? Number(e.object.metadata.resourceVersion) : -1))
        assert.deepStrictEqual(rvs, [...rvs].sort((a, b) => a - b), "in resourceVersion order")
        const last = events[n]!
        assert.strictEqual(last.type, "ADDED")
        if (last.type === "ADDED") assert.strictEqual(last.object.data?.["big"], big)
      }))

    it.effect("a dropped connection ends the watch with a TransportError", () =>
      Effect.gen(function*() {
        const { client, proxy } = yield* viaProxy()
        const fiber = yield* client.watch(Kind.Namespace).pipe(Stream.runDrain, Effect.exit, Effect.forkChild)
        yield* Effect.sleep("500 millis")
        proxy.cut()
        const exit = yield* Fiber.join(fiber).pipe(Effect.timeout("5 seconds"))
        assert.isTrue(Exit.isFailure(exit))
        const reason = Exit.isFailure(exit) ? (exit.cause.reasons[0] as any)?.error : undefined
        assert.strictEqual(reason?._tag, "TransportError")
      }))
  })
})
