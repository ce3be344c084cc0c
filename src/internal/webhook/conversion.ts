/**
 * Conversion of custom resources between the versions of a CRD: each version's Schema decodes and
 * encodes its objects, and a Schema transformation between each two adjacent versions (older →
 * newer, both directions) carries them across; versions further apart go through the ones between.
 *
 * Lossless: what a conversion to version B cannot hold of an object in version A is kept on the B
 * object, in the annotation `conversion.<group>/<A>`, and put back when the object is converted
 * to A again. The annotation lists, for each field (arrays count as one field) where a plain
 * round trip B → A differs from the A object: its path, its value in A, and the value the plain
 * round trip gives (`was`). On the way back a field is restored only where the plain conversion
 * still gives `was`: a field changed meanwhile through version B keeps the change. Nothing is
 * kept when the plain round trip already gives the object back (a field added in B with a
 * default, for instance), so a round trip adds no annotation.
 *
 * Conversions are synchronous and pure (kube-apiserver may convert any object at any time, and the
 * in-memory server converts on every read): transformations that need services or run
 * asynchronously are refused when they run.
 * @internal
 */
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as SchemaTransformation from "effect/SchemaTransformation"
import type * as Kind from "../../Kind.ts"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type JsonObject = { readonly [key: string]: unknown }

/** A transformation between the decoded objects of two adjacent versions (`decode`: older → newer). */
export interface Step {
  readonly from: Kind.Any
  readonly to: Kind.Any
  readonly transformation: SchemaTransformation.Transformation<any, any, never, never>
}

export interface ConversionFailure {
  readonly _tag: "ConversionFailure"
  readonly message: string
}

export interface Converter {
  readonly group: string
  readonly kind: string
  /** Version names, oldest first. */
  readonly versions: ReadonlyArray<string>
  /** The annotation that keeps what version `version` had and another version cannot hold. */
  readonly annotation: (version: string) => string
  /** Converts an object (as the API server sends it) to `version`. */
  readonly convert: (object: unknown, version: string) => JsonObject | ConversionFailure
}

const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

const failure = (message: string): ConversionFailure => ({ _tag: "ConversionFailure", message })

export const isFailure = (u: unknown): u is ConversionFailure => isObject(u) && u["_tag"] === "ConversionFailure"

export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
  }
  return false
}

type Path = ReadonlyArray<string>

const getAt = (root: unknown, path: Path): unknown => {
  let v = root
  for (const k of path) {
    if (!isObject(v) || !Object.hasOwn(v, k)) return undefined
    v = v[k]
  }
  return v
}

/** A copy of `root` with the value at `path` set (undefined: removed), creating objects on the way. */
const setAt = (root: JsonObject, path: Path, value: unknown): JsonObject => {
  const [head, ...rest] = path
  if (head === undefined) return root
  const copy: Record<string, unknown> = { ...root }
  if (rest.length === 0) {
    if (value === undefined) delete copy[head]
    else copy[head] = value
    return copy
  }
  const child = isObject(copy[head]) ? copy[head] as JsonObject : {}
  copy[head] = setAt(child, rest, value)
  return copy
}

/** The fields where two objects differ; objects are compared field by field, anything else whole. */
const differences = (a: unknown, b: unknown, path: Array<string>, out: Array<Path>): void => {
  if (isObject(a) && isObject(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[k] === undefined && b[k] === undefined) continue
      differences(a[k], b[k], [...path, k], out)
    }
    return
  }
  if (!jsonEqual(a, b)) out.push(path)
}

/** What conversion passes through untouched: the object's identity. */
const envelope = new Set(["apiVersion", "kind", "metadata"])

interface Lost {
  readonly path: Path
  /** The field in the original version (absent: it had none). */
  readonly value?: unknown
  /** The field as a plain conversion back gives it (absent: none). */
  readonly was?: unknown
}

const parseLost = (text: string | undefined): ReadonlyArray<Lost> | undefined => {
  if (text === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    if (!isObject(parsed) || !Array.isArray(parsed["lost"])) return undefined
    return parsed["lost"].filter((l): l is Lost =>
      isObject(l) && Array.isArray(l["path"]) && l["path"].every((p) => typeof p === "string")
    )
  } catch {
    return undefined
  }
}

const annotationsOf = (object: JsonObject): Record<string, string> => {
  const meta = object["metadata"]
  const annotations = isObject(meta) ? meta["annotations"] : undefined
  return isObject(annotations) ? { ...annotations } as Record<string, string> : {}
}

