/**
 * What it takes to run an operator on a cluster, as manifests an author would have written by hand
 * on a good day: its Namespace, CRDs, ServiceAccount, least-privilege RBAC (from `Rbac`), a
 * Deployment, the metrics Service, and optionally a Prometheus Operator `ServiceMonitor`; and the
 * Dockerfile of its image. `npx operatorkit manifests <module>` prints the manifests of every
 * {@link Operator} a module exports.
 *
 * The Deployment:
 * - probes on a plain HTTP port (default 8081: `/healthz` for liveness, `/readyz` for readiness,
 *   see `Health`), and metrics on their own port (default 8443), served over HTTPS to callers whose
 *   token passes a TokenReview and a SubjectAccessReview for `get` on `/metrics` (`secure`, the
 *   default; the RBAC it needs joins the operator's, and a `<name>-metrics-reader` ClusterRole is
 *   made for the scraper);
 * - with leader election (the default), two replicas: one reconciles, the other keeps its caches
 *   warm; `POD_NAME` and `POD_NAMESPACE` from the downward API (the Lease holder and its namespace);
 * - resource requests, a memory limit, a non-root, read-only, no-capabilities security context, and
 *   a termination grace period longer than the controllers' shutdown timeout.
 *
 * With webhooks (`Webhooks`), the CRDs they convert get `conversion: Webhook`, the RBAC what the
 * webhooks layer calls, and a Service points at the container's webhook port.
 *
 * The container gets its settings as flags: `--health-port=<n>`, `--metrics-port=<n>`,
 * `--metrics-secure` (or `--metrics-insecure`), `--leader-elect`, `--webhook-port=<n>` and, with
 * `apiRateLimit`, `--kube-api-qps=<n>` and `--kube-api-burst=<n>`;
 * {@link parseFlags} reads them back in the operator's main (a {@link FlagError} for a bad one).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as CrdDefinition from "./CrdDefinition.ts"
import { comment, documentWithComments } from "./internal/manifests/yaml.ts"
import * as LeaderElection from "./LeaderElection.ts"
import * as Rbac from "./Rbac.ts"
import * as Webhooks from "./Webhooks.ts"

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Manifests/Operator"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Manifests/Operator"

/**
 * Metrics settings of an operator's Deployment.
 *
 * @since 0.1.0
 * @category models
 */
export interface MetricsOptions {
  /** The HTTPS metrics port (default 8443). Plain metrics are served on the probes' port (`healthPort`), as `Health` does. */
  readonly port?: number | undefined
  /** HTTPS with TokenReview and SubjectAccessReview (default true). */
  readonly secure?: boolean | undefined
  /** Emit a Prometheus Operator ServiceMonitor (default false: its CRD must be installed). */
  readonly serviceMonitor?: boolean | undefined
  /** Bind the metrics-reader ClusterRole to this ServiceAccount (e.g. Prometheus's). */
  readonly scraper?: { readonly name: string; readonly namespace: string } | undefined
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The operator's name: its Deployment, ServiceAccount, roles and Lease. */
  readonly name: string
  /** Where it runs. */
  readonly namespace: string
  /** Its image, e.g. `ghcr.io/acme/tenant-operator:1.0.0`. */
  readonly image: string
  /**
   * The permissions of each part of the operator (see `Rbac`); those of leader election (a Lease
   * named after the operator, in its namespace) and of secure metrics are added when they are on.
   */
  readonly permissions: ReadonlyArray<Rbac.Permission | ReadonlyArray<Rbac.Permission>>
  /** The CRDs it serves, installed with it. */
  readonly crds?: ReadonlyArray<CrdDefinition.Definition> | undefined
  /** Elect a leader (default true): two replicas, one reconciles. */
  readonly leaderElection?: boolean | undefined
  /** Replicas (default 2 with leader election, else 1). */
  readonly replicas?: number | undefined
  /** The probes' plain HTTP port (default 8081). */
  readonly healthPort?: number | undefined
  readonly metrics?: MetricsOptions | undefined
  /** Requests and limits (default: 50m CPU and 96Mi requested, 256Mi memory limit). */
  readonly resources?: {
    readonly requests?: { readonly cpu?: string; readonly memory?: string } | undefined
    readonly limits?: { readonly cpu?: string; readonly memory?: string } | undefined
  } | undefined
  /** More container arguments, after the generated flags. */
  readonly args?: ReadonlyArray<string> | undefined
  /** More environment variables. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Seconds the pod gets to stop (default 40: reconciles finish within 30, then the Lease is released). */
  readonly terminationGracePeriodSeconds?: number | undefined
  /** Emit the Namespace too (default true). */
  readonly createNamespace?: boolean | undefined
  /** The webhooks it serves (`Webhooks.layer`), see {@link WebhookOptions}. */
  readonly webhooks?: WebhookOptions | undefined
  /**
   * The Client's rate limit towards the API server (client-go's QPS and Burst; `Client.make`'s
   * `qps` and `burst`), passed as `--kube-api-qps` and `--kube-api-burst` (kube-controller-manager's
   * names). Default: no flags, so the program's own choice applies.
   */
  readonly apiRateLimit?: { readonly qps: number; readonly burst?: number | undefined } | undefined
}

