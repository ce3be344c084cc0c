/**
 * Where Envtest finds its binaries and what it says when it cannot use them: controller-runtime's
 * variables, setup-envtest's folder layout, typed errors naming the binary, the version found and
 * the versions supported. Stand-in scripts answer `--version`; nothing is started here.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import * as Envtest from "../../src/testing/Envtest.ts"
import { type Component, writeStandIn } from "../support/standIn.ts"

const platform = `${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`

/** A temporary folder and these environment variables (undefined: unset) for the effect. */
const withEnv = <A, E>(vars: Record<string, string | undefined>, f: (tmp: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-assets-"))
      const saved = new Map<string, string | undefined>()
      // nothing found by default: an empty cache, an empty setup-envtest store
      const all = { KUBEBUILDER_ASSETS: undefined, OPERATORKIT_CACHE: Path.join(tmp, "cache"), XDG_DATA_HOME: Path.join(tmp, "data"), ...vars }
      for (const [k, v] of Object.entries(all)) {
        saved.set(k, process.env[k])
        if (v === undefined) delete process.env[k]
        else process.env[k] = v.replaceAll("$TMP", tmp)
      }
      for (const k of Object.keys(process.env).filter((k) => k.startsWith("TEST_ASSET_") && !(k in all))) {
        saved.set(k, process.env[k])
        delete process.env[k]
      }
      return { tmp, saved }
    }),
    ({ tmp }) => f(tmp),
    ({ saved, tmp }) =>
      Effect.sync(() => {
        for (const [k, v] of saved) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
        Fs.rmSync(tmp, { recursive: true, force: true })
      })
  )

const standIns = (dir: string, versions: Partial<Record<Component, string>>) => {
  for (const [component, version] of Object.entries(versions)) writeStandIn(dir, component as Component, version, "/bin/false")
  return dir
}

