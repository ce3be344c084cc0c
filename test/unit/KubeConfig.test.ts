import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import * as KubeConfig from "../../src/KubeConfig.ts"

const yaml = (server: string, opts: { context?: string; user?: string; token?: string; namespace?: string } = {}) => `
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ${server}
users:
- name: ${opts.user ?? "u"}
  user:
    token: ${opts.token ?? "t0k3n"}
contexts:
- name: ${opts.context ?? "ctx"}
  context:
    cluster: c
    user: ${opts.user ?? "u"}
${opts.namespace !== undefined ? `    namespace: ${opts.namespace}` : ""}
current-context: ${opts.context ?? "ctx"}
`

const withEnv = <A, E>(vars: Record<string, string | undefined>, effect: Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved: Record<string, string | undefined> = {}
      for (const [k, v] of Object.entries(vars)) {
        saved[k] = process.env[k]
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      })
  )

const tmp = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "okit-kc-"))

describe("KubeConfig", () => {
  it.effect("loads a file: server, context, user, default namespace, static token header", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = Path.join(dir, "config")
      Fs.writeFileSync(file, yaml("https://example.test:6443/", { namespace: "team-a" }))
      const kc = yield* KubeConfig.fromFile(file)
      assert.strictEqual(kc.server, "https://example.test:6443")
      assert.strictEqual(kc.context, "ctx")
      assert.strictEqual(kc.namespace, "team-a")
      assert.deepStrictEqual(yield* kc.authHeaders, { authorization: "Bearer t0k3n" })
      assert.isTrue(kc.tls.rejectUnauthorized)
    }))

  it.effect("a missing file, broken YAML, or dangling names are typed errors naming the file and the problem", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const missing = yield* Effect.flip(KubeConfig.fromFile(Path.join(dir, "nope")))
      assert.strictEqual(missing.source, Path.join(dir, "nope"))
      assert.include(missing.message, "cannot read")

      const broken = Path.join(dir, "broken")
      Fs.writeFileSync(broken, "clusters: [ {")
      const parse = yield* Effect.flip(KubeConfig.fromFile(broken))
      assert.strictEqual(parse._tag, "KubeConfigError")
      assert.strictEqual(parse.source, broken)

      const noContext = yield* Effect.flip(KubeConfig.fromString(yaml("https://x").replace("current-context: ctx", "current-context: other")))
      assert.include(noContext.message, `current-context "other" is not defined`)

      const wrongContext = yield* Effect.flip(KubeConfig.fromString(yaml("https://x"), { context: "prod" }))
      assert.include(wrongContext.message, `no context "prod" (contexts: ctx)`)

      const badUrl = yield* Effect.flip(KubeConfig.fromString(yaml("ftp://x")))
      assert.include(badUrl.message, "https:// or http://")

      const badCa = yield* Effect.flip(KubeConfig.fromString(
        yaml("https://x").replace("    server: https://x", "    server: https://x\n    certificate-authority: /nonexistent/ca.crt")
      ))
      assert.include(badCa.message, "/nonexistent/ca.crt")
    }))

  it.effect("KUBECONFIG merges several files, the first one's current-context winning", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const a = Path.join(dir, "a")
      const b = Path.join(dir, "b")
      Fs.writeFileSync(a, yaml("https://a.test", { context: "first", user: "ua", token: "ta" }))
      Fs.writeFileSync(b, yaml("https://b.test", { context: "second", user: "ub", token: "tb" }).replace("name: c", "name: cb").replace("cluster: c\n", "cluster: cb\n"))
      const kc = yield* withEnv({ KUBECONFIG: [a, b].join(Path.delimiter) }, KubeConfig.fromDefault())
      assert.strictEqual(kc.context, "first")
      assert.strictEqual(kc.server, "https://a.test")
      const other = yield* withEnv({ KUBECONFIG: [a, b].join(Path.delimiter) }, KubeConfig.fromDefault({ context: "second" }))
      assert.strictEqual(other.server, "https://b.test")
      assert.deepStrictEqual(yield* other.authHeaders, { authorization: "Bearer tb" })
    }))

  it.effect("with no kubeconfig anywhere, the default rules say so instead of guessing localhost:8080", () =>
    Effect.gen(function*() {
      const home = tmp()
      const error = yield* Effect.flip(
        withEnv({ KUBECONFIG: undefined, HOME: home, KUBERNETES_SERVICE_HOST: undefined }, KubeConfig.fromDefault())
      )
      assert.include(error.message, "no kubeconfig found")
      assert.include(error.message, Path.join(home, ".kube", "config"))
    }))

  it.effect("in-cluster: service host, mounted CA and a token file", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const sa = Path.join(dir, "var/run/secrets/kubernetes.io/serviceaccount")
      Fs.mkdirSync(sa, { recursive: true })
      Fs.writeFileSync(Path.join(sa, "token"), "sa-token-1")
      Fs.writeFileSync(Path.join(sa, "namespace"), "operators\n")
      Fs.writeFileSync(Path.join(sa, "ca.crt"), "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n")
      const kc = yield* withEnv(
        { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
        KubeConfig.inCluster({ root: dir })
      )
      assert.strictEqual(kc.server, "https://10.0.0.1:443")
      assert.strictEqual(kc.namespace, "operators")
      assert.deepStrictEqual(yield* kc.authHeaders, { authorization: "Bearer sa-token-1" })
      assert.isDefined(kc.tls.ca)

      const outside = yield* Effect.flip(withEnv({ KUBERNETES_SERVICE_HOST: undefined }, KubeConfig.inCluster({ root: dir })))
      assert.include(outside.message, "not running in a pod")
    }))
})
