import { assert, describe, it } from "@effect/vitest"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { vi } from "vitest"
import * as Tracing from "../../src/Tracing.ts"

const withEnv = (env: Record<string, string>) => Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

/**
 * Runs a traced effect with the layer, then releases it (which flushes the exporter); whether an
 * OpenTelemetry tracer was installed, and what `inside` saw before the release.
 */
const traced = <A = undefined>(layer: Layer.Layer<any, any>, inside: Effect.Effect<A> = Effect.succeed(undefined as A)) =>
  Effect.provide(
    Effect.gen(function*() {
      const isOtel = Option.isSome(yield* Effect.serviceOption(OtelTracer.OtelTracer))
      yield* Effect.withSpan(Effect.void, "unit-of-work", { attributes: { "k8s.name": "x" } })
      return { isOtel, seen: yield* inside }
    }),
    layer,
    { local: true }
  )

/** A local OTLP/HTTP collector that records what it receives. */
const collector = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly received: Array<{ path: string; body: string }>; readonly server: Http.Server }>((resume) => {
    const received: Array<{ path: string; body: string }> = []
    const server = Http.createServer((req, res) => {
      let body = ""
      req.on("data", (c) => (body += c))
      req.on("end", () => {
        received.push({ path: req.url ?? "", body })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`, received, server })))
  }),
  ({ server }) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
)

describe("Tracing.layer", () => {
  it.live("with your own exporter: Effect spans become OpenTelemetry spans with the service name", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      // the exporter forgets its spans when it shuts down: read them before the release
      const { isOtel, seen } = yield* traced(
        Tracing.layer({ serviceName: "tenant-operator", exporter, processor: "simple" }),
        Effect.sync(() => exporter.getFinishedSpans())
      )
      assert.isTrue(isOtel)
      const [span] = seen
      assert.strictEqual(span!.name, "unit-of-work")
      assert.strictEqual(span!.attributes["k8s.name"], "x")
      assert.strictEqual(span!.resource.attributes["service.name"], "tenant-operator")
    }))

  it.live("OTEL_EXPORTER_OTLP_ENDPOINT: spans go to <endpoint>/v1/traces as OTLP JSON, flushed on release; OTEL_SERVICE_NAME names the service", () =>
    Effect.gen(function*() {
      const otlp = yield* collector
      const { isOtel } = yield* traced(Tracing.layer()).pipe(withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.url}/`, OTEL_SERVICE_NAME: "from-env" }))
      assert.isTrue(isOtel)
      assert.strictEqual(otlp.received.length, 1)
      assert.strictEqual(otlp.received[0]!.path, "/v1/traces")
      const body = otlp.received[0]!.body
      assert.include(body, "\"name\":\"unit-of-work\"")
      assert.include(body, "\"stringValue\":\"from-env\"")
    }))

  it.live("options win over the environment: otlp.url", () =>
    Effect.gen(function*() {
      const otlp = yield* collector
      yield* traced(Tracing.layer({ otlp: { url: `${otlp.url}/custom/traces` } })).pipe(
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:1", OTEL_TRACES_EXPORTER: "otlp" })
      )
      assert.deepStrictEqual(otlp.received.map((r) => r.path), ["/custom/traces"])
    }))

  it.live("OTEL_TRACES_EXPORTER=console prints each span", () =>
    Effect.gen(function*() {
      const dir = vi.spyOn(console, "dir").mockImplementation(() => {})
      try {
        yield* traced(Tracing.layer({ processor: "simple" })).pipe(withEnv({ OTEL_TRACES_EXPORTER: "console" }))
        assert.isTrue(dir.mock.calls.some(([info]) => (info as { name?: string }).name === "unit-of-work"))
      } finally {
        dir.mockRestore()
      }
    }))

  it.live("OTEL_TRACES_EXPORTER=none and OTEL_SDK_DISABLED=true install no OpenTelemetry tracer", () =>
    Effect.gen(function*() {
      assert.isFalse((yield* traced(Tracing.layer()).pipe(withEnv({ OTEL_TRACES_EXPORTER: "none" }))).isOtel)
      assert.isFalse((yield* traced(Tracing.layer()).pipe(withEnv({ OTEL_SDK_DISABLED: "true" }))).isOtel)
      assert.isTrue((yield* traced(Tracing.layer({ exporter: new InMemorySpanExporter() })).pipe(withEnv({ OTEL_SDK_DISABLED: "true" }))).isOtel)
    }))

  it.live("an exporter name it does not know is a TracingConfigError naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(traced(Tracing.layer()).pipe(withEnv({ OTEL_TRACES_EXPORTER: "zipkin" })))
      assert.strictEqual(error._tag, "TracingConfigError")
      assert.strictEqual(error.message, "OTEL_TRACES_EXPORTER=zipkin is not supported; expected otlp, console or none")
    }))
})
