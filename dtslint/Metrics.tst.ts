import type { Layer } from "effect"
import { Metric } from "effect"
import * as PromClient from "prom-client"
import { describe, expect, it } from "tstyche"
import { Metrics } from "operatorkit"

describe("Metrics", () => {
  it("layers need nothing and cannot fail", () => {
    expect(Metrics.layer()).type.toBe<Layer.Layer<Metrics.Metrics>>()
    expect(Metrics.layer({ registry: new PromClient.Registry(), effectMetrics: [Metric.counter("c")] })).type.toBe<
      Layer.Layer<Metrics.Metrics>
    >()
  })

  it("the service exposes the prom-client Registry", () => {
    expect<Metrics.MetricsService["registry"]>().type.toBe<PromClient.Registry>()
    expect(Metrics.layer).type.not.toBeCallableWith({ registry: {} })
  })
})
