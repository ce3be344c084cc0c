import type * as OtelResource from "@effect/opentelemetry/Resource"
import type { Config, Layer } from "effect"
import { describe, expect, it } from "tstyche"
import * as Tracing from "operatorkit/Tracing"

describe("Tracing", () => {
  it("layer provides the OpenTelemetry Resource and fails with configuration errors", () => {
    expect(Tracing.layer()).type.toBe<Layer.Layer<OtelResource.Resource, Tracing.TracingConfigError | Config.ConfigError>>()
  })

  it("exporters are named or given", () => {
    expect(Tracing.layer).type.toBeCallableWith({ exporter: "console" })
    expect(Tracing.layer).type.not.toBeCallableWith({ exporter: "zipkin" })
  })
})
