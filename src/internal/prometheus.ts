/**
 * Metric families computed at scrape time, in the shape prom-client's Registry reads.
 *
 * prom-client's own classes keep their state inside (a histogram cannot take its buckets from
 * elsewhere) and fix label names at construction; these collectors implement the same contract the
 * Registry calls at scrape time (`get()`, `reset()`, `name`, `help`, `type`, `aggregator`), so
 * every figure has one source of truth (Effect's metric registry, or a `stats` effect) and nothing
 * runs between scrapes.
 */
import type * as PromClient from "prom-client"

export type Labels = Readonly<Record<string, string>>

export type FamilyType = "counter" | "gauge" | "histogram"

export interface Point {
  readonly labels: Labels
  readonly value: number
}

export interface HistogramPoint {
  readonly labels: Labels
  /** [upper bound, cumulative count], finite bounds in ascending order. */
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
  readonly sum: number
}

interface Value {
  readonly value: number
  readonly labels: Record<string, string>
  readonly metricName?: string
}

const invalidName = /[^a-zA-Z0-9_:]/g
const invalidLabel = /[^a-zA-Z0-9_]/g

export const metricName = (name: string) => {
  const clean = name.replace(invalidName, "_")
  return /^[0-9]/.test(clean) ? `_${clean}` : clean
}

export const labelName = (name: string) => {
  const clean = name.replace(invalidLabel, "_")
  const safe = /^[0-9]/.test(clean) ? `_${clean}` : clean
  // names starting with __ are reserved
  return safe.startsWith("__") ? `x${safe}` : safe
}

export const cleanLabels = (labels: Readonly<Record<string, unknown>> | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels ?? {})) out[labelName(k)] = String(v)
  return out
}

const labelKey = (labels: Labels) =>
  Object.keys(labels).sort().map((k) => `${k}\u0000${labels[k]}`).join("\u0001")

/** Sums points with the same labels (a duplicate series is invalid exposition). */
export const mergePoints = (points: ReadonlyArray<Point>, combine: (a: number, b: number) => number = (a, b) => a + b) => {
  const byKey = new Map<string, Point>()
  for (const p of points) {
    const key = labelKey(p.labels)
    const seen = byKey.get(key)
    byKey.set(key, seen === undefined ? p : { labels: p.labels, value: combine(seen.value, p.value) })
  }
  return Array.from(byKey.values())
}

export const mergeHistograms = (points: ReadonlyArray<HistogramPoint>) => {
  const byKey = new Map<string, HistogramPoint>()
  for (const p of points) {
    const key = labelKey(p.labels)
    const seen = byKey.get(key)
    if (seen === undefined || seen.buckets.length !== p.buckets.length) {
      byKey.set(key, p)
      continue
    }
    byKey.set(key, {
      labels: p.labels,
      buckets: p.buckets.map(([le, n], i) => [le, n + seen.buckets[i]![1]] as const),
      count: seen.count + p.count,
      sum: seen.sum + p.sum
    })
  }
  return Array.from(byKey.values())
}

/** A bucket bound as the `le` label: shortest form, no float noise (1.0000000000000001e-7 → 1e-7). */
const le = (bound: number) => (bound === Number.POSITIVE_INFINITY ? "+Inf" : String(Number(bound.toPrecision(12))))

const histogramValues = (name: string, points: ReadonlyArray<HistogramPoint>): Array<Value> => {
  const values: Array<Value> = []
  for (const p of points) {
    for (const [bound, n] of p.buckets) {
      if (!Number.isFinite(bound)) continue
      values.push({ metricName: `${name}_bucket`, labels: { ...p.labels, le: le(bound) }, value: n })
    }
    values.push({ metricName: `${name}_bucket`, labels: { ...p.labels, le: "+Inf" }, value: p.count })
    values.push({ metricName: `${name}_sum`, labels: { ...p.labels }, value: p.sum })
    values.push({ metricName: `${name}_count`, labels: { ...p.labels }, value: p.count })
  }
  return values
}

export interface Collected {
  readonly points?: ReadonlyArray<Point>
  readonly histograms?: ReadonlyArray<HistogramPoint>
}

/** One metric family whose samples are computed when the Registry is scraped. */
export class Family {
  readonly aggregator = "sum" as const
  readonly name: string
  readonly help: string
  readonly type: FamilyType
  readonly #collect: () => Promise<Collected>
  constructor(name: string, help: string, type: FamilyType, collect: () => Promise<Collected>) {
    this.name = metricName(name)
    this.help = help
    this.type = type
    this.#collect = collect
  }

  async get() {
    const collected = await this.#collect()
    const values = this.type === "histogram"
      ? histogramValues(this.name, mergeHistograms(collected.histograms ?? []))
      : mergePoints(collected.points ?? [])
        .filter((p) => Number.isFinite(p.value) || p.value === Number.POSITIVE_INFINITY)
        .map((p): Value => ({ labels: { ...p.labels }, value: p.value }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Nothing to reset: the figures belong to their sources. */
  reset() {}

  /** As a prom-client metric, for `Registry.registerMetric`. */
  asMetric(): PromClient.Metric {
    return this as unknown as PromClient.Metric
  }
}
