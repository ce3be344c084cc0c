/**
 * The webhooks of an operator served over HTTPS: the handlers of `Admission` and `Conversion`,
 * their webhook configurations, and certificates made and rotated in-process.
 *
 * - **Definition** ({@link make}): a name, the admissions (`Admission.make`) and the conversions
 *   (`Conversion.make`) one server answers, each at controller-runtime's path; {@link handle}
 *   answers a review sent to a path, with the metrics and a span, as the server does.
 * - **Configuration**: {@link configurations} generates the Validating- and
 *   MutatingWebhookConfiguration from the admissions' kinds (rules, failure policy, side effects,
 *   timeouts, selectors), {@link crd} the CRD with `conversion: Webhook`; {@link toYaml} prints
 *   them (`npx operatorkit webhooks <module>`); the {@link layer} ensures them like CRDs are ensured.
 * - **Serving** ({@link layer}, {@link serve}): an HTTPS server answering the reviews, with
 *   controller-runtime's metrics (`controller_runtime_webhook_requests_total`,
 *   `…_latency_seconds`, `…_requests_in_flight`) and a span per review.
 * - **Certificates**: {@link selfSigned} keeps a CA in a Secret shared by every replica and signs
 *   each replica's serving certificate with it; during a CA rotation the configurations trust the
 *   old and the new CA, and a replica writes a configuration only from a CA generation at least as
 *   new as the one it carries, so replicas never undo each other. Serving certificates are renewed
 *   before they expire; new connections get the new one, requests in flight finish on theirs.
 *   {@link files} serves certificates from files (e.g. cert-manager's) and reloads them when they
 *   change.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs/promises"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Admission from "./Admission.ts"
import { Client } from "./Client.ts"
import * as Conversion from "./Conversion.ts"
import type * as CrdDefinition from "./CrdDefinition.ts"
import * as Authority from "./internal/webhook/authority.ts"
import * as Certs from "./internal/webhook/certificates.ts"
import * as WebhookMetrics from "./internal/webhook/metrics.ts"
import * as Listener from "./internal/webhook/server.ts"
import * as Configuration from "./internal/webhook/configuration.ts"
import * as Ensure from "./internal/webhook/ensure.ts"
import { whenTraced } from "./internal/tracing.ts"
import * as Yaml from "./internal/crd/yaml.ts"
import type * as Kind from "./Kind.ts"
import * as KindModule from "./Kind.ts"
import * as AdmissionRegistration from "./kinds/admissionregistration/v1.ts"
import type * as KubeError from "./KubeError.ts"
import * as Rbac from "./Rbac.ts"
import { millis } from "./internal/options.ts"

// ---------------------------------------------------------------------------------------------
// Definitions

/**
 * How the API server reaches the webhook server: a URL (out of the cluster, or a control plane
 * on this machine), or a Service in the cluster (port default 443).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientConfig =
  | { readonly url: string }
  | { readonly service: { readonly namespace: string; readonly name: string; readonly port?: number } }

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R> {
  /** The name of the webhook configurations (validating and mutating), such as your operator's. */
  readonly name: string
  readonly admissions?: ReadonlyArray<Admission.Admission<R>>
  readonly conversions?: ReadonlyArray<Conversion.Conversion>
  /** How the API server reaches the server (a Service for the manifests; the layer may override it). */
  readonly clientConfig?: ClientConfig
  /** Labels of the webhook configurations. */
  readonly labels?: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Webhooks"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Webhooks"

/**
 * The webhooks of an operator, ready to serve ({@link layer}) or to print ({@link configurations}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition<out R = never> {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly admissions: ReadonlyArray<Admission.Admission<R>>
  readonly conversions: ReadonlyArray<Conversion.Conversion>
  readonly clientConfig: ClientConfig | undefined
  readonly labels: Readonly<Record<string, string>> | undefined
  /** Answers a review sent to `path` (see {@link handle}). */
  readonly handlers: ReadonlyMap<string, Handler<R>>
}

