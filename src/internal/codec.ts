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
import * as Schema from "effect/Schema"
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

/**
 * Effect's JIT compiles a guard for a whole Schema tree only up to a node budget (2,048 in effect
 * 4.1) and with no `Suspend` in it; past that its guard runs the interpreter, an Effect per call.
 * A Pod, a Deployment or a custom resource holding a pod template is beyond it. Such a tree is
 * checked here level by level, down to subtrees small enough for Effect to compile, which keeps
 * the guard allocation-free and compiled below its top levels.
 */
const compiledGuardNodes = 1024

/** Nodes of a tree as Effect's JIT counts them (each occurrence), up to `limit`. */
const nodeCount = (ast: SchemaAST.AST, limit: number): number => {
  let n = 0
  const visit = (a: SchemaAST.AST) => {
    if (++n > limit) return
    switch (a._tag) {
      case "Objects":
        for (const p of a.propertySignatures) visit(p.type)
        for (const i of a.indexSignatures) {
          visit(i.parameter)
          visit(i.type)
        }
        break
      case "Arrays":
        for (const e of a.elements) visit(e)
        for (const e of a.rest) visit(e)
        break
      case "Union":
        for (const t of a.types) visit(t)
        break
      case "TemplateLiteral":
        for (const p of a.parts) visit(p)
        break
    }
  }
  visit(ast)
  return n
}

type Guard = (input: unknown) => boolean

/** How a type-side AST is checked: whole by Effect, or split here (see {@link compiledGuardNodes}). */
export type GuardPlan =
  | { readonly _tag: "Effect"; readonly nodes: number; readonly compilable: boolean }
  | {
    readonly _tag: "Object"
    /** The object's shape with its small fields (named together), then each large field. */
    readonly fields: ReadonlyArray<{ readonly name: string; readonly plan: GuardPlan }>
  }
  | { readonly _tag: "Array"; readonly item: GuardPlan }

const guards = new WeakMap<SchemaAST.AST, { readonly guard: Guard; readonly plan: GuardPlan }>()

/** A level that is only an object or array shape (no checks), so that it can be tested here. */
const splittable = (ast: SchemaAST.AST) =>
  ast.checks === undefined && ast.encoding === undefined &&
  (ast._tag === "Objects"
    ? ast.indexSignatures.every(isOpenRest) && ast.propertySignatures.every((p) => typeof p.name === "string")
    : ast._tag === "Arrays" && ast.elements.length === 0 && ast.rest.length === 1)

/** Whether Effect's JIT compiles a guard for this tree: no node it declines (Suspend, Declaration). */
const compilable = (ast: SchemaAST.AST, seen: Set<SchemaAST.AST> = new Set()): boolean => {
  if (ast._tag === "Suspend" || ast._tag === "Declaration") return false
  if (seen.has(ast)) return true
  seen.add(ast)
  switch (ast._tag) {
    case "Objects":
      return ast.propertySignatures.every((p) => compilable(p.type, seen)) && ast.indexSignatures.every((i) => compilable(i.type, seen))
    case "Arrays":
      return ast.elements.every((e) => compilable(e, seen)) && ast.rest.every((e) => compilable(e, seen))
    case "Union":
      return ast.types.every((t) => compilable(t, seen))
    default:
      return true
  }
}

/** An index signature that accepts any key and any value (`Kind.Open`'s rest): no check at all. */
const isOpenRest = (is: SchemaAST.IndexSignature) =>
  is.parameter._tag === "String" && is.parameter.checks === undefined &&
  (is.type._tag === "Unknown" || is.type._tag === "Any")

const leanASTs = new WeakMap<SchemaAST.AST, SchemaAST.AST>()

/**
 * The same tree for a guard without the index signatures that accept anything, where the object
 * declares fields (so it is still checked to be an object): Effect's guard would list every key of
 * each such object (`Object.keys`) only to accept it.
 */
const lean = (ast: SchemaAST.AST): SchemaAST.AST => {
  let out = leanASTs.get(ast)
  if (out !== undefined) return out
  out = ast
  switch (ast._tag) {
    case "Objects": {
      const props = ast.propertySignatures.map((p) => {
        const type = lean(p.type)
        return type === p.type ? p : new SchemaAST.PropertySignature(p.name, type)
      })
      const indexes = ast.propertySignatures.length > 0 ? ast.indexSignatures.filter((is) => !isOpenRest(is)) : ast.indexSignatures
      if (props.some((p, i) => p !== ast.propertySignatures[i]) || indexes.length !== ast.indexSignatures.length) {
        out = new SchemaAST.Objects(props, indexes, ast.annotations, ast.checks, undefined, ast.context, ast.encodingChecks)
      }
      break
    }
    case "Arrays": {
      const elements = ast.elements.map(lean)
      const rest = ast.rest.map(lean)
      if (elements.some((e, i) => e !== ast.elements[i]) || rest.some((e, i) => e !== ast.rest[i])) {
        out = new SchemaAST.Arrays(ast.isMutable, elements, rest, ast.annotations, ast.checks, undefined, ast.context, ast.encodingChecks)
      }
      break
    }
    case "Union": {
      const types = ast.types.map(lean)
      if (types.some((t, i) => t !== ast.types[i])) {
        out = new SchemaAST.Union(types, ast.options, ast.annotations, ast.checks, undefined, ast.context, ast.encodingChecks)
      }
      break
    }
  }
  leanASTs.set(ast, out)
  return out
}

