/**
 * Admission webhooks in the in-memory API server: the handlers of `Webhooks` definitions called
 * in-process, as kube-apiserver calls them over HTTPS. On a create or update of a main resource
 * (not `/status`), the mutating webhooks whose rule, namespace selector and object selector match
 * run first, each patch applied in turn, then the validating ones; a denial answers with the
 * webhook's Status, its message prefixed `admission webhook "<name>" denied the request: ` as
 * kube-apiserver does; a webhook that cannot answer is refused or skipped by its failure policy.
 *
 * The server is synchronous and the handlers are Effects, so a write goes through it twice
 * (transport.ts): once to learn the object it would store (nothing is committed), then, with the
 * webhooks' answer, for real; the second pass replays the first one's random draws (uid,
 * generated name), and the mutation is applied as a JSON Patch onto what the second pass computes.
 * Objects go to an admission webhook in its kind's version: relabelled from the stored form, or
 * converted (below) when the CRD is converted by a registered definition.
 *
 * Conversion, as kube-apiserver does with `conversion: Webhook`: for a request in a version other
 * than the storage version of a CRD whose conversion a registered definition serves, the server
 * works in the storage version (the path is rewritten), a created or replaced object is converted
 * to the storage version first, and every object answered (get, list, write answers, watch events)
 * is converted to the version asked for, all through the definition's `/convert` handler.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as JsonPatch from "effect/JsonPatch"
import type * as Schema from "effect/Schema"
import type * as Admission from "../../Admission.ts"
import * as Webhooks from "../../Webhooks.ts"
import { NAMESPACES, objectKey, present, resourceKey } from "./kinds.ts"
import type { Admitted, Attempt } from "./request.ts"
import * as S from "./status.ts"
import { type Answer, clone, isObject, type JsonObject } from "./status.ts"
import type { Store } from "./store.ts"
import type { Resource } from "./kinds.ts"
import * as Conversion from "../../Conversion.ts"

export interface Registered {
  readonly definition: Webhooks.Definition<unknown>
  /** Runs a handler with the context the definition was registered with. */
  readonly run: (path: string, body: unknown) => Effect.Effect<Webhooks.Answer>
}

const labelsOf = (object: JsonObject | undefined): Readonly<Record<string, string>> => {
  const meta = object !== undefined && isObject(object["metadata"]) ? object["metadata"] : {}
  return isObject(meta["labels"]) ? meta["labels"] as Record<string, string> : {}
}

/** metav1.LabelSelector semantics; an empty selector matches everything. */
export const selects = (selector: Admission.LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean => {
  if (selector === undefined) return true
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key)
    const values = e.values ?? []
    if (e.operator === "In" && (!has || !values.includes(labels[e.key]!))) return false
    if (e.operator === "NotIn" && has && values.includes(labels[e.key]!)) return false
    if (e.operator === "Exists" && !has) return false
    if (e.operator === "DoesNotExist" && has) return false
  }
  return true
}

interface Match {
  readonly registered: Registered
  readonly admission: Admission.Admission<unknown>
}

/** The admissions that apply to an attempt, in the order they were registered. */
export const matching = (webhooks: ReadonlyArray<Registered>, attempt: Attempt, store: Store): ReadonlyArray<Match> => {
  const out: Array<Match> = []
  const namespaceLabels = attempt.namespace !== undefined ? labelsOf(store.get(NAMESPACES, objectKey(undefined, attempt.namespace))) : {}
  for (const registered of webhooks) {
    for (const admission of registered.definition.admissions) {
      const kind = admission.kind
      if (kind.group !== attempt.resource.group || kind.plural !== attempt.resource.plural) continue
      if (!admission.call.operations.includes(attempt.operation)) continue
      if (attempt.resource.namespaced && !selects(admission.call.namespaceSelector, namespaceLabels)) continue
      if (!selects(admission.call.objectSelector, labelsOf(attempt.object)) && !selects(admission.call.objectSelector, labelsOf(attempt.oldObject))) {
        continue
      }
      out.push({ registered, admission })
    }
  }
  return out
}

/** A webhook's name in the generated configurations (`validate.<plural>.<group>`). */
const webhookName = (definition: Webhooks.Definition<unknown>, verb: "validate" | "default", admission: Admission.Admission<unknown>) => {
  const config = Webhooks.configurations(definition, { clientConfig: { url: "https://in-memory.invalid" } })
  const path = verb === "validate" ? admission.validatePath : admission.mutatePath
  const list = verb === "validate" ? config.validating?.webhooks : config.mutating?.webhooks
  return list?.find((w) => (w.clientConfig as { url?: string }).url?.endsWith(path))?.name ?? admission.kind.plural
}

/**
 * The outcome of the webhooks of an attempt: the object to store (in the stored form), or the
 * answer refusing the write. `uid` numbers the reviews.
 */