describe("Envtest assets", () => {
  it.effect("setup-envtest's store: the newest supported version folder for this platform", () =>
    withEnv({}, (tmp) =>
      Effect.gen(function*() {
        const store = Path.join(tmp, "data", "kubebuilder-envtest", "k8s")
        standIns(Path.join(store, `1.29.3-${platform}`), { etcd: "3.5.10", "kube-apiserver": "1.29.3" })
        standIns(Path.join(store, `1.34.1-${platform}`), { etcd: "3.6.4", "kube-apiserver": "1.34.1" })
        standIns(Path.join(store, `1.38.0-${platform}`), { etcd: "3.6.9", "kube-apiserver": "1.38.0" }) // too new: skipped
        standIns(Path.join(store, "1.35.0-plan9-mips"), { etcd: "3.6.9", "kube-apiserver": "1.35.0" }) // other platform
        const assets = yield* Envtest.resolveAssets()
        assert.strictEqual(assets.kubeApiServer.version, "1.34.1")
        assert.strictEqual(assets.etcd.version, "3.6.4")
        assert.strictEqual(assets.kubeApiServer.path, Path.join(store, `1.34.1-${platform}`, "kube-apiserver"))
        assert.include(assets.source, "setup-envtest store")
      })))

  it.effect("setup-envtest brings no kube-controller-manager: asking for one names it and says where to get it", () =>
    withEnv({}, (tmp) =>
      Effect.gen(function*() {
        standIns(Path.join(tmp, "data", "kubebuilder-envtest", "k8s", `1.34.1-${platform}`), { etcd: "3.6.4", "kube-apiserver": "1.34.1" })
        const error = yield* Effect.flip(Envtest.resolveAssets({ controllerManager: true }))
        assert.strictEqual(error.reason, "AssetsMissing")
        assert.strictEqual(error.component, "kube-controller-manager")
        assert.include(error.message, `1.34.1-${platform}/kube-controller-manager`)
        assert.include(error.message, "TEST_ASSET_KUBE_CONTROLLER_MANAGER")
        assert.include(error.message, "setup-envtest brings etcd and kube-apiserver only")
      })))

  it.effect("controller-runtime's variables: KUBEBUILDER_ASSETS, and TEST_ASSET_* for one binary", () =>
    withEnv({ KUBEBUILDER_ASSETS: "$TMP/kb", TEST_ASSET_KUBE_CONTROLLER_MANAGER: "$TMP/kcm/kube-controller-manager" }, (tmp) =>
      Effect.gen(function*() {
        standIns(Path.join(tmp, "kb"), { etcd: "3.5.21", "kube-apiserver": "1.31.4" })
        standIns(Path.join(tmp, "kcm"), { "kube-controller-manager": "1.31.2" })
        const assets = yield* Envtest.resolveAssets({ controllerManager: true })
        assert.strictEqual(assets.kubeApiServer.path, Path.join(tmp, "kb", "kube-apiserver"))
        assert.strictEqual(assets.kubeControllerManager?.path, Path.join(tmp, "kcm", "kube-controller-manager"))
        assert.strictEqual(assets.kubeControllerManager?.version, "1.31.2")
        assert.include(assets.source, "TEST_ASSET_KUBE_CONTROLLER_MANAGER")
        assert.include(assets.source, "KUBEBUILDER_ASSETS")
        // an explicit folder wins over the environment
        standIns(Path.join(tmp, "mine"), { etcd: "3.4.23", "kube-apiserver": "1.20.2" })
        const mine = yield* Envtest.resolveAssets({ assets: Path.join(tmp, "mine") })
        assert.strictEqual(mine.kubeApiServer.version, "1.20.2")
      })))

  it.effect("a version outside 1.20 to 1.37 (etcd 3.4 to 3.6) is refused, saying what was found and what is supported", () =>
    withEnv({ KUBEBUILDER_ASSETS: "$TMP/kb" }, (tmp) =>
      Effect.gen(function*() {
        const dir = Path.join(tmp, "kb")
        for (const [apiserver, etcd, component, found] of [
          ["1.19.16", "3.4.13", "kube-apiserver", "1.19.16"],
          ["1.38.0", "3.6.4", "kube-apiserver", "1.38.0"],
          ["1.31.0", "3.3.27", "etcd", "3.3.27"]
        ] as const) {
          standIns(dir, { etcd, "kube-apiserver": apiserver })
          const error = yield* Effect.flip(Envtest.resolveAssets())
          assert.strictEqual(error.reason, "UnsupportedVersion")
          assert.strictEqual(error.component, component)
          assert.strictEqual(error.found, found)
          assert.strictEqual(error.supported, component === "etcd" ? "etcd 3.4 to 3.6" : "kube-apiserver 1.20 to 1.37")
          assert.include(error.message, `is ${component} ${found}; Envtest supports ${error.supported}`)
          assert.include(error.message, "setup-envtest@latest use -p path 1.37.x")
        }
      })))

  it.effect("a binary that does not answer --version is named, with the platform it should be built for", () =>
    withEnv({ KUBEBUILDER_ASSETS: "$TMP/kb" }, (tmp) =>
      Effect.gen(function*() {
        const dir = Path.join(tmp, "kb")
        standIns(dir, { etcd: "3.5.0" })
        Fs.writeFileSync(Path.join(dir, "kube-apiserver"), "#!/bin/sh\necho 'cannot execute binary file' >&2\nexit 126\n", { mode: 0o755 })
        const error = yield* Effect.flip(Envtest.resolveAssets())
        assert.strictEqual(error.reason, "AssetsUnusable")
        assert.strictEqual(error.component, "kube-apiserver")
        assert.include(error.message, "does not answer --version")
        assert.include(error.message, "cannot execute binary file")
        assert.include(error.message, platform)
      })))

  it.effect("nothing anywhere: the error names the binary, where it looked, and the exact setup-envtest command line", () =>
    withEnv({}, (tmp) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Envtest.resolveAssets())
        assert.strictEqual(error.reason, "AssetsMissing")
        assert.strictEqual(error.component, "etcd")
        assert.include(error.message, Path.join(tmp, "cache", "envtest", "1.20.2"))
        assert.include(error.message, "KUBEBUILDER_ASSETS and TEST_ASSET_ETCD are not set")
        assert.include(
          error.message,
          'export KUBEBUILDER_ASSETS="$(go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path 1.37.x)"'
        )
        assert.include(error.message, "scripts/envtest-assets.sh")
        assert.isTrue(Fs.existsSync(Path.resolve(import.meta.dirname, "..", "..", "scripts", "envtest-assets.sh")))
      })))
})
