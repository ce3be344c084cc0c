/**
 * Decoding objects with their kind's Schema (and encoding them before they are sent), with the
 * compiled parser cached per Schema.
 *
 * Each Schema is handed to Effect's JIT compiler (`effect/schema/SchemaJITCompiler`) before its
 * parser is built: it generates a plain function per Schema (and per child Schema) that decodes a
 * valid object ten to twenty times faster than the interpreter, which matters for an informer
 * decoding every list item and watch event. The Schema and its semantics are unchanged: when the
 * generated function rejects an input, or cannot be generated (no `new Function`), the interpreter
 * runs and reports the same issue. The registration is global per Schema AST, which only speeds up
 * other parsers of the same Schema built afterwards.
 * @internal
 */
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import * as SchemaJITCompiler from "effect/schema/SchemaJITCompiler"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import type { Any as AnyKind } from "../Kind.ts"
import { DecodeError } from "../KubeError.ts"

type Parser = (input: unknown) => Result.Result<unknown, SchemaIssue.Issue>

const decoders = new WeakMap<Schema.Top, Parser>()
const encoders = new WeakMap<Schema.Top, Parser>()
const formatter = SchemaIssue.makeFormatterDefault()

/**
 * A parser that runs the compiled decoder directly (no fiber, no Exit) and, only when it rejects the
 * input, the Result parser with every issue collected.
 */
const withFastPath = (fast: (input: unknown) => unknown, detailed: Parser): Parser => (input) => {
  let value: unknown
  try {
    value = fast(input)
  } catch {
    return detailed(input)
  }
  return Result.succeed(value)
}

/**
 * Whether decoding with this AST yields a value deep-equal to its input whenever the input is
 * valid: no transformation anywhere, no class or custom declaration, and no object level that
 * drops keys it does not declare (each level with declared keys also has a rest of any string
 * key, as `Kind.Open` makes). Kubernetes objects are usually built like that.
 */
const decodesToItself = (ast: SchemaAST.AST, visiting: Set<SchemaAST.AST> = new Set()): boolean => {
  if (ast.encoding !== undefined) return false
  if (visiting.has(ast)) return true // a recursive schema: judged by the rest of its tree
  visiting.add(ast)
  const all = (asts: ReadonlyArray<SchemaAST.AST>) => asts.every((a) => decodesToItself(a, visiting))
  try {
    switch (ast._tag) {
      case "Declaration":
        return false
      case "Objects": {
        if (ast.encodingChecks !== undefined) return false
        const anyStringKey = ast.indexSignatures.some((is) =>
          is.parameter._tag === "String" && is.parameter.checks === undefined && is.parameter.encoding === undefined
        )
        if ((ast.propertySignatures.length > 0 || ast.indexSignatures.length > 0) && !anyStringKey) return false
        return all(ast.propertySignatures.map((ps) => ps.type)) && all(ast.indexSignatures.map((is) => is.type))
      }
      case "Arrays":
        return ast.encodingChecks === undefined && all(ast.elements) && all(ast.rest)
      case "Union":
        return ast.encodingChecks === undefined && ast.options?.mode !== "oneOf" && all(ast.types)
      case "Suspend":
        return decodesToItself(ast.thunk(), visiting)
      default:
        // keywords, literals, enums and template literals decode to their input
        return true
    }
  } finally {
    visiting.delete(ast)
  }
}

const decoderOf = (schema: Schema.Codec<any, any>): Parser => {
  let parser = decoders.get(schema)
  if (parser === undefined) {
    SchemaJITCompiler.enable(schema.ast)
    const codec = schema as Schema.Codec<unknown, unknown>
    const detailed = SchemaParser.decodeUnknownResult(codec, { errors: "all" })
    if (decodesToItself(schema.ast)) {
      // Decoding would copy a valid input level by level into an equal value: check it with the
      // compiled type guard instead (no allocation) and keep the input; an invalid input gets the
      // full decode and its issues.
      SchemaJITCompiler.enable(SchemaAST.toType(schema.ast))
      const guard = SchemaParser.is(codec)
      parser = (input) => (guard(input) ? Result.succeed(input) : detailed(input))
    } else {
      parser = withFastPath(SchemaParser.decodeUnknownSync(codec), detailed)
    }
    decoders.set(schema, parser)
  }
  return parser
}

const encoderOf = (schema: Schema.Codec<any, any>): Parser => {
  let parser = encoders.get(schema)
  if (parser === undefined) {
    // encoding runs the flipped AST (memoized by SchemaAST.flip)
    SchemaJITCompiler.enable(SchemaAST.flip(schema.ast))
    const codec = schema as Schema.Codec<unknown, unknown>
    parser = withFastPath(SchemaParser.encodeUnknownSync(codec), SchemaParser.encodeUnknownResult(codec, { errors: "all" }))
    encoders.set(schema, parser)
  }
  return parser
}

/** The name, namespace, uid and resourceVersion of a raw object, whatever its shape. */
export const rawMeta = (raw: unknown) => {
  const m = (raw as { metadata?: Record<string, unknown> } | null)?.metadata
  const str = (v: unknown) => (typeof v === "string" ? v : undefined)
  return {
    name: str(m?.["name"]),
    namespace: str(m?.["namespace"]),
    uid: str(m?.["uid"]),
    resourceVersion: str(m?.["resourceVersion"])
  }
}

/**
 * Decodes a raw object of `kind` (filling `apiVersion` and `kind`, which list items lack).
 * Returns the decoded object or a DecodeError naming it.
 */
export const decodeObject = <A>(kind: AnyKind, raw: unknown): A | DecodeError => {
  if (typeof raw === "object" && raw !== null) {
    const o = raw as { apiVersion?: unknown; kind?: unknown }
    if (o.apiVersion === undefined) o.apiVersion = kind.apiVersion
    if (o.kind === undefined) o.kind = kind.kind
  }
  const result = decoderOf(kind.schema)(raw)
  if (Result.isSuccess(result)) return result.success as A
  const meta = rawMeta(raw)
  return new DecodeError({
    kind: kind.kind,
    ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
    ...(meta.name !== undefined ? { name: meta.name } : {}),
    issue: formatter(result.failure)
  })
}

/** Encodes an object of `kind` for sending, or returns the formatted issue. */
export const encodeObject = (kind: AnyKind, value: unknown): Result.Result<unknown, string> => {
  const result = encoderOf(kind.schema)(value)
  return Result.isSuccess(result) ? Result.succeed(result.success) : Result.fail(formatter(result.failure))
}

export const isDecodeError = (u: unknown): u is DecodeError => u instanceof DecodeError
