/**
 * Effect Schema → structural `openAPIV3Schema` (apiextensions.k8s.io/v1).
 *
 * Effect describes the encoded side of a Schema as JSON Schema draft 2020-12; this pass rewrites that
 * into the OpenAPI v3.0 subset Kubernetes accepts for CRDs ("structural" schemas: a `type` on every
 * node, no `$ref`, `nullable` instead of a null type, `properties` or `additionalProperties` but not
 * both, junctors holding value validations only) and reports, with the path, what it cannot express.
 *
 * The raw AST is lowered (not `Schema.toCodecJson`'s canonical codec) because the canonical codec
 * turns `Schema.Number` into `number | "NaN" | "Infinity" | "-Infinity"` and drops the checks and
 * annotations on it; lowering the raw AST keeps them as siblings of that union, which is collapsed
 * here to `type: number` (JSON cannot carry NaN or ±Infinity anyway).
 * @internal
 */
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaRepresentation from "effect/SchemaRepresentation"

/** One thing a Schema asks for that a structural schema cannot say. */
export interface Issue {
  readonly path: string
  readonly message: string
}

/** A JSON Schema / OpenAPI node. */
export type Node = { [key: string]: unknown }

const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && !Array.isArray(u)

/** Structural equality of JSON values (key order ignored). */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  }
  if (isNode(a) && isNode(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
  }
  return false
}

const PRESERVE = "x-kubernetes-preserve-unknown-fields"
const INT_OR_STRING = "x-kubernetes-int-or-string"
const EMBEDDED = "x-kubernetes-embedded-resource"
const LIST_TYPE = "x-kubernetes-list-type"
const LIST_MAP_KEYS = "x-kubernetes-list-map-keys"

/** Keys of apiextensions.k8s.io/v1 JSONSchemaProps; anything else the server would drop or refuse. */
const supported = new Set([
  "description",
  "type",
  "format",
  "title",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "nullable",
  "example",
  "externalDocs",
  PRESERVE,
  EMBEDDED,
  INT_OR_STRING,
  LIST_TYPE,
  LIST_MAP_KEYS,
  "x-kubernetes-map-type",
  "x-kubernetes-validations"
])

/** Annotations Effect may emit that OpenAPI v3.0 has no place for: dropped without loss of validation. */
const droppable = new Set([
  "$schema",
  "$id",
  "$comment",
  "$defs",
  "examples",
  "readOnly",
  "writeOnly",
  "contentEncoding",
  "contentMediaType",
  "contentSchema",
  "deprecated",
  // key constraints of records: Kubernetes has no way to say them; the decoder still checks them
  "propertyNames"
])

/** What may stand in a junctor (allOf/anyOf/oneOf/not) of a structural schema. */
const valueValidation = new Set([
  "format",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "allOf",
  "anyOf",
  "oneOf",
  "not"
])

const annotationOnly = new Set(["description", "title", "default", "example", "externalDocs"])

const scalarTypes = new Set(["string", "integer", "number", "boolean"])

const child = (path: string, key: string) => (path === "" ? key : `${path}.${key}`)

/** The JSON Schema (draft 2020-12) of a Schema's encoded side, with every reference inlined but recursive ones. */
export const jsonSchemaOf = (schema: Schema.Top): Node => {
  const representation = SchemaRepresentation.toRepresentation(schema.ast, { referencePolicy: () => undefined })
  const doc = SchemaRepresentation.toJsonSchemaDocument(representation, {
    onExcessProperty: "error",
    includeAnnotationKey: (key) => key.startsWith("x-kubernetes-")
  })
  // recursive parts stay behind `$ref`s into doc.definitions, which the conversion reports
  return doc.schema as Node
}

/** Effect's JSON form of `Schema.Number`: a number or one of the strings "NaN", "Infinity", "-Infinity". */
const isNumberEncoding = (branches: unknown): boolean => {
  if (!Array.isArray(branches) || branches.length !== 2) return false
  const [n, s] = branches as Array<unknown>
  return isNode(n) && n["type"] === "number" && Object.keys(n).length === 1 &&
    isNode(s) && s["type"] === "string" && Array.isArray(s["enum"]) && s["enum"].length === 3 &&
    ["NaN", "Infinity", "-Infinity"].every((v) => (s["enum"] as Array<unknown>).includes(v))
}