export const admit = (webhooks: ReadonlyArray<Registered>, attempt: Attempt, store: Store, uid: () => string): Effect.Effect<Admitted> =>
  Effect.gen(function*() {
    const matches = matching(webhooks, attempt, store)
    if (matches.length === 0) return { object: attempt.object }
    let object = attempt.object
    const call = (match: Match, verb: "validate" | "default") =>
      Effect.gen(function*() {
        const { admission, registered } = match
        const name = webhookName(registered.definition, verb, admission)
        const version = admission.kind.version
        const given = present(attempt.resource, version, object)
        const old = attempt.oldObject === undefined ? undefined : present(attempt.resource, version, attempt.oldObject)
        const { group, kind, plural } = attempt.resource
        const review = {
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          request: {
            uid: uid(),
            kind: { group, version, kind },
            resource: { group, version, resource: plural },
            requestKind: { group, version: attempt.version, kind },
            requestResource: { group, version: attempt.version, resource: plural },
            name: String((given["metadata"] as JsonObject | undefined)?.["name"] ?? ""),
            ...(attempt.namespace !== undefined ? { namespace: attempt.namespace } : {}),
            operation: attempt.operation,
            userInfo: { username: "operatorkit", groups: ["system:masters", "system:authenticated"] },
            object: given,
            oldObject: old ?? null,
            dryRun: attempt.dryRun
          }
        }
        const answer = yield* registered.run(verb === "validate" ? admission.validatePath : admission.mutatePath, review)
        const response = isObject(answer.body) && isObject(answer.body["response"]) ? answer.body["response"] : undefined
        if (answer.status !== 200 || response === undefined) {
          if (admission.call.failurePolicy === "Ignore") return undefined
          const detail = isObject(answer.body) && typeof answer.body["message"] === "string" ? `: ${answer.body["message"]}` : ""
          return S.failure(500, "InternalError", `Internal error occurred: failed calling webhook "${name}": the server responded with status ${answer.status}${detail}`)
        }
        if (response["allowed"] !== true) {
          const status = isObject(response["status"]) ? response["status"] : {}
          const code = typeof status["code"] === "number" && status["code"] >= 400 ? status["code"] : 400
          const message = typeof status["message"] === "string" && status["message"] !== "" ? status["message"] : undefined
          return S.failure(
            code,
            typeof status["reason"] === "string" ? status["reason"] : undefined,
            `admission webhook "${name}" denied the request${message !== undefined ? `: ${message}` : " without explanation"}`,
            isObject(status["details"]) ? status["details"] : undefined
          )
        }
        if (verb === "default" && typeof response["patch"] === "string") {
          const patch = JSON.parse(Buffer.from(response["patch"], "base64").toString("utf8")) as JsonPatch.JsonPatch
          const patched = JsonPatch.apply(patch, given as Schema.Json) as JsonObject
          object = { ...patched, apiVersion: object["apiVersion"], kind: object["kind"] }
        }
        return undefined
      })
    for (const match of matches) {
      if (!match.admission.mutating) continue
      const refused = yield* call(match, "default")
      if (refused !== undefined) return { refused }
    }
    for (const match of matches) {
      if (!match.admission.validating) continue
      const refused = yield* call(match, "validate")
      if (refused !== undefined) return { refused }
    }
    return { object }
  })

/** The webhooks' change to the first pass's object, applied to the second pass's (the same, unless a write came between). */
export const rebase = (first: JsonObject, admitted: Admitted, second: JsonObject): Admitted => {
  if ("refused" in admitted) return admitted
  if (admitted.object === first) return { object: second }
  const patch = JsonPatch.get(first as Schema.Json, admitted.object as Schema.Json)
  return { object: clone(JsonPatch.apply(patch, second as Schema.Json) as JsonObject) }
}

/** Whether any registered admission is for this resource (the others skip the first pass). */
export const admits = (webhooks: ReadonlyArray<Registered>, group: string, plural: string): boolean =>
  webhooks.some((w) => w.definition.admissions.some((a) => resourceKey(a.kind.group, a.kind.plural) === resourceKey(group, plural)))

// ---------------------------------------------------------------------------------------------
// conversion

/** A request in a version a registered conversion turns into and out of the storage version. */
export interface Converting {
  readonly registered: Registered
  readonly resource: Resource
  /** The version asked for. */
  readonly asked: string
  readonly storage: string
  /** The request's path in the storage version. */
  readonly path: string
}

const apiVersionOf = (resource: Resource, version: string) => resource.group === "" ? version : `${resource.group}/${version}`

/** The conversion of a request to `version` of `resource`, when a registered definition converts its CRD. */
export const converting = (
  webhooks: ReadonlyArray<Registered>,
  resource: Resource,
  version: string,
  path: string
): Converting | undefined => {
  const storage = resource.versions[0]
  if (storage === undefined || version === storage || resource.crd === undefined || resource.group === "") return undefined
  const registered = webhooks.find((w) => w.definition.conversions.some((c) => c.definition.name === resource.crd))
  if (registered === undefined) return undefined
  const prefix = `/apis/${resource.group}/${version}/`
  if (!path.startsWith(prefix)) return undefined
  return { registered, resource, asked: version, storage, path: `/apis/${resource.group}/${storage}/${path.slice(prefix.length)}` }
}

