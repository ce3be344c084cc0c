/**
 * The operator's HTTP endpoints on one port: `/metrics` for Prometheus, `/healthz` for the
 * kubelet's liveness probe and `/readyz` for its readiness probe.
 *
 * - `/readyz` answers 200 once every informer of the running controllers (and of the shared
 *   `Informers`) completed its first list. With leader election that holds for the leader and for
 *   a standby alike (a standby keeps its informers synced), so a rollout waits for a warm cache
 *   but never for leadership.
 * - `/healthz` answers 200 while the process is alive and each leader elector that says it leads
 *   renewed its Lease within the lease duration plus 20 seconds (client-go's `HealthzAdaptor`);
 *   a wedged elector gets the pod restarted.
 * - `/metrics` serves the `Metrics` service's Registry when one is in context (404 otherwise).
 *   With `secureMetrics` it moves to an HTTPS port of its own and answers only callers whose
 *   bearer token passes a TokenReview and whose user may `get` the non-resource URL `/metrics`
 *   (a SubjectAccessReview), as kube-rbac-proxy and controller-runtime's
 *   `WithAuthenticationAndAuthorization` do: 401 without a valid token, 403 without the right.
 *   The probes stay plain HTTP for the kubelet. Answers are cached a minute per token (a refusal
 *   10 seconds). The operator needs `create` on `tokenreviews` and `subjectaccessreviews`
 *   (`Manifests.secureMetricsPermissions`), the scraper `get` on `/metrics`.
 * - Your own checks join either list. Answers follow the API server's format: `ok`, or one
 *   `[+]name ok` / `[-]name failed: reason` line per check (always on failure, with `?verbose`
 *   on success); `/healthz/<check>` and `/readyz/<check>` run one check.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Client from "./Client.ts"
import * as Controller from "./Controller.ts"
import { listening } from "./internal/http/listen.ts"
import * as MetricsAuth from "./internal/http/metricsAuth.ts"
import * as Certificates from "./internal/webhook/certificates.ts"
import * as Informer from "./Informer.ts"
import * as LeaderElection from "./LeaderElection.ts"
import * as Metrics from "./Metrics.ts"

/**
 * A named health or readiness check: it passes when its effect succeeds. A failure's message is
 * the reason shown.
 *
 * @since 0.1.0
 * @category models
 */
export interface Check {
  readonly name: string
  readonly run: Effect.Effect<void, unknown>
}

/**
 * A check from a name and an effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "operatorkit"
 *
 * let connected = true
 * const database = Health.check("database", Effect.suspend(() => connected ? Effect.void : Effect.fail("no connection")))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (name: string, run: Effect.Effect<void, unknown>): Check => ({ name, run })

/**
 * Options of the endpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default 8080; 0 picks a free port (see `Server.port`). */
  readonly port?: number | undefined
  /** Default: every interface. */
  readonly host?: string | undefined
  /** More liveness checks for `/healthz`. */
  readonly healthChecks?: ReadonlyArray<Check> | undefined
  /** More readiness checks for `/readyz`. */
  readonly readyChecks?: ReadonlyArray<Check> | undefined
  /** A check taking longer fails (default 5 seconds). */
  readonly checkTimeout?: number | undefined
  /**
   * Serve `/metrics` over HTTPS on a port of its own, to callers whose token passes a TokenReview
   * and a SubjectAccessReview (see the module doc); needs a `Client` in context. Default: off
   * (`/metrics` on the probes' port, plain).
   */
  readonly secureMetrics?: SecureMetricsOptions | undefined
}

/**
 * Options of secure metrics: `/metrics` over HTTPS on its own port, for authenticated and
 * authorized callers only.
 *
 * @since 0.1.0
 * @category models
 */
export interface SecureMetricsOptions {
  /** Default 8443; 0 picks a free port (see `Server.metricsUrl`). */
  readonly port?: number | undefined
  /** Default: the probes' host. */
  readonly host?: string | undefined
  /**
   * The serving certificate and key (PEM files, e.g. a cert-manager Secret mounted in the pod).
   * Default: a self-signed certificate made at start (Prometheus then scrapes with
   * `insecureSkipVerify`, as with controller-runtime's default).
   */
  readonly certFile?: string | undefined
  readonly keyFile?: string | undefined
}