/** draft 2020-12 exclusive bounds are numbers; OpenAPI v3.0 (Kubernetes) has booleans next to minimum/maximum. */
const fixExclusiveBounds = (s: Node) => {
  if (typeof s["exclusiveMinimum"] === "number") {
    const ex = s["exclusiveMinimum"]
    if (typeof s["minimum"] !== "number" || ex >= s["minimum"]) {
      s["minimum"] = ex
      s["exclusiveMinimum"] = true
    } else delete s["exclusiveMinimum"]
  }
  if (typeof s["exclusiveMaximum"] === "number") {
    const ex = s["exclusiveMaximum"]
    if (typeof s["maximum"] !== "number" || ex <= s["maximum"]) {
      s["maximum"] = ex
      s["exclusiveMaximum"] = true
    } else delete s["exclusiveMaximum"]
  }
}

/**
 * Converts a whole tree. `issues` collects what cannot be expressed; the returned node is still
 * well-formed so that conversion can go on and report every problem at once.
 */
export const toStructural = (input: Node, path: string, issues: Array<Issue>): Node => convert(input, path, issues)

const convert = (input: Node, path: string, issues: Array<Issue>): Node => {
  const report = (message: string) => issues.push({ path: path === "" ? "<root>" : path, message })
  let s: Node = { ...input }

  for (const key of Object.keys(s)) if (droppable.has(key)) delete s[key]

  if (typeof s["$ref"] === "string") {
    report(
      "the Schema is recursive (Schema.suspend refers back to an enclosing Schema); a CRD schema cannot refer to " +
        "other schemas, so recursive structures cannot be expressed (model the recursion with a bounded depth, or " +
        "mark the field with CrdDefinition.preserveUnknownFields)"
    )
    return { type: "object", [PRESERVE]: true }
  }

  if (isNumberEncoding(s["anyOf"])) {
    delete s["anyOf"]
    s["type"] = "number"
  }

  if (Object.hasOwn(s, "const")) {
    s["enum"] = [s["const"]]
    delete s["const"]
  }

  if (isNode(s["not"])) {
    const not = s["not"]
    if (jsonEqual(not, { type: "null" }) && s["type"] === undefined) {
      // `Schema.Struct({})`: any non-null value, in practice an object whose fields are all dropped
      delete s["not"]
      s["type"] = "object"
      s["additionalProperties"] = false
    } else if (Object.keys(not).length === 0) {
      report("Schema.Never: no value can be valid here")
      delete s["not"]
    } else {
      s["not"] = junctorMember(not, path, issues)
    }
  }

  for (const junctor of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(s[junctor])) return finish(union(s, junctor, path, issues), path, issues)
  }
  if (Array.isArray(s["allOf"])) s = allOf(s, path, issues)

  fixExclusiveBounds(s)

  if (s["type"] === "null") {
    report("a value that can only be null cannot be expressed (Kubernetes prunes nulls from fields that are not nullable)")
    s["type"] = "string"
    s["nullable"] = true
  }

  if (s["type"] === "object") s = object(s, path, issues)
  if (s["type"] === "array") s = array(s, path, issues)

  if (s[EMBEDDED] === true) {
    if (s["type"] !== "object") report("CrdDefinition.embeddedResource needs an object Schema")
    s["type"] = "object"
    const props = isNode(s["properties"]) ? { ...s["properties"] } : undefined
    if (props !== undefined) {
      // apiVersion, kind and metadata of an embedded object are validated by the server itself
      if (props["apiVersion"] !== undefined) props["apiVersion"] = { type: "string" }
      if (props["kind"] !== undefined) props["kind"] = { type: "string" }
      if (props["metadata"] !== undefined) props["metadata"] = { type: "object" }
      s["properties"] = props
    }
    if (props === undefined || Object.keys(props).length === 0) s[PRESERVE] = true
  }

  if (s["type"] === undefined && s[PRESERVE] !== true && s[INT_OR_STRING] !== true) {
    const rest = Object.keys(s).filter((k) => !annotationOnly.has(k))
    if (rest.length === 0) {
      // Schema.Unknown / Schema.Any: any JSON value
      s[PRESERVE] = true
    } else {
      report(`no single type can be given to this value (${JSON.stringify(s)})`)
    }
  }
  return finish(s, path, issues)
}

