/**
 * What the in-memory server answers in the representation an `Accept` header asks for, as
 * kube-apiserver 1.20 negotiates it: JSON as is, or only the objects' metadata with
 * `application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1` (an object, a watch's objects) and
 * `…;as=PartialObjectMetadataList;…` (a list). Status answers pass unchanged.
 *
 * Checked against kube-apiserver 1.20.2 by test/contract/metadata.test.ts. The fake writes JSON
 * only: clauses asking for YAML, protobuf or a Table are passed over (the real server would answer
 * them), so an Accept with nothing else is refused as one the server cannot satisfy.
 * @internal
 */
import type { Resource } from "./kinds.ts"
import * as S from "./status.ts"
import { type Answer, isObject, type JsonObject } from "./status.ts"

/** The representation asked for: the objects themselves, or their metadata in meta.k8s.io/`version`. */
export type Representation =
  | { readonly _tag: "Object" }
  | { readonly _tag: "PartialObjectMetadata" | "PartialObjectMetadataList"; readonly version: "v1" | "v1beta1" }

const FULL: Representation = { _tag: "Object" }

const MEDIA_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"

/** The first clause of `accept` the fake can answer, or the 406 of an Accept it cannot satisfy. */
export const negotiate = (accept: string | undefined): Representation | Answer => {
  if (accept === undefined || accept.trim() === "") return FULL
  for (const clause of accept.split(",")) {
    const [type, ...params] = clause.split(";").map((s) => s.trim())
    if (type !== "application/json" && type !== "*/*" && type !== "application/*") continue
    const p = new Map<string, string>()
    for (const param of params) {
      const eq = param.indexOf("=")
      if (eq > 0) p.set(param.slice(0, eq).trim(), param.slice(eq + 1).trim())
    }
    const as = p.get("as")
    if (as === undefined) return FULL
    const version = p.get("v")
    if ((as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") && p.get("g") === "meta.k8s.io" && (version === "v1" || version === "v1beta1")) {
      return { _tag: as, version }
    }
  }
  return S.failure(406, "NotAcceptable", `only the following media types are accepted: ${MEDIA_TYPES}`, {})
}

/** The Go type kube-apiserver names in its refusals: `*core.ConfigMap`, `*apps.DeploymentList`, … */
const goType = (resource: Resource, list: boolean) => {
  if (resource.crd !== undefined) return list ? "*unstructured.UnstructuredList" : "*unstructured.Unstructured"
  const pkg = resource.group === "" ? "core" : resource.group.split(".")[0]!
  return `*${pkg}.${resource.kind}${list ? "List" : ""}`
}

const partial = (object: unknown, version: string): JsonObject => ({
  kind: "PartialObjectMetadata",
  apiVersion: `meta.k8s.io/${version}`,
  metadata: isObject(object) ? object["metadata"] : undefined
})

const isList = (body: JsonObject) => Array.isArray(body["items"])

/** A request's answer in the representation asked for (failures pass unchanged). */
export const represent = (answer: Answer, representation: Representation, resource: Resource | undefined): Answer => {
  if (representation._tag === "Object" || answer.status < 200 || answer.status >= 300) return answer
  const body = answer.body
  if (!isObject(body) || body["kind"] === "Status") return answer
  const version = representation.version
  if (representation._tag === "PartialObjectMetadata") {
    if (isList(body)) {
      const what = resource !== undefined ? ` (${goType(resource, true)})` : ""
      return S.failure(406, "NotAcceptable", `you requested PartialObjectMetadata, but the requested object is a list${what}`)
    }
    return { ...answer, body: partial(body, version) }
  }
  if (!isList(body)) {
    const what = resource !== undefined ? ` (${goType(resource, false)})` : ""
    return S.failure(406, "NotAcceptable", `you requested PartialObjectMetadataList, but the requested object is not a list${what}`)
  }
  const meta = isObject(body["metadata"]) ? body["metadata"] : {}
  // the list's resourceVersion and continue token; its remainingItemCount is not carried over
  const metadata: JsonObject = {
    ...(meta["selfLink"] !== undefined ? { selfLink: meta["selfLink"] } : {}),
    ...(meta["resourceVersion"] !== undefined ? { resourceVersion: meta["resourceVersion"] } : {}),
    ...(typeof meta["continue"] === "string" && meta["continue"] !== "" ? { continue: meta["continue"] } : {})
  }
  return {
    ...answer,
    body: {
      kind: "PartialObjectMetadataList",
      apiVersion: `meta.k8s.io/${version}`,
      metadata,
      items: (body["items"] as ReadonlyArray<unknown>).map((item) => partial(item, version))
    }
  }
}

/**
 * A watch event in the representation asked for: its object's metadata for PartialObjectMetadata
 * (an ERROR's Status unchanged); undefined for PartialObjectMetadataList, which no watch object is:
 * kube-apiserver ends such a watch, without a line, at its first event.
 */
export const representEvent = (event: JsonObject, representation: Representation): JsonObject | undefined => {
  if (representation._tag === "Object" || event["type"] === "ERROR") return event
  if (representation._tag === "PartialObjectMetadataList") return undefined
  return { ...event, object: partial(event["object"], representation.version) }
}
