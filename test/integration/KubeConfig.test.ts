/**
 * Kubeconfigs against kube-apiserver 1.20.2 with kube-controller-manager issuing ServiceAccount
 * token Secrets: a token file rotated and the old token revoked while the Client and an informer
 * run, and proxies (`proxy-url` over HTTP CONNECT and SOCKS5, the environment's HTTPS_PROXY and
 * NO_PROXY).
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Effect, Option } from "effect"
import * as Client from "../../src/Client.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import * as Proxies from "../support/proxies.ts"
import { call } from "../support/rawHttp.ts"
import * as TcpProxy from "../support/tcpProxy.ts"

const clientFor = (yaml: string, options: { readonly env?: Record<string, string | undefined> } = {}) =>
  Effect.gen(function*() {
    const config = yield* KubeConfig.fromString(yaml, options.env !== undefined ? { env: options.env } : {})
    return yield* Client.make(config)
  })

/** The admin kubeconfig with its cluster entry changed by `f`. */
const withCluster = (env: Envtest.EnvtestService, lines: ReadonlyArray<string>, server = env.server) =>
  env.kubeconfig.replace(`    server: ${env.server}`, [`    server: ${server}`, ...lines.map((l) => `    ${l}`)].join("\n"))

/** A ServiceAccount's token, once kube-controller-manager has put it into the Secret. */
const tokenOf = (namespace: string, secret: string) =>
  eventually(
    Effect.gen(function*() {
      const client = yield* Client.Client
      const s = yield* client.get(Kind.Secret, { namespace, name: secret })
      const token = s.data?.["token"]
      if (token === undefined) return yield* Effect.fail(new Error(`no token in ${secret} yet`))
      return Buffer.from(token, "base64").toString("utf8")
    }),
    { timeout: "30 seconds", interval: "100 millis" }
  )

