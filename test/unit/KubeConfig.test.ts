import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Logger } from "effect"
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

const fixture = (...parts: ReadonlyArray<string>) => Path.join(import.meta.dirname, "..", "fixtures", "kubeconfig", ...parts)

const fromList = (files: ReadonlyArray<string>, options: { readonly context?: string } = {}) =>
  withEnv({ KUBECONFIG: files.join(Path.delimiter), KUBERNETES_SERVICE_HOST: undefined }, KubeConfig.fromDefault(options))

describe("KubeConfig: kubectl's loading rules (test/fixtures/kubeconfig)", () => {
  it.effect("merge: the first file to define a cluster, user or context wins whole; later duplicates are ignored, not an error", () =>
    Effect.gen(function*() {
      const files = [fixture("merge", "first.yaml"), fixture("merge", "second.yaml")]
      const kc = yield* fromList(files)
      assert.strictEqual(kc.context, "shared", "the first current-context wins")
      assert.strictEqual(kc.server, "https://first.example.test")
      assert.strictEqual(kc.namespace, "first-ns")
      assert.isUndefined(kc.tls.servername, "nothing of the second file's cluster of the same name")
      assert.deepStrictEqual(yield* kc.authHeaders, { authorization: "Bearer first-token" }, "nor of its user")
      const other = yield* fromList(files, { context: "other" })
      assert.strictEqual(other.server, "https://only-second.example.test", "names only the second file defines are there")
      assert.deepStrictEqual(yield* other.authHeaders, { authorization: "Bearer first-token" })
      // the other order: the second file wins
      const reversed = yield* fromList([...files].reverse())
      assert.strictEqual(reversed.context, "other")
      assert.deepStrictEqual(yield* reversed.authHeaders, { authorization: "Bearer second-token", "impersonate-user": "someone-else" })
    }))

  it.effect("a first file without current-context is fine: a later file's is used", () =>
    Effect.gen(function*() {
      const kc = yield* fromList([fixture("no-current", "first.yaml"), fixture("no-current", "second.yaml")])
      assert.strictEqual(kc.context, "a")
      assert.strictEqual(kc.server, "https://a.example.test")
    }))

  it.effect("missing and empty files in the list are skipped; a file listed twice is read once", () =>
    Effect.gen(function*() {
      const first = fixture("merge", "first.yaml")
      const kc = yield* fromList([fixture("nope.yaml"), fixture("empty.yaml"), first, first])
      assert.strictEqual(kc.server, "https://first.example.test")
    }))

  it.effect("a name twice in one file, or a field of the wrong type, fails the file with where", () =>
    Effect.gen(function*() {
      const duplicate = yield* Effect.flip(KubeConfig.fromFile(fixture("duplicate-in-file.yaml")))
      assert.include(duplicate.message, `clusters has "c" twice`)
      const wrongType = yield* Effect.flip(KubeConfig.fromFile(fixture("wrong-type.yaml")))
      assert.include(wrongType.message, `clusters[0] ("c").cluster.insecure-skip-tls-verify must be true or false`)
    }))

  it.effect("relative paths are relative to the file: certificate-authority, tokenFile, an exec command with a path", () =>
    Effect.gen(function*() {
      const file = fixture("relative", "config")
      const kc = yield* KubeConfig.fromFile(file)
      assert.deepStrictEqual(yield* kc.authHeaders, { authorization: "Bearer relative-token" })
      assert.include(kc.tls.ca?.toString() ?? "", "BEGIN CERTIFICATE")
      const plugin = yield* KubeConfig.fromFile(file, { context: "plugin" })
      assert.deepStrictEqual(yield* plugin.authHeaders, { authorization: "Bearer from-relative-plugin" })
    }))

  it.effect("insecure-skip-tls-verify works and warns; with a certificate-authority it is refused", () => {
    const warnings: Array<string> = []
    const capture = Logger.make((o) => {
      if (o.logLevel === "Warn") warnings.push(String((o.message as Array<unknown>)[0]))
    })
    return Effect.gen(function*() {
      const kc = yield* KubeConfig.fromFile(fixture("insecure.yaml"))
      assert.isFalse(kc.tls.rejectUnauthorized)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0], "insecure-skip-tls-verify")
      const both = yield* Effect.flip(KubeConfig.fromFile(fixture("insecure-with-ca.yaml")))
      assert.include(both.message, "insecure-skip-tls-verify with a certificate-authority is not allowed")
    }).pipe(Effect.provide(Logger.layer([capture])))
  })

  it.effect("proxy-url: http, https and socks5 proxies; another scheme is a typed error", () =>
    Effect.gen(function*() {
      const kc = yield* KubeConfig.fromFile(fixture("proxy-url.yaml"))
      assert.strictEqual(kc.proxy?.href, "socks5://proxy.example.test:1080")
      const ftp = yield* Effect.flip(KubeConfig.fromFile(fixture("proxy-url-ftp.yaml")))
      assert.include(ftp.message, "only http, https and socks5 proxies are supported")
    }))

  it.effect("without proxy-url, the environment's proxy with Go's rules, read at load", () =>
    Effect.gen(function*() {
      const text = Fs.readFileSync(fixture("insecure.yaml"), "utf8").replace("    insecure-skip-tls-verify: true\n", "")
      const viaProxy = yield* KubeConfig.fromString(text, { env: { HTTPS_PROXY: "proxy.corp:3128" } })
      assert.strictEqual(viaProxy.proxy?.href, "http://proxy.corp:3128/")
      const noProxy = yield* KubeConfig.fromString(text, { env: { HTTPS_PROXY: "proxy.corp:3128", NO_PROXY: ".example.test" } })
      assert.isUndefined(noProxy.proxy)
      const loopback = yield* KubeConfig.fromString(text.replace("https://c.example.test", "https://127.0.0.1:6443"), { env: { HTTPS_PROXY: "proxy.corp:3128" } })
      assert.isUndefined(loopback.proxy, "never for loopback")
    }))
})