/** Drops what the server would not keep, reporting validations it could not enforce. */
const finish = (s: Node, path: string, issues: Array<Issue>): Node => {
  fixExclusiveBounds(s)
  for (const key of Object.keys(s)) {
    if (supported.has(key)) continue
    if (!droppable.has(key)) {
      issues.push({ path: path === "" ? "<root>" : path, message: `the JSON Schema keyword "${key}" cannot be expressed in a CRD schema` })
    }
    delete s[key]
  }
  return s
}

const union = (s: Node, junctor: "anyOf" | "oneOf", path: string, issues: Array<Issue>): Node => {
  const report = (message: string) => issues.push({ path: path === "" ? "<root>" : path, message })
  const { [junctor]: raw, ...siblings } = s
  let branches = (raw as Array<unknown>).filter(isNode)
  // a Schema.Number flattened into an enclosing union: its "NaN" | "Infinity" | "-Infinity" strings
  const nan = branches.findIndex((b, i) => i > 0 && isNumberEncoding([branches[i - 1], b]))
  if (nan > 0) branches = branches.filter((_, i) => i !== nan)
  const nonNull = branches.filter((b) => !(b["type"] === "null" && Object.keys(b).length === 1))
  const nullable = nonNull.length < branches.length
  const withNullable = (n: Node): Node => (nullable ? { ...n, nullable: true } : n)

  if (nonNull.length === 0) {
    report("a value that can only be null cannot be expressed")
    return { ...siblings, type: "string", nullable: true }
  }
  if (nonNull.length === 1) {
    // X | null, or Schema.optional(X) whose JSON form encodes undefined as null
    return withNullable(convert({ ...nonNull[0]!, ...stripType(siblings) }, path, issues))
  }

  // convert the branches first: Schema.Number collapses, nested unions flatten
  const converted: Array<Node> = []
  for (const b of nonNull) {
    const c = convert(b, path, [])
    const inner = c[junctor] ?? c["anyOf"]
    if (Array.isArray(inner) && c["type"] === undefined && c[INT_OR_STRING] !== true) {
      for (const x of inner) if (isNode(x)) converted.push(x)
    } else converted.push(c)
  }

  // literals of one type: one enum
  const types = new Set(converted.map((b) => b["type"]))
  if (
    types.size === 1 && scalarTypes.has(converted[0]!["type"] as string) &&
    converted.every((b) => Array.isArray(b["enum"]) && Object.keys(b).every((k) => k === "type" || k === "enum" || annotationOnly.has(k)))
  ) {
    const values: Array<unknown> = []
    for (const b of converted) for (const v of b["enum"] as Array<unknown>) if (!values.some((x) => jsonEqual(x, v))) values.push(v)
    return withNullable({ ...stripType(siblings), type: converted[0]!["type"], enum: values })
  }

  // integer | string: Kubernetes' IntOrString
  if (converted.length === 2 && types.size === 2 && types.has("integer") && types.has("string")) {
    const hoisted: Node = {}
    for (const b of converted) {
      for (const [k, v] of Object.entries(b)) {
        if (k === "type" || annotationOnly.has(k)) continue
        if (!valueValidation.has(k)) {
          report(`the ${b["type"]} branch of an integer-or-string union carries "${k}", which cannot be expressed`)
          continue
        }
        if (Object.hasOwn(hoisted, k) && !jsonEqual(hoisted[k], v)) {
          report(`both branches of an integer-or-string union constrain "${k}" differently; this cannot be expressed`)
          continue
        }
        hoisted[k] = v
      }
    }
    return withNullable({
      ...stripType(siblings),
      ...hoisted,
      [INT_OR_STRING]: true,
      anyOf: [{ type: "integer" }, { type: "string" }]
    })
  }

  // an explicit escape hatch: any JSON value
  if (siblings[PRESERVE] === true) return withNullable(stripType(siblings))

  const described = converted.map((b) => (b["type"] !== undefined ? String(b["type"]) : "any")).join(" | ")
  report(
    `a union of ${described} cannot be expressed structurally; supported unions are literals of one type (enum), ` +
      "X | null (nullable) and integer | string (CrdDefinition.IntOrString); mark the field with CrdDefinition.preserveUnknownFields " +
      "to accept any value here"
  )
  return withNullable({ ...stripType(siblings), [PRESERVE]: true })
}

