/**
 * A real Kubernetes control plane for tests, benchmarks and demos: etcd and kube-apiserver (and,
 * optionally, kube-controller-manager) started on free loopback ports in a fresh temporary folder.
 *
 * Any Kubernetes from 1.20 to 1.37 (etcd 3.4 to 3.6): Envtest asks each binary for its version and
 * passes the flags that version takes. The binaries are found as controller-runtime's envtest finds
 * them (`TEST_ASSET_ETCD`, `TEST_ASSET_KUBE_APISERVER`, `TEST_ASSET_KUBE_CONTROLLER_MANAGER`, then
 * `KUBEBUILDER_ASSETS`), else in the cache that `scripts/envtest-assets.sh` fills
 * (`~/.cache/operatorkit/envtest/1.20.2`), else in `setup-envtest`'s store (its newest version),
 * else in `/usr/local/kubebuilder/bin`. See {@link resolveAssets}.
 *
 * Test code: import it from `operatorkit/testing`. Production entry points never load it.
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Client from "../Client.ts"
import * as Flags from "./envtest/flags.ts"
import * as Proc from "./envtest/process.ts"
import * as KubeConfig from "../KubeConfig.ts"
import { millis } from "../internal/options.ts"

/**
 * The Kubernetes version that `scripts/envtest-assets.sh` ({@link provisionAssets}) builds.
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit/testing"
 *
 * Envtest.provisionedVersion // => "1.20.2"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const provisionedVersion = "1.20.2"

/**
 * The versions Envtest knows the flags of: every Kubernetes minor in `kubernetes`, every etcd minor
 * in `etcd`.
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit/testing"
 *
 * Envtest.supportedVersions.kubernetes // => "1.20 to 1.37"
 * Envtest.supportedVersions.etcd // => "3.4 to 3.6"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const supportedVersions: { readonly kubernetes: string; readonly etcd: string } = {
  kubernetes: Flags.supportedKubernetes,
  etcd: Flags.supportedEtcd
}

/**
 * The command line that fetches binaries of a Kubernetes version (here the newest Envtest supports)
 * with controller-runtime's `setup-envtest` (needs Go) and points Envtest at them. `setup-envtest`
 * brings etcd and kube-apiserver, not kube-controller-manager.
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit/testing"
 *
 * Envtest.setupEnvtestCommand("1.31.x")
 * // => 'export KUBEBUILDER_ASSETS="$(go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path 1.31.x)"'
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const setupEnvtestCommand = (version = `${Flags.newestKubernetes.major}.${Flags.newestKubernetes.minor}.x`): string =>
  `export KUBEBUILDER_ASSETS="$(go run sigs.k8s.io/controller-runtime/tools/setup-envtest@latest use -p path ${version})"`

/**
 * Why Envtest could not start or act. `AssetsMissing` names the binary it looked for and where;
 * `UnsupportedVersion` says which version it found (`found`) and which it supports (`supported`);
 * `AssetsUnusable` is a binary that does not answer `--version`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const program = Envtest.make().pipe(
 *   Effect.catchTag("EnvtestError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class EnvtestError extends Schema.TaggedError<EnvtestError>()("EnvtestError", {
  reason: Schema.Literals(["AssetsMissing", "AssetsUnusable", "UnsupportedVersion", "PortInUse", "ProcessExited", "StartTimeout", "Io"]),
  component: Schema.String,
  detail: Schema.String,
  found: Schema.optionalKey(Schema.String),
  supported: Schema.optionalKey(Schema.String),
  hint: Schema.optionalKey(Schema.String),
  logTail: Schema.optionalKey(Schema.String)
}) {
  override get message(): string {
    return [
      `${this.component}: ${this.detail}`,
      this.hint !== undefined ? `hint: ${this.hint}` : undefined,
      this.logTail !== undefined && this.logTail !== "" ? `last lines of its log:\n${this.logTail}` : undefined
    ].filter((s) => s !== undefined).join("\n")
  }
}

/**
 * An identity the API server authenticates by bearer token; it holds only what RBAC objects grant.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnvtestUser {
  readonly name: string
  readonly token: string
  /** A kubeconfig (YAML) for this user. */
  readonly kubeconfig: string
  readonly kubeconfigPath: string
}