/**
 * The webhooks cannot be defined: each issue says what is wrong.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("WebhookDefinitionError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WebhookDefinitionError extends Schema.TaggedError<WebhookDefinitionError>()("WebhookDefinitionError", {
  name: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `cannot define the webhooks ${this.name}:\n${this.issues.map((i) => `  - ${i}`).join("\n")}`
  }
}

/**
 * The answer to one review: the HTTP status and the JSON body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer {
  readonly status: number
  readonly body: unknown
}

/**
 * The handler of one webhook path: what {@link handle} runs for it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handler<R> {
  readonly path: string
  /** `validate`, `default` or `convert`: the span's name. */
  readonly type: "validate" | "default" | "convert"
  readonly run: (body: unknown) => Effect.Effect<Answer, never, R>
}

const isObject = (u: unknown): u is { readonly [k: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

const build = <R>(options: Options<R>): Result.Result<Definition<R>, WebhookDefinitionError> => {
  const issues: Array<string> = []
  const handlers = new Map<string, Handler<R>>()
  const admissions = options.admissions ?? []
  const seen = new Set<string>()
  for (const a of admissions) {
    const key = `${a.kind.group}/${a.kind.version}/${a.kind.kind}`
    if (seen.has(key)) issues.push(`${a.kind.kind}.${a.kind.apiVersion} has two admissions: give one with both validate and default`)
    seen.add(key)
    if (a.call.timeoutSeconds < 1 || a.call.timeoutSeconds > 30) {
      issues.push(`${a.kind.kind}.${a.kind.apiVersion}: timeoutSeconds must be between 1 and 30 (is ${a.call.timeoutSeconds})`)
    }
    handlers.set(a.validatePath, { path: a.validatePath, type: "validate", run: (body) => Admission.handle(a, "validate", body) })
    if (a.mutating) handlers.set(a.mutatePath, { path: a.mutatePath, type: "default", run: (body) => Admission.handle(a, "default", body) })
  }
  const conversions = options.conversions ?? []
  const crds = new Set<string>()
  for (const c of conversions) {
    if (crds.has(c.definition.name)) issues.push(`${c.definition.name} has two conversions`)
    crds.add(c.definition.name)
  }
  if (conversions.length > 0) {
    handlers.set(Conversion.path, { path: Conversion.path, type: "convert", run: (body) => Conversion.handle(conversions, body) })
  }
  if (issues.length > 0) return Result.fail(new WebhookDefinitionError({ name: options.name, issues }))
  return Result.succeed({
    [TypeId]: TypeId,
    name: options.name,
    admissions,
    conversions,
    clientConfig: options.clientConfig,
    labels: options.labels,
    handlers
  })
}

/**
 * Defines an operator's webhooks. Problems (two admissions for one kind, a missing conversion
 * step) are a {@link WebhookDefinitionError}.
 *
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.make({
 *   name: "widget-operator",
 *   admissions: [Admission.make(Widget, { default: true })],
 *   clientConfig: { service: { namespace: "widget-operator", name: "widget-operator-webhooks" } }
 * })
 * Result.isSuccess(webhooks) // => true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R = never>(options: Options<R>): Result.Result<Definition<R>, WebhookDefinitionError> => build(options)

/**
 * Like {@link make}, but throws the {@link WebhookDefinitionError}: for definitions exported from
 * a module.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * export const WidgetWebhooks = Webhooks.makeUnsafe({ name: "widget-operator", admissions: [Admission.make(Widget, { default: true })] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe = <R = never>(options: Options<R>): Definition<R> => {
  const result = build(options)
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/**
 * Whether a value is a {@link Definition}.
 *
 * @example
 * ```ts
 * import { Webhooks } from "operatorkit"
 *
 * Webhooks.isDefinition({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isDefinition = (u: unknown): u is Definition<unknown> => isObject(u) && u[TypeId] === TypeId

// ---------------------------------------------------------------------------------------------
// Handling reviews

const traced = (type: string, path: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  whenTraced(self, (s) => Effect.withSpan(s, `Webhooks.${type}`, { kind: "server", attributes: { "operatorkit.webhook": path } }))

/**
 * Answers a review (an AdmissionReview or a ConversionReview, parsed from JSON) sent to `path`, as
 * the server does: with its metrics and span. An unknown path answers 404.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.makeUnsafe({ name: "w", admissions: [Admission.make(Widget, {})] })
 * const answer = Webhooks.handle(webhooks, "/validate-example-com-v1-widget", {
 *   apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
 *   request: { uid: "1", operation: "CREATE", object: { metadata: { name: "a" }, spec: { size: "big" } } }
 * })
 * // Effect.runSync(answer).body.response.allowed => false
 * ```
 *
 * @since 0.1.0
 * @category handling
 */
export const handle = <R>(definition: Definition<R>, path: string, body: unknown): Effect.Effect<Answer, never, R> => {
  const handler = definition.handlers.get(path)
  if (handler === undefined) return Effect.succeed({ status: 404, body: { message: `no webhook at ${path}` } })
  return measured(handler, handler.run(body))
}

const metricsByPath = new Map<string, ReturnType<typeof WebhookMetrics.forPath>>()

/** Runs a review with controller-runtime's metrics and a span (metrics recorded in one step each way: reviews are hot). */
const measured = <R>(handler: Handler<R>, review: Effect.Effect<Answer, never, R>): Effect.Effect<Answer, never, R> => {
  let m = metricsByPath.get(handler.path)
  if (m === undefined) {
    m = WebhookMetrics.forPath(handler.path)
    metricsByPath.set(handler.path, m)
  }
  const metrics = m
  return Effect.withFiber((fiber) => {
    const context = fiber.context
    const clock = fiber.getRef(Clock.Clock)
    const start = clock.currentTimeNanosUnsafe()
    metrics.inFlight.modifyUnsafe(1, context)
    return review.pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          metrics.inFlight.modifyUnsafe(-1, context)
          metrics.total(exit._tag === "Success" ? exit.value.status : 500).updateUnsafe(1, context)
          metrics.latency.updateUnsafe(Number(clock.currentTimeNanosUnsafe() - start) / 1e9, context)
        })
      ),
      traced(handler.type, handler.path)
    )
  })
}