/**
 * The webhooks an operator serves. The manifests get: the CRDs they convert with `conversion:
 * Webhook` (the caBundle is the operator's to write), the RBAC of `Webhooks.permissions` (the CA
 * Secret with self-signed certificates, the webhook configurations and the converted CRDs it
 * keeps), a Service in front of the webhook port when the definition's `clientConfig` is a
 * Service (in the operator's namespace, or none: `<name>-webhooks` is then used), the container
 * port `webhook` and the flag `--webhook-port`. The webhook configurations themselves are not
 * among the manifests: the webhooks layer creates and updates them with the CA bundle it serves
 * with (`npx operatorkit webhooks` prints them).
 *
 * @since 0.1.0
 * @category models
 */
export interface WebhookOptions {
  readonly definition: Webhooks.Definition<unknown>
  /** As given to `Webhooks.layer` (what the RBAC is for). */
  readonly certificates: Webhooks.Certificates
  /** The webhook server's port in the container (default 9443, controller-runtime's). */
  readonly port?: number | undefined
}

/**
 * An operator as it is deployed: what {@link manifests} renders.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operator extends Pipeable {
  readonly [TypeId]: TypeId
  readonly options: Options
  /** Its RBAC: the parts' permissions, and the metrics' own. */
  readonly rbac: Rbac.Declaration
  readonly leaderElection: boolean
  readonly healthPort: number
  readonly metricsPort: number
  readonly secureMetrics: boolean
  /** The webhook server's port, when it serves webhooks. */
  readonly webhookPort: number | undefined
  /** How the API server reaches its webhooks (a Service of its namespace unless the definition says otherwise). */
  readonly webhookClientConfig: Webhooks.ClientConfig | undefined
}

const OperatorProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * What secure metrics need: a TokenReview of the caller's token, and a SubjectAccessReview of its
 * right to `get` `/metrics` (kube-rbac-proxy's and controller-runtime's `WithAuthenticationAndAuthorization`).
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * Manifests.secureMetricsPermissions.map((p) => p._tag === "ResourcePermission" && p.resource)
 * // => ["tokenreviews", "subjectaccessreviews"]
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const secureMetricsPermissions: ReadonlyArray<Rbac.Permission> = [
  Rbac.rule({ group: "authentication.k8s.io", resource: "tokenreviews", verbs: ["create"], reason: "secure metrics: a TokenReview of each scraper's token" }),
  Rbac.rule({
    group: "authorization.k8s.io",
    resource: "subjectaccessreviews",
    verbs: ["create"],
    reason: "secure metrics: a SubjectAccessReview of each scraper's right to get /metrics"
  })
]

