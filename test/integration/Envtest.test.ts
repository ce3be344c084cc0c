import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Exit } from "effect"
import * as Envtest from "../../src/testing/Envtest.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { call } from "../support/rawHttp.ts"
import { flagName } from "../support/releases.ts"
import { argsOf, writeStandIn } from "../support/standIn.ts"

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const configMap = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { k: name } })

describe("Envtest", () => {
  it.live("starts kube-apiserver, keeps objects across a restart, and cleans up when the scope closes", () =>
    Effect.gen(function*() {
      let pids: Array<number | undefined> = []
      let dir = ""
      yield* Effect.scoped(Effect.gen(function*() {
        const env = yield* Envtest.make()
        dir = env.dir
        const version = yield* call(env, "GET", "/version")
        assert.strictEqual(version.status, 200)
        assert.strictEqual(version.body.gitVersion, "v1.20.2")

        const created = yield* call(env, "POST", "/api/v1/namespaces/default/configmaps", { body: configMap("kept") })
        assert.strictEqual(created.status, 201)
        yield* env.restartApiServer
        const read = yield* call(env, "GET", "/api/v1/namespaces/default/configmaps/kept")
        assert.strictEqual(read.status, 200)
        assert.strictEqual(read.body.data.k, "kept")
        assert.strictEqual(read.body.metadata.uid, created.body.metadata.uid)

        pids = (yield* env.processes).map((p) => p.pid)
        assert.strictEqual(pids.length, 2)
        assert.isTrue(pids.every(alive))
        assert.deepStrictEqual(yield* env.crashes, [])
      }))
      assert.isFalse(pids.some(alive), "every process stopped")
      assert.isFalse(Fs.existsSync(dir), "temp folder removed")
    }))

  it.live("runs two control planes side by side without sharing state", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Effect.all([Envtest.make(), Envtest.make()], { concurrency: 2 })
      assert.notStrictEqual(a.server, b.server)
      assert.notStrictEqual(a.etcdEndpoint, b.etcdEndpoint)
      assert.strictEqual((yield* call(a, "POST", "/api/v1/namespaces/default/configmaps", { body: configMap("only-a") })).status, 201)
      assert.strictEqual((yield* call(a, "GET", "/api/v1/namespaces/default/configmaps/only-a")).status, 200)
      assert.strictEqual((yield* call(b, "GET", "/api/v1/namespaces/default/configmaps/only-a")).status, 404)
    }))

  it.live("mints restricted users that get only what RBAC grants", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.make()
      const user = yield* env.user
      const other = yield* env.user
      assert.notStrictEqual(user.name, other.name)
      const path = "/api/v1/namespaces/default/configmaps"
      const denied = yield* call(env, "GET", path, { token: user.token })
      assert.strictEqual(denied.status, 403)
      assert.include(denied.body.message, `User "${user.name}" cannot list resource "configmaps"`)

      yield* call(env, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", {
        body: { metadata: { name: "read-cm" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }] }
      })
      yield* call(env, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", {
        body: {
          metadata: { name: "read-cm" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-cm" },
          subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user.name }]
        }
      })
      // The API server's RBAC authorizer learns of a new binding through its own informer.
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual((yield* call(env, "GET", path, { token: user.token })).status, 200)
      }))
      assert.strictEqual((yield* call(env, "GET", path, { token: other.token })).status, 403, "the grant is per user")
      assert.strictEqual((yield* call(env, "GET", path, { token: "not-a-token" })).status, 401)
      assert.include(user.kubeconfig, user.token)
      assert.isTrue(Fs.existsSync(user.kubeconfigPath))
    }))

  it.live("compacting etcd makes an older resourceVersion answer 410 Gone", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.make({ watchCache: false })
      const first = yield* call(env, "POST", "/api/v1/namespaces/default/configmaps", { body: configMap("old") })
      const oldRv = first.body.metadata.resourceVersion as string
      // two later writes, so that the watch's first revision (oldRv + 1) lies strictly below the compaction
      const second = yield* call(env, "PUT", "/api/v1/namespaces/default/configmaps/old", { body: { ...first.body, data: { k: "2" } } })
      yield* call(env, "PUT", "/api/v1/namespaces/default/configmaps/old", { body: { ...second.body, data: { k: "3" } } })
      const revision = yield* env.compactEtcd
      assert.isAbove(revision, Number(oldRv))
      const watch = yield* call(env, "GET", `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${oldRv}&timeoutSeconds=1`)
      // the API server answers a watch from a compacted revision with 200 and an in-stream 410 ERROR event
      const text = typeof watch.body === "string" ? watch.body : JSON.stringify(watch.body)
      assert.match(text, /"code":410/, text)
      assert.match(text, /"reason":"(Expired|Gone)"/)
    }))

  it.live("reports a process that dies with the fatal part of its log", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.make()
      const etcd = (yield* env.processes).find((p) => p.name === "etcd")!
      process.kill(etcd.pid!, "SIGKILL")
      yield* Effect.sleep("300 millis")
      const crashes = yield* env.crashes
      assert.strictEqual(crashes.length, 1)
      assert.strictEqual(crashes[0]!.reason, "ProcessExited")
      assert.strictEqual(crashes[0]!.component, "etcd")
      assert.include(crashes[0]!.message, "signal SIGKILL")
      yield* env.startEtcd
      assert.isTrue((yield* env.processes).every((p) => p.running))
    }))

  it.live("fails with a typed error naming the problem when a process cannot start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Envtest.make({ apiServerFlags: ["--no-such-flag"] })))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual((error as any)?.error?._tag, "EnvtestError")
      assert.strictEqual((error as any).error.reason, "ProcessExited")
      assert.strictEqual((error as any).error.component, "kube-apiserver")
      assert.include((error as any).error.logTail, "unknown flag: --no-such-flag")

      const missing = yield* Effect.flip(Envtest.resolveAssets({ assets: "/nonexistent" }))
      assert.strictEqual(missing.reason, "AssetsMissing")
      assert.include(missing.message, "/nonexistent/etcd")
      assert.include(missing.message, "setup-envtest")
    }))

  it.live("runs binaries of a newer Kubernetes with the flags that version takes (stand-ins for 1.34 and etcd 3.6)", () =>
    Effect.gen(function*() {
      // scripts that answer --version as kube-apiserver/kube-controller-manager 1.34.1 and etcd 3.6.4,
      // refuse what those versions removed (--insecure-port, --port, …) and run the real binaries
      const real = yield* Envtest.resolveAssets({ controllerManager: true })
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-standin-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const apiserver = writeStandIn(dir, "kube-apiserver", "1.34.1", real.kubeApiServer.path)
      const kcm = writeStandIn(dir, "kube-controller-manager", "1.34.1", real.kubeControllerManager!.path)
      const etcd = writeStandIn(dir, "etcd", "3.6.4", real.etcd.path)

      const env = yield* Envtest.make({ assets: dir, controllerManager: true })
      assert.deepStrictEqual(
        [env.assets.kubeApiServer.version, env.assets.kubeControllerManager?.version, env.assets.etcd.version],
        ["1.34.1", "1.34.1", "3.6.4"]
      )
      assert.strictEqual((yield* call(env, "POST", "/api/v1/namespaces/default/configmaps", { body: configMap("on-1-34") })).status, 201)
      assert.isTrue((yield* env.processes).every((p) => p.running))
      assert.deepStrictEqual(yield* env.crashes, [])
      assert.notInclude(argsOf(apiserver).map(flagName), "--insecure-port")
      assert.notInclude(argsOf(kcm).map(flagName), "--port")
      assert.include(argsOf(etcd), "--unsafe-no-fsync")
    }).pipe(Effect.scoped))

  it.live("a watchdog stops the control plane when the owning process is killed", () =>
    Effect.gen(function*() {
      const script = Path.resolve(import.meta.dirname, "../support/envtestChild.ts")
      const child = ChildProcess.spawn(process.execPath, ["--conditions=@operatorkit/source", script], { stdio: ["ignore", "pipe", "inherit"] })
      const info = yield* Effect.callback<{ dir: string; pids: Array<number> }>((resume) => {
        let out = ""
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString()
          if (out.includes("\n")) resume(Effect.succeed(JSON.parse(out.split("\n")[0]!)))
        })
      })
      assert.isTrue(info.pids.every(alive))
      child.kill("SIGKILL")
      yield* Effect.sleep("3 seconds")
      assert.isFalse(info.pids.some(alive), "processes killed by the watchdog")
      assert.isFalse(Fs.existsSync(info.dir), "folder removed by the watchdog")
    }))
})