// ---------------------------------------------------------------------------------------------
// Manifests

/**
 * Where and how the manifests point at the server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ManifestOptions {
  /** Default: the definition's `clientConfig` (one of the two is needed). */
  readonly clientConfig?: ClientConfig | undefined
  /** The CA certificates (PEM) the API server trusts for the server; omitted when not given (e.g. cert-manager's CA injector fills it in). */
  readonly caBundle?: string | undefined
  /** Annotations of the configurations and CRDs, such as `cert-manager.io/inject-ca-from`. */
  readonly annotations?: Readonly<Record<string, string>> | undefined
}

/**
 * The object type of a ValidatingWebhookConfiguration.
 *
 * @since 0.1.0
 * @category models
 */
export type ValidatingWebhookConfiguration = Kind.Type<typeof AdmissionRegistration.ValidatingWebhookConfiguration>

/**
 * The object type of a MutatingWebhookConfiguration.
 *
 * @since 0.1.0
 * @category models
 */
export type MutatingWebhookConfiguration = Kind.Type<typeof AdmissionRegistration.MutatingWebhookConfiguration>

const resolveClientConfig = (definition: Definition<unknown>, options: ManifestOptions | undefined): ClientConfig => {
  const config = options?.clientConfig ?? definition.clientConfig
  if (config === undefined) {
    throw new WebhookDefinitionError({
      name: definition.name,
      issues: ["no clientConfig: give the definition (or the manifest options) a url or a service"]
    })
  }
  return config
}