/**
 * The listening endpoints.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerService {
  readonly port: number
  /** e.g. `http://127.0.0.1:8080` */
  readonly url: string
  /** With secure metrics, where `/metrics` is served, e.g. `https://127.0.0.1:8443/metrics`. */
  readonly metricsUrl: string | undefined
}

/**
 * The running HTTP endpoints.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "operatorkit"
 *
 * const where = Effect.map(Health.Server, (server) => `${server.url}/readyz`)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Server extends Context.Service<Server, ServerService>()("operatorkit/Health/Server") {}

/**
 * The port could not be listened on.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const report = Effect.catchTag("HealthServerError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class HealthServerError extends Schema.TaggedError<HealthServerError>()("HealthServerError", {
  host: Schema.String,
  port: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `the health and metrics endpoints could not listen on ${this.host}:${this.port}: ${this.reason}`
  }
}

/**
 * The readiness check `informers`: every informer of the running controllers, and every shared
 * informer, completed its first list.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "operatorkit"
 *
 * const ready = Effect.flatMap(Health.informersSynced, (c) => c.run)
 * ```
 *
 * @since 0.1.0
 * @category checks
 */
export const informersSynced: Effect.Effect<Check> = Effect.gen(function*() {
  const controllers = yield* Controller.Registry
  const informers = yield* Effect.serviceOption(Informer.Informers)
  return check(
    "informers",
    Effect.gen(function*() {
      const all = new Set<Informer.Informer<any>>(Array.from(controllers, (c) => c.informer))
      if (Option.isSome(informers)) for (const i of yield* informers.value.all) all.add(i)
      const waiting: Array<string> = []
      for (const informer of all) {
        const stats = yield* informer.stats
        if (!stats.synced) waiting.push(`${informer.kind.kind}${informer.kind.group !== "" ? `.${informer.kind.group}` : ""}`)
      }
      if (waiting.length > 0) return yield* Effect.fail(`not synced yet: ${waiting.sort().join(", ")}`)
    })
  )
})

/**
 * The liveness check `leader-election`: an elector that says it leads renewed its Lease within
 * the lease duration plus `tolerance` (default 20 seconds).
 *
 * @example
 * ```ts
 * import { Health } from "operatorkit"
 *
 * const strict = Health.leaderElectionHealthy(5_000)
 * ```
 *
 * @since 0.1.0
 * @category checks
 */
export const leaderElectionHealthy = (toleranceMillis = 20_000): Effect.Effect<Check> =>
  Effect.map(LeaderElection.Registry, (electors) =>
    check(
      "leader-election",
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const elector of electors) {
          const s = yield* elector.stats
          if (s.leading && s.lastRenewMillis !== undefined && now - s.lastRenewMillis > s.leaseDurationMillis + toleranceMillis) {
            return yield* Effect.fail(
              `${s.identity} leads Lease ${s.namespace}/${s.name} but last renewed it ${Math.round((now - s.lastRenewMillis) / 1000)} s ago`
            )
          }
        }
      })
    ))

const ping = check("ping", Effect.void)

const reasonOf = (error: unknown): string =>
  typeof error === "string"
    ? error
    : typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
    ? error.message
    : String(error)