/**
 * Describes an operator's deployment.
 *
 * @example
 * ```ts
 * import { Kind, Manifests, Rbac } from "operatorkit"
 *
 * export const deployment = Manifests.make({
 *   name: "cm-operator",
 *   namespace: "cm-operator",
 *   image: "ghcr.io/acme/cm-operator:1.0.0",
 *   permissions: [Rbac.allow(Kind.ConfigMap, ["list", "watch", "get", "patch"])]
 * })
 * deployment.rbac.permissions.length // => 5 (with the elector's Lease, the metrics' TokenReview and SubjectAccessReview)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Operator => {
  const secureMetrics = options.metrics?.secure ?? true
  const leaderElection = options.leaderElection ?? true
  const webhooks = options.webhooks
  return Object.assign(Object.create(OperatorProto), {
    options,
    rbac: Rbac.make({
      name: options.name,
      namespace: options.namespace,
      permissions: [
        ...options.permissions,
        // the Lease of the elector the Deployment turns on (named after the operator)
        ...(leaderElection ? LeaderElection.permissions({ name: options.name }) : []),
        ...(secureMetrics ? secureMetricsPermissions : []),
        ...(webhooks !== undefined ? Webhooks.permissions(webhooks.definition, { certificates: webhooks.certificates }) : [])
      ]
    }),
    leaderElection,
    healthPort: options.healthPort ?? 8081,
    // Health serves plain /metrics beside the probes; only secure metrics get a port of their own
    metricsPort: secureMetrics ? options.metrics?.port ?? 8443 : options.healthPort ?? 8081,
    secureMetrics,
    webhookPort: webhooks !== undefined ? webhooks.port ?? 9443 : undefined,
    webhookClientConfig: webhooks !== undefined
      ? webhooks.definition.clientConfig ?? { service: { namespace: options.namespace, name: `${options.name}-webhooks` } }
      : undefined
  })
}

/**
 * Whether a value is an {@link Operator}.
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * Manifests.isOperator({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isOperator = (u: unknown): u is Operator =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId

/**
 * The parts of the manifests, to render some only.
 *
 * @since 0.1.0
 * @category models
 */
export type Part = "namespace" | "crds" | "rbac" | "deployment" | "servicemonitor"

/**
 * Every part, in the order they are rendered (what a later one needs comes first).
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * Manifests.parts // => ["namespace", "crds", "rbac", "deployment", "servicemonitor"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const parts: ReadonlyArray<Part> = ["namespace", "crds", "rbac", "deployment", "servicemonitor"]

/**
 * A Kubernetes object as rendered.
 *
 * @since 0.1.0
 * @category models
 */
export interface Manifest {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined; readonly [key: string]: unknown }
  readonly [key: string]: unknown
}

/**
 * A rendered manifest: the object, comments to put over it, and the reasons of its rules.
 *
 * @since 0.1.0
 * @category models
 */
export interface Document {
  readonly part: Part
  readonly object: Manifest
  readonly comment?: string | undefined
  readonly reasons?: ReadonlyArray<ReadonlyArray<string>> | undefined
}

/**
 * The container flags of an operator (what {@link parseFlags} reads).
 *
 * @example
 * ```ts
 * import { Kind, Manifests } from "operatorkit"
 *
 * Manifests.flags(Manifests.make({ name: "op", namespace: "ops", image: "op:1", permissions: [] }))
 * // => ["--health-port=8081", "--metrics-port=8443", "--metrics-secure", "--leader-elect"]
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const flags = (operator: Operator): ReadonlyArray<string> => [
  `--health-port=${operator.healthPort}`,
  ...(operator.secureMetrics ? [`--metrics-port=${operator.metricsPort}`] : []),
  operator.secureMetrics ? "--metrics-secure" : "--metrics-insecure",
  ...(operator.leaderElection ? ["--leader-elect"] : []),
  ...(operator.webhookPort !== undefined ? [`--webhook-port=${operator.webhookPort}`] : []),
  ...(operator.options.apiRateLimit !== undefined ? [`--kube-api-qps=${operator.options.apiRateLimit.qps}`] : []),
  ...(operator.options.apiRateLimit?.burst !== undefined ? [`--kube-api-burst=${operator.options.apiRateLimit.burst}`] : [])
]

/**
 * The settings an operator's main reads from its flags: what {@link flags} passes.
 *
 * @since 0.1.0
 * @category parsing
 */