/**
 * The ValidatingWebhookConfiguration and MutatingWebhookConfiguration of a definition (each
 * undefined when no admission needs it), both named after the definition. Each admission's rule
 * comes from its kind (group, version, plural, scope); `matchPolicy: Equivalent` sends objects
 * of the kind's other versions too, converted.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.makeUnsafe({
 *   name: "widget-operator",
 *   admissions: [Admission.make(Widget, {})],
 *   clientConfig: { service: { namespace: "widget-operator", name: "webhooks" } }
 * })
 * Webhooks.configurations(webhooks).validating?.webhooks?.[0]?.name // => "validate.widgets.example.com"
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const configurations = (
  definition: Definition<unknown>,
  options?: ManifestOptions
): { readonly validating: ValidatingWebhookConfiguration | undefined; readonly mutating: MutatingWebhookConfiguration | undefined } =>
  Configuration.configurations(definition, {
    clientConfig: resolveClientConfig(definition, options),
    caBundle: options?.caBundle,
    annotations: options?.annotations
  })

/**
 * The CRD of `crdDefinition` with `conversion: Webhook` pointing at these webhooks (which must
 * convert it: a `Conversion` of it in the definition's `conversions`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Conversion, CrdDefinition, Kind, Webhooks } from "operatorkit"
 *
 * const V1 = Kind.custom({ group: "example.com", version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
 * const V2 = Kind.custom({ group: "example.com", version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
 * const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
 * const webhooks = Webhooks.makeUnsafe({
 *   name: "team-operator",
 *   conversions: [Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, {
 *     decode: (t) => ({ ...t, spec: { owners: [t.spec.owner] } }),
 *     encode: (t) => ({ ...t, spec: { owner: t.spec.owners[0] ?? "" } })
 *   })])],
 *   clientConfig: { service: { namespace: "team-operator", name: "webhooks" } }
 * })
 * Webhooks.crd(webhooks, TeamCrd).manifest.spec.conversion?.strategy // => "Webhook"
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const crd = (definition: Definition<unknown>, crdDefinition: CrdDefinition.Definition, options?: ManifestOptions): CrdDefinition.Definition => {
  if (!definition.conversions.some((c) => c.definition.name === crdDefinition.name)) {
    throw new WebhookDefinitionError({ name: definition.name, issues: [`the webhooks do not convert ${crdDefinition.name}`] })
  }
  const manifest = Configuration.crdManifest(crdDefinition, {
    clientConfig: resolveClientConfig(definition, options),
    caBundle: options?.caBundle,
    annotations: options?.annotations
  })
  return Object.assign(Object.create(Object.getPrototypeOf(crdDefinition)), crdDefinition, { manifest })
}

/**
 * Every manifest of the webhooks: the webhook configurations, and the CRDs they convert with
 * `conversion: Webhook`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.makeUnsafe({
 *   name: "widget-operator",
 *   admissions: [Admission.make(Widget, {})],
 *   clientConfig: { service: { namespace: "widget-operator", name: "webhooks" } }
 * })
 * Webhooks.manifests(webhooks).map((m) => m.kind) // => ["ValidatingWebhookConfiguration"]
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const manifests = (
  definition: Definition<unknown>,
  options?: ManifestOptions
): ReadonlyArray<ValidatingWebhookConfiguration | MutatingWebhookConfiguration | CrdDefinition.CustomResourceDefinition> => {
  const { validating, mutating } = configurations(definition, options)
  return [
    ...(validating !== undefined ? [validating] : []),
    ...(mutating !== undefined ? [mutating] : []),
    ...definition.conversions.map((c) => crd(definition, c.definition, options).manifest)
  ]
}

/**
 * Every manifest of the webhooks ({@link manifests}) as YAML documents, for `kubectl apply -f -`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.makeUnsafe({
 *   name: "widget-operator",
 *   admissions: [Admission.make(Widget, {})],
 *   clientConfig: { service: { namespace: "widget-operator", name: "webhooks" } }
 * })
 * Webhooks.toYaml(webhooks).startsWith("apiVersion: admissionregistration.k8s.io/v1\n") // => true
 * ```
 *
 * @since 0.1.0
 * @category manifests
 */
export const toYaml = (definition: Definition<unknown>, options?: ManifestOptions): string =>
  manifests(definition, options).map((d) => Yaml.stringify(d)).join("---\n")

// ---------------------------------------------------------------------------------------------
// Certificates

/**
 * Where the serving certificate comes from: {@link selfSigned} or {@link files}.
 *
 * @since 0.1.0
 * @category models
 */