const stripType = (n: Node): Node => {
  const { type: _, ...rest } = n
  return rest
}

/** A member of a junctor: value validations only (no type, no annotations, no extensions). */
const junctorMember = (member: Node, path: string, issues: Array<Issue>): Node => {
  const out: Node = {}
  const m = { ...member }
  fixExclusiveBounds(m)
  for (const [k, v] of Object.entries(m)) {
    if (annotationOnly.has(k) || droppable.has(k)) continue
    if (!valueValidation.has(k)) {
      issues.push({ path: path === "" ? "<root>" : path, message: `"${k}" inside allOf/anyOf/oneOf/not cannot be expressed structurally` })
      continue
    }
    out[k] = v
  }
  return out
}

const allOf = (s: Node, path: string, issues: Array<Issue>): Node => {
  const report = (message: string) => issues.push({ path: path === "" ? "<root>" : path, message })
  const { allOf: raw, ...rest } = s
  let out: Node = rest
  const kept: Array<Node> = []
  for (const member of (raw as Array<unknown>).filter(isNode)) {
    // StructWithRest: `allOf: [{ type: object, additionalProperties: <rest value> }]`
    if (member["type"] === "object" && Object.hasOwn(member, "additionalProperties") && member["properties"] === undefined) {
      const ap = member["additionalProperties"]
      const unknownValues = ap === true || (isNode(ap) && Object.keys(ap).length === 0)
      if (out[PRESERVE] === true || unknownValues) {
        // Kind.Open / StructWithRest(…, [Record(String, Unknown)]): keep what is not declared
        out[PRESERVE] = true
      } else if (out["properties"] === undefined || Object.keys(out["properties"] as Node).length === 0) {
        out["additionalProperties"] = ap
      } else {
        report(
          "declared fields next to a typed index signature (StructWithRest with a Record that is not Record(String, Unknown)) " +
            "cannot be expressed: a structural node has either properties or additionalProperties; use Kind.Open to keep " +
            "undeclared fields"
        )
      }
      continue
    }
    const m: Node = { ...member }
    if (m["type"] !== undefined && (out["type"] === undefined || m["type"] === out["type"] || (m["type"] === "number" && out["type"] === "integer"))) {
      delete m["type"]
    }
    const keys = Object.keys(m).filter((k) => !annotationOnly.has(k) && !droppable.has(k))
    const validations = keys.every((k) => valueValidation.has(k))
    if (!validations) {
      kept.push(junctorMember(m, `${path} (allOf)`, issues))
      continue
    }
    fixExclusiveBounds(m)
    // merge into the node when nothing collides, else keep as a value validation
    if (keys.every((k) => !Object.hasOwn(out, k) || jsonEqual(out[k], m[k]))) {
      for (const k of keys) out[k] = m[k]
    } else {
      kept.push(junctorMember(m, `${path} (allOf)`, issues))
    }
  }
  if (kept.length > 0) out = { ...out, allOf: kept }
  return out
}