/**
 * What a process of the control plane is doing.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProcessInfo {
  readonly name: string
  readonly pid: number | undefined
  readonly running: boolean
  readonly logFile: string
}

/**
 * One binary of the control plane: where it is and the version it reported (`1.31.4`, `3.5.21`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Binary {
  readonly path: string
  readonly version: string
}

/**
 * The binaries Envtest runs, and where it found them (`source`: `options.assets`, an environment
 * variable, `operatorkit cache`, `setup-envtest store` or `/usr/local/kubebuilder/bin`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Assets {
  readonly source: string
  readonly etcd: Binary
  readonly kubeApiServer: Binary
  readonly kubeControllerManager?: Binary | undefined
}

/**
 * A running control plane.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnvtestService {
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  /** The temporary folder holding data, certificates, kubeconfigs and logs; removed on close. */
  readonly dir: string
  /** The binaries it runs and their versions. */
  readonly assets: Assets
  /** An admin (system:masters) kubeconfig, as a file and as YAML. */
  readonly kubeconfigPath: string
  readonly kubeconfig: string
  readonly adminToken: string
  /** PEM of the API server's serving certificate chain. */
  readonly caData: string
  /** `http://127.0.0.1:<port>` of etcd's client endpoint. */
  readonly etcdEndpoint: string
  /** A fresh restricted user (only what RBAC grants it). Fails once the pool of 100 is used up. */
  readonly user: Effect.Effect<EnvtestUser, EnvtestError>
  /** Stop kube-apiserver (TERM); data and ports are kept for `startApiServer`. */
  readonly stopApiServer: Effect.Effect<void>
  /** Start kube-apiserver again on the same port and data; waits for `/readyz`. */
  readonly startApiServer: Effect.Effect<void, EnvtestError>
  readonly restartApiServer: Effect.Effect<void, EnvtestError>
  /** Kill etcd (KILL); `startEtcd` brings it back on the same port and data. */
  readonly killEtcd: Effect.Effect<void>
  readonly startEtcd: Effect.Effect<void, EnvtestError>
  /** Compact etcd at its current revision, so older resourceVersions answer 410 Gone. Returns the revision. */
  readonly compactEtcd: Effect.Effect<number, EnvtestError>
  readonly processes: Effect.Effect<ReadonlyArray<ProcessInfo>>
  /** Processes that exited without being asked to, with the tail of their logs. */
  readonly crashes: Effect.Effect<ReadonlyArray<EnvtestError>>
}

/**
 * Options for {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnvtestOptions {
  /**
   * A folder with `etcd`, `kube-apiserver` (and `kube-controller-manager`), or binaries already
   * resolved by {@link resolveAssets}. Default: see {@link resolveAssets}.
   */
  readonly assets?: string | Assets
  /** Also start kube-controller-manager (garbage collection, namespace deletion). Default false. */
  readonly controllerManager?: boolean
  /** Serve watches from etcd directly (`--watch-cache=false`), so compaction alone forces 410. Default true. */
  readonly watchCache?: boolean
  /** Extra kube-apiserver flags. */
  readonly apiServerFlags?: ReadonlyArray<string>
  /** How long each process may take to become ready. Default 60 seconds. */
  readonly startTimeout?: Duration.Input
}

