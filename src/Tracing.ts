/**
 * OpenTelemetry tracing over `@effect/opentelemetry`: one Layer that installs a tracer provider
 * with an exporter, so every span the library opens (and yours) is exported.
 *
 * The exporter is chosen by the options or, failing that, by the standard variables:
 * `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER` (`otlp`, the default, `console` or `none`),
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP with JSON;
 * the default collector is `http://localhost:4318`), `OTEL_SERVICE_NAME` and
 * `OTEL_RESOURCE_ATTRIBUTES`. Variables are read through Effect's `Config`, so a `ConfigProvider`
 * can supply them.
 *
 * The spans of the library (names in {@link spanNames}, attributes in {@link attributes}):
 * - `Controller.reconcile`: one per reconcile, a root span linked to the `Controller.watchEvent`
 *   spans of the watch events that caused it; attributes: controller, kind, namespace, name,
 *   resourceVersion, generation, mode and result.
 * - `Controller.watchEvent`: a short span per watch event that enqueued a key (primary or, for
 *   watched kinds, secondary objects).
 * - `resource.<name>.<step>`: per Resource call, with `Framework.withTracing`; children of the
 *   reconcile.
 * - `Client.<verb>`: per API call (client spans), children of whatever runs them.
 *
 * @since 0.1.0
 */
import type * as OtelApi from "@opentelemetry/api"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import * as OtelResource from "@effect/opentelemetry/Resource"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * Where spans go: OTLP over HTTP, the console, nowhere, or your own exporter (e.g. an
 * `InMemorySpanExporter` in tests).
 *
 * @since 0.1.0
 * @category models
 */
export type Exporter = "otlp" | "console" | "none" | SpanExporter

/**
 * Options of {@link layer}; what is left out comes from the `OTEL_*` variables.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default: `OTEL_SERVICE_NAME`, else `operatorkit`. */
  readonly serviceName?: string | undefined
  readonly serviceVersion?: string | undefined
  /** More resource attributes (e.g. `k8s.pod.name`). */
  readonly attributes?: OtelApi.Attributes | undefined
  /** Default: `OTEL_TRACES_EXPORTER` (its first entry), else `otlp`; `OTEL_SDK_DISABLED=true` means `none`. */
  readonly exporter?: Exporter | undefined
  readonly otlp?: {
    /** The traces URL. Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
    readonly url?: string | undefined
    readonly headers?: Readonly<Record<string, string>> | undefined
  } | undefined
  /** `batch` (default) exports in the background; `simple` exports each span as it ends (tests). */
  readonly processor?: "batch" | "simple" | undefined
  /** Or bring the span processor yourself (then `exporter` and `processor` are ignored). */
  readonly spanProcessor?: SpanProcessor | undefined
  /** How long shutdown may take to flush spans (default 3 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
}

/**
 * An `OTEL_*` variable with a value this layer does not understand.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const report = Effect.catchTag("TracingConfigError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TracingConfigError extends Schema.TaggedError<TracingConfigError>()("TracingConfigError", {
  variable: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override get message(): string {
    return `${this.variable}=${this.value} is not supported; expected ${this.expected}`
  }
}

/**
 * The names of the spans the library opens.
 *
 * @example
 * ```ts
 * import { Tracing } from "operatorkit"
 *
 * Tracing.spanNames.reconcile // => "Controller.reconcile"
 * Tracing.spanNames.resourceStep("members", "ensureCreated") // => "resource.members.ensureCreated"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const spanNames = {
  reconcile: "Controller.reconcile",
  watchEvent: "Controller.watchEvent",
  resourceStep: (resource: string, step: string) => `resource.${resource}.${step}`,
  client: (verb: string) => `Client.${verb}`
} as const

/**
 * The attribute keys the library's spans carry.
 *
 * @example
 * ```ts
 * import { Tracing } from "operatorkit"
 *
 * Tracing.attributes.resourceVersion // => "k8s.resource_version"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const attributes = {
  controller: "operatorkit.controller",
  kind: "k8s.kind",
  apiVersion: "k8s.api_version",
  namespace: "k8s.namespace",
  name: "k8s.name",
  resourceVersion: "k8s.resource_version",
  generation: "k8s.generation",
  /** `create` or `delete` (which of ensureCreated / ensureDeleted ran). */
  mode: "operatorkit.mode",
  /** `success`, `error` or `requeue_after`, as `controller_runtime_reconcile_total` counts them. */
  result: "operatorkit.result",
  /** `Added`, `Updated`, `Deleted` on watch event spans. */
  event: "operatorkit.event",
  resource: "operatorkit.resource",
  step: "operatorkit.step"
} as const

