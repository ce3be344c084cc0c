/**
 * The webhook server's metrics, under controller-runtime's names and labels (its
 * `pkg/webhook/internal/metrics`), defined in internal/metrics.ts: requests by path and HTTP code, latency by path, requests in
 * flight by path. Recorded in Effect's metric registry; `Metrics` bridges them to Prometheus.
 * @internal
 */
import * as Metric from "effect/Metric"
import * as Def from "../metrics.ts"

const requestsTotal = Metric.counter(Def.webhookRequests.name, { description: Def.webhookRequests.help, incremental: true })
const latency = Metric.histogram(Def.webhookLatency.name, { description: Def.webhookLatency.help, boundaries: Def.webhookLatency.boundaries })
const inFlight = Metric.gauge(Def.webhookInFlight.name, { description: Def.webhookInFlight.help })

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