/**
 * The Envtest service, for programs that receive a control plane through a Layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Envtest.Envtest
 *   yield* Effect.log(`API server ${env.assets.kubeApiServer.version} at ${env.server}`)
 * }).pipe(Effect.provide(Envtest.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Envtest extends Context.Service<Envtest, EnvtestService>()("operatorkit/Envtest") {}

/**
 * The cache folder that `scripts/envtest-assets.sh` fills
 * (`$OPERATORKIT_CACHE`, else `$XDG_CACHE_HOME/operatorkit`, else `~/.cache/operatorkit`).
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit/testing"
 *
 * Envtest.defaultAssetsDir() // e.g. "/root/.cache/operatorkit/envtest/1.20.2"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultAssetsDir = (): string => {
  const root = process.env["OPERATORKIT_CACHE"] ??
    Path.join(process.env["XDG_CACHE_HOME"] ?? Path.join(Os.homedir(), ".cache"), "operatorkit")
  return Path.join(root, "envtest", provisionedVersion)
}

// where setup-envtest keeps the versions it fetched (its k8s/<version>-<os>-<arch> folders)
const setupEnvtestStore = (): string =>
  process.platform === "darwin"
    ? Path.join(Os.homedir(), "Library", "Application Support", "io.kubebuilder.envtest")
    : Path.join(process.env["XDG_DATA_HOME"] ?? Path.join(Os.homedir(), ".local", "share"), "kubebuilder-envtest")

const provisionScript = Path.resolve(import.meta.dirname, "..", "..", "scripts", "envtest-assets.sh")

const getBinaries = [
  `get binaries of any Kubernetes ${Flags.supportedKubernetes} with controller-runtime's setup-envtest (needs Go):`,
  `  ${setupEnvtestCommand()}`,
  `or build etcd 3.4 and kube-apiserver/kube-controller-manager ${provisionedVersion} (as root on Debian bookworm, once, 5-15 minutes):`,
  `  bash ${provisionScript}`
].join("\n")

const binaryNames = {
  etcd: "etcd",
  kubeApiServer: "kube-apiserver",
  kubeControllerManager: "kube-controller-manager"
} as const
type Component = keyof typeof binaryNames

// controller-runtime's per-binary overrides: TEST_ASSET_ + the name in upper case, `-` as `_`
const overrideVariable = (name: string) => `TEST_ASSET_${name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`

const isExecutable = (file: string) => {
  try {
    Fs.accessSync(file, Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const platform = () => {
  const arch = process.arch === "x64" ? "amd64" : process.arch
  return `${process.platform}-${arch}`
}

/** `setup-envtest`'s version folders for this platform, newest first. */
const storeFolders = (): Array<string> => {
  const root = Path.join(setupEnvtestStore(), "k8s")
  let entries: Array<string>
  try {
    entries = Fs.readdirSync(root)
  } catch {
    return []
  }
  const suffix = `-${platform()}`
  return entries
    .filter((name) => name.endsWith(suffix))
    .map((name) => ({ name, version: Flags.parseKubernetesVersion(`Kubernetes v${name.slice(0, -suffix.length)}`) }))
    .filter((e) => e.version !== undefined && Flags.isSupportedKubernetes(e.version))
    .sort((a, b) => b.version!.minor - a.version!.minor || b.version!.patch - a.version!.patch)
    .map((e) => Path.join(root, e.name))
}

interface Candidate {
  readonly source: string
  readonly dir: string
}

/** Where to look, in order, when neither `options.assets` nor an environment variable says. */
const discovered = (): Array<Candidate> => [
  { source: "operatorkit cache", dir: defaultAssetsDir() },
  ...storeFolders().map((dir) => ({ source: "setup-envtest store", dir })),
  { source: "/usr/local/kubebuilder/bin", dir: "/usr/local/kubebuilder/bin" }
]