layer(cluster({ controllerManager: true }), { excludeTestServices: true })("KubeConfig against kube-apiserver 1.20.2", (it) => {
  describe("credentials replaced while the client runs", () => {
    it.effect("a rotated ServiceAccount token file: requests and an informer work again within 5 s of the first 401", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const admin = yield* Client.Client
        const ns = yield* freshNamespace("rot")
        yield* admin.create(Kind.ServiceAccount, { metadata: { name: "operator", namespace: ns } })
        yield* admin.create(Kind.Role, {
          metadata: { name: "configmaps", namespace: ns },
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "update", "delete"] }]
        })
        yield* admin.create(Kind.RoleBinding, {
          metadata: { name: "operator", namespace: ns },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmaps" },
          subjects: [{ kind: "ServiceAccount", name: "operator", namespace: ns }]
        })
        // two token Secrets, both filled in by kube-controller-manager's token controller
        for (const name of ["token-old", "token-new"]) {
          yield* admin.create(Kind.Secret, {
            metadata: { name, namespace: ns, annotations: { "kubernetes.io/service-account.name": "operator" } },
            type: "kubernetes.io/service-account-token"
          })
        }
        const oldToken = yield* tokenOf(ns, "token-old")
        const newToken = yield* tokenOf(ns, "token-new")
        assert.notStrictEqual(oldToken, newToken)

        const tokenFile = Path.join(env.dir, `${ns}.token`)
        Fs.writeFileSync(tokenFile, oldToken)
        // through a proxy whose connections the test can drop
        const proxy = yield* TcpProxy.make(Number(new URL(env.server).port))
        const yaml = withCluster(env, [], `https://127.0.0.1:${proxy.port}`)
          .replace(`    token: ${env.adminToken}`, `    tokenFile: ${tokenFile}`)
        // one Client for the informer (its watch meets the 401), one for requests
        const forInformer = yield* clientFor(yaml)
        const client = yield* clientFor(yaml)
        const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns }).pipe(Effect.provideService(Client.Client, forInformer))
        yield* informer.synced.pipe(Effect.timeout("20 seconds"))
        yield* client.create(Kind.ConfigMap, { metadata: { name: "before", namespace: ns } })

        // the token is replaced in the file, the old one revoked (its Secret deleted)
        Fs.writeFileSync(tokenFile, newToken)
        yield* admin.delete(Kind.Secret, { namespace: ns, name: "token-old" })
        // the API server keeps accepting a revoked token for up to 10 s from its cache
        yield* eventually(
          Effect.flatMap(call(env, "GET", `/api/v1/namespaces/${ns}/configmaps`, { token: oldToken }), (r) =>
            r.status === 401 ? Effect.void : Effect.fail(new Error(`old token still accepted: ${r.status}`))),
          { timeout: "30 seconds", interval: "200 millis" }
        )
        // open connections stay authenticated: drop them, so every next request meets the 401
        proxy.cut()
        const start = performance.now()
        const listed = yield* client.list(Kind.ConfigMap, { namespace: ns })
        assert.deepStrictEqual(listed.items.map((c) => c.metadata.name), ["before"])
        yield* client.create(Kind.ConfigMap, { metadata: { name: "after", namespace: ns } })
        assert.isBelow(performance.now() - start, 5000, "list and create within 5 s")
        yield* eventually(
          Effect.flatMap(informer.store.get(`${ns}/after`), (o) => (Option.isSome(o) ? Effect.void : Effect.fail(new Error("not yet")))),
          { timeout: "10 seconds", interval: "50 millis" }
        )
        assert.isBelow(performance.now() - start, 5000, "the informer sees a write made after the rotation within 5 s")
        const stats = yield* informer.stats
        assert.strictEqual(stats.lists, 1, "no relist")
      }), { timeout: 120_000 })
  })

  describe("impersonation", () => {
    it.effect("as and as-groups are sent as kubectl sends them: one value per group", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const as = (groups: ReadonlyArray<string>) =>
          clientFor(env.kubeconfig.replace(`    token: ${env.adminToken}`, [
            `    token: ${env.adminToken}`,
            "    as: jane",
            `    as-groups: [${groups.map((g) => JSON.stringify(g)).join(", ")}]`
          ].join("\n")))
        const masters = yield* as(["devs", "system:masters"])
        assert.strictEqual((yield* masters.get(Kind.Namespace, { name: "default" })).metadata.name, "default")
        const devs = yield* as(["devs"])
        const error = yield* Effect.flip(devs.get(Kind.Namespace, { name: "default" }))
        assert.strictEqual(error._tag, "Forbidden")
        assert.include(error.message, `User \"jane\"`)
      }))
  })

  describe("proxies", () => {
    it.effect("proxy-url over HTTP CONNECT is used for a loopback server too, with its credentials", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const proxy = yield* Proxies.http()
        const client = yield* clientFor(withCluster(env, [`proxy-url: http://op:s3cret@127.0.0.1:${proxy.port}`]))
        const ns = yield* client.get(Kind.Namespace, { name: "default" })
        assert.strictEqual(ns.metadata.name, "default")
        assert.deepStrictEqual(proxy.targets, [new URL(env.server).host])
        assert.strictEqual(proxy.credentials[0], `Basic ${Buffer.from("op:s3cret").toString("base64")}`)
      }))

    it.effect("proxy-url over SOCKS5, the host name resolved by the proxy", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const proxy = yield* Proxies.socks5({ resolve: (h) => (h === "kube.example.test" ? "127.0.0.1" : h) })
        const port = new URL(env.server).port
        const client = yield* clientFor(withCluster(
          env,
          [`proxy-url: socks5://op:s3cret@127.0.0.1:${proxy.port}`, "tls-server-name: kubernetes.default.svc"],
          `https://kube.example.test:${port}`
        ))
        const ns = yield* client.get(Kind.Namespace, { name: "default" })
        assert.strictEqual(ns.metadata.name, "default")
        assert.deepStrictEqual(proxy.targets, [`kube.example.test:${port}`])
        assert.deepStrictEqual(proxy.credentials, ["op:s3cret"])
      }))

    it.effect("HTTPS_PROXY is used for a server that NO_PROXY does not name, and not for one it does", () =>
      Effect.gen(function*() {
        const env = yield* Envtest.Envtest
        const proxy = yield* Proxies.http({ resolve: (h) => (h === "kube.example.test" ? "127.0.0.1" : h) })
        const port = new URL(env.server).port
        const yaml = withCluster(env, ["tls-server-name: kubernetes.default.svc"], `https://kube.example.test:${port}`)
        const viaProxy = yield* clientFor(yaml, { env: { HTTPS_PROXY: `127.0.0.1:${proxy.port}`, NO_PROXY: "10.0.0.0/8,.internal" } })
        assert.strictEqual((yield* viaProxy.get(Kind.Namespace, { name: "default" })).metadata.name, "default")
        assert.deepStrictEqual(proxy.targets, [`kube.example.test:${port}`])
        // NO_PROXY names it: a direct connection, which cannot resolve the name
        const direct = yield* clientFor(yaml, { env: { HTTPS_PROXY: `127.0.0.1:${proxy.port}`, NO_PROXY: "example.test" } })
        const error = yield* Effect.flip(direct.get(Kind.Namespace, { name: "default" }))
        assert.strictEqual(error._tag, "TransportError")
        assert.strictEqual(proxy.targets.length, 1, "the proxy was not asked again")
      }))
  })
})
