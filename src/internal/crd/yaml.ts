/**
 * A small YAML emitter for JSON values (block style, kubectl's indentless sequences). Written here
 * because `@kubernetes/client-node`'s `dumpYaml` passes objects through its model serializer, which
 * drops keys its models do not know, `x-kubernetes-*` included.
 * @internal
 */

const plain = /^[A-Za-z_][A-Za-z0-9._/-]*$/
const reserved = /^(?:true|false|null|yes|no|on|off|y|n|~)$/i

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const entries = (o: Record<string, unknown>) => Object.entries(o).filter(([, v]) => v !== undefined)

const isCollection = (u: unknown) => (Array.isArray(u) && u.length > 0) || (isObject(u) && entries(u).length > 0)

const scalar = (u: unknown): string => {
  if (u === null || u === undefined) return "null"
  if (typeof u === "boolean") return u ? "true" : "false"
  if (typeof u === "number") return Number.isFinite(u) ? String(u) : "null"
  if (typeof u === "string") return plain.test(u) && !reserved.test(u) ? u : JSON.stringify(u)
  if (Array.isArray(u)) return "[]"
  if (isObject(u)) return "{}"
  return JSON.stringify(String(u))
}

const lines = (value: unknown, indent: string): Array<string> => {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      if (!isCollection(item)) return [`${indent}- ${scalar(item)}`]
      if (Array.isArray(item)) return [`${indent}-`, ...lines(item, indent + "  ")]
      const inner = lines(item, indent + "  ")
      return [`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1)]
    })
  }
  if (isObject(value)) {
    return entries(value).flatMap(([key, v]) =>
      isCollection(v)
        ? [`${indent}${scalar(key)}:`, ...lines(v, Array.isArray(v) ? indent : indent + "  ")]
        : [`${indent}${scalar(key)}: ${scalar(v)}`]
    )
  }
  return [`${indent}${scalar(value)}`]
}

/** One YAML document (no `---`), ending with a newline. */
export const stringify = (value: unknown): string => lines(value, "").join("\n") + "\n"
