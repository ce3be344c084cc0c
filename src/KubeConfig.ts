/**
 * Where the cluster is and how to authenticate. Parsing and authentication (contexts, exec
 * credential plugins, token files, client certificates, in-cluster service accounts) come from
 * `@kubernetes/client-node`'s KubeConfig; this module validates what it loaded into typed errors and
 * hands the Client the TLS material once and fresh auth headers per request.
 *
 * @since 0.1.0
 */
import * as K8s from "@kubernetes/client-node"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/**
 * A kubeconfig that could not be loaded or used; `source` names the file (or "in-cluster", "string").
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KubeConfig } from "operatorkit"
 *
 * const load = KubeConfig.fromFile("/nope").pipe(
 *   Effect.catchTag("KubeConfigError", (e) => Effect.logError(e.message)) // "/nope: cannot read: ENOENT…"
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class KubeConfigError extends Schema.TaggedError<KubeConfigError>()("KubeConfigError", {
  source: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `kubeconfig ${this.source}: ${this.detail}`
  }
}

/**
 * TLS material for the connection pool, read once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tls {
  readonly ca?: Buffer | undefined
  readonly cert?: Buffer | undefined
  readonly key?: Buffer | undefined
  readonly rejectUnauthorized: boolean
  readonly servername?: string | undefined
}

/**
 * A loaded, validated kubeconfig.
 *
 * @since 0.1.0
 * @category models
 */
export interface KubeConfigService {
  /** The API server URL, without a trailing slash. */
  readonly server: string
  readonly context: string
  readonly user: string
  /** The context's default namespace ("default" when it names none). */
  readonly namespace: string
  readonly tls: Tls
  /** Authentication headers for the next request (refreshed for exec plugins and token files). */
  readonly authHeaders: Effect.Effect<Readonly<Record<string, string>>, KubeConfigError>
  /** Forget cached credentials (after a 401), so the next `authHeaders` asks again. */
  readonly invalidate: Effect.Effect<void>
  /** Where it came from, for messages. */
  readonly source: string
  /** The underlying client-node KubeConfig. */
  readonly raw: K8s.KubeConfig
}