/**
 * Runs checks as the endpoints do: whether all passed, and the answer's text.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "operatorkit"
 *
 * const report = Health.runChecks("readyz", [Health.check("db", Effect.void)], { verbose: true })
 * // => { ok: true, text: "[+]db ok\nreadyz check passed\n" }
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runChecks = (
  endpoint: string,
  checks: ReadonlyArray<Check>,
  options: { readonly verbose?: boolean; readonly timeoutMillis?: number } = {}
): Effect.Effect<{ readonly ok: boolean; readonly text: string }> =>
  Effect.gen(function*() {
    const results = yield* Effect.forEach(checks, (c) =>
      c.run.pipe(
        Effect.timeoutOrElse({ duration: options.timeoutMillis ?? 5_000, orElse: () => Effect.fail("timed out") }),
        Effect.map(() => ({ name: c.name, reason: undefined as string | undefined })),
        Effect.catchCause((cause) => {
          const failure = cause.reasons.find((r) => r._tag === "Fail")
          const reason = failure !== undefined ? reasonOf(failure.error) : cause.reasons.some((r) => r._tag === "Die") ? "crashed" : "interrupted"
          return Effect.succeed({ name: c.name, reason })
        })
      ), { concurrency: "unbounded" })
    const ok = results.every((r) => r.reason === undefined)
    if (ok && options.verbose !== true) return { ok, text: "ok" }
    const lines = results.map((r) => (r.reason === undefined ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason}`))
    return { ok, text: `${lines.join("\n")}\n${endpoint} check ${ok ? "passed" : "failed"}\n` }
  })

/**
 * Starts the endpoints; they answer until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Health } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* Health.make({ port: 0 })
 *   yield* Effect.log(`probes on ${server.url}/healthz and ${server.url}/readyz`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<ServerService, HealthServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const metrics = yield* Effect.serviceOption(Metrics.Metrics)
    const endpoints: Record<string, ReadonlyArray<Check>> = {
      healthz: [ping, yield* leaderElectionHealthy(), ...(options.healthChecks ?? [])],
      readyz: [yield* informersSynced, ...(options.readyChecks ?? [])]
    }
    const timeoutMillis = options.checkTimeout ?? 5_000
    const requestedPort = options.port ?? 8080
    const host = options.host
    const secure = options.secureMetrics !== undefined ? yield* serveSecureMetrics(options.secureMetrics, host, metrics) : undefined

    type Answer = { readonly status: number; readonly contentType: string; readonly body: string }
    const text = (status: number, body: string): Answer => ({ status, contentType: "text/plain; charset=utf-8", body })

    const answer = (method: string, url: URL): Effect.Effect<Answer> =>
      Effect.gen(function*() {
        if (method !== "GET" && method !== "HEAD") return text(405, "method not allowed\n")
        const [endpoint, only, ...rest] = url.pathname.split("/").filter((s) => s !== "")
        if (endpoint === "metrics" && only === undefined) {
          if (secure !== undefined) return text(404, `metrics are served over HTTPS on port ${secure.port}\n`)
          if (Option.isNone(metrics)) return text(404, "metrics are not enabled (provide Metrics.layer())\n")
          const scraped = yield* metrics.value.scrape
          return { status: 200, contentType: scraped.contentType, body: scraped.body }
        }
        const checks = endpoint !== undefined ? endpoints[endpoint] : undefined
        if (checks === undefined || rest.length > 0) return text(404, "not found\n")
        const selected = only === undefined ? checks : checks.filter((c) => c.name === only)
        if (selected.length === 0) return text(404, `no ${endpoint} check named ${only}\n`)
        const result = yield* runChecks(endpoint!, selected, { verbose: url.searchParams.has("verbose"), timeoutMillis })
        return text(result.ok ? 200 : 500, result.text.endsWith("\n") ? result.text : `${result.text}\n`)
      }).pipe(Effect.catchCause((cause) => Effect.succeed(text(500, `internal error: ${reasonOf(cause)}\n`))))

    const handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      void Effect.runPromiseWith(context)(answer(req.method ?? "GET", url)).then((a) => {
        res.writeHead(a.status, { "content-type": a.contentType, "x-content-type-options": "nosniff", "cache-control": "no-store" })
        res.end(req.method === "HEAD" ? undefined : a.body)
      })
    }

    const server = yield* listen(() => Http.createServer(handler), host, requestedPort)
    const port = (server.address() as Net.AddressInfo).port
    const shown = shownHost(host)
    return { port, url: `http://${shown}:${port}`, metricsUrl: secure !== undefined ? `https://${shownHost(secure.host)}:${secure.port}/metrics` : undefined }
  })

const shownHost = (host: string | undefined) =>
  host === undefined || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host

/** Listens on a port until the scope closes. */
const listen = (create: () => Http.Server, host: string | undefined, requestedPort: number) =>
  Effect.acquireRelease(
    Effect.suspend(() =>
      listening(create(), requestedPort, host, (error) => new HealthServerError({ host: host ?? "*", port: requestedPort, reason: error.message }))
    ),
    (s) =>
      Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeAllConnections()
      })
  )

