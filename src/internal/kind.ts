/**
 * The runtime of Kind descriptors (the prototype, `build`, `Open`), apart from `Kind.ts` so that the
 * generated built-in kinds under `src/kinds/` can use it while `Kind.ts` re-exports them.
 * @internal
 */
import { pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type { Kind, KindOptions } from "../Kind.ts"

export const TypeId = "~operatorkit/Kind" as const

/** A Struct that keeps every field it does not declare (see `Kind.Open`). */
export const Open = <const F extends Schema.Struct.Fields>(fields: F) =>
  Schema.StructWithRest(Schema.Struct(fields), rest).annotate(preserveUnknownFields)

// one instance for every level (the generated kinds have hundreds)
const rest = [Schema.Record(Schema.String, Schema.Unknown)] as const
const preserveUnknownFields = { "x-kubernetes-preserve-unknown-fields": true } as const

const pluralize = (singular: string) =>
  /(s|x|z|ch|sh)$/.test(singular)
    ? `${singular}es`
    : /[^aeiou]y$/.test(singular)
    ? `${singular.slice(0, -1)}ies`
    : `${singular}s`

const KindProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  },
  toString(this: Kind) {
    return `${this.kind}.${this.apiVersion}${this.metadataOnly === true ? " (metadata only)" : ""}`
  }
}

export const build = <S extends Schema.Codec<any, any>, B extends boolean>(
  options: KindOptions<S>,
  builtin: B,
  metadataOnly = false
): Kind<S["Type"], B> => {
  const singular = options.singular ?? options.kind.toLowerCase()
  return Object.assign(Object.create(KindProto), {
    group: options.group,
    version: options.version,
    apiVersion: options.group === "" ? options.version : `${options.group}/${options.version}`,
    kind: options.kind,
    plural: options.plural ?? pluralize(singular),
    singular,
    listKind: options.listKind ?? `${options.kind}List`,
    namespaced: options.namespaced,
    builtin,
    shortNames: options.shortNames ?? [],
    categories: options.categories ?? [],
    subresources: { status: options.subresources?.status ?? false, scale: options.subresources?.scale ?? false },
    schema: options.schema,
    ...(metadataOnly ? { metadataOnly: true } : {})
  })
}

/** A built-in kind (the generated modules use it; `Kind.make` is the public form). */
export const builtin = <S extends Schema.Codec<any, any>>(options: KindOptions<S>): Kind<S["Type"], true> =>
  build(options, true)
