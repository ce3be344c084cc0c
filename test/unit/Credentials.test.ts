/**
 * Credentials reloaded from their source: token files, exec plugins and client certificate files
 * rewritten while a Client runs, against small fake servers that accept only the current ones.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as FakeApi from "../support/fakeApi.ts"

const tmp = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "okit-cred-"))

const kubeconfig = (server: string, user: ReadonlyArray<string>, cluster: ReadonlyArray<string> = []) =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: c",
    "  cluster:",
    `    server: ${server}`,
    ...cluster.map((l) => `    ${l}`),
    "users:",
    "- name: u",
    "  user:",
    ...user.map((l) => `    ${l}`),
    "contexts:",
    "- name: ctx",
    "  context:",
    "    cluster: c",
    "    user: u",
    "current-context: ctx",
    ""
  ].join("\n")

/** A fake API server that answers 200 to the tokens in `accepted` and 401 to anything else. */
const tokenServer = (accepted: Set<string>) =>
  FakeApi.make((req, res, r) => {
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
    if (!accepted.has(token)) return FakeApi.json(res, 401, FakeApi.status(401, "Unauthorized", "Unauthorized"))
    if (r.query.get("watch") !== null) {
      res.writeHead(200, { "content-type": "application/json" })
      res.write(JSON.stringify({ type: "ADDED", object: FakeApi.configMap("a", "5") }) + "\n")
      return
    }
    FakeApi.json(res, 200, FakeApi.configMap("a", "5"))
  })

const tokensSent = (api: FakeApi.FakeApi) => api.requests.map((r) => (r.headers.authorization ?? "").replace(/^Bearer /, ""))

describe("token files", () => {
  it.live("a rewritten tokenFile is read again on the 401, and the request sent once more", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, "token-a\n")
      const accepted = new Set(["token-a"])
      const api = yield* tokenServer(accepted)
      const client = yield* Client.make(yield* KubeConfig.fromString(kubeconfig(api.url, [`tokenFile: ${file}`])))
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      // rotated: the old token revoked
      Fs.writeFileSync(file, "token-b\n")
      accepted.clear()
      accepted.add("token-b")
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      assert.deepStrictEqual(tokensSent(api), ["token-a", "token-a", "token-b"])
      // a watch too
      accepted.clear()
      accepted.add("token-c")
      Fs.writeFileSync(file, "token-c")
      const first = yield* client.watch(Kind.ConfigMap, { namespace: "default" }).pipe(Stream.take(1), Stream.runCollect)
      assert.strictEqual(first[0]?.type, "ADDED")
      assert.deepStrictEqual(tokensSent(api).slice(3), ["token-b", "token-c"])
    }))

  it.live("a 401 that a reload does not change is final: one request, a typed Unauthorized", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, "revoked")
      const api = yield* tokenServer(new Set())
      const client = yield* Client.make(yield* KubeConfig.fromString(kubeconfig(api.url, [`tokenFile: ${file}`])))
      const error = yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: "default", name: "a" }))
      assert.strictEqual(error._tag, "Unauthorized")
      assert.strictEqual(api.requests.length, 1)
      // a static token: no reload at all
      const staticClient = yield* Client.make(yield* KubeConfig.fromString(kubeconfig(api.url, ["token: revoked"])))
      assert.strictEqual((yield* Effect.flip(staticClient.get(Kind.ConfigMap, { namespace: "default", name: "a" })))._tag, "Unauthorized")
      assert.strictEqual(api.requests.length, 2)
    }))

  it.effect("a tokenFile is also re-read once a minute, unasked", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = Path.join(dir, "token")
      Fs.writeFileSync(file, "token-a")
      const config = yield* KubeConfig.fromString(kubeconfig("https://x.test", [`tokenFile: ${file}`]))
      Fs.writeFileSync(file, "token-b")
      assert.strictEqual((yield* config.authHeaders)["authorization"], "Bearer token-a")
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* config.authHeaders)["authorization"], "Bearer token-a")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* config.authHeaders)["authorization"], "Bearer token-b")
      // unreadable for a while: the last token read goes on being used
      Fs.rmSync(file)
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual((yield* config.authHeaders)["authorization"], "Bearer token-b")
    }))
})

