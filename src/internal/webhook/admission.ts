/**
 * AdmissionReview (admission.k8s.io/v1) handling: the validating check is the kind's Schema decode
 * plus the user's Effect; the mutating answer is the Schema's defaults plus the user's defaulting
 * Effect, sent as the JSON Patch of exactly the difference. Rejections carry every failing field as
 * kube-apiserver's own validation errors do; deprecated fields present in the object are warnings.
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as JsonPatch from "effect/JsonPatch"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type * as Kind from "../../Kind.ts"
import { causeMessage } from "../causeMessage.ts"
import * as FieldErrors from "./fieldErrors.ts"

type JsonObject = { readonly [key: string]: unknown }

const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT"

export interface UserInfo {
  readonly username: string
  readonly uid?: string
  readonly groups?: ReadonlyArray<string>
  readonly extra?: Readonly<Record<string, ReadonlyArray<string>>>
}

/** The request of an AdmissionReview, with the old object decoded. */
export interface Request<A> {
  readonly uid: string
  readonly operation: Operation
  readonly name: string
  readonly namespace: string | undefined
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string }
  readonly subResource: string | undefined
  readonly userInfo: UserInfo
  readonly dryRun: boolean
  /** The object before an UPDATE or DELETE, decoded (undefined on CREATE, or when it does not decode). */
  readonly oldObject: A | undefined
  /** The AdmissionReview's `request` as sent. */
  readonly raw: JsonObject
}

export interface Spec {
  readonly kind: Kind.Any
  readonly validate: ((object: any, request: Request<any>) => Effect.Effect<ReadonlyArray<FieldErrors.FieldError> | void, unknown, any>) | undefined
  readonly default: true | ((object: any, request: Request<any>) => Effect.Effect<any, unknown, any>) | undefined
}

/** Where the warnings of the review being answered go (`Admission.warn`). */
export const CurrentWarnings = Context.Reference<Array<string> | undefined>("operatorkit/Admission/CurrentWarnings", {
  defaultValue: () => undefined
})

export const DEPRECATED = "operatorkit/deprecated"

const marked = new WeakMap<SchemaAST.AST, boolean>()

/** Whether a field of `ast` (or `ast` itself) is marked deprecated: only those subtrees are walked. */
const hasDeprecated = (ast: SchemaAST.AST): boolean => {
  const known = marked.get(ast)
  if (known !== undefined) return known
  marked.set(ast, false) // a recursive Schema meets itself: not (yet) known to hold one
  const children = ast._tag === "Objects"
    ? ast.propertySignatures.map((ps) => ps.type)
    : ast._tag === "Arrays"
    ? [...ast.elements, ...ast.rest]
    : ast._tag === "Union"
    ? ast.types
    : []
  const found = SchemaAST.resolveAt<string>(DEPRECATED)(ast) !== undefined || children.some(hasDeprecated)
  marked.set(ast, found)
  return found
}

/** Warnings for every field annotated deprecated that the object sets: `spec.x: <message>`. */
export const deprecatedFields = (ast: SchemaAST.AST, value: unknown, path = "", out: Array<string> = []): Array<string> => {
  if (!hasDeprecated(ast)) return out
  const message = SchemaAST.resolveAt<string>(DEPRECATED)(ast)
  if (message !== undefined) out.push(`${path === "" ? "<root>" : path}: ${message}`)
  switch (ast._tag) {
    case "Objects":
      if (!isObject(value)) break
      for (const ps of ast.propertySignatures) {
        const key = String(ps.name)
        if (Object.hasOwn(value, key) && value[key] !== undefined) {
          deprecatedFields(ps.type, value[key], path === "" ? key : `${path}.${key}`, out)
        }
      }
      break
    case "Arrays":
      if (!Array.isArray(value)) break
      value.forEach((item, i) => {
        const element = ast.elements[i] ?? ast.rest[0]
        if (element !== undefined) deprecatedFields(element, item, `${path}[${i}]`, out)
      })
      break
    case "Union":
      for (const member of ast.types) {
        if (member._tag === "Objects" && isObject(value)) deprecatedFields(member, value, path, out)
      }
      break
  }
  return out
}

