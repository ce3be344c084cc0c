/**
 * Label and field selectors as the API server parses and applies them (the in-memory server
 * filters with them; a controller decides with them whether a write lands in its caches).
 * @internal
 */

type Requirement =
  | { readonly op: "exists" | "!exists"; readonly key: string }
  | { readonly op: "in" | "notin"; readonly key: string; readonly values: ReadonlyArray<string> }
  | { readonly op: "gt" | "lt"; readonly key: string; readonly value: number }

export type LabelSelector = ReadonlyArray<Requirement>

export type Labels = Readonly<Record<string, string>> | undefined

const keyRe = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const valueRe = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/

/** Splits on commas outside parentheses. */
const splitTop = (text: string): Array<string> => {
  const parts: Array<string> = []
  let depth = 0
  let current = ""
  for (const ch of text) {
    if (ch === "(") depth++
    if (ch === ")") depth--
    if (ch === "," && depth === 0) {
      parts.push(current)
      current = ""
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts
}

const checkKey = (key: string): string | undefined =>
  keyRe.test(key) && key.length <= 317 ? undefined : `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`

const checkValue = (value: string): string | undefined =>
  valueRe.test(value) && value.length <= 63 ? undefined : `invalid label value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`

/** Parses a label selector; a string is the error message (answered with 400 BadRequest). */
export const parseLabelSelector = (text: string): LabelSelector | string => {
  const out: Array<Requirement> = []
  if (text.trim() === "") return out
  for (const raw of splitTop(text)) {
    const part = raw.trim()
    if (part === "") return "unable to parse requirement: found '', expected: identifier"
    let m: RegExpExecArray | null
    if ((m = /^!\s*(\S+)$/.exec(part)) !== null) {
      const error = checkKey(m[1]!)
      if (error !== undefined) return error
      out.push({ op: "!exists", key: m[1]! })
    } else if ((m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part)) !== null) {
      const values = m[3]!.split(",").map((v) => v.trim())
      for (const v of values) {
        const error = checkValue(v)
        if (error !== undefined) return error
      }
      const error = checkKey(m[1]!)
      if (error !== undefined) return error
      out.push({ op: m[2] as "in" | "notin", key: m[1]!, values })
    } else if ((m = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/.exec(part)) !== null) {
      const [, key, op, value] = m as unknown as [string, string, string, string]
      if (value.includes("=")) return `unable to parse requirement: found '=', expected: identifier`
      const keyError = checkKey(key)
      if (keyError !== undefined) return keyError
      if (op === "<" || op === ">") {
        const n = Number(value)
        if (value.trim() === "" || !Number.isInteger(n)) return `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`
        out.push({ op: op === ">" ? "gt" : "lt", key, value: n })
        continue
      }
      const valueError = checkValue(value.trim())
      if (valueError !== undefined) return valueError
      out.push({ op: op === "!=" ? "notin" : "in", key, values: [value.trim()] })
    } else if (/^\S+$/.test(part) && !/[=!()<>]/.test(part)) {
      const error = checkKey(part)
      if (error !== undefined) return error
      out.push({ op: "exists", key: part })
    } else {
      const found = /[=!()<>]/.exec(part)?.[0] ?? part
      return `unable to parse requirement: found '${found}', expected: identifier`
    }
  }
  return out
}

export const matchesLabels = (selector: LabelSelector, labels: Labels): boolean =>
  selector.every((r) => {
    const value = labels?.[r.key]
    switch (r.op) {
      case "exists":
        return value !== undefined
      case "!exists":
        return value === undefined
      case "in":
        return value !== undefined && r.values.includes(value)
      case "notin":
        return value === undefined || !r.values.includes(value)
      case "gt":
      case "lt": {
        if (value === undefined) return false
        const n = Number(value)
        return Number.isInteger(n) && (r.op === "gt" ? n > r.value : n < r.value)
      }
    }
  })

export interface FieldRequirement {
  readonly field: string
  readonly value: string
  readonly equal: boolean
}

export type FieldSelector = ReadonlyArray<FieldRequirement>

const unescape = (value: string) => value.replace(/\\(.)/g, "$1")

/** Splits on a separator that is not escaped with a backslash. */
const splitUnescaped = (text: string, sep: string): Array<string> => {
  const parts: Array<string> = []
  let current = ""
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "\\" && i + 1 < text.length) {
      current += ch + text[i + 1]
      i++
    } else if (ch === sep) {
      parts.push(current)
      current = ""
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts
}

/** Parses a field selector against the fields a resource supports; a string is the error message. */
export const parseFieldSelector = (text: string, supported: ReadonlyArray<string>): FieldSelector | string => {
  const out: Array<FieldRequirement> = []
  if (text.trim() === "") return out
  for (const part of splitUnescaped(text, ",")) {
    const m = /^([^=!]+?)(==|=|!=)(.*)$/.exec(part)
    if (m === null) return `invalid selector: '${text}'; can't understand '${part}'`
    const field = m[1]!.trim()
    if (!supported.includes(field)) {
      return `"${field}" is not a known field selector: only ${supported.map((f) => `"${f}"`).join(", ")}`
    }
    out.push({ field, value: unescape(m[3]!), equal: m[2] !== "!=" })
  }
  return out
}

const fieldValue = (object: unknown, path: string): string => {
  let current: unknown = object
  for (const segment of path.split(".")) {
    current = typeof current === "object" && current !== null ? (current as Record<string, unknown>)[segment] : undefined
  }
  return current === undefined || current === null ? "" : String(current)
}

export const matchesFields = (selector: FieldSelector, object: unknown): boolean =>
  selector.every((r) => (fieldValue(object, r.field) === r.value) === r.equal)