export type Certificates = SelfSigned | Files

/**
 * Certificates made in-process: a CA kept in a Secret that every replica shares, and a serving
 * certificate per replica signed by it.
 *
 * @since 0.1.0
 * @category models
 */
export interface SelfSigned {
  readonly _tag: "SelfSigned"
  /** The Secret holding the CA (created by the first replica; the operator needs get, create and update on it). */
  readonly secret: { readonly namespace: string; readonly name: string }
  /** Default 365 days; a rotation starts at two thirds of it. */
  readonly caValidity: Duration.Input
  /** Default 30 days; each replica renews its certificate at two thirds of it. */
  readonly servingValidity: Duration.Input
  /** How long a new CA waits in the trust bundle before it signs (default 10 seconds): the API server's caches catch up. */
  readonly propagation: Duration.Input
  /** More names (DNS or IP) for the serving certificate, besides the client config's host. */
  readonly hosts: ReadonlyArray<string>
}

/**
 * Certificates from files (PEM), such as a cert-manager Certificate's Secret mounted in the pod:
 * read again every `reloadInterval` and served anew when they changed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Files {
  readonly _tag: "Files"
  readonly certFile: string
  readonly keyFile: string
  /** The CA to put into the configurations; without it their `caBundle` is left as it is (cert-manager's CA injector fills it). */
  readonly caFile: string | undefined
  /** Default 10 seconds. */
  readonly reloadInterval: Duration.Input
}

/**
 * Certificates made and rotated in-process, the CA in a Secret shared by every replica.
 *
 * @example
 * ```ts
 * import { Webhooks } from "operatorkit"
 *
 * const certificates = Webhooks.selfSigned({ secret: { namespace: "widget-operator", name: "widget-operator-webhook-ca" } })
 * ```
 *
 * @since 0.1.0
 * @category certificates
 */
export const selfSigned = (options: {
  readonly secret: { readonly namespace: string; readonly name: string }
  readonly caValidity?: Duration.Input
  readonly servingValidity?: Duration.Input
  readonly propagation?: Duration.Input
  readonly hosts?: ReadonlyArray<string>
}): SelfSigned => ({
  _tag: "SelfSigned",
  secret: options.secret,
  caValidity: options.caValidity ?? "365 days",
  servingValidity: options.servingValidity ?? "30 days",
  propagation: options.propagation ?? "10 seconds",
  hosts: options.hosts ?? []
})

/**
 * Certificates read from files and reloaded when they change.
 *
 * @example
 * ```ts
 * import { Webhooks } from "operatorkit"
 *
 * const certificates = Webhooks.files({ certFile: "/tls/tls.crt", keyFile: "/tls/tls.key" })
 * ```
 *
 * @since 0.1.0
 * @category certificates
 */
export const files = (options: {
  readonly certFile: string
  readonly keyFile: string
  readonly caFile?: string
  readonly reloadInterval?: Duration.Input
}): Files => ({
  _tag: "Files",
  certFile: options.certFile,
  keyFile: options.keyFile,
  caFile: options.caFile,
  reloadInterval: options.reloadInterval ?? "10 seconds"
})

// ---------------------------------------------------------------------------------------------
// Serving

/**
 * The webhook server could not start: its port, or its certificates.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("WebhookServerError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WebhookServerError extends Schema.TaggedError<WebhookServerError>()("WebhookServerError", {
  reason: Schema.Literals(["Listen", "Certificates"]),
  detail: Schema.String
}) {
  override get message(): string {
    return this.reason === "Listen"
      ? `the webhook server could not listen: ${this.detail}`
      : `the webhook server has no certificate: ${this.detail}`
  }
}

/**
 * Options of {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServeOptions {
  readonly certificates: Certificates
  /** Default 9443 (controller-runtime's); 0 picks a free one. */
  readonly port?: number
  /** Default: every interface. */
  readonly host?: string
  /** How the API server reaches this server (default: the definition's, else `https://<host>:<port>`). */
  readonly clientConfig?: ClientConfig
  /** Create or update the webhook configurations and the CRDs' conversion (default true). */
  readonly ensure?: boolean
  /** How often the CA Secret and the configurations are checked (default 30 seconds). */
  readonly syncInterval?: Duration.Input
}