export interface Flags {
  /** `--health-port=<n>`: the probes' plain HTTP port (default 8081). */
  readonly healthPort: number
  /** `--metrics-port=<n>`: the HTTPS metrics port (default 8443); with plain metrics, the probes' port. */
  readonly metricsPort: number
  /** `--metrics-secure` or `--metrics-insecure` (default secure). */
  readonly secureMetrics: boolean
  /** `--leader-elect` (default off). */
  readonly leaderElection: boolean
  /** `--webhook-port=<n>`: the webhook server's HTTPS port (default 9443, controller-runtime's). */
  readonly webhookPort: number
  /** `--kube-api-qps=<n>`: the Client's requests a second (`Client.make`'s `qps`), a number above 0; none by default. */
  readonly qps: number | undefined
  /** `--kube-api-burst=<n>`: requests at once before `qps` applies (`Client.make`'s `burst`), a whole number above 0. */
  readonly burst: number | undefined
  /** The arguments that are none of these, in order, for the program's own use. */
  readonly rest: ReadonlyArray<string>
}

/**
 * A flag the operator cannot take: which one, the value given (none for a bare flag), and what
 * was wrong with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Manifests } from "operatorkit"
 *
 * const explain = Manifests.parseFlags(["--health-port=http"]).pipe(
 *   // e.message: --health-port takes a port number from 0 to 65535 (--health-port=<n>), not "http"
 *   Effect.catchTag("FlagError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagError extends Schema.TaggedError<FlagError>()("FlagError", {
  flag: Schema.String,
  value: Schema.UndefinedOr(Schema.String),
  reason: Schema.Literals(["NotAPort", "NotABoolean", "NotAPositiveNumber", "NotAPositiveInteger", "Unknown"])
}) {
  override get message(): string {
    const given = this.value === undefined ? "nothing" : JSON.stringify(this.value)
    switch (this.reason) {
      case "NotAPort":
        return `${this.flag} takes a port number from 0 to 65535 (${this.flag}=<n>), not ${given}`
      case "NotABoolean":
        return `${this.flag} takes no value, or true or false, not ${given}`
      case "NotAPositiveNumber":
        return `${this.flag} takes a number above 0 (${this.flag}=<n>), not ${given}`
      case "NotAPositiveInteger":
        return `${this.flag} takes a whole number above 0 (${this.flag}=<n>), not ${given}`
      case "Unknown":
        return `unknown flag ${this.flag}${this.value === undefined ? "" : `=${this.value}`}`
    }
  }
}

/**
 * Reads the settings of {@link flags} (as the generated Deployment passes them) from a program's
 * arguments; the others are returned in `rest` for the program's own use. `defaults` are the
 * settings of flags not given (the library's otherwise: probes on 8081, secure metrics on 8443, no
 * leader election, webhooks on 9443, no client rate limit). A port that is not one, a rate that is
 * not above 0, or a value for a switch that is not `true` or `false`, fails with a
 * {@link FlagError} naming the flag.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Manifests } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const flags = yield* Manifests.parseFlags(["--health-port=9000", "--leader-elect", "--samples"])
 *   // => { healthPort: 9000, metricsPort: 8443, secureMetrics: true, leaderElection: true, webhookPort: 9443, qps: undefined, burst: undefined, rest: ["--samples"] }
 *   return flags
 * })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFlags = (
  argv: ReadonlyArray<string>,
  defaults: Partial<Omit<Flags, "rest">> = {}
): Effect.Effect<Flags, FlagError> => Effect.fromResult(readFlags(argv, defaults))

const readFlags = (argv: ReadonlyArray<string>, defaults: Partial<Omit<Flags, "rest">>): Result.Result<Flags, FlagError> => {
  let healthPort = defaults.healthPort ?? 8081
  let metricsPort: number | undefined
  let secureMetrics = defaults.secureMetrics ?? true
  let leaderElection = defaults.leaderElection ?? false
  let webhookPort = defaults.webhookPort ?? 9443
  let qps = defaults.qps
  let burst = defaults.burst
  const rest: Array<string> = []
  for (const arg of argv) {
    const eq = arg.indexOf("=")
    const flag = eq === -1 ? arg : arg.slice(0, eq)
    const value = eq === -1 ? undefined : arg.slice(eq + 1)
    const port = (): Result.Result<number, FlagError> =>
      value !== undefined && /^[0-9]{1,5}$/.test(value) && Number(value) <= 65535
        ? Result.succeed(Number(value))
        : Result.fail(new FlagError({ flag, value, reason: "NotAPort" }))
    const bool = (): Result.Result<boolean, FlagError> =>
      value === undefined || value === "true"
        ? Result.succeed(true)
        : value === "false"
        ? Result.succeed(false)
        : Result.fail(new FlagError({ flag, value, reason: "NotABoolean" }))
    const positive = (reason: "NotAPositiveNumber" | "NotAPositiveInteger"): Result.Result<number, FlagError> =>
      value !== undefined && (reason === "NotAPositiveInteger" ? /^[0-9]+$/ : /^[0-9]+(\.[0-9]+)?$/).test(value) &&
        Number(value) > 0 && Number.isFinite(Number(value))
        ? Result.succeed(Number(value))
        : Result.fail(new FlagError({ flag, value, reason }))
    const read: Result.Result<unknown, FlagError> | undefined = flag === "--health-port"
      ? Result.map(port(), (n) => (healthPort = n))
      : flag === "--metrics-port"
      ? Result.map(port(), (n) => (metricsPort = n))
      : flag === "--webhook-port"
      ? Result.map(port(), (n) => (webhookPort = n))
      : flag === "--metrics-secure"
      ? Result.map(bool(), (b) => (secureMetrics = b))
      : flag === "--metrics-insecure"
      ? Result.map(bool(), (b) => (secureMetrics = !b))
      : flag === "--leader-elect"
      ? Result.map(bool(), (b) => (leaderElection = b))
      : flag === "--kube-api-qps"
      ? Result.map(positive("NotAPositiveNumber"), (n) => (qps = n))
      : flag === "--kube-api-burst"
      ? Result.map(positive("NotAPositiveInteger"), (n) => (burst = n))
      : undefined
    if (read === undefined) rest.push(arg)
    else if (Result.isFailure(read)) return Result.fail(read.failure)
  }
  return Result.succeed({
    healthPort,
    metricsPort: secureMetrics ? metricsPort ?? defaults.metricsPort ?? 8443 : healthPort,
    secureMetrics,
    leaderElection,
    webhookPort,
    qps,
    burst,
    rest
  })
}

/**
 * The manifests of an operator, part by part.
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * const op = Manifests.make({ name: "op", namespace: "ops", image: "op:1", permissions: [] })
 * Manifests.documents(op).map((d) => d.object.kind)
 * // => ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ClusterRole", "Service", "Deployment"]
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const documents = (operator: Operator, only: ReadonlyArray<Part> = parts): ReadonlyArray<Document> => {
  const { options } = operator
  const { name, namespace } = options
  const labels = { "app.kubernetes.io/name": name }
  const selector = { "app.kubernetes.io/name": name }
  const out: Array<Document> = []
  const want = (part: Part) => only.includes(part)

  if (want("namespace") && options.createNamespace !== false) {
    out.push({ part: "namespace", object: { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels } } })
  }
  if (want("crds")) {
    const webhooks = options.webhooks
    for (const crd of options.crds ?? []) {
      const converted = webhooks !== undefined && webhooks.definition.conversions.some((c) => c.definition.name === crd.name)
      out.push({
        part: "crds",
        object: (converted ? Webhooks.crd(webhooks.definition, crd, { clientConfig: operator.webhookClientConfig }) : crd).manifest as Manifest,
        comment: `The CRD of ${crd.kind} (${crd.name})` +
          (converted ? `: its versions converted by the operator's webhook (it writes the caBundle)` : "")
      })
    }
  }
  if (want("rbac")) {
    const rbacRules = Rbac.rules(operator.rbac)
    for (const object of Rbac.manifests(operator.rbac)) {
      const reasons = object.kind === "ClusterRole"
        ? rbacRules.cluster.map((r) => r.reasons)
        : object.kind === "Role"
        ? rbacRules.namespaces.find((n) => n.namespace === object.metadata.namespace)?.rules.map((r) => r.reasons)
        : undefined
      out.push({ part: "rbac", object, reasons })
    }
    if (operator.secureMetrics) {
      out.push({
        part: "rbac",
        object: {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: `${name}-metrics-reader`, labels },
          rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]
        },
        comment: `Whoever scrapes the operator's metrics (Prometheus's ServiceAccount) needs this ClusterRole: bind it to them`
      })
      const scraper = options.metrics?.scraper
      if (scraper !== undefined) {
        out.push({
          part: "rbac",
          object: {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: `${name}-metrics-reader`, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${name}-metrics-reader` },
            subjects: [{ kind: "ServiceAccount", name: scraper.name, namespace: scraper.namespace }]
          }
        })
      }
    }
  }
  if (want("deployment")) {
    out.push({
      part: "deployment",
      object: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `${name}-metrics`, namespace, labels },
        spec: {
          selector,
          ports: [{
            name: operator.secureMetrics ? "https" : "http",
            port: operator.metricsPort,
            targetPort: operator.secureMetrics ? "metrics" : "health",
            protocol: "TCP"
          }]
        }
      },
      comment: `The operator's metrics (controller-runtime's names)${operator.secureMetrics ? ", over HTTPS for callers allowed to get /metrics" : ""}`
    })
    const webhookConfig = operator.webhookClientConfig
    if (webhookConfig !== undefined && "service" in webhookConfig) {
      out.push({
        part: "deployment",
        object: {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: webhookConfig.service.name, namespace: webhookConfig.service.namespace, labels },
          spec: { selector, ports: [{ name: "webhook", port: webhookConfig.service.port ?? 443, targetPort: "webhook", protocol: "TCP" }] }
        },
        comment: `The operator's webhooks, called by the API server (HTTPS, the CA in the Secret the operator keeps)`
      })
    }
    out.push({ part: "deployment", object: deployment(operator), comment: deploymentComment(operator) })
  }
  if (want("servicemonitor") && options.metrics?.serviceMonitor === true) {
    out.push({
      part: "servicemonitor",
      object: {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name, namespace, labels },
        spec: {
          selector: { matchLabels: labels },
          endpoints: [
            operator.secureMetrics
              ? {
                port: "https",
                scheme: "https",
                path: "/metrics",
                bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
                // the operator's certificate is its own (self-signed unless one is mounted)
                tlsConfig: { insecureSkipVerify: true }
              }
              : { port: "http", path: "/metrics" }
          ]
        }
      },
      comment: "For the Prometheus Operator (its CRDs must be installed)" + (operator.secureMetrics ? `; Prometheus's ServiceAccount needs the ClusterRole ${name}-metrics-reader` : "")
    })
  }
  return out
}

const deploymentComment = (operator: Operator) =>
  [
    `The operator: ${operator.leaderElection ? `${replicasOf(operator)} replicas, one leads (Lease ${operator.options.namespace}/${operator.options.name}), the others keep their caches warm and take over within seconds` : `${replicasOf(operator)} replica(s)`}.`,
    `Probes on :${operator.healthPort} (plain HTTP); metrics on :${operator.metricsPort}${operator.secureMetrics ? " (HTTPS, TokenReview and SubjectAccessReview)" : ""}` +
      (operator.webhookPort !== undefined ? `; webhooks on :${operator.webhookPort} (HTTPS).` : ".")
  ].join("\n")

const replicasOf = (operator: Operator) => operator.options.replicas ?? (operator.leaderElection ? 2 : 1)

const deployment = (operator: Operator) => {
  const { options } = operator
  const labels = { "app.kubernetes.io/name": options.name }
  const requests = { cpu: "50m", memory: "96Mi", ...options.resources?.requests }
  const limits = { memory: "256Mi", ...options.resources?.limits }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: options.name, namespace: options.namespace, labels },
    spec: {
      replicas: replicasOf(operator),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: options.name,
          terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 40,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: "operator",
            image: options.image,
            args: [...flags(operator), ...(options.args ?? [])],
            env: [
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              ...Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value }))
            ],
            ports: [
              { name: "health", containerPort: operator.healthPort, protocol: "TCP" },
              ...(operator.secureMetrics ? [{ name: "metrics", containerPort: operator.metricsPort, protocol: "TCP" }] : []),
              ...(operator.webhookPort !== undefined ? [{ name: "webhook", containerPort: operator.webhookPort, protocol: "TCP" }] : [])
            ],
            livenessProbe: { httpGet: { path: "/healthz", port: "health" }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 },
            readinessProbe: { httpGet: { path: "/readyz", port: "health" }, periodSeconds: 5 },
            resources: { requests, limits },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } }
          }]
        }
      }
    }
  }
}

/**
 * The manifests as YAML documents (`---` separated), with comments, for `kubectl apply -f -`.
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * const op = Manifests.make({ name: "op", namespace: "ops", image: "op:1", permissions: [] })
 * Manifests.toYaml(op).includes("kind: Deployment") // => true
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toYaml = (operator: Operator, only: ReadonlyArray<Part> = parts): string =>
  documents(operator, only).map((d) =>
    (d.comment !== undefined ? comment(d.comment) : "") + documentWithComments(d.object, d.reasons)
  ).join("---\n")

/**
 * The manifests as one JSON `List`.
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * const op = Manifests.make({ name: "op", namespace: "ops", image: "op:1", permissions: [] })
 * JSON.parse(Manifests.toJson(op)).kind // => "List"
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toJson = (operator: Operator, only: ReadonlyArray<Part> = parts): string =>
  JSON.stringify({ apiVersion: "v1", kind: "List", items: documents(operator, only).map((d) => d.object) }, null, 2) + "\n"

// ---------------------------------------------------------------------------------------------
// The image

/**
 * Options of {@link dockerfile}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DockerfileOptions {
  /** The compiled entry point (default `dist/main.js`). */
  readonly main?: string | undefined
  /** The npm script that compiles the project into `dist/` (default `build`). */
  readonly buildScript?: string | undefined
}

/**
 * The Dockerfile of an operator's image: Node 24 slim; a build stage that compiles TypeScript into
 * `dist/`; a runtime stage with production dependencies only (`npm ci --omit=dev`), running the
 * built `dist/` (never the sources) as the image's non-root user `node` (uid 1000).
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * Manifests.dockerfile().includes("npm ci --omit=dev") // => true
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const dockerfile = (options: DockerfileOptions = {}): string => {
  const main = options.main ?? "dist/main.js"
  const build = options.buildScript ?? "build"
  return `# The operator's image: built from TypeScript, run from the compiled dist/ with production
# dependencies only, as the non-root user node (uid 1000).
#   docker build -t <image> .
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run ${build}

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "${main}"]
`
}

/**
 * The `.dockerignore` that goes with {@link dockerfile}: what the build does not need.
 *
 * @example
 * ```ts
 * import { Manifests } from "operatorkit"
 *
 * Manifests.dockerignore.includes("node_modules") // => true
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const dockerignore = `node_modules
dist
.git
*.log
`
