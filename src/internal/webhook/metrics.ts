/**
 * The webhook server's metrics, under controller-runtime's names and labels (its
 * `pkg/webhook/internal/metrics`): requests by path and HTTP code, latency by path, requests in
 * flight by path. Recorded in Effect's metric registry; `Metrics` bridges them to Prometheus.
 * @internal
 */
import * as Metric from "effect/Metric"

export const names = {
  requestsTotal: "controller_runtime_webhook_requests_total",
  latencySeconds: "controller_runtime_webhook_latency_seconds",
  inFlight: "controller_runtime_webhook_requests_in_flight"
} as const

export const help = {
  requestsTotal: "Total number of admission requests by HTTP status code.",
  latencySeconds: "Histogram of the latency of processing admission requests",
  inFlight: "Current number of admission requests being served."
} as const

// prometheus.DefBuckets, which controller-runtime's histogram uses
const boundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const requestsTotal = Metric.counter(names.requestsTotal, { description: help.requestsTotal, incremental: true })
const latency = Metric.histogram(names.latencySeconds, { description: help.latencySeconds, boundaries })
const inFlight = Metric.gauge(names.inFlight, { description: help.inFlight })

/** The metrics of one webhook path. */
export const forPath = (webhook: string) => {
  const attributes = { webhook }
  const total = new Map<number, Metric.Counter<number>>()
  return {
    inFlight: Metric.withAttributes(inFlight, attributes),
    latency: Metric.withAttributes(latency, attributes),
    total: (code: number) => {
      let counter = total.get(code)
      if (counter === undefined) {
        counter = Metric.withAttributes(requestsTotal, { webhook, code: String(code) })
        total.set(code, counter)
      }
      return counter
    }
  }
}