const runVersion = (file: string): Promise<string> =>
  new Promise((resolve, reject) => {
    ChildProcess.execFile(file, ["--version"], { timeout: 20_000, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${error.message}${stderr !== "" ? `: ${stderr.trim()}` : ""}`))
      else resolve(`${stdout}\n${stderr}`)
    })
  })

const askVersion = (component: Component, file: string, source: string): Effect.Effect<Binary, EnvtestError> => {
  const name = binaryNames[component]
  const isEtcd = component === "etcd"
  const supported = isEtcd ? `etcd ${Flags.supportedEtcd}` : `${name} ${Flags.supportedKubernetes}`
  return Effect.tryPromise({
    try: () => runVersion(file),
    catch: (cause) =>
      new EnvtestError({
        reason: "AssetsUnusable",
        component: name,
        detail: `${file} (from ${source}) does not answer --version: ${cause instanceof Error ? cause.message : String(cause)}`,
        hint: `is it a ${name} binary for this platform (${platform()})?\n${getBinaries}`
      })
  }).pipe(
    Effect.flatMap((output) => {
      const version = isEtcd ? Flags.parseEtcdVersion(output) : Flags.parseKubernetesVersion(output)
      if (version === undefined) {
        return Effect.fail(
          new EnvtestError({
            reason: "AssetsUnusable",
            component: name,
            detail: `${file} (from ${source}) answered --version with no version Envtest can read: ${output.trim().slice(0, 200)}`,
            hint: getBinaries
          })
        )
      }
      const found = Flags.format(version)
      const ok = isEtcd ? Flags.isSupportedEtcd(version) : Flags.isSupportedKubernetes(version)
      if (!ok) {
        return Effect.fail(
          new EnvtestError({
            reason: "UnsupportedVersion",
            component: name,
            detail: `${file} (from ${source}) is ${name} ${found}; Envtest supports ${supported}`,
            found,
            supported,
            hint: getBinaries
          })
        )
      }
      return Effect.succeed({ path: file, version: found })
    })
  )
}

/**
 * Finds the control plane binaries and asks each for its version. Each binary is, in order:
 * `options.assets/<name>`; `TEST_ASSET_ETCD`, `TEST_ASSET_KUBE_APISERVER`,
 * `TEST_ASSET_KUBE_CONTROLLER_MANAGER`; `$KUBEBUILDER_ASSETS/<name>`; else the first folder holding
 * etcd and kube-apiserver of: the provisioning cache ({@link defaultAssetsDir}), `setup-envtest`'s
 * store (`$XDG_DATA_HOME/kubebuilder-envtest/k8s`, newest supported version first), `/usr/local/kubebuilder/bin`.
 * Fails with `AssetsMissing` naming the missing binary and how to get it, or `UnsupportedVersion`
 * naming the version found and the ones supported.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const where = Envtest.resolveAssets({ controllerManager: true }).pipe(
 *   Effect.tap((assets) => Effect.log(`kube-apiserver ${assets.kubeApiServer.version} from ${assets.source}`)),
 *   Effect.catchTag("EnvtestError", (e) => Effect.die(e.message)) // says how to get them
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveAssets = (
  options: { readonly assets?: string | undefined; readonly controllerManager?: boolean | undefined } = {}
): Effect.Effect<Assets, EnvtestError> =>
  Effect.suspend(() => {
    const needed: ReadonlyArray<Component> = options.controllerManager === true
      ? ["etcd", "kubeApiServer", "kubeControllerManager"]
      : ["etcd", "kubeApiServer"]
    const env = process.env
    // each binary: where it is and which setting pointed there
    const located = new Map<Component, { file: string; source: string }>()
    const fromDir = (dir: string, source: string) => {
      for (const c of needed) if (!located.has(c)) located.set(c, { file: Path.join(dir, binaryNames[c]), source })
    }
    if (options.assets !== undefined) fromDir(options.assets, `options.assets=${options.assets}`)
    for (const c of needed) {
      const variable = overrideVariable(binaryNames[c])
      const value = env[variable]
      if (!located.has(c) && value !== undefined && value !== "") located.set(c, { file: value, source: variable })
    }
    const assetsVariable = env["KUBEBUILDER_ASSETS"]
    if (assetsVariable !== undefined && assetsVariable !== "") fromDir(assetsVariable, `KUBEBUILDER_ASSETS=${assetsVariable}`)
    const searched: Array<string> = []
    if (needed.some((c) => !located.has(c))) {
      const candidates = discovered()
      // the first folder that has etcd and kube-apiserver (the store never has kube-controller-manager)
      const found = candidates.find((c) => isExecutable(Path.join(c.dir, "etcd")) && isExecutable(Path.join(c.dir, "kube-apiserver")))
      searched.push(defaultAssetsDir(), Path.join(setupEnvtestStore(), "k8s", `*-${platform()}`), "/usr/local/kubebuilder/bin")
      if (found !== undefined) fromDir(found.dir, `${found.source} ${found.dir}`)
    }
    for (const c of needed) {
      const at = located.get(c)
      if (at === undefined || !isExecutable(at.file)) {
        const name = binaryNames[c]
        const detail = at === undefined
          ? `no ${name} found (looked in ${searched.join(", ")}; KUBEBUILDER_ASSETS and ${overrideVariable(name)} are not set)`
          : `no executable ${at.file} (from ${at.source})`
        const controllerManagerHint = c === "kubeControllerManager"
          ? "setup-envtest brings etcd and kube-apiserver only: put a kube-controller-manager of the same " +
            `version next to them (https://dl.k8s.io/release/v<version>/bin/${platform().replace("-", "/")}/kube-controller-manager) ` +
            `or set ${overrideVariable(name)}, or leave controllerManager off.\n`
          : ""
        return Effect.fail(new EnvtestError({ reason: "AssetsMissing", component: name, detail, hint: controllerManagerHint + getBinaries }))
      }
    }
    const sources = new Set(needed.map((c) => located.get(c)!.source))
    return Effect.all(
      needed.map((c) => askVersion(c, located.get(c)!.file, located.get(c)!.source)),
      { concurrency: "unbounded" }
    ).pipe(Effect.map(([etcd, kubeApiServer, kubeControllerManager]) => ({
      source: [...sources].join(", "),
      etcd: etcd!,
      kubeApiServer: kubeApiServer!,
      ...(kubeControllerManager !== undefined ? { kubeControllerManager } : {})
    })))
  })

/**
 * Runs `scripts/envtest-assets.sh`, streaming its progress to stderr (a line at least every 15
 * seconds), and returns the folder it filled. A warm cache returns at once; a cold one builds
 * kube-apiserver from source (about 5-15 minutes). It needs root on Debian bookworm; elsewhere it
 * fails with the `setup-envtest` command line that gets binaries instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const program = Effect.gen(function*() {
 *   const assets = yield* Envtest.provisionAssets
 *   return yield* Envtest.make({ assets })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const provisionAssets: Effect.Effect<string, EnvtestError> = Effect.callback<string, EnvtestError>(
  (resume) => {
    const child = ChildProcess.spawn("bash", [provisionScript], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.once("error", (err) =>
      resume(Effect.fail(new EnvtestError({ reason: "AssetsMissing", component: "envtest-assets", detail: err.message, hint: getBinaries })))
    )
    child.once("exit", (code) => {
      const dir = out.trim().split("\n").at(-1) ?? ""
      resume(
        code === 0 && dir !== ""
          ? Effect.succeed(dir)
          : Effect.fail(
            new EnvtestError({
              reason: "AssetsMissing",
              component: "envtest-assets",
              detail: `${provisionScript} exited with code ${code} (its output above says why)`,
              hint: getBinaries
            })
          )
      )
    })
    return Effect.sync(() => child.kill("SIGTERM"))
  }
)

const USER_POOL = 100

/**
 * Starts a control plane whose lifetime is the current scope: closing the scope stops every process
 * it started and removes its folder, also on failure or interruption. If this Node process dies
 * without closing the scope, a watchdog kills the processes and removes the folder.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const env = yield* Envtest.make({ watchCache: false })
 *   const rev = yield* env.compactEtcd
 *   yield* Effect.log(`compacted at ${rev}`)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(
  options: EnvtestOptions = {}
): Effect.fn.Return<EnvtestService, EnvtestError, Scope.Scope> {
  const assets = typeof options.assets === "object"
    ? options.assets
    : yield* resolveAssets({ assets: options.assets, controllerManager: options.controllerManager })
  if (options.controllerManager === true && assets.kubeControllerManager === undefined) {
    return yield* new EnvtestError({
      reason: "AssetsMissing",
      component: "kube-controller-manager",
      detail: `the assets given (${assets.source}) hold no kube-controller-manager`,
      hint: "resolve them with resolveAssets({ controllerManager: true })"
    })
  }
  const startTimeoutMs = millis(options.startTimeout, "60 seconds")
  const context = yield* Effect.context<never>()

  const dir = yield* Effect.acquireRelease(
    // OPERATORKIT_ENVTEST_TAG lets a test run find (only) its own processes afterwards
    io("temp folder", () =>
      Fs.mkdtempSync(Path.join(Os.tmpdir(), `operatorkit-envtest-${process.env["OPERATORKIT_ENVTEST_TAG"] ?? ""}`))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )
  const pidsFile = Path.join(dir, "pids")
  const managed = new Map<string, Proc.Managed>()
  const crashes: Array<EnvtestError> = []
  const writePids = () =>
    Fs.writeFileSync(
      pidsFile,
      [...managed.values()].filter((m) => m.exit === undefined).map((m) => String(m.child.pid)).join("\n") + "\n"
    )
  yield* Effect.acquireRelease(Effect.sync(() => startWatchdog(dir, pidsFile)), (watchdog) =>
    Effect.sync(() => {
      try {
        watchdog.kill("SIGKILL")
      } catch {
        // gone
      }
    }))

  // Credentials: an admin token, a pool of restricted users, the service-account signing key.
  const adminToken = randomToken()
  const pool = Array.from({ length: USER_POOL }, (_, i) => ({ name: `envtest-user-${i + 1}`, token: randomToken() }))
  const { privateKey, publicKey } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  yield* io("credentials", () => {
    Fs.mkdirSync(Path.join(dir, "certs"))
    Fs.writeFileSync(Path.join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }))
    Fs.writeFileSync(Path.join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }))
    Fs.writeFileSync(
      Path.join(dir, "tokens.csv"),
      [`${adminToken},envtest-admin,envtest-admin,"system:masters"`, ...pool.map((u) => `${u.token},${u.name},${u.name}`)]
        .join("\n") + "\n"
    )
  })

  const onExit = (m: Proc.Managed) => {
    if (m.stopping) return
    const error = new EnvtestError({
      reason: "ProcessExited",
      component: m.name,
      detail: `exited unexpectedly (${m.exit})`,
      logTail: Proc.tail(m.logFile)
    })
    crashes.push(error)
    Effect.runForkWith(context)(Effect.logError(error.message))
  }

  const binaryPath = (name: string) =>
    name === "etcd"
      ? assets.etcd.path
      : name === "kube-apiserver"
      ? assets.kubeApiServer.path
      : assets.kubeControllerManager!.path
  const startProcess = (name: string, args: ReadonlyArray<string>) =>
    Proc.spawn(name, binaryPath(name), args, Path.join(dir, `${name}.log`), onExit).pipe(
      Effect.mapError((e) => new EnvtestError({ reason: "ProcessExited", component: name, detail: e.message })),
      Effect.tap((m) =>
        Effect.sync(() => {
          managed.set(name, m)
          writePids()
        })
      )
    )
  const stopProcess = (name: string, how: "stop" | "kill" = "stop") =>
    Effect.suspend(() => {
      const m = managed.get(name)
      if (m === undefined) return Effect.void
      return (how === "kill" ? Proc.kill(m) : Proc.stop(m)).pipe(Effect.tap(() => Effect.sync(writePids)))
    })

  // Every process is stopped when the scope closes, in reverse order of dependency.
  yield* Effect.addFinalizer(() =>
    Effect.forEach(["kube-controller-manager", "kube-apiserver", "etcd"], (n) => stopProcess(n), { discard: true })
  )

  // Ports are picked as each process starts; the flags are chosen for each binary's version.
  let etcdPort = 0
  let etcdPeerPort = 0
  let apiPort = 0
  const layout = (): Flags.Layout => ({ dir, etcdPort, etcdPeerPort, apiPort, watchCache: options.watchCache !== false })
  const versionOf = (b: Binary) => Flags.parseKubernetesVersion(`Kubernetes v${b.version}`)!
  const etcdVersion = Flags.parseEtcdVersion(`etcd Version: ${assets.etcd.version}`)!

  const startEtcd = Effect.gen(function*() {
    const m = yield* startProcess("etcd", Flags.etcdFlags(etcdVersion, layout()))
    yield* waitReady(m, startTimeoutMs, () => httpGetOk(`http://127.0.0.1:${etcdPort}/health`))
  })

  const certDir = Path.join(dir, "certs")
  const startApiServer = Effect.gen(function*() {
    const m = yield* startProcess("kube-apiserver", [
      ...Flags.apiServerFlags(versionOf(assets.kubeApiServer), layout()),
      ...(options.apiServerFlags ?? [])
    ])
    // ready, and bootstrapped far enough that the default namespace exists
    yield* waitReady(m, startTimeoutMs, async () =>
      await httpsGetOk(apiPort, "/readyz", adminToken) &&
      await httpsGetOk(apiPort, "/api/v1/namespaces/default", adminToken))
    if (options.controllerManager === true && managed.has("kube-controller-manager")) yield* startControllerManager
  })
  // kube-controller-manager exits when it loses the API server, so it stops and starts with it
  const stopApiServer = Effect.andThen(stopProcess("kube-controller-manager"), stopProcess("kube-apiserver"))
  const kubeconfigPath = Path.join(dir, "admin.kubeconfig")
  const startControllerManager = Effect.gen(function*() {
    const binary = assets.kubeControllerManager!
    const m = yield* startProcess("kube-controller-manager", Flags.controllerManagerFlags(versionOf(binary), layout()))
    // it has no readiness endpoint with --secure-port=0: give it a moment to fail on bad flags
    yield* Effect.promise(() => Promise.race([m.exited, new Promise((r) => setTimeout(r, 500))]))
    if (m.exit !== undefined) {
      return yield* new EnvtestError({
        reason: "ProcessExited",
        component: m.name,
        detail: `exited during start (${m.exit})`,
        logTail: Proc.tail(m.logFile)
      })
    }
  })

  yield* startWithFreshPorts("etcd", Effect.gen(function*() {
    etcdPort = yield* port
    etcdPeerPort = yield* port
    yield* startEtcd
  }), () => stopProcess("etcd"))
  yield* startWithFreshPorts("kube-apiserver", Effect.gen(function*() {
    apiPort = yield* port
    yield* startApiServer
  }), () => stopProcess("kube-apiserver"))

  const server = `https://127.0.0.1:${apiPort}`
  const caData = yield* io("serving certificate", () => Fs.readFileSync(Path.join(certDir, "apiserver.crt"), "utf8"))
  const kubeconfig = kubeconfigYaml(server, caData, "envtest-admin", adminToken)
  yield* io("admin kubeconfig", () => Fs.writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 }))

  if (options.controllerManager === true) yield* startControllerManager
  let nextUser = 0
  const user = Effect.suspend(() => {
    const u = pool[nextUser++]
    if (u === undefined) {
      return Effect.fail(
        new EnvtestError({ reason: "Io", component: "users", detail: `all ${USER_POOL} restricted users are handed out` })
      )
    }
    const yaml = kubeconfigYaml(server, caData, u.name, u.token)
    const file = Path.join(dir, `${u.name}.kubeconfig`)
    return io("user kubeconfig", () => Fs.writeFileSync(file, yaml, { mode: 0o600 })).pipe(
      Effect.as({ name: u.name, token: u.token, kubeconfig: yaml, kubeconfigPath: file })
    )
  })

  const compactEtcd = Effect.tryPromise({
    try: async () => {
      const range = await httpPostJson(`http://127.0.0.1:${etcdPort}/v3/kv/range`, {
        key: Buffer.from("/").toString("base64"),
        limit: 1,
        count_only: true
      }) as { header?: { revision?: string } }
      const revision = Number(range.header?.revision ?? NaN)
      if (!Number.isFinite(revision)) throw new Error(`etcd answered no revision: ${JSON.stringify(range)}`)
      await httpPostJson(`http://127.0.0.1:${etcdPort}/v3/kv/compaction`, { revision, physical: true })
      return revision
    },
    catch: (cause) =>
      new EnvtestError({ reason: "Io", component: "etcd", detail: `compaction failed: ${String(cause)}` })
  })

  return {
    server,
    dir,
    assets,
    kubeconfigPath,
    kubeconfig,
    adminToken,
    caData,
    etcdEndpoint: `http://127.0.0.1:${etcdPort}`,
    user,
    stopApiServer,
    startApiServer,
    restartApiServer: Effect.andThen(stopApiServer, startApiServer),
    killEtcd: stopProcess("etcd", "kill"),
    startEtcd,
    compactEtcd,
    processes: Effect.sync(() =>
      [...managed.values()].map((m) => ({
        name: m.name,
        pid: m.child.pid,
        running: m.exit === undefined,
        logFile: m.logFile
      }))
    ),
    crashes: Effect.sync(() => [...crashes])
  } satisfies EnvtestService
})

/**
 * A Layer providing {@link Envtest}; the control plane lives as long as the Layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit/testing"
 *
 * const EnvtestLive = Envtest.layer({ controllerManager: true })
 * const program = Effect.gen(function*() {
 *   const env = yield* Envtest.Envtest
 *   return env.server
 * }).pipe(Effect.provide(EnvtestLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: EnvtestOptions = {}): Layer.Layer<Envtest, EnvtestError> =>
  Layer.effect(Envtest, make(options))

/**
 * The admin KubeConfig of the {@link Envtest} in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client } from "operatorkit"
 * import { Envtest } from "operatorkit/testing"
 *
 * const TestCluster = Client.layer().pipe(
 *   Layer.provide(Envtest.layerKubeConfig),
 *   Layer.provideMerge(Envtest.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerKubeConfig: Layer.Layer<KubeConfig.KubeConfig, KubeConfig.KubeConfigError, Envtest> = Layer.effect(
  KubeConfig.KubeConfig,
  Effect.gen(function*() {
    const env = yield* Envtest
    return yield* KubeConfig.fromString(env.kubeconfig, { source: env.kubeconfigPath })
  })
)

/**
 * A control plane with a `Client` (and its KubeConfig) on it, for the Layer's lifetime: what a test
 * file of an operator needs. Starting one takes a few seconds (kube-apiserver's own start), so give
 * the hook that builds it more than vitest's default 10 s: `layer(Envtest.layerClient(), { timeout: "60 seconds" })`.
 *
 * @example
 * ```ts
 * import { layer } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 * import { Envtest } from "operatorkit/testing"
 *
 * layer(Envtest.layerClient({ controllerManager: true }), { excludeTestServices: true, timeout: "60 seconds" })("on a real API server", (it) => {
 *   it.effect("lists namespaces", () =>
 *     Effect.gen(function*() {
 *       const client = yield* Client.Client
 *       yield* client.list(Kind.Namespace)
 *     }))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: EnvtestOptions = {}
): Layer.Layer<Client.Client | KubeConfig.KubeConfig | Envtest, EnvtestError | KubeConfig.KubeConfigError> =>
  Client.layer().pipe(Layer.provideMerge(layerKubeConfig), Layer.provideMerge(layer(options)))

// ---------------------------------------------------------------------------------------------

const port = Proc.freePort.pipe(
  Effect.mapError((e) => new EnvtestError({ reason: "PortInUse", component: "ports", detail: e.message }))
)

/** Ports are picked free but may be taken before the process binds them: try fresh ones a few times. */
const startWithFreshPorts = (
  component: string,
  start: Effect.Effect<void, EnvtestError>,
  cleanup: () => Effect.Effect<void>
) =>
  start.pipe(
    Effect.tapError(() => cleanup()),
    Effect.retry({ times: 3, while: (e) => e.reason === "PortInUse" }),
    Effect.mapError((e) =>
      e.reason === "PortInUse" ? new EnvtestError({ ...e, component, hint: "free loopback ports kept being taken; retry" }) : e
    )
  )

const waitReady = (
  m: Proc.Managed,
  timeoutMs: number,
  probe: () => Promise<boolean>
): Effect.Effect<void, EnvtestError> =>
  Effect.tryPromise({
    try: async () => {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        if (m.exit !== undefined) return m.exit
        if (await probe().catch(() => false)) return "ready"
        await new Promise((r) => setTimeout(r, 100))
      }
      return "timeout"
    },
    catch: (cause) => new EnvtestError({ reason: "Io", component: m.name, detail: String(cause) })
  }).pipe(
    Effect.flatMap((outcome) => {
      if (outcome === "ready") return Effect.void
      const logTail = Proc.tail(m.logFile)
      const portInUse = /address already in use/i.test(logTail)
      return Effect.fail(
        new EnvtestError({
          reason: portInUse ? "PortInUse" : outcome === "timeout" ? "StartTimeout" : "ProcessExited",
          component: m.name,
          detail: outcome === "timeout"
            ? `not ready within ${timeoutMs} ms`
            : `exited during start (${outcome})`,
          logTail,
          ...(portInUse ? { hint: "another process took its port" } : {})
        })
      )
    })
  )

