/**
 * JSON values as YAML documents, through the `yaml` library (block style, kubectl's indentless
 * sequences, no line folding). Not `@kubernetes/client-node`'s `dumpYaml`: it passes objects
 * through its model serializer, which drops keys its models do not know, `x-kubernetes-*`
 * included. Strings YAML 1.1 would read as something else (`on`, `yes`, `y`, `0x1f`; kubectl's
 * parser is YAML 1.1) are quoted; multi-line strings are block literals.
 * @internal
 */
import * as Yaml from "yaml"

const options = {
  version: "1.1",
  indentSeq: false,
  lineWidth: 0,
  minContentWidth: 0,
  aliasDuplicateObjects: false
} as const

/** One YAML document (no `---`), ending with a newline. */
export const stringify = (value: unknown): string => Yaml.stringify(JSON.parse(JSON.stringify(value)), options)
