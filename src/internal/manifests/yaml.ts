/**
 * YAML documents of manifests with comments: a `rules` list (RBAC) gets one comment block per rule,
 * saying who needs it; any document may get header lines.
 * @internal
 */
import { stringify } from "../crd/yaml.ts"

/** A document whose `rules` (emitted last) get one comment block per rule. */
export const documentWithComments = (
  object: Record<string, unknown>,
  reasons: ReadonlyArray<ReadonlyArray<string>> | undefined
): string => {
  const rules = object["rules"] as ReadonlyArray<unknown> | undefined
  if (rules === undefined) return stringify(object)
  const { rules: _, ...rest } = object
  const body = rules.map((rule, i) => {
    const comments = (reasons?.[i] ?? []).map((reason) => `  # ${reason}\n`).join("")
    const lines = stringify([rule]).split("\n").filter((l) => l !== "").map((l) => `  ${l}\n`).join("")
    return comments + lines
  }).join("")
  return `${stringify(rest)}rules:\n${body}`
}

/** Lines of `# ` comments, one per line of text. */
export const comment = (text: string): string =>
  text.split("\n").map((line) => (line === "" ? "#\n" : `# ${line}\n`)).join("")