const io = <A>(what: string, f: () => A) =>
  Effect.try({
    try: f,
    catch: (cause) => new EnvtestError({ reason: "Io", component: "envtest", detail: `${what}: ${String(cause)}` })
  })

const randomToken = () => Crypto.randomBytes(24).toString("hex")

const kubeconfigYaml = (server: string, caPem: string, user: string, token: string) =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: envtest",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: envtest",
    "  context:",
    "    cluster: envtest",
    `    user: ${user}`,
    "current-context: envtest",
    ""
  ].join("\n")

/** A detached shell that kills the recorded processes and removes the folder once this process is gone. */
const startWatchdog = (dir: string, pidsFile: string) => {
  const script = `
trap '' INT TERM HUP
while kill -0 "$1" 2>/dev/null; do sleep 1; done
for p in $(cat "$2" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
rm -rf "$3"
`
  const child = ChildProcess.spawn("bash", ["-c", script, "envtest-watchdog", String(process.pid), pidsFile, dir], {
    stdio: "ignore",
    detached: true
  })
  child.unref()
  return child
}

const httpGetOk = (url: string) =>
  new Promise<boolean>((resolve) => {
    const req = Http.get(url, { timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.once("timeout", () => req.destroy())
    req.once("error", () => resolve(false))
  })

const httpsGetOk = (port: number, path: string, token: string) =>
  new Promise<boolean>((resolve) => {
    const req = Https.get(
      { host: "127.0.0.1", port, path, headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      }
    )
    req.once("timeout", () => req.destroy())
    req.once("error", () => resolve(false))
  })

const httpPostJson = (url: string, body: unknown) =>
  new Promise<unknown>((resolve, reject) => {
    const data = JSON.stringify(body)
    const req = Http.request(url, { method: "POST", headers: { "content-type": "application/json" }, timeout: 10_000 }, (res) => {
      let text = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (text += c))
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text}`))
        try {
          resolve(JSON.parse(text))
        } catch (e) {
          reject(e)
        }
      })
    })
    req.once("timeout", () => req.destroy(new Error("timed out")))
    req.once("error", reject)
    req.end(data)
  })