/** kube-apiserver's answer when a conversion webhook fails. */
const conversionFailed = (c: Converting, version: string, detail: string): Answer =>
  S.failure(500, "InternalError", `conversion webhook for ${c.resource.group}/${version}, Kind=${c.resource.kind} failed: ${detail}`)

/** The objects converted to `version` by the registered handler, or the failure answer. */
export const convert = (
  c: Converting,
  objects: ReadonlyArray<JsonObject>,
  version: string,
  uid: () => string
): Effect.Effect<ReadonlyArray<JsonObject> | Answer> => {
  const desired = apiVersionOf(c.resource, version)
  if (objects.every((o) => o["apiVersion"] === desired)) return Effect.succeed(objects)
  const review = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    request: { uid: uid(), desiredAPIVersion: desired, objects }
  }
  return Effect.map(c.registered.run(Conversion.path, review), (answer): ReadonlyArray<JsonObject> | Answer => {
    const response = isObject(answer.body) && isObject(answer.body["response"]) ? answer.body["response"] : undefined
    if (answer.status !== 200 || response === undefined) return conversionFailed(c, version, `the server responded with status ${answer.status}`)
    const result = isObject(response["result"]) ? response["result"] : {}
    if (result["status"] !== "Success") return conversionFailed(c, version, String(result["message"] ?? "conversion failed"))
    const converted = Array.isArray(response["convertedObjects"]) ? response["convertedObjects"].filter(isObject) : []
    if (converted.length !== objects.length) return conversionFailed(c, version, `expected ${objects.length} converted objects, got ${converted.length}`)
    return converted.map((o) => clone(o))
  })
}

const isAnswer = (u: ReadonlyArray<JsonObject> | Answer): u is Answer => !Array.isArray(u)

/** An object of the resource in the stored form (the others, e.g. metadata-only, pass as they are). */
const ofResource = (c: Converting, u: unknown): boolean =>
  isObject(u) && u["kind"] === c.resource.kind && u["apiVersion"] === apiVersionOf(c.resource, c.storage)

/** A created or replaced object sent in the asked version, in the storage version (a patch is applied to the stored form). */
export const convertBody = (
  c: Converting,
  method: string,
  body: unknown,
  uid: () => string
): Effect.Effect<{ readonly body: unknown } | { readonly refused: Answer }> => {
  if ((method !== "POST" && method !== "PUT") || !isObject(body) || body["apiVersion"] !== apiVersionOf(c.resource, c.asked)) {
    return Effect.succeed({ body })
  }
  return Effect.map(convert(c, [body], c.storage, uid), (out) => isAnswer(out) ? { refused: out } : { body: out[0] })
}

/** The server's answer in the storage version, converted to the asked one (an object, or a list's items). */
export const convertAnswer = (c: Converting, answer: Answer, uid: () => string): Effect.Effect<Answer> => {
  const body = answer.body
  if (!isObject(body)) return Effect.succeed(answer)
  if (ofResource(c, body)) {
    return Effect.map(convert(c, [body], c.asked, uid), (out) => isAnswer(out) ? out : { ...answer, body: out[0]! })
  }
  if (body["kind"] === c.resource.listKind && Array.isArray(body["items"])) {
    const items = body["items"] as Array<unknown>
    const objects = items.filter((i) => ofResource(c, i)) as Array<JsonObject>
    return Effect.map(convert(c, objects, c.asked, uid), (out) => {
      if (isAnswer(out)) return out
      let i = 0
      return {
        ...answer,
        body: { ...body, apiVersion: apiVersionOf(c.resource, c.asked), items: items.map((item) => ofResource(c, item) ? out[i++]! : item) }
      }
    })
  }
  return Effect.succeed(answer)
}

/** A watch event in the storage version, converted to the asked one (a failure becomes an ERROR event). */
export const convertEvent = (c: Converting, event: unknown, uid: () => string): Effect.Effect<unknown> => {
  if (!isObject(event)) return Effect.succeed(event)
  const object = event["object"]
  if (event["type"] === "BOOKMARK" && isObject(object) && object["apiVersion"] === apiVersionOf(c.resource, c.storage)) {
    return Effect.succeed({ ...event, object: { ...object, apiVersion: apiVersionOf(c.resource, c.asked) } })
  }
  if (!ofResource(c, object)) return Effect.succeed(event)
  return Effect.map(convert(c, [object as JsonObject], c.asked, uid), (out) => isAnswer(out) ? { type: "ERROR", object: out.body } : { ...event, object: out[0] })
}