/** An exec credential plugin that prints the token in `tokenFile` and counts its runs in `runs`. */
const plugin = (dir: string, expiresIn?: string) => {
  const script = Path.join(dir, "plugin.sh")
  Fs.writeFileSync(
    script,
    [
      "#!/bin/sh",
      `echo run >> ${Path.join(dir, "runs")}`,
      `token=$(cat ${Path.join(dir, "token")})`,
      expiresIn !== undefined
        ? `expiry=$(date -u -d "${expiresIn}" +%Y-%m-%dT%H:%M:%SZ)`
        : "",
      `printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"${expiresIn !== undefined ? `,"expirationTimestamp":"%s"` : ""}}}' "$token"${expiresIn !== undefined ? ` "$expiry"` : ""}`
    ].join("\n"),
    { mode: 0o755 }
  )
  return {
    user: ["exec:", "  apiVersion: client.authentication.k8s.io/v1beta1", `  command: ${script}`],
    runs: () => (Fs.existsSync(Path.join(dir, "runs")) ? Fs.readFileSync(Path.join(dir, "runs"), "utf8").trim().split("\n").length : 0)
  }
}

describe("exec credential plugins", () => {
  it.live("a refused token: the plugin runs again once for a burst of 401s, and every request is sent again", () =>
    Effect.gen(function*() {
      const dir = tmp()
      Fs.writeFileSync(Path.join(dir, "token"), "exec-a")
      const { runs, user } = plugin(dir)
      const accepted = new Set(["exec-a"])
      const api = yield* tokenServer(accepted)
      const client = yield* Client.make(yield* KubeConfig.fromString(kubeconfig(api.url, user)))
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      assert.strictEqual(runs(), 1, "kept without an expiry")
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      assert.strictEqual(runs(), 1)
      Fs.writeFileSync(Path.join(dir, "token"), "exec-b")
      accepted.clear()
      accepted.add("exec-b")
      yield* Effect.forEach(Array.from({ length: 10 }), () => client.get(Kind.ConfigMap, { namespace: "default", name: "a" }), {
        concurrency: "unbounded"
      })
      assert.strictEqual(runs(), 2, "one run for ten 401s")
    }))

  it.effect("an exec credential is kept until its expirationTimestamp", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.now())
      const dir = tmp()
      Fs.writeFileSync(Path.join(dir, "token"), "exec-a")
      const { runs, user } = plugin(dir, "+10 minutes")
      const config = yield* KubeConfig.fromString(kubeconfig("https://x.test", user))
      assert.strictEqual(runs(), 1)
      yield* TestClock.adjust("9 minutes")
      yield* config.authHeaders
      assert.strictEqual(runs(), 1)
      Fs.writeFileSync(Path.join(dir, "token"), "exec-b")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* config.authHeaders)["authorization"], "Bearer exec-b")
      assert.strictEqual(runs(), 2)
    }))

  it.effect("a plugin that fails, is missing or answers garbage is a typed error saying so", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const failing = Path.join(dir, "failing.sh")
      Fs.writeFileSync(failing, "#!/bin/sh\necho 'login expired, run: cloud login' >&2\nexit 3\n", { mode: 0o755 })
      const garbage = Path.join(dir, "garbage.sh")
      Fs.writeFileSync(garbage, "#!/bin/sh\necho '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"status\":{}}'\n", { mode: 0o755 })
      const exec = (command: string, apiVersion = "client.authentication.k8s.io/v1beta1") =>
        KubeConfig.fromString(kubeconfig("https://x.test", [
          "exec:",
          `  apiVersion: ${apiVersion}`,
          `  command: ${command}`,
          '  installHint: "install it with: get-plugin"'
        ])).pipe(Effect.flip)
      assert.include((yield* exec(failing)).message, "exited with code 3: login expired, run: cloud login")
      assert.include((yield* exec(Path.join(dir, "nope"))).message, "not found: install it with: get-plugin")
      assert.include((yield* exec(garbage)).message, "neither a token nor a client certificate")
      assert.include((yield* exec(garbage, "client.authentication.k8s.io/v1alpha1")).message, "exec.apiVersion must be one of")
    }))
})

