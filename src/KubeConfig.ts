/**
 * Where the cluster is and how to authenticate, read as kubectl reads it: the default loading rules
 * (`KUBECONFIG`, a list merged with kubectl's rules, else `~/.kube/config`, else the in-cluster
 * service account), a file, a string, or a pod's service account. Parsing and merging are
 * `internal/kubeconfig/merge.ts`, credentials (token files re-read, exec plugins, client certificates,
 * impersonation; reloaded from their source after a 401) `internal/kubeconfig/credentials.ts`, and proxies
 * (`proxy-url`, `HTTPS_PROXY`/`NO_PROXY` with Go's rules) `internal/http/proxy.ts`. Every field of a
 * kubeconfig and what the library does with it: docs/kubeconfig.md.
 *
 * @since 0.1.0
 */
import * as K8s from "@kubernetes/client-node"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as CredentialSources from "./internal/kubeconfig/credentials.ts"
import * as Merge from "./internal/kubeconfig/merge.ts"
import * as Proxy from "./internal/http/proxy.ts"

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
 * TLS material for the connection pool, read once (the client certificate as first loaded; see
 * {@link Credentials} for its reloads).
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
 * What a request authenticates with: headers (Authorization, impersonation) and the client
 * certificate, with a version that changes whenever any of them does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Auth {
  /** Header names in lower case; a list is sent as one header line per value. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string>>>
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
  readonly version: number
}

/**
 * A user's credentials as the Client uses them: token files and certificate files re-read at most
 * once a minute, exec credentials kept until they expire, and all of them reloaded from their
 * source when the API server answers 401.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  /** The credentials to send now. */
  readonly current: Effect.Effect<Auth, KubeConfigError>
  /**
   * After a 401 to a request sent with `stale`: reloaded from the source (once for every request
   * that saw `stale`). The same `version` as `stale` means nothing changed: the 401 stands.
   */
  readonly refresh: (stale: Auth) => Effect.Effect<Auth, KubeConfigError>
  /** Whether a reload can change anything (token or certificate files, exec plugins, auth providers). */
  readonly reloadable: boolean
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
  /**
   * The proxy every connection goes through: the cluster's `proxy-url`, else the one the
   * environment names for this server (`HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, Go's rules, read at
   * load); undefined for none.
   */
  readonly proxy: URL | undefined
  readonly credentials: Credentials
  /** Authentication headers for the next request (token files and exec plugins refreshed). */
  readonly authHeaders: Effect.Effect<Readonly<Record<string, string | ReadonlyArray<string>>>, KubeConfigError>
  /** Reload the credentials from their source now (as after a 401). */
  readonly invalidate: Effect.Effect<void>
  /** Where it came from, for messages. */
  readonly source: string
  /** The selected context as a client-node KubeConfig (for client-node's own API classes). */
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
 * }).pipe(Effect.provide(KubeConfig.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class KubeConfig extends Context.Service<KubeConfig, KubeConfigService>()("operatorkit/KubeConfig") {}

const fail = (source: string, detail: string) => new KubeConfigError({ source, detail })

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

/**
 * Options of the loading functions and their layers.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadOptions {
  /** Use this context instead of `current-context`. */
  readonly context?: string
  /** The environment proxies are read from (default `process.env`). */
  readonly env?: { readonly [name: string]: string | undefined }
}

const AUTH_PROVIDERS = ["oidc", "azure", "gcp"]

const str = (u: unknown) => (typeof u === "string" && u !== "" ? u : undefined)

/** Builds the service from a merged config, for its current (or the given) context. */
const resolve = (config: Merge.Config, source: string, options: LoadOptions): Effect.Effect<KubeConfigService, KubeConfigError> =>
  Effect.gen(function*() {
    const contextName = options.context ?? config.currentContext
    if (contextName === undefined) {
      return yield* fail(source, `no current-context is set (contexts: ${[...config.contexts.keys()].join(", ") || "none"})`)
    }
    const context = config.contexts.get(contextName)
    if (context === undefined) {
      return yield* fail(
        source,
        options.context !== undefined
          ? `no context "${contextName}" (contexts: ${[...config.contexts.keys()].join(", ") || "none"})`
          : `current-context "${contextName}" is not defined`
      )
    }
    const clusterName = str(context.value["cluster"])
    const userName = str(context.value["user"])
    const cluster = clusterName !== undefined ? config.clusters.get(clusterName) : undefined
    if (cluster === undefined) {
      return yield* fail(source, `context "${contextName}" names cluster "${clusterName ?? ""}", which is not defined`)
    }
    const user = userName !== undefined ? config.users.get(userName) : undefined
    if (user === undefined) return yield* fail(source, `context "${contextName}" names user "${userName ?? ""}", which is not defined`)
    const c = cluster.value
    const u = user.value
    const where = (field: string) => `users["${userName}"].user.${field}`

    // fields naming credentials we would otherwise drop: never a silent anonymous client
    for (const key of Object.keys(u)) {
      if (key in Merge.userFields || u[key] === null) continue
      const hint = key === "token-file" ? " (kubectl's field is tokenFile)" : ""
      return yield* fail(source, `${where(key)} is not a kubeconfig user field${hint}; the client would not authenticate as meant`)
    }
    const provider = u["auth-provider"] as { name?: string; config?: Record<string, string> } | undefined
    if (provider !== undefined && provider !== null && !AUTH_PROVIDERS.includes(provider.name ?? "")) {
      return yield* fail(source, `${where("auth-provider.name")} "${provider.name ?? ""}" is not supported (${AUTH_PROVIDERS.join(", ")}; or use an exec credential plugin)`)
    }

    const serverText = str(c["server"])
    if (serverText === undefined) return yield* fail(source, `cluster "${clusterName}" has no server`)
    let server: URL
    try {
      server = new URL(serverText)
    } catch {
      return yield* fail(source, `cluster "${clusterName}" has no valid server URL ("${serverText}")`)
    }
    if (server.protocol !== "https:" && server.protocol !== "http:") {
      return yield* fail(source, `cluster "${clusterName}" server must be https:// or http:// (got ${serverText})`)
    }
    const insecure = c["insecure-skip-tls-verify"] === true
    const caData = str(c["certificate-authority-data"])
    const caFile = str(c["certificate-authority"])
    if (insecure && (caData !== undefined || caFile !== undefined)) {
      // client-go refuses the same
      return yield* fail(source, `cluster "${clusterName}": insecure-skip-tls-verify with a certificate-authority is not allowed (as in kubectl): drop one of them`)
    }
    let ca: Buffer | undefined
    if (caData !== undefined) ca = Buffer.from(caData, "base64")
    else if (caFile !== undefined) {
      ca = yield* Effect.try({
        try: () => Fs.readFileSync(caFile),
        catch: (e) => fail(source, `cannot read certificate-authority file ${caFile}: ${message(e)}`)
      })
    }

    const proxyUrl = str(c["proxy-url"])
    const proxy = Proxy.proxyFor(server, proxyUrl, options.env ?? process.env)
    if (proxyUrl !== undefined && (proxy === undefined || !["http:", "https:", "socks5:"].includes(proxy.protocol))) {
      return yield* fail(source, `cluster "${clusterName}".proxy-url ${JSON.stringify(proxyUrl)}: only http, https and socks5 proxies are supported (as in kubectl)`)
    }
    if (proxyUrl === undefined && proxy !== undefined && !Proxy.SUPPORTED_PROXY_SCHEMES.includes(proxy.protocol)) {
      return yield* fail(source, `the environment's proxy for ${server.host} (${proxy.protocol}//${proxy.host}) has an unsupported scheme`)
    }

    const execExtension = (c["extensions"] as ReadonlyArray<{ name?: unknown; extension?: unknown }> | undefined)
      ?.find((e) => e?.name === "client.authentication.k8s.io/exec")?.extension
    const raw = toClientNode(contextName, clusterName!, c, userName!, u, str(context.value["namespace"]))
    const credentials = yield* CredentialSources.make({
      name: userName!,
      source,
      fail: (detail) => fail(source, detail),
      user: u,
      cluster: {
        server: serverText,
        tlsServerName: str(c["tls-server-name"]),
        insecureSkipTlsVerify: insecure,
        caData: ca,
        proxyUrl,
        execExtension
      },
      authProvider: provider !== undefined && provider !== null ? authProviderHeaders(raw) : undefined
    })
    const first = yield* credentials.current
    if (insecure && server.protocol === "https:") {
      yield* Effect.logWarning(
        `kubeconfig ${source}: cluster "${clusterName}" has insecure-skip-tls-verify: the API server's certificate is not checked, so anyone on the path can read and change this client's traffic`
      )
    }
    return {
      server: serverText.replace(/\/+$/, ""),
      context: contextName,
      user: userName!,
      namespace: str(context.value["namespace"]) ?? "default",
      tls: {
        ca,
        cert: first.cert,
        key: first.key,
        rejectUnauthorized: !insecure,
        servername: str(c["tls-server-name"])
      },
      proxy,
      credentials,
      authHeaders: Effect.map(credentials.current, (a) => a.headers),
      invalidate: Effect.ignore(Effect.flatMap(credentials.current, credentials.refresh)),
      source,
      raw
    } satisfies KubeConfigService
  })

/** The selected context as a client-node KubeConfig. */
const toClientNode = (
  contextName: string,
  clusterName: string,
  c: Readonly<Record<string, unknown>>,
  userName: string,
  u: Readonly<Record<string, unknown>>,
  namespace: string | undefined
) => {
  const kc = new K8s.KubeConfig()
  const opt = <K extends string>(key: K, value: unknown) => (value !== undefined && value !== null ? { [key]: value } as Record<K, unknown> : {})
  kc.loadFromOptions({
    clusters: [{
      name: clusterName,
      server: String(c["server"]).replace(/\/+$/, ""),
      skipTLSVerify: c["insecure-skip-tls-verify"] === true,
      ...opt("caData", c["certificate-authority-data"]),
      ...opt("caFile", c["certificate-authority"]),
      ...opt("tlsServerName", c["tls-server-name"]),
      ...opt("proxyUrl", c["proxy-url"])
    }],
    users: [{
      name: userName,
      ...opt("token", u["token"]),
      ...opt("certData", u["client-certificate-data"]),
      ...opt("certFile", u["client-certificate"]),
      ...opt("keyData", u["client-key-data"]),
      ...opt("keyFile", u["client-key"]),
      ...opt("username", u["username"]),
      ...opt("password", u["password"]),
      ...opt("impersonateUser", u["as"]),
      ...opt("exec", u["exec"]),
      ...opt("authProvider", u["auth-provider"])
    }],
    contexts: [{ name: contextName, cluster: clusterName, user: userName, ...opt("namespace", namespace) }],
    currentContext: contextName
  })
  return kc
}

/** An auth-provider's headers, from client-node's own implementation of it. */
const authProviderHeaders = (raw: K8s.KubeConfig) => async () => {
  const opts: { headers: Record<string, string> } = { headers: {} }
  // client-node's own auth-provider code (a private method: only the Authorization header, no agent)
  await (raw as unknown as { applyAuthorizationHeader: (o: typeof opts) => Promise<void> }).applyAuthorizationHeader(opts)
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(opts.headers)) out[k.toLowerCase()] = String(v).trim()
  return out
}