/**
 * The HTTPS server of `/metrics`: every request's bearer token reviewed (TokenReview, then a
 * SubjectAccessReview for get on /metrics) before the Registry is read.
 */
const serveSecureMetrics = (
  options: SecureMetricsOptions,
  host: string | undefined,
  metrics: Option.Option<Metrics.MetricsService>
): Effect.Effect<{ readonly port: number; readonly host: string | undefined }, HealthServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const requestedPort = options.port ?? 8443
    const where = options.host ?? host
    const failure = (reason: string) => new HealthServerError({ host: where ?? "*", port: requestedPort, reason })
    const client = yield* Effect.serviceOption(Client.Client)
    if (Option.isNone(client)) {
      return yield* failure("secure metrics review each caller's token with the API server: provide a Client")
    }
    const authorize = MetricsAuth.make(client.value)
    const tls = yield* certificateOf(options).pipe(Effect.mapError((e) => failure(`no serving certificate: ${e.message}`)))
    const context = yield* Effect.context<never>()

    type Answer = { readonly status: number; readonly contentType: string; readonly body: string }
    const text = (status: number, body: string): Answer => ({ status, contentType: "text/plain; charset=utf-8", body })
    const answer = (req: Http.IncomingMessage): Effect.Effect<Answer> =>
      Effect.gen(function*() {
        const url = new URL(req.url ?? "/", "https://localhost")
        if (url.pathname !== "/metrics") return text(404, "not found\n")
        if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n")
        const decision = yield* authorize(req.headers.authorization)
        if (decision._tag === "Refused") return text(decision.status, `${decision.status === 401 ? "Unauthorized" : "Forbidden"}: ${decision.reason}\n`)
        if (Option.isNone(metrics)) return text(404, "metrics are not enabled (provide Metrics.layer())\n")
        const scraped = yield* metrics.value.scrape
        return { status: 200, contentType: scraped.contentType, body: scraped.body }
      }).pipe(Effect.catchCause((cause) => Effect.succeed(text(500, `internal error: ${reasonOf(cause)}\n`))))
    const handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      void Effect.runPromiseWith(context)(answer(req)).then((a) => {
        res.writeHead(a.status, { "content-type": a.contentType, "x-content-type-options": "nosniff", "cache-control": "no-store" })
        res.end(req.method === "HEAD" ? undefined : a.body)
      })
    }
    const server = yield* listen(() => Https.createServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, handler), where, requestedPort)
    return { port: (server.address() as Net.AddressInfo).port, host: where }
  })

/** The configured certificate files, or a self-signed serving certificate made now (a year). */
const certificateOf = (options: SecureMetricsOptions): Effect.Effect<{ readonly cert: string; readonly key: string }, Error> => {
  if (options.certFile !== undefined || options.keyFile !== undefined) {
    const { certFile, keyFile } = options
    if (certFile === undefined || keyFile === undefined) return Effect.fail(new Error("give both certFile and keyFile"))
    return Effect.try({
      try: () => ({ cert: Fs.readFileSync(certFile, "utf8"), key: Fs.readFileSync(keyFile, "utf8") }),
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    })
  }
  return Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const validity = { notBefore: now - 60_000, notAfter: now + 365 * 24 * 3600_000 }
    const ca = yield* Certificates.makeCa({ commonName: "operatorkit metrics CA", ...validity })
    return yield* Certificates.issue(ca, { commonName: "operatorkit metrics", hosts: ["localhost", "127.0.0.1", "::1"], ...validity })
  })
}

/**
 * The endpoints as a Layer. Provide `Metrics.layer()` to it for `/metrics`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Health, Metrics } from "operatorkit"
 *
 * let cacheWarm = false
 * const Endpoints = Health.layer({
 *   port: 8081,
 *   readyChecks: [Health.check("cache", Effect.suspend(() => cacheWarm ? Effect.void : Effect.fail("cold")))]
 * }).pipe(Layer.provide(Metrics.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Server, HealthServerError> => Layer.effect(Server, make(options))
