/**
 * Validation errors as kube-apiserver writes its own (k8s.io/apimachinery's `field.Error` and
 * `NewInvalid`): `spec.replicas: Invalid value: 11: must be at most 10`, gathered in a 422 Status
 * whose `details.causes` name every field, so that `kubectl apply` prints them as it prints the
 * server's own. Schema decoding issues become field errors here.
 * @internal
 */
import type * as SchemaAST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"

/** The types of Go's `field.ErrorType`, by their `String()`. */
export const errorTypes = {
  NotFound: { reason: "FieldValueNotFound", text: "Not found" },
  Required: { reason: "FieldValueRequired", text: "Required value" },
  Duplicate: { reason: "FieldValueDuplicate", text: "Duplicate value" },
  Invalid: { reason: "FieldValueInvalid", text: "Invalid value" },
  NotSupported: { reason: "FieldValueNotSupported", text: "Unsupported value" },
  Forbidden: { reason: "FieldValueForbidden", text: "Forbidden" },
  TooLong: { reason: "FieldValueTooLong", text: "Too long" },
  TooMany: { reason: "FieldValueTooMany", text: "Too many" },
  Internal: { reason: "InternalError", text: "Internal error" }
} as const

export type ErrorType = keyof typeof errorTypes

export interface FieldError {
  readonly type: ErrorType
  /** The path as Go's `field.Path` prints it: `spec.items[0].name`, `metadata.labels[app]`. */
  readonly field: string
  /** The offending value (printed for every type but Required, Forbidden, TooLong and Internal). */
  readonly value?: unknown
  readonly detail?: string
}

/** Go's `%v`/`%q` of a value in `ErrorBody`. */
const show = (value: unknown): string =>
  value === undefined || value === null
    ? "null"
    : typeof value === "string"
    ? JSON.stringify(value)
    : typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : JSON.stringify(value)

/** `field.Error.ErrorBody()`: what follows the field in the message, and a cause's message. */
export const body = (error: FieldError): string => {
  const type = errorTypes[error.type]
  const head = error.type === "Required" || error.type === "Forbidden" || error.type === "TooLong" || error.type === "Internal"
    ? type.text
    : `${type.text}: ${show(error.value)}`
  return error.detail !== undefined && error.detail !== "" ? `${head}: ${error.detail}` : head
}

/** `field.Error.Error()`. */
export const format = (error: FieldError): string => `${error.field}: ${body(error)}`

/** Go's `errors.Aggregate.Error()`: one message alone, several deduplicated in brackets. */
export const aggregate = (errors: ReadonlyArray<FieldError>): string => {
  const seen: Array<string> = []
  for (const e of errors) {
    const m = format(e)
    if (!seen.includes(m)) seen.push(m)
  }
  return seen.length === 1 ? seen[0]! : `[${seen.join(", ")}]`
}

/** The kind as Go's `schema.GroupKind.String()` prints it. */
export const groupKind = (group: string, kind: string) => (group === "" ? kind : `${kind}.${group}`)

/** The 422 Status of `apierrors.NewInvalid`. */
export const invalidStatus = (
  target: { readonly group: string; readonly kind: string; readonly name: string },
  errors: ReadonlyArray<FieldError>
) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: `${groupKind(target.group, target.kind)} ${JSON.stringify(target.name)} is invalid: ${aggregate(errors)}`,
  reason: "Invalid",
  details: {
    name: target.name,
    ...(target.group !== "" ? { group: target.group } : {}),
    kind: target.kind,
    causes: errors.map((e) => ({ reason: errorTypes[e.type].reason, message: body(e), field: e.field }))
  },
  code: 422
})

// ---------------------------------------------------------------------------------------------
// Schema issues → field errors

type Segment = { readonly key: PropertyKey; readonly subscript: boolean }

const isIdentifier = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** Go's `field.Path.String()`: names joined by dots, indexes and map keys in brackets. */
export const pathString = (segments: ReadonlyArray<Segment>): string => {
  let out = ""
  for (const s of segments) {
    if (s.subscript || typeof s.key === "number") out += `[${String(s.key)}]`
    else out += out === "" ? String(s.key) : `.${String(s.key)}`
  }
  return out
}

const valueAt = (root: unknown, segments: ReadonlyArray<Segment>): unknown => {
  let v = root
  for (const s of segments) {
    if (typeof v !== "object" || v === null) return undefined
    v = (v as Record<PropertyKey, unknown>)[s.key as string]
  }
  return v
}

/** A key of an object is a declared field (`.name`) or the key of a map (`[key]`). */
const segmentsOf = (parent: SchemaAST.AST | undefined, path: ReadonlyArray<PropertyKey>): Array<Segment> =>
  path.map((key, i) => {
    if (typeof key === "number") return { key, subscript: true }
    const declared = i === 0 && parent?._tag === "Objects"
      ? parent.propertySignatures.some((p) => p.name === key)
      : typeof key === "string" && isIdentifier.test(key)
    return { key, subscript: !declared }
  })

const literalsOf = (ast: SchemaAST.Union): Array<unknown> | undefined => {
  const values: Array<unknown> = []
  for (const member of ast.types) {
    if (member._tag !== "Literal") return undefined
    values.push(member.literal)
  }
  return values
}

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Every field error of a decoding issue, in the order the Schema reports them. Run the decoder
 * with `errors: "all"` to get each failing field.
 */
export const fromIssue = (issue: SchemaIssue.Issue, input: unknown, prefix: ReadonlyArray<Segment> = []): Array<FieldError> => {
  const out: Array<FieldError> = []
  const walk = (i: SchemaIssue.Issue, path: ReadonlyArray<Segment>, parent: SchemaAST.AST | undefined): void => {
    switch (i._tag) {
      case "Pointer":
        return walk(i.issue, [...path, ...segmentsOf(parent, i.path)], undefined)
      case "Composite":
        for (const c of i.issues) walk(c, path, i.ast)
        return
      case "MissingKey":
        out.push({ type: "Required", field: pathString(path) })
        return
      case "AnyOf": {
        const literals = literalsOf(i.ast)
        if (literals !== undefined) {
          const value = valueAt(input, path)
          out.push({
            type: "NotSupported",
            field: pathString(path),
            value,
            detail: `supported values: ${literals.map((l) => JSON.stringify(l)).join(", ")}`
          })
          return
        }
        break
      }
      case "Encoding":
        // a transformation (a default, for one) around the value: its own issue says more
        if (i.issue._tag === "AnyOf" || i.issue._tag === "Composite" || i.issue._tag === "Pointer" || i.issue._tag === "MissingKey") {
          return walk(i.issue, path, parent)
        }
        break
      case "UnexpectedKey":
        out.push({ type: "Forbidden", field: pathString(path), detail: "the field is not allowed" })
        return
    }
    for (const leaf of standard(i).issues) {
      const segments = [...path, ...segmentsOf(undefined, (leaf.path ?? []).map((p) => (typeof p === "object" ? p.key : p)))]
      const message = leaf.message === "Missing key" ? undefined : leaf.message
      out.push(
        message === undefined
          ? { type: "Required", field: pathString(segments) }
          : { type: "Invalid", field: pathString(segments), value: valueAt(input, segments), detail: message }
      )
    }
  }
  walk(issue, prefix, undefined)
  return out
}