const openssl = (args: ReadonlyArray<string>) => ChildProcess.execFileSync("openssl", args, { stdio: "pipe" })

/** A CA and two client certificates it signed (CN a and b), PEM files in `dir`. */
const certificates = (dir: string) => {
  const at = (f: string) => Path.join(dir, f)
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("ca.key"), "-out", at("ca.crt"), "-days", "1", "-subj", "/CN=test-ca"])
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("server.key"), "-out", at("server.crt"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
  for (const cn of ["a", "b"]) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", at(`${cn}.key`), "-out", at(`${cn}.csr`), "-subj", `/CN=${cn}`])
    openssl(["x509", "-req", "-in", at(`${cn}.csr`), "-CA", at("ca.crt"), "-CAkey", at("ca.key"), "-CAcreateserial", "-out", at(`${cn}.crt`), "-days", "1"])
  }
  return at
}

describe("client certificate files", () => {
  it.live("rewritten client-certificate and client-key files are used after the 401, on new connections", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const at = certificates(dir)
      let accepted = "a"
      const seen: Array<string> = []
      const server = yield* Effect.acquireRelease(
        Effect.callback<Https.Server>((resume) => {
          const s = Https.createServer({
            key: Fs.readFileSync(at("server.key")),
            cert: Fs.readFileSync(at("server.crt")),
            ca: Fs.readFileSync(at("ca.crt")),
            requestCert: true,
            rejectUnauthorized: false
          }, (req, res) => {
            const cn = String((req.socket as Tls.TLSSocket).getPeerCertificate().subject?.CN ?? "")
            seen.push(cn)
            if (cn !== accepted) return FakeApi.json(res, 401, FakeApi.status(401, "Unauthorized", "Unauthorized"))
            FakeApi.json(res, 200, FakeApi.configMap("a", "5"))
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close())
      )
      const port = (server.address() as Net.AddressInfo).port
      Fs.copyFileSync(at("a.crt"), at("client.crt"))
      Fs.copyFileSync(at("a.key"), at("client.key"))
      const config = yield* KubeConfig.fromString(kubeconfig(
        `https://127.0.0.1:${port}`,
        [`client-certificate: ${at("client.crt")}`, `client-key: ${at("client.key")}`],
        [`certificate-authority: ${at("server.crt")}`]
      ))
      const client = yield* Client.make(config)
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      Fs.copyFileSync(at("b.crt"), at("client.crt"))
      Fs.copyFileSync(at("b.key"), at("client.key"))
      accepted = "b"
      yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
      assert.deepStrictEqual(seen, ["a", "a", "b"])
      server.closeAllConnections()
    }))
})

describe("credentials kubectl knows and the client would drop", () => {
  it.effect("token-file (client-node's spelling), an unknown field or auth provider are typed errors naming the field", () =>
    Effect.gen(function*() {
      const load = (user: ReadonlyArray<string>) => Effect.flip(KubeConfig.fromString(kubeconfig("https://x.test", user)))
      const tokenFile = yield* load(["token-file: /var/run/token"])
      assert.include(tokenFile.message, `users["u"].user.token-file`)
      assert.include(tokenFile.message, "tokenFile")
      assert.include((yield* load(["id-token: abc"])).message, `users["u"].user.id-token`)
      assert.include((yield* load(["auth-provider:", "  name: keystone"])).message, `users["u"].user.auth-provider.name "keystone"`)
    }))

  it.effect("impersonation fields become kubectl's headers", () =>
    Effect.gen(function*() {
      const config = yield* KubeConfig.fromString(kubeconfig("https://x.test", [
        "token: t",
        "as: jane",
        'as-uid: "42"',
        "as-groups: [dev, ops]",
        "as-user-extra:",
        "  scopes: [view]",
        "  example.com/team: [a, b]"
      ]))
      assert.deepStrictEqual(yield* config.authHeaders, {
        authorization: "Bearer t",
        "impersonate-user": "jane",
        "impersonate-uid": "42",
        "impersonate-group": ["dev", "ops"],
        "impersonate-extra-scopes": ["view"],
        "impersonate-extra-example.com%2Fteam": ["a", "b"]
      })
    }))
})


