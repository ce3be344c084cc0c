/** Spans are made for any installed tracer (not only OpenTelemetry's), and not under the native one. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

/** A tracer that records the names of the spans it is asked for, then behaves as the native one. */
const recording = () => {
  const names: Array<string> = []
  const tracer = Tracer.make({
    span(options) {
      names.push(options.name)
      return Tracer.nativeTracer.span(options)
    }
  })
  return { names, tracer }
}

const scenario = Effect.gen(function*() {
  const client = yield* Client.Client
  const seen: Array<string> = []
  const resource = Framework.make<ConfigMap>()({
    name: "probe",
    ensureCreated: (cm) => Effect.sync(() => void seen.push(cm.metadata.name)),
    ensureDeleted: () => Effect.void
  }).pipe(Framework.withTracing)
  yield* Controller.make({ finalizerPrefix: "operatorkit.test", name: "spans", kind: Kind.ConfigMap, namespace: "default", resources: [resource] })
  yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
  yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
  for (let i = 0; i < 20 && !seen.includes("a"); i++) yield* settle(5)
  assert.include(seen, "a")
})

describe("spans", () => {
  it.effect("a tracer of the program's own gets the Client's, the Controller's and withTracing's spans", () =>
    Effect.gen(function*() {
      const { names, tracer } = recording()
      yield* scenario.pipe(Effect.withTracer(tracer), Effect.scoped, withServer)
      for (const name of ["Client.create", "Client.get", "Client.patch", "Controller.reconcile", "resource.probe.ensureCreated"]) {
        assert.include(names, name)
      }
    }))

  it.effect("under Effect's native tracer none are made, and nothing annotates the program's own span", () =>
    Effect.gen(function*() {
      const program = yield* Effect.withSpan(
        Effect.flatMap(Effect.currentSpan, (span) => Effect.as(scenario.pipe(Effect.scoped, withServer), span)),
        "program"
      )
      assert.strictEqual(program.name, "program")
      // a reconcile without a span of its own would otherwise annotate the enclosing one
      assert.deepStrictEqual([...(program as Tracer.Span).attributes.keys()], [])
    }))
})