const object = (s: Node, path: string, issues: Array<Issue>): Node => {
  const report = (message: string) => issues.push({ path: path === "" ? "<root>" : path, message })
  const out: Node = { ...s }
  const props = isNode(out["properties"]) ? out["properties"] : undefined
  const ap = out["additionalProperties"]
  if (isNode(out["patternProperties"])) {
    report("a Record whose keys follow a pattern (patternProperties) cannot be expressed; use Record(String, …)")
    delete out["patternProperties"]
  }
  if (props !== undefined && Object.keys(props).length > 0) {
    const converted: Node = {}
    const dropped = new Set<string>()
    for (const [key, value] of Object.entries(props)) {
      if (!isNode(value)) continue
      if (Object.keys(value).length === 1 && isNode(value["not"]) && Object.keys(value["not"]).length === 0) {
        // Schema.optionalKey(Schema.Never): the field can never be present
        dropped.add(key)
        continue
      }
      converted[key] = convert(value, child(path, key), issues)
    }
    out["properties"] = converted
    if (Array.isArray(out["required"])) {
      const required = (out["required"] as Array<string>).filter((k) => !dropped.has(k))
      if (required.length > 0) out["required"] = required
      else delete out["required"]
    }
    if (isNode(ap)) {
      report(
        "declared fields next to a typed index signature cannot be expressed: a structural node has either properties " +
          "or additionalProperties"
      )
    }
    delete out["additionalProperties"]
  } else {
    delete out["properties"]
    if (isNode(ap)) {
      out["additionalProperties"] = convert(ap, child(path, "*"), issues)
    } else {
      delete out["additionalProperties"]
      // Record(String, Unknown) emits a bare object: keep its content; an empty Struct emits additionalProperties: false
      if (ap === undefined && out[EMBEDDED] !== true) out[PRESERVE] = true
    }
    if (Array.isArray(out["required"]) && out[PRESERVE] !== true) delete out["required"]
  }
  return out
}

const array = (s: Node, path: string, issues: Array<Issue>): Node => {
  const report = (message: string) => issues.push({ path: path === "" ? "<root>" : path, message })
  const out: Node = { ...s }
  if (Array.isArray(out["prefixItems"])) {
    const prefix = out["prefixItems"] as Array<unknown>
    if (isNode(out["items"]) && prefix.every((p) => jsonEqual(p, out["items"]))) {
      // Schema.NonEmptyArray: the first element is like the others; minItems already says it exists
      delete out["prefixItems"]
    } else {
      report("a tuple (elements of different Schemas by position) cannot be expressed; use Schema.Array or a Struct")
      delete out["prefixItems"]
      if (out["items"] === undefined || out["items"] === false) out["items"] = isNode(prefix[0]) ? prefix[0] : {}
    }
  }
  for (const k of ["contains", "minContains", "maxContains", "unevaluatedItems"]) {
    if (Object.hasOwn(out, k)) {
      report(`"${k}" cannot be expressed in a CRD schema`)
      delete out[k]
    }
  }
  const items = isNode(out["items"]) ? out["items"] : {}
  out["items"] = convert(items, `${path}[*]`, issues)
  const converted = out["items"] as Node
  if (out["uniqueItems"] === true) {
    // Kubernetes refuses uniqueItems (quadratic to check); a set-typed list says the same for scalars
    delete out["uniqueItems"]
    if (out[LIST_TYPE] === undefined) {
      if (scalarTypes.has(converted["type"] as string)) out[LIST_TYPE] = "set"
      else report("unique elements of a list of objects cannot be expressed; use CrdDefinition.listMap with the identifying keys")
    }
  } else delete out["uniqueItems"]
  if (out[LIST_TYPE] === "map") {
    const keys = out[LIST_MAP_KEYS]
    const props = isNode(converted["properties"]) ? converted["properties"] : {}
    const required = Array.isArray(converted["required"]) ? (converted["required"] as Array<string>) : []
    if (converted["type"] !== "object") report("CrdDefinition.listMap needs a list of objects")
    if (!Array.isArray(keys) || keys.length === 0) report("CrdDefinition.listMap needs at least one key")
    else {
      for (const key of keys as Array<string>) {
        const p = props[key]
        if (!isNode(p)) report(`the list-map key "${key}" is not a field of the elements`)
        else if (!required.includes(key) && p["default"] === undefined) {
          report(`the list-map key "${key}" must be required or have a default (CrdDefinition.withDefault)`)
        } else if (!scalarTypes.has(p["type"] as string)) report(`the list-map key "${key}" must be a scalar`)
      }
    }
  } else if (out[LIST_TYPE] === "set" && !scalarTypes.has(converted["type"] as string)) {
    report("CrdDefinition.listSet needs a list of scalars")
  }
  return out
}

