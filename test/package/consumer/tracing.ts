// A user's program that traces: operatorkit/Tracing with the OpenTelemetry peers installed.
import { Effect } from "effect"
import { Client, Kind } from "operatorkit"
import { TestServer } from "operatorkit/testing"
import * as Tracing from "operatorkit/Tracing"

const program = Effect.gen(function*() {
  const client = yield* Client.Client
  yield* client.list(Kind.Namespace)
}).pipe(Effect.withSpan("consumer.program"))

await Effect.runPromise(program.pipe(
  Effect.provide(TestServer.layer()),
  Effect.provide(Tracing.layer({ serviceName: "consumer", exporter: "console" }))
))