const withAnnotations = (object: JsonObject, annotations: Record<string, string>): JsonObject => {
  const meta: Record<string, unknown> = isObject(object["metadata"]) ? { ...object["metadata"] } : {}
  if (Object.keys(annotations).length === 0) delete meta["annotations"]
  else meta["annotations"] = annotations
  return { ...object, metadata: meta }
}

const describe = (object: JsonObject) => {
  const meta = isObject(object["metadata"]) ? object["metadata"] : {}
  const ns = typeof meta["namespace"] === "string" && meta["namespace"] !== "" ? `${meta["namespace"]}/` : ""
  return `${ns}${typeof meta["name"] === "string" ? meta["name"] : "<no name>"}`
}

const syncOnly = { errors: "all" } as const

type Plain = (object: JsonObject) => JsonObject | string

/** A Schema codec run synchronously: the value or the message. */
const run = (f: (u: unknown, o?: typeof syncOnly) => Exit.Exit<unknown, Schema.SchemaError>) => (input: unknown): unknown | { error: string } => {
  let exit: Exit.Exit<unknown, Schema.SchemaError>
  try {
    exit = f(input, syncOnly)
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) }
  }
  if (Exit.isSuccess(exit)) return exit.value
  const reason = exit.cause.reasons[0]
  const error = reason?._tag === "Fail" ? reason.error.message : reason?._tag === "Die" ? String((reason.defect as Error)?.message ?? reason.defect) : "interrupted"
  return { error }
}

const isError = (u: unknown): u is { error: string } => isObject(u) && typeof u["error"] === "string" && Object.keys(u).length === 1

/** Plain conversions of one step, and the normal form of each version (its Schema's encode ∘ decode). */
const plainStep = (step: Step) => {
  const composed = step.from.schema.pipe(Schema.decodeTo(Schema.toType(step.to.schema), step.transformation))
  const decodeUp = run(Schema.decodeUnknownExit(composed as Schema.Codec<unknown, unknown>))
  const encodeTo = run(Schema.encodeUnknownExit(step.to.schema as Schema.Codec<unknown, unknown>))
  const decodeTo = run(Schema.decodeUnknownExit(step.to.schema as Schema.Codec<unknown, unknown>))
  const encodeDown = run(Schema.encodeUnknownExit(composed as Schema.Codec<unknown, unknown>))
  const chain = (first: (u: unknown) => unknown, second: (u: unknown) => unknown): Plain => (object) => {
    const a = first(object)
    if (isError(a)) return a.error
    const b = second(a)
    if (isError(b)) return b.error
    return isObject(b) ? b : "the conversion did not give an object"
  }
  return { up: chain(decodeUp, encodeTo), down: chain(decodeTo, encodeDown) }
}

const normalizer = (kind: Kind.Any): Plain => {
  const decode = run(Schema.decodeUnknownExit(kind.schema as Schema.Codec<unknown, unknown>))
  const encode = run(Schema.encodeUnknownExit(kind.schema as Schema.Codec<unknown, unknown>))
  return (object) => {
    const a = decode(object)
    if (isError(a)) return a.error
    const b = encode(a)
    return isError(b) ? b.error : b as JsonObject
  }
}

/**
 * The converter of a CRD's versions (oldest first) given a step for each two adjacent ones;
 * problems with the steps (missing, in the wrong place, of another kind) are returned as messages.
 */