/** Keeps what decoding dropped because the Schema does not model it (the API server prunes, not us). */
const keepUnmodelled = (original: unknown, result: unknown, normal: unknown): unknown => {
  if (isObject(original) && isObject(result)) {
    const out: Record<string, unknown> = { ...result }
    const base = isObject(normal) ? normal : {}
    for (const [k, v] of Object.entries(original)) {
      if (Object.hasOwn(result, k)) out[k] = keepUnmodelled(v, result[k], base[k])
      else if (!Object.hasOwn(base, k)) out[k] = v
    }
    return out
  }
  if (Array.isArray(original) && Array.isArray(result) && Array.isArray(normal) && original.length === result.length) {
    return result.map((r, i) => keepUnmodelled(original[i], r, normal[i]))
  }
  return result
}

const toBase64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

export interface Answer {
  /** HTTP status: 200 for every review answered (allowed or not); 400 for a body that is no review; 500 when a check could not run. */
  readonly status: number
  readonly body: unknown
  /** For metrics and spans: allowed, denied, patched, error. */
  readonly outcome: "allowed" | "denied" | "patched" | "error"
}

const review = (response: JsonObject): JsonObject => ({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response })

const badRequest = (message: string): Answer => ({ status: 400, body: { message }, outcome: "error" })

/** Parses an AdmissionReview v1; its request or the answer refusing it. */
export const parseReview = (body: unknown): JsonObject | Answer => {
  if (!isObject(body)) return badRequest("the body is not an AdmissionReview")
  if (body["apiVersion"] !== "admission.k8s.io/v1" || body["kind"] !== "AdmissionReview") {
    return badRequest(`expected an admission.k8s.io/v1 AdmissionReview, got ${String(body["apiVersion"])} ${String(body["kind"])}`)
  }
  const request = body["request"]
  if (!isObject(request) || typeof request["uid"] !== "string") return badRequest("the AdmissionReview has no request with a uid")
  return request
}

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

const userInfoOf = (u: unknown): UserInfo => {
  const o = isObject(u) ? u : {}
  return {
    username: str(o["username"]) ?? "",
    ...(str(o["uid"]) !== undefined ? { uid: str(o["uid"])! } : {}),
    ...(Array.isArray(o["groups"]) ? { groups: o["groups"].filter((g): g is string => typeof g === "string") } : {}),
    ...(isObject(o["extra"]) ? { extra: o["extra"] as Record<string, ReadonlyArray<string>> } : {})
  }
}

const errorsOf = (exit: Exit.Exit<unknown, Schema.SchemaError>, input: unknown): Array<FieldErrors.FieldError> | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  if (reason?._tag === "Fail") return FieldErrors.fromIssue(reason.error.issue, input)
  return [{ type: "Internal", field: "<root>", detail: "the object could not be decoded" }]
}