/**
 * The running webhook server.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebhooksService {
  readonly port: number
  /** `https://<host>:<port>` it listens on. */
  readonly url: string
  /** How the API server reaches it (what the configurations say). */
  readonly clientConfig: ClientConfig
  /** The CA certificates the configurations carry (PEM), as this replica last wrote or read them. */
  readonly caBundle: Effect.Effect<string>
  /** The certificate it serves now. */
  readonly servingCertificate: Effect.Effect<{ readonly cert: string; readonly notAfter: number; readonly fingerprint: string }>
  /** One round of what runs every `syncInterval`: CA steps due, configurations, serving certificate. */
  readonly sync: Effect.Effect<void, KubeError.KubeError | WebhookServerError>
  /** Starts a rotation of the shared CA now (self-signed certificates only), then syncs. */
  readonly rotateCa: Effect.Effect<void, KubeError.KubeError | WebhookServerError>
}

/**
 * The running webhook server in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Webhooks } from "operatorkit"
 *
 * const where = Effect.map(Webhooks.Webhooks, (server) => server.url)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Webhooks extends Context.Service<Webhooks, WebhooksService>()("operatorkit/Webhooks") {}


/**
 * Starts the webhook server; it answers until the scope closes. With `ensure` (the default) it
 * creates or updates the webhook configurations and the conversion of the CRDs it converts, with
 * the current CA bundle, and keeps them so. Several replicas may serve the same definition: with
 * {@link selfSigned} certificates they share the CA of one Secret, each rotation step is taken by
 * one of them, and a configuration is only written from a CA generation at least as new as the
 * one it carries, so replicas never undo each other's writes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Webhooks } from "operatorkit"
 *
 * declare const definition: Webhooks.Definition
 * const program = Effect.gen(function*() {
 *   const server = yield* Webhooks.serve(definition, {
 *     port: 9443,
 *     certificates: Webhooks.selfSigned({ secret: { namespace: "ops", name: "ops-webhook-ca" } })
 *   })
 *   yield* Effect.log(`webhooks on ${server.url}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <R>(
  definition: Definition<R>,
  options: ServeOptions
): Effect.Effect<WebhooksService, WebhookServerError | KubeError.KubeError, R | Client | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* Client
    const context = yield* Effect.context<R>()
    const certificates = options.certificates
    const requestedPort = options.port ?? 9443
    const ensure = options.ensure ?? true
    const syncMillis = millis(options.syncInterval ?? "30 seconds")
    const certificateError = (e: unknown) =>
      new WebhookServerError({ reason: "Certificates", detail: e instanceof Error ? e.message : String(e) })
    const now = Clock.currentTimeMillis

    // the first certificate: the listener needs one before its port (and so a URL) is known
    let serving: Certs.KeyPair
    let state: Authority.State | undefined
    let bundle: string | undefined
    const settings: Authority.Settings | undefined = certificates._tag === "SelfSigned"
      ? {
        namespace: certificates.secret.namespace,
        name: certificates.secret.name,
        commonName: definition.name,
        caValidityMillis: millis(certificates.caValidity),
        servingValidityMillis: millis(certificates.servingValidity),
        propagationMillis: millis(certificates.propagation),
        graceMillis: 2 * syncMillis + millis(certificates.propagation),
        labels: definition.labels
      }
      : undefined
    const readFiles = (files: Files) =>
      Effect.tryPromise({
        try: async () => ({
          cert: await Fs.readFile(files.certFile, "utf8"),
          key: await Fs.readFile(files.keyFile, "utf8"),
          ca: files.caFile !== undefined ? await Fs.readFile(files.caFile, "utf8") : undefined
        }),
        catch: certificateError
      })

    let clientConfig: ClientConfig | undefined = options.clientConfig ?? definition.clientConfig
    const hostsFor = (config: ClientConfig | undefined) =>
      [...new Set([...(config !== undefined ? Configuration.hostOf(config) : []), ...(certificates._tag === "SelfSigned" ? certificates.hosts : []),
        ...(options.host !== undefined && options.host !== "0.0.0.0" && options.host !== "::" ? [options.host] : [])])]

    const issueServing = (ca: Certs.KeyPair, config: ClientConfig | undefined) =>
      Effect.gen(function*() {
        const at = yield* now
        return yield* Certs.issue(ca, {
          commonName: `${definition.name}-webhooks`,
          hosts: hostsFor(config),
          notBefore: at - 60_000,
          notAfter: at + settings!.servingValidityMillis
        }).pipe(Effect.mapError(certificateError))
      })

    // the configurations and the CRDs' conversion, written only from a CA generation at least as new
    const ensurer = Ensure.make({
      client,
      definition,
      clientConfig: () => resolveClientConfig(definition, { clientConfig }),
      generation: () => state?.generation,
      bundle: () => bundle
    })
    const propagated = (expected: string) => ensure ? ensurer.propagated(expected) : Effect.succeed(true)
    const ensureAll = ensurer.ensureAll

    let rotateNext = false
    const syncAuthority = Effect.gen(function*() {
      const at = yield* now
      const rotate = rotateNext
      rotateNext = false
      state = yield* Authority.sync(client, settings!, { now: at, rotate, propagated }).pipe(
        // the CA could not be made or read; KubeErrors go on as they are
        Effect.catchIf(
          (e): e is Authority.AuthorityError | Error => e instanceof Authority.AuthorityError || !("_tag" in e),
          (e) => Effect.fail(certificateError(e))
        )
      )
      bundle = Authority.bundleOf(state)
      return state
    })

    if (certificates._tag === "SelfSigned") {
      const first = yield* syncAuthority
      serving = yield* issueServing(first.ca, clientConfig)
    } else {
      const read = yield* readFiles(certificates)
      serving = { cert: read.cert, key: read.key }
      bundle = read.ca
    }

    const listener = yield* Listener.listen({
      host: options.host,
      port: requestedPort,
      certificate: serving,
      answer: (path, body) => Effect.runPromiseWith(context)(handle(definition, path, body)),
      onError: (message) => new Error(message)
    }).pipe(Effect.mapError((e) => new WebhookServerError({ reason: "Listen", detail: `${options.host ?? "*"}:${requestedPort}: ${e.message}` })))
    const shownHost = options.host === undefined || options.host === "0.0.0.0" || options.host === "::"
      ? "127.0.0.1"
      : options.host.includes(":") ? `[${options.host}]` : options.host
    const url = `https://${shownHost}:${listener.port}`
    if (clientConfig === undefined) {
      clientConfig = { url }
      // the certificate was made before the URL was known: make it again for that host
      if (certificates._tag === "SelfSigned") {
        serving = yield* issueServing(state!.ca, clientConfig)
        listener.setCertificate(serving)
      }
    }
    const config = clientConfig

    const syncOnce: Effect.Effect<void, KubeError.KubeError | WebhookServerError> = Effect.gen(function*() {
      if (certificates._tag === "SelfSigned") {
        let current = yield* syncAuthority
        if (ensure) {
          // a configuration written from a newer CA generation: read the Secret again, then write
          for (let round = 0; round < 3 && (yield* ensureAll).includes("stale"); round++) current = yield* syncAuthority
        }
        const at = yield* now
        const info = Certs.info(serving.cert)
        const renewAt = info.notBefore + (info.notAfter - info.notBefore) * 2 / 3
        if (!Certs.signedBy(serving.cert, current.ca.cert) || at >= renewAt) {
          serving = yield* issueServing(current.ca, config)
          listener.setCertificate(serving)
        }
      } else {
        const read = yield* readFiles(certificates)
        if (read.cert !== serving.cert || read.key !== serving.key) {
          serving = { cert: read.cert, key: read.key }
          yield* Effect.try({ try: () => listener.setCertificate(serving), catch: certificateError })
        }
        const caChanged = read.ca !== bundle
        bundle = read.ca
        if (ensure && caChanged) yield* ensureAll
      }
    })

    if (ensure) yield* ensureAll
    const interval = certificates._tag === "Files" ? Math.min(syncMillis, millis(certificates.reloadInterval)) : syncMillis
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(
      Effect.sleep(Duration.millis(interval)),
      syncOnce.pipe(Effect.catchCause((cause) => Effect.logWarning(`webhooks ${definition.name}: sync failed; trying again in ${interval} ms`, cause)))
    )))

    return {
      port: listener.port,
      url,
      clientConfig: config,
      caBundle: Effect.sync(() => bundle ?? ""),
      servingCertificate: Effect.sync(() => {
        const info = Certs.info(serving.cert)
        return { cert: serving.cert, notAfter: info.notAfter, fingerprint: info.fingerprint }
      }),
      sync: syncOnce,
      rotateCa: Effect.suspend(() => {
        rotateNext = true
        return syncOnce
      })
    }
  })

/**
 * The webhook server as a Layer (see {@link serve}).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, KubeConfig, Webhooks } from "operatorkit"
 *
 * declare const definition: Webhooks.Definition
 * const WebhooksLive = Webhooks.layer(definition, {
 *   certificates: Webhooks.selfSigned({ secret: { namespace: "ops", name: "ops-webhook-ca" } })
 * }).pipe(Layer.provide(Client.layer()), Layer.provide(KubeConfig.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R>(
  definition: Definition<R>,
  options: ServeOptions
): Layer.Layer<Webhooks, WebhookServerError | KubeError.KubeError, R | Client> => Layer.effect(Webhooks, serve(definition, options))

/**
 * What the {@link layer} calls, for `Rbac.make`: with {@link selfSigned} certificates the CA
 * Secret (read, created by the first replica, updated by rotations); with `ensure` (the default)
 * the two webhook configurations (read, created, updated) and the CRDs it converts (read and
 * updated: their `conversion`). A validation Effect that reads the cluster declares its own.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Admission, Kind, Webhooks } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
 * const webhooks = Webhooks.makeUnsafe({ name: "widget-operator", admissions: [Admission.make(Widget, {})] })
 * const needs = Webhooks.permissions(webhooks, {
 *   certificates: Webhooks.selfSigned({ secret: { namespace: "ops", name: "widget-operator-webhook-ca" } })
 * })
 * needs.map((p) => p.resource) // => ["secrets", "secrets", "validatingwebhookconfigurations", "validatingwebhookconfigurations"]
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (
  definition: Definition<unknown>,
  options: { readonly certificates: Certificates; readonly ensure?: boolean | undefined }
): ReadonlyArray<Rbac.ResourcePermission> => {
  const out: Array<Rbac.ResourcePermission> = []
  if (options.certificates._tag === "SelfSigned") {
    const { namespace, name } = options.certificates.secret
    const reason = `webhooks ${definition.name}: the CA Secret ${name}, shared by every replica (created by the first, rotated)`
    out.push(
      Rbac.allow(KindModule.Secret, ["get", "update"], { namespace, names: [name], reason }),
      Rbac.allow(KindModule.Secret, ["create"], { namespace, reason })
    )
  }
  if (options.ensure === false) return out
  const configurations = [
    ...(definition.admissions.some((a) => a.validating) ? [AdmissionRegistration.ValidatingWebhookConfiguration] : []),
    ...(definition.admissions.some((a) => a.mutating) ? [AdmissionRegistration.MutatingWebhookConfiguration] : [])
  ]
  for (const kind of configurations) {
    const reason = `webhooks ${definition.name}: the ${kind.kind} kept with the current CA bundle`
    out.push(
      Rbac.allow(kind, ["get", "update"], { names: [definition.name], reason }),
      Rbac.allow(kind, ["create"], { reason })
    )
  }
  if (definition.conversions.length > 0) {
    out.push(Rbac.allow(KindModule.CustomResourceDefinition, ["get", "create", "update"], {
      names: definition.conversions.map((c) => c.definition.name),
      reason: `webhooks ${definition.name}: the CRDs' conversion (strategy Webhook, the CA bundle)`
    }))
  }
  return out
}

