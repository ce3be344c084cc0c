import { assert, describe, it } from "@effect/vitest"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import { ConfigProvider, Effect, Layer, Option } from "effect"
import { vi } from "vitest"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Tracing from "../../src/Tracing.ts"
import { eventually } from "../../src/testing/helpers.ts"

type Deployment = Kind.Type<typeof Kind.Deployment>

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

describe("the trace of a reconcile (in-memory API server)", () => {
  it.live("a root Controller.reconcile span linked to its watch event, with resource steps and API calls as children", () =>
    Effect.gen(function*() {
      const exporter = new InMemorySpanExporter()
      const spans = () => exporter.getFinishedSpans()
      yield* Effect.gen(function*() {
        const client = yield* Client.Client
        const reader = Framework.make<Deployment>()({
          name: "reader",
          ensureCreated: (d) => Effect.asVoid(client.get(Kind.Deployment, { namespace: d.metadata.namespace, name: d.metadata.name })),
          ensureDeleted: () => Effect.void
        }).pipe(Framework.withTracing)
        // made inside a long-lived span: reconciles must not become its children
        const controller = yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "traced", kind: Kind.Deployment, namespace: "default", resources: [reader] }).pipe(
          Effect.withSpan("app")
        )
        yield* controller.synced
        // (its subscription to the informer starts in the background: objects seen before it come as a replay)
        yield* Effect.sleep("50 millis")
        const created = yield* client.create(Kind.Deployment, { metadata: { name: "web", namespace: "default" }, spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } }
        } })
        yield* eventually(Effect.sync(() => assert.isTrue(spans().some((s) => s.name === "Controller.reconcile" && s.attributes["operatorkit.result"] !== undefined))))

        const all = spans()
        const reconcile = all.find((s) => s.name === "Controller.reconcile")!
        assert.isUndefined(reconcile.parentSpanContext, "a root span")
        assert.deepStrictEqual(reconcile.attributes, {
          "operatorkit.controller": "traced",
          "k8s.kind": "Deployment",
          "k8s.namespace": "default",
          "k8s.name": "web",
          "k8s.resource_version": created.metadata.resourceVersion!,
          "k8s.generation": 1,
          "operatorkit.mode": "create",
          "operatorkit.result": "success"
        })
        const event = all.find((s) => s.name === "Controller.watchEvent")!
        assert.strictEqual(event.attributes["operatorkit.event"], "Added")
        assert.strictEqual(event.attributes["k8s.resource_version"], created.metadata.resourceVersion)
        assert.deepStrictEqual(reconcile.links.map((l) => l.context.spanId), [event.spanContext().spanId])
        assert.strictEqual(reconcile.links[0]!.context.traceId, event.spanContext().traceId)

        const childrenOf = (parent: typeof reconcile, among = all) =>
          among.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId).map((s) => s.name)
        // the first reconcile adds the finalizer (a fresh read and a guarded patch), then runs the resource
        assert.deepStrictEqual(childrenOf(reconcile), ["Client.get", "Client.patch", "resource.reader.ensureCreated"])
        const step = all.find((s) => s.name === "resource.reader.ensureCreated")!
        assert.strictEqual(step.attributes["operatorkit.resource"], "reader")
        assert.strictEqual(step.attributes["k8s.generation"], 1)
        assert.deepStrictEqual(childrenOf(step), ["Client.get"])
        assert.strictEqual(all.find((s) => s.name === "Client.get" && s.parentSpanContext?.spanId === step.spanContext().spanId)!.kind, 2 /* CLIENT */)

        // a change: the next reconcile links to its Updated event
        exporter.reset()
        const updated = yield* client.patch(Kind.Deployment, { namespace: "default", name: "web" }, Patch.merge({ spec: { replicas: 2 } }))
        yield* eventually(Effect.sync(() => assert.isTrue(spans().some((s) => s.name === "Controller.reconcile"))))
        const again = spans().find((s) => s.name === "Controller.reconcile")!
        const update = spans().find((s) => s.name === "Controller.watchEvent")!
        assert.strictEqual(update.attributes["operatorkit.event"], "Updated")
        assert.deepStrictEqual(again.links.map((l) => l.context.spanId), [update.spanContext().spanId])
        assert.strictEqual(again.attributes["k8s.resource_version"], updated.metadata.resourceVersion)
        assert.strictEqual(again.attributes["k8s.generation"], 2)
        assert.deepStrictEqual(childrenOf(again, spans()), ["resource.reader.ensureCreated"])
      }).pipe(
        Effect.provide(Tracing.layer({ serviceName: "test", exporter, processor: "simple" }), { local: true }),
        Effect.provide(TestServer.layer(), { local: true })
      )
    }))
})