/** A compiled admission webhook of one kind: answers its validating and mutating reviews. */
export const compile = (spec: Spec) => {
  const schema = spec.kind.schema as Schema.Codec<unknown, unknown>
  const decode = Schema.decodeUnknownExit(schema)
  const encode = Schema.encodeUnknownExit(schema)
  const all = { errors: "all" } as const
  const typeAst = SchemaAST.toType(schema.ast)

  const requestOf = (raw: JsonObject): Request<unknown> => {
    const kind = isObject(raw["kind"]) ? raw["kind"] : {}
    const old = raw["oldObject"]
    const oldExit = isObject(old) ? decode(old) : undefined
    return {
      uid: raw["uid"] as string,
      operation: (str(raw["operation"]) ?? "CREATE") as Operation,
      name: str(raw["name"]) ?? "",
      namespace: str(raw["namespace"]) === "" ? undefined : str(raw["namespace"]),
      kind: { group: str(kind["group"]) ?? "", version: str(kind["version"]) ?? "", kind: str(kind["kind"]) ?? spec.kind.kind },
      subResource: str(raw["subResource"]),
      userInfo: userInfoOf(raw["userInfo"]),
      dryRun: raw["dryRun"] === true,
      oldObject: oldExit !== undefined && Exit.isSuccess(oldExit) ? oldExit.value : undefined,
      raw
    }
  }

  const nameOf = (request: Request<unknown>, object: unknown) => {
    const meta = isObject(object) && isObject(object["metadata"]) ? object["metadata"] : {}
    return request.name !== "" ? request.name : str(meta["name"]) ?? ""
  }

  const denied = (request: Request<unknown>, object: unknown, errors: ReadonlyArray<FieldErrors.FieldError>, warnings: ReadonlyArray<string>): Answer => ({
    status: 200,
    outcome: "denied",
    body: review({
      uid: request.uid,
      allowed: false,
      status: FieldErrors.invalidStatus({ group: spec.kind.group, kind: spec.kind.kind, name: nameOf(request, object) }, errors),
      ...(warnings.length > 0 ? { warnings } : {})
    })
  })

  const failed = (message: string): Answer => ({ status: 500, outcome: "error", body: { message } })

  /** The user's Effect failed or died: the check could not run, and the failure policy decides. */
  const couldNotRun = (what: string) => (cause: Cause.Cause<unknown>) =>
    Effect.succeed(failed(`${what} of ${spec.kind.kind}.${spec.kind.apiVersion} could not run: ${causeMessage(cause)}`))

  const validate = (raw: JsonObject): Effect.Effect<Answer, never, any> =>
    Effect.suspend(() => {
      const request = requestOf(raw)
      const object = request.operation === "DELETE" ? raw["oldObject"] : raw["object"]
      const warnings: Array<string> = []
      const exit = decode(object, all)
      const errors = errorsOf(exit, object)
      if (errors !== undefined) {
        // an object that no longer decodes may still be deleted
        if (request.operation === "DELETE") return Effect.succeed(allowed(request, warnings))
        return Effect.succeed(denied(request, object, errors, warnings))
      }
      if (request.operation !== "DELETE") deprecatedFields(typeAst, object, "", warnings)
      if (spec.validate === undefined) return Effect.succeed(allowed(request, warnings))
      return spec.validate((exit as Exit.Success<unknown>).value, request).pipe(
        Effect.provideService(CurrentWarnings, warnings),
        Effect.map((found) =>
          found !== undefined && found.length > 0 ? denied(request, object, found, warnings) : allowed(request, warnings)
        ),
        Effect.catchCause(couldNotRun("the validation"))
      )
    })

  const allowed = (request: Request<unknown>, warnings: ReadonlyArray<string>, patch?: JsonPatch.JsonPatch): Answer => ({
    status: 200,
    outcome: patch !== undefined && patch.length > 0 ? "patched" : "allowed",
    body: review({
      uid: request.uid,
      allowed: true,
      ...(patch !== undefined && patch.length > 0 ? { patchType: "JSONPatch", patch: toBase64(JSON.stringify(patch)) } : {}),
      ...(warnings.length > 0 ? { warnings } : {})
    })
  })

  const mutate = (raw: JsonObject): Effect.Effect<Answer, never, any> =>
    Effect.suspend(() => {
      const request = requestOf(raw)
      const object = raw["object"]
      const warnings: Array<string> = []
      if (spec.default === undefined || request.operation === "DELETE" || !isObject(object)) return Effect.succeed(allowed(request, warnings))
      const exit = decode(object, all)
      const errors = errorsOf(exit, object)
      if (errors !== undefined) return Effect.succeed(denied(request, object, errors, warnings))
      const decoded = (exit as Exit.Success<unknown>).value
      const normal = encode(decoded)
      const user = spec.default === true ? Effect.succeed(decoded) : spec.default(decoded, request)
      return user.pipe(
        Effect.provideService(CurrentWarnings, warnings),
        Effect.flatMap((result) => {
          const encoded = encode(result)
          if (Exit.isFailure(encoded) || Exit.isFailure(normal)) {
            const failure = (Exit.isFailure(encoded) ? encoded : normal) as Exit.Failure<unknown, Schema.SchemaError>
            return Effect.succeed(failed(`the defaulted ${spec.kind.kind} does not encode: ${causeMessage(failure.cause)}`))
          }
          const final = keepUnmodelled(object, encoded.value, normal.value) as Schema.Json
          return Effect.succeed(allowed(request, warnings, JsonPatch.get(object as Schema.Json, final)))
        }),
        Effect.catchCause(couldNotRun("the defaulting"))
      )
    })

  return { validate, mutate }
}