/** The guard of a type-side AST, compiled by Effect where the tree allows it. */
export const guardOf = (ast: SchemaAST.AST): { readonly guard: Guard; readonly plan: GuardPlan } => {
  let entry = guards.get(ast)
  if (entry !== undefined) return entry
  const nodes = nodeCount(ast, compiledGuardNodes + 1)
  if (ast._tag === "Objects" && (nodes > compiledGuardNodes || !compilable(ast)) && splittable(ast)) {
    // the small fields (smallest first) checked with the object's shape in one compiled guard, each
    // large one on its own
    const sized = ast.propertySignatures
      .map((p) => ({ p, nodes: nodeCount(p.type, compiledGuardNodes + 1), compilable: compilable(p.type) }))
      .sort((a, b) => a.nodes - b.nodes)
    const packed: Array<SchemaAST.PropertySignature> = []
    let total = 1 + 2 * ast.indexSignatures.length
    const large: Array<SchemaAST.PropertySignature> = []
    for (const { compilable, nodes, p } of sized) {
      if (compilable && total + nodes <= compiledGuardNodes) {
        packed.push(p)
        total += nodes
      } else large.push(p)
    }
    const fields = Object.fromEntries(packed.map((p) => [p.name, Schema.make<Schema.Top>(p.type)]))
    const pack = ast.indexSignatures.length > 0
      ? Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)])
      : Schema.Struct(fields)
    const shape = guardOf(SchemaAST.toType(pack.ast))
    const checkShape = shape.guard
    const separate = large.map((p) => ({
      name: p.name as string,
      optional: p.type.context?.isOptional === true,
      ...guardOf(p.type)
    }))
    const guard: Guard = (input) => {
      if (!checkShape(input)) return false
      const o = input as Record<string, unknown>
      for (let i = 0; i < separate.length; i++) {
        const f = separate[i]!
        if (f.name in o) {
          if (!f.guard(o[f.name])) return false
        } else if (!f.optional) return false
      }
      return true
    }
    const fieldPlans = [
      { name: packed.map((p) => String(p.name)).join(",") || "(shape)", plan: shape.plan },
      ...separate.map((f) => ({ name: f.name, plan: f.plan }))
    ]
    entry = { guard, plan: { _tag: "Object", fields: fieldPlans } }
  } else if (ast._tag === "Arrays" && (nodes > compiledGuardNodes || !compilable(ast)) && splittable(ast)) {
    const item = guardOf(ast.rest[0]!)
    const check = item.guard
    const guard: Guard = (input) => {
      if (!Array.isArray(input)) return false
      for (let i = 0; i < input.length; i++) if (!check(input[i])) return false
      return true
    }
    entry = { guard, plan: { _tag: "Array", item: item.plan } }
  } else {
    const checked = lean(ast)
    SchemaJITCompiler.enable(checked)
    const guard: Guard = SchemaParser.is(Schema.make<Schema.Top>(checked))
    entry = { guard, plan: { _tag: "Effect", nodes, compilable: nodes <= compiledGuardNodes && compilable(ast) } }
  }
  guards.set(ast, entry)
  return entry
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
      const guard = guardOf(SchemaAST.toType(schema.ast)).guard
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
 * The decoder of raw objects of `kind` (filling `apiVersion` and `kind`, which list items lack):
 * the decoded object or a DecodeError naming it. Resolved once, for a caller that decodes many
 * (a watch: no schema lookup per event).
 */
export const objectDecoder = <A>(kind: AnyKind): (raw: unknown) => A | DecodeError => {
  const parse = decoderOf(kind.schema)
  return (raw) => {
    if (typeof raw === "object" && raw !== null) {
      const o = raw as { apiVersion?: unknown; kind?: unknown }
      if (o.apiVersion === undefined) o.apiVersion = kind.apiVersion
      if (o.kind === undefined) o.kind = kind.kind
    }
    const result = parse(raw)
    if (Result.isSuccess(result)) return result.success as A
    const meta = rawMeta(raw)
    return new DecodeError({
      kind: kind.kind,
      ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
      ...(meta.name !== undefined ? { name: meta.name } : {}),
      issue: formatter(result.failure)
    })
  }
}

/** Decodes one raw object of `kind` (see {@link objectDecoder}). */
export const decodeObject = <A>(kind: AnyKind, raw: unknown): A | DecodeError => objectDecoder<A>(kind)(raw)

/** Encodes an object of `kind` for sending, or returns the formatted issue. */
export const encodeObject = (kind: AnyKind, value: unknown): Result.Result<unknown, string> => {
  const result = encoderOf(kind.schema)(value)
  return Result.isSuccess(result) ? Result.succeed(result.success) : Result.fail(formatter(result.failure))
}

export const isDecodeError = (u: unknown): u is DecodeError => u instanceof DecodeError