/**
 * The KubeConfig service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { KubeConfig } from "operatorkit"
 *
 * const whereAmI = Effect.gen(function*() {
 *   const kc = yield* KubeConfig.KubeConfig
 *   return `${kc.context} → ${kc.server}`
 * }).pipe(Effect.provide(KubeConfig.layerDefault))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class KubeConfig extends Context.Service<KubeConfig, KubeConfigService>()("operatorkit/KubeConfig") {}

const fail = (source: string, detail: string) => new KubeConfigError({ source, detail })

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Validates a client-node KubeConfig and prepares it for the Client.
 *
 * @example
 * ```ts
 * import * as K8s from "@kubernetes/client-node"
 * import { KubeConfig } from "operatorkit"
 *
 * const kc = new K8s.KubeConfig()
 * kc.loadFromString("...")
 * const service = KubeConfig.fromClientNode(kc, "my config")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClientNode = (
  raw: K8s.KubeConfig,
  source: string,
  options: { readonly context?: string } = {}
): Effect.Effect<KubeConfigService, KubeConfigError> =>
  Effect.gen(function*() {
    if (options.context !== undefined) {
      if (raw.getContextObject(options.context) === null) {
        return yield* fail(source, `no context "${options.context}" (contexts: ${raw.getContexts().map((c) => c.name).join(", ") || "none"})`)
      }
      raw.setCurrentContext(options.context)
    }
    const contextName = raw.getCurrentContext()
    const context = raw.getContextObject(contextName)
    if (contextName === "" || context === null) {
      return yield* fail(source, contextName === "" ? "no current-context is set" : `current-context "${contextName}" is not defined`)
    }
    const cluster = raw.getCluster(context.cluster)
    if (cluster === null) return yield* fail(source, `context "${contextName}" names cluster "${context.cluster}", which is not defined`)
    const user = raw.getUser(context.user)
    if (user === null) return yield* fail(source, `context "${contextName}" names user "${context.user}", which is not defined`)
    let server: URL
    try {
      server = new URL(cluster.server)
    } catch {
      return yield* fail(source, `cluster "${cluster.name}" has no valid server URL ("${cluster.server}")`)
    }
    if (server.protocol !== "https:" && server.protocol !== "http:") {
      return yield* fail(source, `cluster "${cluster.name}" server must be https:// or http:// (got ${cluster.server})`)
    }
    const read = (what: string, file: string | undefined, data: string | undefined) => {
      if (data !== undefined && data !== "") return Buffer.from(data, "base64")
      if (file === undefined || file === "") return undefined
      try {
        return Fs.readFileSync(file)
      } catch (e) {
        throw fail(source, `cannot read ${what} file ${file}: ${message(e)}`)
      }
    }
    const tls = yield* Effect.try({
      try: (): Tls => ({
        ca: read("certificate-authority", cluster.caFile, cluster.caData),
        cert: read("client-certificate", user.certFile, user.certData),
        key: read("client-key", user.keyFile, user.keyData),
        rejectUnauthorized: !cluster.skipTLSVerify,
        servername: cluster.tlsServerName
      }),
      catch: (e) => (e instanceof KubeConfigError ? e : fail(source, message(e)))
    })

    // Static credentials never change; exec plugins and token files are asked at most once a second
    // (client-node caches them until expiry / re-reads token files every minute itself).
    const dynamic = user.exec !== undefined || user.authProvider !== undefined
    const ask = Effect.tryPromise({
      try: async () => {
        const opts: { headers: Record<string, string>; auth?: string } = { headers: {} }
        await raw.applyToHTTPSOptions(opts)
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(opts.headers)) headers[k.toLowerCase()] = String(v).trim()
        if (opts.auth !== undefined) headers["authorization"] = `Basic ${Buffer.from(opts.auth).toString("base64")}`
        return headers as Readonly<Record<string, string>>
      },
      catch: (e) => fail(source, `authentication for user "${user.name}" failed: ${message(e)}`)
    })
    let cached: { headers: Readonly<Record<string, string>>; at: number } | undefined
    const staticHeaders = dynamic ? undefined : yield* ask
    const authHeaders = staticHeaders !== undefined ? Effect.succeed(staticHeaders) : Effect.suspend(() => {
      const now = performance.now()
      if (cached !== undefined && now - cached.at < 1000) return Effect.succeed(cached.headers)
      return Effect.tap(ask, (headers) => Effect.sync(() => (cached = { headers, at: performance.now() })))
    })

    return {
      server: cluster.server.replace(/\/+$/, ""),
      context: contextName,
      user: user.name,
      namespace: context.namespace ?? "default",
      tls,
      authHeaders,
      invalidate: Effect.sync(() => (cached = undefined)),
      source,
      raw
    } satisfies KubeConfigService
  })

const load = (source: string, f: (kc: K8s.KubeConfig) => void, options: { readonly context?: string } = {}) =>
  Effect.suspend(() => {
    const kc = new K8s.KubeConfig()
    try {
      f(kc)
    } catch (e) {
      return Effect.fail(fail(source, message(e)))
    }
    return fromClientNode(kc, source, options)
  })

/**
 * Loads a kubeconfig file.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const kc = KubeConfig.fromFile("/etc/operator/kubeconfig", { context: "prod" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile = (file: string, options: { readonly context?: string } = {}) =>
  Effect.suspend(() => {
    try {
      Fs.accessSync(file, Fs.constants.R_OK)
    } catch (e) {
      return Effect.fail(fail(file, `cannot read: ${message(e)}`))
    }
    return load(file, (kc) => kc.loadFromFile(file), options)
  })

/**
 * Loads a kubeconfig from YAML (or JSON) text.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const kc = KubeConfig.fromString(process.env["MY_KUBECONFIG"] ?? "")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromString = (yaml: string, options: { readonly context?: string; readonly source?: string } = {}) =>
  load(options.source ?? "(string)", (kc) => kc.loadFromString(yaml), options)

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/**
 * The in-cluster configuration of a pod: `KUBERNETES_SERVICE_HOST`/`PORT`, the mounted CA, and the
 * service-account token (re-read as it rotates). `root` prefixes the mount path (for tests).
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const kc = KubeConfig.inCluster()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const inCluster = (options: { readonly root?: string } = {}) =>
  Effect.suspend(() => {
    const root = options.root ?? ""
    const dir = Path.join(root, SERVICE_ACCOUNT_DIR)
    const host = process.env["KUBERNETES_SERVICE_HOST"]
    if (host === undefined || host === "") {
      return Effect.fail(fail("in-cluster", "KUBERNETES_SERVICE_HOST is not set: not running in a pod"))
    }
    if (!Fs.existsSync(Path.join(dir, "token"))) {
      return Effect.fail(fail("in-cluster", `no service-account token at ${Path.join(dir, "token")}`))
    }
    return load("in-cluster", (kc) => kc.loadFromCluster(root)).pipe(
      Effect.map((kc) => {
        const ns = readIfExists(Path.join(dir, "namespace"))
        return ns !== undefined ? { ...kc, namespace: ns.trim() } : kc
      })
    )
  })

const readIfExists = (file: string) => {
  try {
    return Fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * The default loading rules, as kubectl's: `KUBECONFIG` (several files merged, the first wins),
 * else `~/.kube/config`, else the in-cluster service account. Finding none is an error that says so
 * (client-node would silently fall back to `http://localhost:8080`).
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const kc = KubeConfig.fromDefault()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromDefault = (options: { readonly context?: string } = {}) =>
  Effect.suspend(() => {
    const env = process.env["KUBECONFIG"]
    if (env !== undefined && env !== "") {
      const files = env.split(Path.delimiter).filter((f) => f !== "")
      const missing = files.filter((f) => !Fs.existsSync(f))
      if (missing.length === files.length) {
        return Effect.fail(fail(env, `KUBECONFIG names no existing file (${missing.join(", ")})`))
      }
      const present = files.filter((f) => Fs.existsSync(f))
      return load(present.join(Path.delimiter), (kc) => {
        kc.loadFromFile(present[0]!)
        for (const file of present.slice(1)) {
          const other = new K8s.KubeConfig()
          other.loadFromFile(file)
          kc.mergeConfig(other, true)
        }
      }, options)
    }
    const home = Path.join(process.env["HOME"] ?? Os.homedir(), ".kube", "config")
    if (Fs.existsSync(home)) return fromFile(home, options)
    if (process.env["KUBERNETES_SERVICE_HOST"] !== undefined) return inCluster()
    return Effect.fail(
      fail("(default)", `no kubeconfig found: KUBECONFIG is unset, ${home} does not exist, and this is not a pod`)
    )
  })

/**
 * The KubeConfig of the default loading rules.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, KubeConfig } from "operatorkit"
 *
 * const ClientLive = Client.layer.pipe(Layer.provide(KubeConfig.layerDefault))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDefault: Layer.Layer<KubeConfig, KubeConfigError> = Layer.effect(KubeConfig, fromDefault())

/**
 * A KubeConfig from a file.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const KubeConfigLive = KubeConfig.layerFromFile("./kubeconfig")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromFile = (file: string, options: { readonly context?: string } = {}) =>
  Layer.effect(KubeConfig, fromFile(file, options))

/**
 * A KubeConfig from YAML text.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const KubeConfigLive = KubeConfig.layerFromString("apiVersion: v1\nkind: Config\n…")
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromString = (yaml: string, options: { readonly context?: string } = {}) =>
  Layer.effect(KubeConfig, fromString(yaml, options))

/**
 * The in-cluster KubeConfig of a pod.
 *
 * @example
 * ```ts
 * import { KubeConfig } from "operatorkit"
 *
 * const KubeConfigLive = KubeConfig.layerInCluster
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInCluster: Layer.Layer<KubeConfig, KubeConfigError> = Layer.effect(KubeConfig, inCluster())
