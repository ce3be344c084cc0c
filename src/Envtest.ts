/**
 * A real Kubernetes control plane for tests, benchmarks and demos: etcd and kube-apiserver (and,
 * optionally, kube-controller-manager) started on free loopback ports in a fresh temporary folder.
 *
 * The binaries come from `KUBEBUILDER_ASSETS` (controller-runtime's convention) or from the cache
 * that `scripts/envtest-assets.sh` fills (`~/.cache/operatorkit/envtest/1.20.2`).
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ChildProcess from "node:child_process"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Proc from "./internal/process.ts"

/**
 * The Kubernetes version Envtest provisions and expects.
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit"
 *
 * Envtest.kubernetesVersion // => "1.20.2"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const kubernetesVersion = "1.20.2"

/**
 * Why Envtest could not start or act.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit"
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
  reason: Schema.Literals(["AssetsMissing", "PortInUse", "ProcessExited", "StartTimeout", "Io"]),
  component: Schema.String,
  detail: Schema.String,
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
 * A running control plane.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnvtestInstance {
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  /** The temporary folder holding data, certificates, kubeconfigs and logs; removed on close. */
  readonly dir: string
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
  /** Folder with `etcd`, `kube-apiserver` (and `kube-controller-manager`). Default: `KUBEBUILDER_ASSETS`, then the cache. */
  readonly assets?: string
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
 * import { Envtest } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const env = yield* Envtest.Envtest
 *   yield* Effect.log(`API server at ${env.server}, kubeconfig ${env.kubeconfigPath}`)
 * }).pipe(Effect.provide(Envtest.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Envtest extends Context.Service<Envtest, EnvtestInstance>()("operatorkit/Envtest") {}

/**
 * The default cache folder of the provisioning script for this version
 * (`$OPERATORKIT_CACHE`, else `$XDG_CACHE_HOME/operatorkit`, else `~/.cache/operatorkit`).
 *
 * @example
 * ```ts
 * import { Envtest } from "operatorkit"
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
  return Path.join(root, "envtest", kubernetesVersion)
}

const provisionHint =
  "run `npm run envtest:assets` (scripts/envtest-assets.sh) once as root to build them into the cache, " +
  "or set KUBEBUILDER_ASSETS to a folder holding etcd 3.4 and kube-apiserver/kube-controller-manager 1.20.2"

/**
 * Resolves the folder holding the control plane binaries, checking each one is there.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit"
 *
 * const where = Envtest.resolveAssets({ controllerManager: true }).pipe(
 *   Effect.catchTag("EnvtestError", (e) => Effect.die(e.message)) // says how to provision them
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveAssets = (options: { readonly assets?: string; readonly controllerManager?: boolean } = {}) =>
  Effect.suspend(() => {
    const dir = options.assets ?? process.env["KUBEBUILDER_ASSETS"] ?? defaultAssetsDir()
    const needed = ["etcd", "kube-apiserver", ...(options.controllerManager === true ? ["kube-controller-manager"] : [])]
    for (const binary of needed) {
      const file = Path.join(dir, binary)
      try {
        Fs.accessSync(file, Fs.constants.X_OK)
      } catch {
        return Effect.fail(
          new EnvtestError({
            reason: "AssetsMissing",
            component: binary,
            detail: `no executable ${file}`,
            hint: provisionHint
          })
        )
      }
    }
    return Effect.succeed(dir)
  })

/**
 * Runs `scripts/envtest-assets.sh`, streaming its progress to stderr, and returns the assets folder.
 * A warm cache returns at once; a cold one builds kube-apiserver from source (about 5-12 minutes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit"
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
    const script = Path.resolve(import.meta.dirname, "..", "scripts", "envtest-assets.sh")
    const child = ChildProcess.spawn("bash", [script], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.once("error", (err) =>
      resume(Effect.fail(new EnvtestError({ reason: "AssetsMissing", component: "envtest-assets", detail: err.message, hint: provisionHint })))
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
              detail: `${script} exited with code ${code}`,
              hint: provisionHint
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
 * import { Envtest } from "operatorkit"
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
): Effect.fn.Return<EnvtestInstance, EnvtestError, Scope.Scope> {
  const assets = yield* resolveAssets(options)
  const startTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.startTimeout ?? "60 seconds"))
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

  const startProcess = (name: string, args: ReadonlyArray<string>) =>
    Proc.spawn(name, Path.join(assets, name), args, Path.join(dir, `${name}.log`), onExit).pipe(
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

  // etcd
  let etcdPort = 0
  let etcdPeerPort = 0
  const etcdArgs = () => [
    "--name=envtest",
    `--data-dir=${Path.join(dir, "etcd")}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
    `--initial-cluster=envtest=http://127.0.0.1:${etcdPeerPort}`,
    "--unsafe-no-fsync"
  ]
  const startEtcd = Effect.gen(function*() {
    const m = yield* startProcess("etcd", etcdArgs())
    yield* waitReady(m, startTimeoutMs, () => httpGetOk(`http://127.0.0.1:${etcdPort}/health`))
  })

  // kube-apiserver
  let apiPort = 0
  const certDir = Path.join(dir, "certs")
  const apiArgs = () => [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    "--insecure-port=0",
    `--cert-dir=${certDir}`,
    `--token-auth-file=${Path.join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc",
    `--service-account-key-file=${Path.join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${Path.join(dir, "sa.key")}`,
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    "--enable-priority-and-fairness=false",
    // as controller-runtime's envtest: without the controller manager no default ServiceAccount exists
    "--disable-admission-plugins=ServiceAccount",
    ...(options.watchCache === false ? ["--watch-cache=false"] : []),
    ...(options.apiServerFlags ?? [])
  ]
  const startApiServer = Effect.gen(function*() {
    const m = yield* startProcess("kube-apiserver", apiArgs())
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
    const m = yield* startProcess("kube-controller-manager", [
      `--kubeconfig=${kubeconfigPath}`,
      "--controllers=garbagecollector,namespace,serviceaccount-token",
      "--leader-elect=false",
      "--port=0",
      "--secure-port=0",
      `--service-account-private-key-file=${Path.join(dir, "sa.key")}`,
      `--root-ca-file=${Path.join(certDir, "apiserver.crt")}`
    ])
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
  } satisfies EnvtestInstance
})

/**
 * A Layer providing {@link Envtest}; the control plane lives as long as the Layer.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Envtest } from "operatorkit"
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