export const make = (
  versions: ReadonlyArray<Kind.Any>,
  steps: ReadonlyArray<Step>,
  options: { readonly annotationPrefix?: string } = {}
): Converter | ReadonlyArray<string> => {
  const problems: Array<string> = []
  const first = versions[0]
  if (first === undefined) return ["no versions"]
  const names = versions.map((v) => v.version)
  const byPair = new Map<string, Step>()
  for (const s of steps) {
    if (s.from.group !== first.group || s.from.kind !== first.kind || s.to.group !== first.group || s.to.kind !== first.kind) {
      problems.push(`the step ${s.from.apiVersion} → ${s.to.apiVersion} is not between versions of ${first.kind}.${first.group}`)
      continue
    }
    const i = names.indexOf(s.from.version)
    if (i < 0 || names[i + 1] !== s.to.version) {
      problems.push(
        `the step ${s.from.version} → ${s.to.version} does not join two adjacent versions (the versions, oldest first: ${names.join(", ")})`
      )
      continue
    }
    byPair.set(s.from.version, s)
  }
  for (let i = 0; i + 1 < names.length; i++) {
    if (!byPair.has(names[i]!)) problems.push(`no step converts ${names[i]} ↔ ${names[i + 1]}`)
  }
  if (problems.length > 0) return problems

  const prefix = options.annotationPrefix ?? `conversion.${first.group}`
  const annotation = (version: string) => `${prefix}/${version}`
  const normal = new Map(versions.map((v) => [v.version, normalizer(v)]))
  const plain = new Map<string, Plain>()
  for (let i = 0; i + 1 < names.length; i++) {
    const { up, down } = plainStep(byPair.get(names[i]!)!)
    plain.set(`${names[i]}>${names[i + 1]}`, up)
    plain.set(`${names[i + 1]}>${names[i]}`, down)
  }
  const apiVersionOf = new Map(versions.map((v) => [v.version, v.apiVersion]))

  /** One step A → B (adjacent), keeping what B cannot hold of A and restoring what A kept of B. */
  const convertStep = (x: JsonObject, a: string, b: string): JsonObject | string => {
    const annotations = annotationsOf(x)
    const kept = parseLost(annotations[annotation(b)])
    delete annotations[annotation(b)]
    // an A object carrying A's own annotation is stale: it never says anything about this object
    delete annotations[annotation(a)]
    const clean = withAnnotations(x, annotations)
    const xNormal = normal.get(a)!(clean)
    if (typeof xNormal === "string") return xNormal
    const converted = plain.get(`${a}>${b}`)!(clean)
    if (typeof converted === "string") return converted
    let y: JsonObject = converted
    for (const l of kept ?? []) {
      if (jsonEqual(getAt(y, l.path), l.was)) y = setAt(y, l.path, l.value)
    }
    // metadata is the object's identity: only labels and annotations may change
    const convertedMeta = isObject(y["metadata"]) ? y["metadata"] : {}
    const meta: Record<string, unknown> = { ...(isObject(x["metadata"]) ? x["metadata"] : {}) }
    for (const k of ["labels", "annotations"]) {
      if (convertedMeta[k] === undefined) delete meta[k]
      else meta[k] = convertedMeta[k]
    }
    y = { ...y, metadata: meta }
    const yAnnotations = annotationsOf(y)
    delete yAnnotations[annotation(a)]
    delete yAnnotations[annotation(b)]
    y = withAnnotations(y, yAnnotations)

    const back = plain.get(`${b}>${a}`)!(y)
    if (typeof back === "string") return `the way back to ${a} fails: ${back}`
    const paths: Array<Path> = []
    for (const k of new Set([...Object.keys(back), ...Object.keys(xNormal)])) {
      if (envelope.has(k)) continue
      differences(back[k], xNormal[k], [k], paths)
    }
    if (paths.length === 0) return y
    const lost = paths.map((p) => {
      const value = getAt(xNormal, p)
      const was = getAt(back, p)
      return { path: p, ...(value !== undefined ? { value } : {}), ...(was !== undefined ? { was } : {}) }
    })
    return withAnnotations(y, { ...annotationsOf(y), [annotation(a)]: JSON.stringify({ lost }) })
  }

  const convert = (object: unknown, version: string): JsonObject | ConversionFailure => {
    if (!isObject(object)) return failure("the object to convert is not an object")
    const target = names.indexOf(version)
    if (target < 0) return failure(`${first.kind}.${first.group} has no version ${version} (it has ${names.join(", ")})`)
    const apiVersion = typeof object["apiVersion"] === "string" ? object["apiVersion"] : ""
    const source = names.findIndex((n) => apiVersionOf.get(n) === apiVersion)
    if (source < 0) {
      return failure(`${first.kind} ${describe(object)} has apiVersion ${JSON.stringify(apiVersion)}, not one of ${[...apiVersionOf.values()].join(", ")}`)
    }
    let current: JsonObject = object
    const direction = target > source ? 1 : -1
    for (let i = source; i !== target; i += direction) {
      const a = names[i]!
      const b = names[i + direction]!
      const next = convertStep(current, a, b)
      if (typeof next === "string") return failure(`cannot convert ${first.kind} ${describe(object)} from ${a} to ${b}: ${next}`)
      current = next
    }
    return { ...current, apiVersion: apiVersionOf.get(version)! }
  }

  return { group: first.group, kind: first.kind, versions: names, annotation, convert }
}
