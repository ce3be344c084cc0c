/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: it throws on
 * anything Prometheus would refuse or that breaks the format's rules, and on a few things it
 * tolerates but that are always bugs (duplicate series, negative counters, broken histograms).
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: "counter" | "gauge" | "histogram" | "summary" | "untyped"
  readonly help: string | undefined
  readonly samples: Array<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, line: number): number => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`)
  return Number(text)
}

const unescapeHelp = (text: string, line: number) =>
  text.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\"
    if (c === "n") return "\n"
    throw new Error(`line ${line}: bad escape \\${c} in HELP`)
  })

/** Parses `{a="b",c="d"}` starting at `i`; returns the labels and the index after `}`. */
const parseLabels = (text: string, start: number, line: number) => {
  const labels: Record<string, string> = {}
  let i = start + 1
  if (text[i] === "}") return { labels, end: i + 1 }
  while (true) {
    const eq = text.indexOf("=", i)
    if (eq === -1) throw new Error(`line ${line}: label without =`)
    const name = text.slice(i, eq)
    if (!labelName.test(name) || name.startsWith("__")) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`)
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`)
    if (text[eq + 1] !== "\"") throw new Error(`line ${line}: label value of ${name} not quoted`)
    let j = eq + 2
    let value = ""
    while (true) {
      const c = text[j]
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`)
      if (c === "\"") break
      if (c === "\\") {
        const n = text[j + 1]
        if (n === "\\") value += "\\"
        else if (n === "\"") value += "\""
        else if (n === "n") value += "\n"
        else throw new Error(`line ${line}: bad escape in label value`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    j++
    if (text[j] === "}") return { labels, end: j + 1 }
    if (text[j] !== ",") throw new Error(`line ${line}: expected , or } after label ${name}`)
    i = j + 1
  }
}

const familyOf = (name: string, families: Map<string, Family>) => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const f = families.get(base)
      if (f !== undefined && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket"))) return f
    }
  }
  return families.get(name)
}

export const parse = (text: string): Map<string, Family> => {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline")
  const families = new Map<string, Family>()
  const series = new Set<string>()
  const closed = new Set<string>()
  let current: Family | undefined
  const lines = text.split("\n")
  lines.pop()
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === "") return
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw)
      if (m === null) return // an ordinary comment
      const [, keyword, name, rest = ""] = m
      if (!metricName.test(name!)) throw new Error(`line ${line}: bad metric name ${name}`)
      if (closed.has(name!)) throw new Error(`line ${line}: family ${name} appears again after other families`)
      let family = families.get(name!)
      if (family !== undefined && family.samples.length > 0) throw new Error(`line ${line}: ${keyword} of ${name} after its samples`)
      if (family === undefined) {
        family = { name: name!, type: "untyped", help: undefined, samples: [] }
        families.set(name!, family)
      }
      if (current !== undefined && current !== family) closed.add(current.name)
      current = family
      if (keyword === "TYPE") {
        if (!types.has(rest)) throw new Error(`line ${line}: unknown type ${rest}`)
        if ((family as { typed?: boolean }).typed === true) throw new Error(`line ${line}: second TYPE for ${name}`)
        Object.assign(family, { type: rest, typed: true })
      } else {
        if (family.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`)
        Object.assign(family, { help: unescapeHelp(rest, line) })
      }
      return
    }
    const nameEnd = raw.search(/[{ ]/)
    if (nameEnd <= 0) throw new Error(`line ${line}: no metric name`)
    const name = raw.slice(0, nameEnd)
    if (!metricName.test(name)) throw new Error(`line ${line}: bad metric name ${name}`)
    let labels: Record<string, string> = {}
    let rest = raw.slice(nameEnd)
    if (rest.startsWith("{")) {
      const parsed = parseLabels(raw, nameEnd, line)
      labels = parsed.labels
      rest = raw.slice(parsed.end)
    }
    const parts = rest.split(" ")
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3) throw new Error(`line ${line}: expected " value [timestamp]"`)
    const value = parseValue(parts[1]!, line)
    if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) throw new Error(`line ${line}: bad timestamp`)
    let family = familyOf(name, families)
    if (family === undefined) {
      family = { name, type: "untyped", help: undefined, samples: [] }
      families.set(name, family)
    }
    if (closed.has(family.name)) throw new Error(`line ${line}: samples of ${family.name} are not contiguous`)
    if (current !== undefined && current !== family) closed.add(current.name)
    current = family
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`)
    series.add(key)
    if (family.type === "counter" && !(value >= 0)) throw new Error(`line ${line}: counter ${name} is ${value}`)
    if (family.type === "histogram" && name.endsWith("_bucket") && labels["le"] === undefined) throw new Error(`line ${line}: bucket without le`)
    if (family.type === "histogram" && name === family.name) throw new Error(`line ${line}: plain sample in histogram ${name}`)
    family.samples.push({ name, labels, value })
  })
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family)
  return families
}

const withoutLe = (labels: Readonly<Record<string, string>>) =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort())

const checkHistogram = (family: Family) => {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
  const group = (labels: Readonly<Record<string, string>>) => {
    const key = withoutLe(labels)
    let g = groups.get(key)
    if (g === undefined) groups.set(key, (g = { buckets: [] }))
    return g
  }
  for (const s of family.samples) {
    const g = group(s.labels)
    if (s.name.endsWith("_bucket")) g.buckets.push([parseValue(s.labels["le"]!, 0), s.value])
    else if (s.name.endsWith("_sum")) g.sum = s.value
    else g.count = s.value
  }
  for (const [key, g] of groups) {
    const where = `${family.name}${key}`
    if (g.sum === undefined || g.count === undefined) throw new Error(`${where}: _sum or _count missing`)
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0])
    if (sorted.at(-1)?.[0] !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`)
    if (sorted.at(-1)![1] !== g.count) throw new Error(`${where}: +Inf bucket ${sorted.at(-1)![1]} != _count ${g.count}`)
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![0] === sorted[i - 1]![0]) throw new Error(`${where}: bucket le=${sorted[i]![0]} twice`)
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${where}: buckets not cumulative at le=${sorted[i]![0]}`)
    }
  }
}

/** The value of the one sample with exactly these labels (sample name defaults to the family's). */
export const valueOf = (
  families: Map<string, Family>,
  family: string,
  labels: Readonly<Record<string, string>>,
  sampleName: string = family
): number => {
  const f = families.get(family)
  if (f === undefined) throw new Error(`no family ${family}`)
  const wanted = JSON.stringify(Object.entries(labels).sort())
  const found = f.samples.filter((s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === wanted)
  if (found.length !== 1) {
    throw new Error(`${sampleName}${wanted}: ${found.length} samples; have ${f.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`).join(", ")}`)
  }
  return found[0]!.value
}