const exporterNames = "otlp, console or none"

/** The exporter and OTLP URL the options and the environment ask for. */
const resolve = (options: Options) =>
  Effect.gen(function*() {
    const env = (name: string) => Config.option(Config.String(name))
    const disabled = yield* Config.option(Config.Boolean("OTEL_SDK_DISABLED"))
    const fromEnv = yield* env("OTEL_TRACES_EXPORTER")
    let exporter: Exporter
    if (options.exporter !== undefined) {
      exporter = options.exporter
    } else if (Option.getOrElse(disabled, () => false)) {
      exporter = "none"
    } else {
      const first = Option.getOrElse(fromEnv, () => "otlp").split(",")[0]!.trim().toLowerCase()
      if (first !== "otlp" && first !== "console" && first !== "none" && first !== "") {
        return yield* Effect.fail(new TracingConfigError({ variable: "OTEL_TRACES_EXPORTER", value: first, expected: exporterNames }))
      }
      exporter = first === "" ? "otlp" : first
    }
    const tracesEndpoint = yield* env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    const endpoint = yield* env("OTEL_EXPORTER_OTLP_ENDPOINT")
    const url = options.otlp?.url ??
      Option.getOrUndefined(tracesEndpoint) ??
      Option.getOrUndefined(Option.map(endpoint, (base) => `${base.replace(/\/+$/, "")}/v1/traces`))
    const serviceName = options.serviceName ?? Option.getOrElse(yield* env("OTEL_SERVICE_NAME"), () => "operatorkit")
    return { exporter, url, serviceName }
  })

const processorFor = (options: Options, exporter: Exporter, url: string | undefined): SpanProcessor | undefined => {
  if (options.spanProcessor !== undefined) return options.spanProcessor
  if (exporter === "none") return undefined
  const spanExporter = exporter === "console"
    ? new ConsoleSpanExporter()
    : exporter === "otlp"
    ? new OTLPTraceExporter({
      ...(url !== undefined ? { url } : {}),
      ...(options.otlp?.headers !== undefined ? { headers: { ...options.otlp.headers } } : {})
    })
    : exporter
  return options.processor === "simple" ? new SimpleSpanProcessor(spanExporter) : new BatchSpanProcessor(spanExporter)
}

/**
 * Installs OpenTelemetry tracing for everything it is provided to; flushes and shuts the
 * exporter down when released.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Tracing } from "operatorkit"
 *
 * // OTLP to a collector in the cluster
 * const TracingLive = Tracing.layer({ serviceName: "tenant-operator", otlp: { url: "http://otel-collector:4318/v1/traces" } })
 * // or whatever OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_ENDPOINT say
 * const FromEnv = Tracing.layer()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<OtelResource.Resource, TracingConfigError | Config.ConfigError> =>
  Layer.unwrap(
    Effect.map(resolve(options), ({ exporter, serviceName, url }) => {
      const processor = processorFor(options, exporter, url)
      const resource = OtelResource.layerFromEnv(OtelResource.configToAttributes({
        serviceName,
        ...(options.serviceVersion !== undefined ? { serviceVersion: options.serviceVersion } : {}),
        ...(options.attributes !== undefined ? { attributes: options.attributes } : {})
      }))
      if (processor === undefined) return resource
      // the tracer parts of @effect/opentelemetry only (its NodeSdk would also load the logs and
      // metrics SDKs, which tracing users would then have to install)
      const provider = Layer.effect(
        OtelTracer.OtelTracerProvider,
        Effect.gen(function*() {
          const attributes = yield* OtelResource.Resource
          return yield* Effect.acquireRelease(
            Effect.sync(() => new NodeTracerProvider({ resource: attributes, spanProcessors: [processor] })),
            (p) =>
              Effect.promise(() => p.forceFlush().finally(() => p.shutdown())).pipe(
                Effect.ignore,
                Effect.interruptible,
                Effect.timeoutOption(options.shutdownTimeout ?? 3000)
              )
          )
        })
      )
      return OtelTracer.layer.pipe(Layer.provide(provider), Layer.provideMerge(resource))
    })
  )