const rootFields: Node = {
  apiVersion: {
    type: "string",
    description: "The versioned schema of this representation of an object (group/version)."
  },
  kind: { type: "string", description: "The REST resource this object represents." },
  metadata: { type: "object" }
}

/** The structural schema of one Schema (a field of the object), at `path`. */
export const fieldSchema = (schema: Schema.Top, path: string, issues: Array<Issue>): Node =>
  toStructural(jsonSchemaOf(schema), path, issues)

/**
 * The `openAPIV3Schema` of a whole object: `apiVersion`, `kind` and `metadata` as the server wants them
 * (metadata is implicit; only name and generateName could be constrained), then either `spec` and
 * `status` from their own Schemas, or every other top-level field of a whole-object Schema. Fields the
 * Schema does not declare at the top level are pruned by the server.
 */
export const objectSchema = (
  parts:
    | { readonly _tag: "Parts"; readonly spec: Schema.Top; readonly status: Schema.Top | undefined }
    | { readonly _tag: "Whole"; readonly schema: Schema.Top },
  issues: Array<Issue>
): Node => {
  if (parts._tag === "Parts") {
    return {
      type: "object",
      properties: {
        ...rootFields,
        spec: fieldSchema(parts.spec, "spec", issues),
        ...(parts.status !== undefined ? { status: fieldSchema(parts.status, "status", issues) } : {})
      },
      required: ["spec"]
    }
  }
  const whole = jsonSchemaOf(parts.schema)
  if (whole["type"] !== "object" || !isNode(whole["properties"])) {
    issues.push({ path: "<root>", message: "the Schema of a whole object must be a Struct (see Kind.object)" })
    return { type: "object", properties: { ...rootFields } }
  }
  const properties: Node = { ...rootFields }
  for (const [key, value] of Object.entries(whole["properties"])) {
    if (Object.hasOwn(rootFields, key) || !isNode(value)) continue
    if (Object.keys(value).length === 1 && isNode(value["not"]) && Object.keys(value["not"]).length === 0) continue
    properties[key] = toStructural(value, key, issues)
  }
  const required = Array.isArray(whole["required"])
    ? (whole["required"] as Array<string>).filter((k) => !Object.hasOwn(rootFields, k) && Object.hasOwn(properties, k))
    : []
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) }
}

/** A check the decoder runs that the generated schema does not state, so the API server does not enforce it. */
export interface DecoderOnlyCheck {
  readonly path: string
  readonly check: string
}

const jsonTypeOf: Partial<Record<string, string>> = {
  String: "string",
  TemplateLiteral: "string",
  Number: "number",
  Boolean: "boolean",
  Arrays: "array",
  Objects: "object"
}

/**
 * Walks a Schema's encoded side for checks that have no JSON Schema form: custom filters, and for
 * instance `Schema.isPattern` with a RegExp lacking the `u` flag.
 */
