/**
 * What a PromQL expression names, read with Prometheus's own grammar (@prometheus-io/lezer-promql):
 * the metric of each selector with the labels it matches on, and the labels each aggregation,
 * vector matching or legend groups by, with the metrics under it. And what an exposition exports:
 * each series name with its label names. Used to check that dashboards and alerts name only what
 * an operator exports.
 */
import { parser } from "@prometheus-io/lezer-promql"

/** Labels Prometheus adds to every series it scrapes (target labels): never in the exposition. */
export const targetLabels: ReadonlySet<string> = new Set(["job", "instance", "namespace", "pod", "service", "endpoint", "container"])

export interface Reference {
  /** Metric names the expression (or the part of it) reads. */
  readonly metrics: ReadonlyArray<string>
  /** Labels it needs on those metrics. */
  readonly labels: ReadonlyArray<string>
  /** Where: the text of the selector or grouping. */
  readonly at: string
}

interface Node {
  readonly name: string
  readonly from: number
  readonly to: number
  readonly children: Array<Node>
}

const treeOf = (expr: string): Node => {
  const cursor = parser.parse(expr).cursor()
  const build = (): Node => {
    const node: Node = { name: cursor.name, from: cursor.from, to: cursor.to, children: [] }
    if (cursor.firstChild()) {
      do node.children.push(build())
      while (cursor.nextSibling())
      cursor.parent()
    }
    return node
  }
  return build()
}

const all = (node: Node, name: string): Array<Node> =>
  [...(node.name === name ? [node] : []), ...node.children.flatMap((c) => all(c, name))]

/** Every metric and label an expression names, as references to check. Throws on a syntax error. */
export const references = (expr: string): Array<Reference> => {
  const tree = treeOf(expr)
  const errors = all(tree, "⚠")
  if (errors.length > 0) throw new Error(`not PromQL at ${errors[0]!.from}: ${expr}`)
  const text = (n: Node) => expr.slice(n.from, n.to)
  const metricsUnder = (n: Node) => all(n, "VectorSelector").flatMap((v) => v.children.filter((c) => c.name === "Identifier").map(text))
  const out: Array<Reference> = []
  for (const selector of all(tree, "VectorSelector")) {
    const metrics = selector.children.filter((c) => c.name === "Identifier").map(text)
    const labels = all(selector, "LabelName").map(text)
    out.push({ metrics, labels, at: text(selector) })
  }
  // by (…), without (…), on (…), ignoring (…), group_left (…): labels of the metrics under the
  // aggregation or the binary expression they modify
  for (const kind of ["AggregateExpr", "BinaryExpr"]) {
    for (const node of all(tree, kind)) {
      const modifiers = node.children.filter((c) => c.name === "AggregateModifier" || c.name === "MatchingModifierClause")
      const labels = modifiers.flatMap((m) => all(m, "LabelName").map(text))
      if (labels.length > 0) out.push({ metrics: metricsUnder(node), labels, at: text(node).slice(0, 120) })
    }
  }
  return out
}

/** Every metric an expression reads. */
export const metricsOf = (expr: string): Array<string> => [...new Set(references(expr).flatMap((r) => r.metrics))]

/** Series names of an exposition (text format 0.0.4) with the label names each carries. */
export const exported = (exposition: string): Map<string, Set<string>> => {
  const series = new Map<string, Set<string>>()
  for (const line of exposition.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line)
    if (match === null) continue
    const labels = series.get(match[1]!) ?? new Set<string>()
    for (const m of (match[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(m[1]!)
    series.set(match[1]!, labels)
  }
  return series
}

/**
 * What a reference names that the exposition does not export: unknown metrics, and labels none of
 * its metrics carries (target labels are always there).
 */
export const unexported = (reference: Reference, series: Map<string, Set<string>>): Array<string> => {
  const problems: Array<string> = []
  for (const m of reference.metrics) if (!series.has(m)) problems.push(`metric ${m} (in ${reference.at})`)
  const known = reference.metrics.filter((m) => series.has(m))
  if (known.length === 0) return problems
  for (const label of reference.labels) {
    if (targetLabels.has(label)) continue
    if (!known.some((m) => series.get(m)!.has(label))) problems.push(`label ${label} on ${known.join(", ")} (in ${reference.at})`)
  }
  return problems
}
