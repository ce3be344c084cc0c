/**
 * Building a Client request: the paths and query strings, the RequestInfo errors carry, the scope
 * rules (a namespaced kind needs a namespace), and the body of a write. Pure functions.
 * @internal
 */
import * as Result from "effect/Result"
import type { WriteOptions } from "../../Client.ts"
import * as Kind from "../../Kind.ts"
import * as KubeError from "../../KubeError.ts"
import { encodeObject } from "../codec.ts"

export const queryString = (params: Record<string, string | number | boolean | undefined>) => {
  let q = ""
  for (const key in params) {
    const v = params[key]
    if (v === undefined || v === "") continue
    q += `${q === "" ? "?" : "&"}${key}=${encodeURIComponent(String(v))}`
  }
  return q
}

/**
 * The Accept header of a call on `kind`: a metadata-only kind asks for PartialObjectMetadata (or
 * …List on lists), then JSON of the whole object if the server cannot, as client-go's metadata
 * client does (the kind's Schema decodes both); undefined for the transport's default.
 */
export const acceptOf = (kind: Kind.Any, list = false) =>
  kind.metadataOnly === true
    ? `application/json;as=PartialObjectMetadata${list ? "List" : ""};g=meta.k8s.io;v=v1,application/json`
    : undefined

export const infoOf = (verb: string, kind: Kind.Any, path: string, namespace?: string, name?: string): KubeError.RequestInfo => ({
  verb,
  path,
  kind: kind.kind,
  ...(namespace !== undefined ? { namespace } : {}),
  ...(name !== undefined ? { name } : {})
})

/** Namespaced kinds need a namespace, cluster-scoped ones must not get one. */
export const scopeOf = (verb: string, kind: Kind.Any, namespace: string | undefined, name: string | undefined) => {
  if (kind.namespaced && (namespace === undefined || namespace === "")) {
    return Result.fail(
      new KubeError.InvalidRequest({
        request: infoOf(verb, kind, Kind.collectionPath(kind), undefined, name),
        detail: `${kind.kind} is namespaced: a namespace is required`
      })
    )
  }
  return Result.succeed(kind.namespaced ? namespace : undefined)
}

export const encode = (verb: string, kind: Kind.Any, object: Kind.KubeObject) => {
  const encodedResult = encodeObject(kind, object)
  if (Result.isFailure(encodedResult)) {
    return Result.fail(
      new KubeError.InvalidRequest({
        request: infoOf(verb, kind, Kind.collectionPath(kind, object.metadata?.namespace), object.metadata?.namespace, object.metadata?.name),
        detail: `the object does not match the ${kind.kind} Schema:\n${encodedResult.failure}`
      })
    )
  }
  const body = encodedResult.success as Record<string, unknown>
  return Result.succeed({ apiVersion: kind.apiVersion, kind: kind.kind, ...body } as unknown as { metadata: Record<string, unknown> })
}

export const writeQuery = (o: WriteOptions | undefined, extra: Record<string, string | boolean | undefined> = {}) =>
  queryString({ dryRun: o?.dryRun === true ? "All" : undefined, fieldManager: o?.fieldManager, ...extra })