export const decoderOnlyChecks = (schema: Schema.Top, path: string): Array<DecoderOnlyCheck> => {
  const out: Array<DecoderOnlyCheck> = []
  const seen = new Set<unknown>()
  const checks = (list: ReadonlyArray<SchemaRepresentation.Check>, type: string | undefined, at: string, never = false) => {
    for (const check of list) {
      if (check._tag === "FilterGroup") {
        checks(check.checks, type, at, never)
        continue
      }
      const toJsonSchema = check.annotations?.["toJsonSchema"]
      const fragment = typeof toJsonSchema === "function"
        ? (toJsonSchema as (input: unknown) => unknown)({ type, schemas: [] })
        : undefined
      // `[schema, true]` is an approximation: stated loosely (string lengths count code points) unless
      // empty; a fragment of keywords a CRD drops (propertyNames) states nothing
      const body = Array.isArray(fragment) ? fragment[0] : fragment
      const stated = isNode(body) && Object.keys(body).some((k) => !droppable.has(k)) && (Array.isArray(fragment) || Object.keys(body).length > 0)
      if (stated && !never) continue
      const expected = check.annotations?.["expected"]
      const description = typeof expected === "string"
        ? expected
        : check.representation?.id !== undefined
        ? check.representation.id
        : "a custom check"
      const payload = check.representation?.id === "effect/schema/isPattern" ? " (Effect exports a RegExp only with the u flag)" : ""
      out.push({ path: at === "" ? "<root>" : at, check: description + payload })
    }
  }
  const walk = (r: SchemaRepresentation.Representation, at: string) => {
    if (seen.has(r)) return
    seen.add(r)
    if (r._tag !== "Reference") checks(r.checks, jsonTypeOf[r._tag], at)
    switch (r._tag) {
      case "Objects":
        for (const p of r.propertySignatures) walk(p.type, child(at, String(p.name)))
        for (const i of r.indexSignatures) {
          // constraints on map keys (JSON Schema's propertyNames) have no CRD form
          if (i.parameter._tag !== "Reference") checks(i.parameter.checks, "string", `${child(at, "*")} (key)`, true)
          walk(i.type, child(at, "*"))
        }
        break
      case "Arrays":
        for (const e of r.elements) walk(e.type, `${at}[*]`)
        for (const e of r.rest) walk(e, `${at}[*]`)
        break
      case "Union":
        for (const t of r.types) walk(t, at)
        break
      case "Suspend":
        walk(r.thunk, at)
        break
    }
  }
  walk(SchemaRepresentation.toRepresentation(schema.ast, { referencePolicy: () => undefined }).representation, path)
  return [...out, ...decodedSideChecks(schema.ast, path)]
}

const describeCheck = (check: SchemaAST.Check<any>): Array<string> => {
  const expected = check.annotations?.["expected"]
  if (typeof expected === "string") return [expected]
  return check._tag === "FilterGroup" ? check.checks.flatMap(describeCheck) : ["a custom check"]
}

/** A check's predicates: the same check copied to another node (`Schema.toEncoded`) shares them. */
const runsOf = (check: SchemaAST.Check<any>): Array<unknown> => check._tag === "Filter" ? [check.run] : check.checks.flatMap(runsOf)

/** Checks a transformation makes true by itself: `Schema.Trim`'s result is trimmed whatever it got. */
const guaranteed = new Set((Schema.Trim.ast.checks ?? []).flatMap(runsOf))

/**
 * The checks of a transformation's decoded side (`Schema.NumberFromString.check(…)`,
 * `Schema.Trim.check(…)`, a Class's filters): the CRD describes the encoded side only. Checks the
 * encoded side carries as well (`CrdDefinition.withDefault` keeps them there) are stated, and so are those a
 * transformation guarantees.
 */
const decodedSideChecks = (root: SchemaAST.AST, path: string): Array<DecoderOnlyCheck> => {
  const out: Array<DecoderOnlyCheck> = []
  const seen = new Set<SchemaAST.AST>()
  const walk = (ast: SchemaAST.AST, at: string) => {
    if (seen.has(ast)) return
    seen.add(ast)
    if (ast.encoding !== undefined) {
      const encoded = new Set((SchemaAST.toEncoded(ast).checks ?? []).flatMap(runsOf))
      const note = (checks: SchemaAST.Checks | undefined) => {
        for (const check of checks ?? []) {
          if (runsOf(check).every((run) => encoded.has(run) || guaranteed.has(run))) continue
          for (const d of describeCheck(check)) {
            out.push({ path: at === "" ? "<root>" : at, check: `${d} (checked on the decoded value; the CRD describes the encoded one)` })
          }
        }
      }
      note(ast.checks)
      for (const link of ast.encoding.slice(0, -1)) note(link.to.checks)
      walk(ast.encoding[ast.encoding.length - 1]!.to, at)
      return
    }
    switch (ast._tag) {
      case "Objects":
        for (const p of ast.propertySignatures) walk(p.type, child(at, String(p.name)))
        for (const i of ast.indexSignatures) walk(i.type, child(at, "*"))
        break
      case "Arrays":
        for (const e of ast.elements) walk(e, `${at}[*]`)
        for (const e of ast.rest) walk(e, `${at}[*]`)
        break
      case "Union":
        for (const t of ast.types) walk(t, at)
        break
      case "Suspend":
        walk(ast.thunk(), at)
        break
    }
  }
  walk(root, path)
  return out
}