const parsed = (text: string, origin: string | undefined, source: string) => {
  const out = Merge.parse(text, origin)
  return "error" in out ? Effect.fail(fail(source, out.error)) : Effect.succeed(out.config)
}

const readText = (file: string, source: string = file) =>
  Effect.try({ try: () => Fs.readFileSync(file, "utf8"), catch: (e) => fail(source, `cannot read: ${message(e)}`) })

/**
 * Builds the KubeConfig of a client-node KubeConfig (its current context, or the given one),
 * validated and with credentials loaded as {@link fromString} does.
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
  options: LoadOptions = {}
): Effect.Effect<KubeConfigService, KubeConfigError> =>
  Effect.suspend(() => {
    const drop = (o: Record<string, unknown>) => {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null && v !== "") out[k] = v
      return out
    }
    const entry = (value: Record<string, unknown>): Merge.Entry => ({ value: drop(value), origin: undefined })
    const config: Merge.Config = {
      clusters: new Map(raw.getClusters().map((c) => [c.name, entry({
        server: c.server,
        "certificate-authority-data": c.caData,
        "certificate-authority": c.caFile,
        "insecure-skip-tls-verify": c.skipTLSVerify ? true : undefined,
        "tls-server-name": c.tlsServerName,
        "proxy-url": c.proxyUrl
      })])),
      users: new Map(raw.getUsers().map((u) => [u.name, entry({
        token: u.token,
        "client-certificate-data": u.certData,
        "client-certificate": u.certFile,
        "client-key-data": u.keyData,
        "client-key": u.keyFile,
        username: u.username,
        password: u.password,
        as: u.impersonateUser,
        exec: u.exec,
        "auth-provider": u.authProvider
      })])),
      contexts: new Map(raw.getContexts().map((c) => [c.name, entry({ cluster: c.cluster, user: c.user, namespace: c.namespace })])),
      currentContext: raw.getCurrentContext() !== "" ? raw.getCurrentContext() : undefined
    }
    return resolve(config, source, options)
  })

/**
 * Loads a kubeconfig file (relative paths in it are relative to its directory, as in kubectl).
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
export const fromFile = (file: string, options: LoadOptions = {}) =>
  Effect.flatMap(readText(file), (text) => Effect.flatMap(parsed(text, file, file), (config) => resolve(config, file, options)))

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
export const fromString = (yaml: string, options: LoadOptions & { readonly source?: string } = {}) => {
  const source = options.source ?? "(string)"
  return Effect.flatMap(parsed(yaml, undefined, source), (config) => resolve(config, source, options))
}

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/**
 * The in-cluster configuration of a pod, as client-go's: `KUBERNETES_SERVICE_HOST`/`PORT`, the
 * mounted CA, and the service-account token file (re-read every minute and after a 401, as it
 * rotates). `root` prefixes the mount path (for tests).
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
export const inCluster = (options: { readonly root?: string; readonly env?: LoadOptions["env"] } = {}) =>
  Effect.suspend(() => {
    const dir = Path.join(options.root ?? "", SERVICE_ACCOUNT_DIR)
    const host = process.env["KUBERNETES_SERVICE_HOST"]
    const port = process.env["KUBERNETES_SERVICE_PORT"]
    if (host === undefined || host === "" || port === undefined || port === "") {
      return Effect.fail(fail("in-cluster", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod"))
    }
    const token = Path.join(dir, "token")
    if (!Fs.existsSync(token)) return Effect.fail(fail("in-cluster", `no service-account token at ${token}`))
    const namespace = readIfExists(Path.join(dir, "namespace"))?.trim()
    const entry = (value: Record<string, unknown>): Merge.Entry => ({ value, origin: undefined })
    const config: Merge.Config = {
      clusters: new Map([["in-cluster", entry({
        server: `https://${Net.isIPv6(host) ? `[${host}]` : host}:${port}`,
        "certificate-authority": Path.join(dir, "ca.crt")
      })]]),
      users: new Map([["in-cluster", entry({ tokenFile: token })]]),
      contexts: new Map([["in-cluster", entry({ cluster: "in-cluster", user: "in-cluster", ...(namespace !== undefined && namespace !== "" ? { namespace } : {}) })]]),
      currentContext: "in-cluster"
    }
    return resolve(config, "in-cluster", { ...(options.env !== undefined ? { env: options.env } : {}) })
  })

const readIfExists = (file: string) => {
  try {
    return Fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * The default loading rules, as kubectl's: the files of `KUBECONFIG` merged with kubectl's rules
 * (the first file to define a cluster, user, context or current-context wins; missing files are
 * skipped), else `~/.kube/config`; when neither gives a config, the in-cluster service account.
 * Finding none is an error that says so (client-node would silently fall back to
 * `http://localhost:8080`).
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
export const fromDefault = (options: LoadOptions = {}) =>
  Effect.suspend(() => {
    const list = process.env["KUBECONFIG"]
    const home = Path.join(process.env["HOME"] ?? Os.homedir(), ".kube", "config")
    const files = list !== undefined && list !== ""
      ? [...new Set(list.split(Path.delimiter).filter((f) => f !== ""))]
      : [home]
    const present = files.filter((f) => Fs.existsSync(f))
    const inPod = process.env["KUBERNETES_SERVICE_HOST"] !== undefined && process.env["KUBERNETES_SERVICE_PORT"] !== undefined
    if (present.length === 0) {
      if (inPod) return inCluster(options.env !== undefined ? { env: options.env } : {})
      return Effect.fail(
        list !== undefined && list !== ""
          ? fail(list, `KUBECONFIG names no existing file (${files.join(", ")}), and this is not a pod`)
          : fail("(default)", `no kubeconfig found: KUBECONFIG is unset, ${home} does not exist, and this is not a pod`)
      )
    }
    const source = present.join(Path.delimiter)
    return Effect.forEach(present, (file) => Effect.flatMap(readText(file), (text) => parsed(text, file, file))).pipe(
      Effect.flatMap((configs) => resolve(Merge.merge(configs), source, options))
    )
  })

/**
 * The KubeConfig of kubectl's loading rules (`KUBECONFIG`, else `~/.kube/config`, else in-cluster),
 * optionally for another context than `current-context`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, KubeConfig } from "operatorkit"
 *
 * const ClientLive = Client.layer().pipe(Layer.provide(KubeConfig.layer()))
 * const Staging = Client.layer().pipe(Layer.provide(KubeConfig.layer({ context: "staging" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: LoadOptions = {}): Layer.Layer<KubeConfig, KubeConfigError> =>
  Layer.effect(KubeConfig, fromDefault(options))

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
export const layerFromFile = (file: string, options: LoadOptions = {}) =>
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
export const layerFromString = (yaml: string, options: LoadOptions = {}) =>
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
