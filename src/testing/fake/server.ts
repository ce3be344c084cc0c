/**
 * The verbs of the in-memory API server: each request answered with the object or the Status
 * kube-apiserver 1.20 answers. Synchronous: one request is one step of the store, so nothing
 * interleaves.
 * @internal
 */
import { apply, conflictCauses, conflictMessage, recordUpdate } from "./fields.ts"
import {
  contentProblems,
  gcFinalizers,
  creationDefaults,
  crdProblem,
  CRDS,
  metadataOf,
  metadataProblems,
  NAMESPACES,
  normalize,
  objectKey,
  present,
  type Resource,
  resourceKey,
  roundTrip,
  str,
  timestamp,
  undecodableData,
  updateProblems,
  validateNames
} from "./kinds.ts"
import { applyJsonPatch, applyMergePatch, PatchError, strategicMerge } from "./patch.ts"
import { type Admitted, type Context, decodeContinue, DEFAULT_MANAGER, encodeContinue, isTrue, parsePath, type Request, suffix, type Target, uuid, verbOf } from "./request.ts"
import { type FieldSelector, type LabelSelector, parseFieldSelector, parseLabelSelector } from "../../internal/selector.ts"
import * as S from "./status.ts"
import { type Answer, clone, deepEqual, isObject, type JsonObject } from "./status.ts"
import type { Store, Watcher } from "./store.ts"
import { initialEvents, initialEventsEnd, watchOptionsProblem } from "./watchList.ts"

const SYSTEM_METADATA = ["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"]

const finalizersOf = (object: unknown): Array<string> => {
  const f = metadataOf(object)["finalizers"]
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === "string") : []
}

const withMeta = (object: JsonObject, meta: JsonObject): JsonObject => ({ ...object, metadata: meta })

/** A time as Go prints it in a validation message. */
const goTime = (value: unknown) => {
  const d = new Date(String(value))
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " +0000 UTC")
}

/**
 * An update may not start a deletion (set deletionTimestamp) nor change its grace period; on an
 * object being deleted, a missing or different deletionTimestamp, or a missing grace period, is
 * put back silently.
 */
const deletionProblems = (current: JsonObject, next: JsonObject): Array<S.Cause> => {
  const old = metadataOf(current)
  const causes: Array<S.Cause> = []
  const timestamp = next["deletionTimestamp"]
  if (old["deletionTimestamp"] === undefined && timestamp !== undefined && timestamp !== null) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${goTime(timestamp)}: field is immutable`, field: "metadata.deletionTimestamp" })
  }
  const grace = next["deletionGracePeriodSeconds"]
  if (grace !== undefined && grace !== null && grace !== old["deletionGracePeriodSeconds"]) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${String(grace)}: field is immutable`, field: "metadata.deletionGracePeriodSeconds" })
  }
  return causes
}

const withoutStatus = (object: JsonObject): JsonObject => {
  const { status: _, ...rest } = object
  return rest
}

const withStatusOf = (object: JsonObject, source: JsonObject): JsonObject =>
  source["status"] === undefined ? withoutStatus(object) : { ...object, status: clone(source["status"]) }

export interface ResolvedTarget {
  readonly target: Target
  readonly resource: Resource
  readonly key: string
}

/** The in-memory API server's verbs over a store. */
export class Server {
  readonly store: Store
  /** Whether watch-list (`sendInitialEvents`) is offered (watchList.ts); off, as on kube-apiserver 1.20. */
  watchList = false

  constructor(store: Store) {
    this.store = store
  }

  /** Which resource a path names, or the answer for a path nothing serves. */
  resolve(target: Target | undefined): ResolvedTarget | Answer {
    if (target === undefined || !this.store.servesGroupVersion(target.group, target.version)) return S.pageNotFound()
    const resource = this.store.find(target.group, target.version, target.plural)
    if (resource === undefined) return S.noSuchResource()
    if (!resource.namespaced && target.namespace !== undefined) return S.noSuchResource()
    if (resource.namespaced && target.name !== undefined && target.namespace === undefined) return S.noSuchResource()
    if (target.subresource !== undefined && (target.subresource !== "status" || !resource.status)) return S.noSuchResource()
    return { target, resource, key: objectKey(target.namespace, target.name ?? "") }
  }

  handle(request: Request, ctx: Context): Answer {
    const target = parsePath(request.path)
    const resolved = this.resolve(target)
    if (!("resource" in resolved)) return resolved
    this.store.now = ctx.now
    const verb = verbOf(request.method, target)
    // the caller keeps its request body: nothing stored may alias it
    const parsed = this.parseBody(request.body)
    if (parsed instanceof Error) return S.badRequest(parsed.message)
    const body = clone(parsed)
    // a body that cannot become the kind's Go type is refused before anything else
    const undecodable = verb === "create" || verb === "update" ? undecodableData(resolved.resource, body) : undefined
    if (undecodable !== undefined) {
      return S.badRequest(`${resolved.resource.kind} in version "${target!.version}" cannot be handled as a ${resolved.resource.kind}: v1.${resolved.resource.kind}.Data: decode base64: ${undecodable}`)
    }
    switch (verb) {
      case "get":
        return this.get(resolved)
      case "list":
        return this.list(resolved)
      case "create":
        return resolved.target.name !== undefined
          ? S.methodNotAllowed(`the server does not allow this method on the requested resource`, {})
          : this.create(resolved, body, ctx)
      case "update":
        return this.update(resolved, body, ctx)
      case "patch":
        return this.patch(resolved, body, request.contentType, ctx)
      case "delete":
        return this.delete(resolved, body)
      case "deletecollection":
      case "watch":
        return S.methodNotAllowed(`the server does not allow this method on the requested resource`, {})
    }
  }

  private parseBody(body: unknown): unknown {
    if (typeof body !== "string") return body
    try {
      return JSON.parse(body)
    } catch (e) {
      return new Error((e as Error).message)
    }
  }

  private version(r: ResolvedTarget) {
    return r.target.version
  }

  private apiVersion(r: ResolvedTarget) {
    return r.resource.group === "" ? r.target.version : `${r.resource.group}/${r.target.version}`
  }

  private show(r: ResolvedTarget, object: JsonObject): Answer {
    return { status: 200, body: present(r.resource, this.version(r), object) }
  }

  private manager(r: ResolvedTarget) {
    return r.target.query.get("fieldManager") || DEFAULT_MANAGER
  }

  private dryRun(r: ResolvedTarget) {
    return r.target.query.get("dryRun") === "All"
  }

  // -------------------------------------------------------------------------------------------
  // read

  private get(r: ResolvedTarget): Answer {
    const current = this.store.get(resourceKey(r.resource.group, r.resource.plural), r.key)
    return current === undefined ? S.notFound(r.resource, r.target.name!) : this.show(r, current)
  }

  /** Parses the selectors of a list or watch; a string is the error. */
  selectors(r: ResolvedTarget): { labels: LabelSelector; fields: FieldSelector } | Answer {
    const labels = parseLabelSelector(r.target.query.get("labelSelector") ?? "")
    if (typeof labels === "string") return S.badRequest(labels)
    const fields = parseFieldSelector(r.target.query.get("fieldSelector") ?? "", r.resource.fieldSelectors)
    if (typeof fields === "string") return S.badRequest(fields)
    return { labels, fields }
  }

  private list(r: ResolvedTarget): Answer {
    const q = r.target.query
    const selectors = this.selectors(r)
    if (!("labels" in selectors)) return selectors
    const filter = { namespace: r.target.namespace, ...selectors }
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    const limitText = q.get("limit")
    const limit = limitText === null || limitText === "" ? 0 : Number(limitText)
    if (!Number.isInteger(limit) || limit < 0) return S.badRequest(`limit: Invalid value: ${JSON.stringify(limitText)}`)

    let rv = this.store.rv
    let start = ""
    let items: Array<[string, JsonObject]>
    const continueText = q.get("continue")
    if (continueText !== null && continueText !== "") {
      const token = decodeContinue(continueText)
      if (token === undefined) return S.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
      start = token.start
      if (token.rv >= 0 && token.rv < this.store.oldest) {
        return S.expired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
          { continue: encodeContinue({ rv: -1, start }) }
        )
      }
      if (token.rv >= 0) rv = token.rv
      items = token.rv >= 0 ? this.store.listAt(resKey, rv) : this.store.list(resKey)
    } else {
      const asked = q.get("resourceVersion")
      if (q.get("resourceVersionMatch") === "Exact" && asked !== null && asked !== "") {
        const n = Number(asked)
        if (!Number.isInteger(n) || n < 0) return S.badRequest(`resourceVersion: Invalid value: ${JSON.stringify(asked)}`)
        if (n < this.store.oldest) return S.expired("The resourceVersion for the provided list is too old.")
        rv = Math.min(n, this.store.rv)
        items = this.store.listAt(resKey, rv)
      } else {
        items = this.store.list(resKey)
      }
    }
    const matching = items.filter(([key, o]) => key > start && this.store.matches(filter, o))
    // resourceVersion=0 is served whole by the watch cache, whatever the limit (kube-apiserver 1.20)
    const fromCache = start === "" && q.get("resourceVersion") === "0" && q.get("resourceVersionMatch") !== "Exact"
    const paged = limit > 0 && !fromCache
    const page = paged ? matching.slice(0, limit) : matching
    // as etcd pages: a full page says more when any key follows its last, matching or not
    const inRange = (o: JsonObject) => r.target.namespace === undefined || metadataOf(o)["namespace"] === r.target.namespace
    // an exact metadata.name is read as a single key: never more
    const single = selectors.fields.some((f) => f.field === "metadata.name" && f.equal)
    const more = paged && !single && page.length === limit && items.some(([key, o]) => key > page[page.length - 1]![0] && inRange(o))
    const unfiltered = selectors.labels.length === 0 && selectors.fields.length === 0
    const metadata: JsonObject = {
      ...(r.resource.builtin ? {} : { continue: "" }),
      resourceVersion: String(rv),
      ...(more ? { continue: encodeContinue({ rv, start: page[page.length - 1]![0] }) } : {}),
      ...(more && unfiltered ? { remainingItemCount: matching.length - page.length } : {})
    }
    const shown = page.map(([, o]) => {
      const item = present(r.resource, this.version(r), o)
      if (!r.resource.builtin) return item
      const { apiVersion: _a, kind: _k, ...rest } = item
      return rest
    })
    return {
      status: 200,
      body: { kind: r.resource.listKind, apiVersion: this.apiVersion(r), metadata, items: shown }
    }
  }

  // -------------------------------------------------------------------------------------------
  // create

  private namespaceProblem(r: ResolvedTarget, name: string): Answer | undefined {
    if (!r.resource.namespaced) return undefined
    const namespace = r.target.namespace!
    const ns = this.store.get(NAMESPACES, namespace)
    if (ns === undefined) return S.namespaceNotFound(namespace)
    if (metadataOf(ns)["deletionTimestamp"] !== undefined) {
      return S.failure(
        403,
        "Forbidden",
        `${r.resource.group === "" ? r.resource.plural : `${r.resource.plural}.${r.resource.group}`} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        {
          name,
          ...(r.resource.group !== "" ? { group: r.resource.group } : {}),
          kind: r.resource.plural,
          causes: [{ reason: "NamespaceTerminating", message: `namespace ${namespace} is being terminated`, field: "metadata.namespace" }]
        }
      )
    }
    return undefined
  }

  private crdTerminating(r: ResolvedTarget): Answer | undefined {
    if (r.resource.crd === undefined) return undefined
    const crd = this.store.get(CRDS, r.resource.crd)
    return metadataOf(crd)["deletionTimestamp"] !== undefined
      ? S.methodNotAllowed("create not allowed while custom resource definition is terminating", {
        group: r.resource.group,
        kind: r.resource.plural
      })
      : undefined
  }

  /** Checks and fills a new object's metadata; the object or the answer refusing it. */
  private prepareCreate(r: ResolvedTarget, body: unknown, ctx: Context, nameFromUrl?: string): { object: JsonObject; key: string } | Answer {
    if (!isObject(body)) return S.badRequest("the body of the request was in an unknown format")
    const meta = { ...metadataOf(body) }
    const pathNamespace = r.target.namespace
    if (r.resource.namespaced) {
      const given = str(meta["namespace"])
      if (given !== undefined && given !== "" && given !== pathNamespace) {
        return S.badRequest("the namespace of the provided object does not match the namespace sent on the request")
      }
    }
    let name = str(meta["name"]) ?? ""
    if (nameFromUrl !== undefined && name !== nameFromUrl) {
      return S.badRequest(`the name of the object (${name}) does not match the name on the URL (${nameFromUrl})`)
    }
    const generateName = str(meta["generateName"])
    if (name === "" && generateName !== undefined && generateName !== "") name = `${generateName}${suffix(ctx.random)}`
    const causes = [...validateNames(r.resource, name, generateName), ...metadataProblems(meta), ...contentProblems(r.resource, normalize(r.resource, body))]
    if (causes.length > 0) return S.invalid(r.resource, name, causes)
    const invalidCrd = resourceKey(r.resource.group, r.resource.plural) === CRDS ? crdProblem(r.resource, body, name) : undefined
    if (invalidCrd !== undefined) return invalidCrd
    const nsProblem = this.namespaceProblem(r, name)
    if (nsProblem !== undefined) return nsProblem
    const terminating = this.crdTerminating(r)
    if (terminating !== undefined) return terminating
    const key = objectKey(r.resource.namespaced ? pathNamespace : undefined, name)
    if (this.store.get(resourceKey(r.resource.group, r.resource.plural), key) !== undefined) return S.alreadyExists(r.resource, name)

    for (const k of SYSTEM_METADATA) delete meta[k]
    const created = timestamp(ctx.now)
    const metadata: JsonObject = {
      ...meta,
      name,
      ...(r.resource.namespaced ? { namespace: pathNamespace } : {}),
      uid: uuid(ctx.random),
      ...(r.resource.generation !== "none" ? { generation: 1 } : {}),
      creationTimestamp: created
    }
    if (!r.resource.namespaced) delete metadata["namespace"]
    let object: JsonObject = normalize(r.resource, { ...clone(body), apiVersion: this.apiVersion(r), kind: r.resource.kind, metadata })
    if (r.resource.status) object = withoutStatus(object)
    // validated as decoded; from here on as stored (no nulls nor empty collections)
    return { object: roundTrip(r.resource, creationDefaults(r.resource, object)), key }
  }

  private create(r: ResolvedTarget, body: unknown, ctx: Context): Answer {
    const prepared = this.prepareCreate(r, body, ctx)
    if (!("object" in prepared)) return prepared
    const object = recordUpdate(undefined, prepared.object, this.manager(r), this.apiVersion(r), timestamp(ctx.now))
    return this.commitCreate(r, prepared.key, object, ctx)
  }

  /**
   * Where kube-apiserver calls admission webhooks: the object as it would be stored goes to
   * `ctx.admit` (fake/webhooks.ts), which gives it back (mutated) or refuses the write.
   */
  private admitted(r: ResolvedTarget, ctx: Context, operation: "CREATE" | "UPDATE", object: JsonObject, oldObject: JsonObject | undefined): Admitted {
    if (ctx.admit === undefined || r.target.subresource !== undefined) return { object }
    return ctx.admit({ operation, resource: r.resource, version: r.target.version, namespace: r.target.namespace, object, oldObject, dryRun: this.dryRun(r) })
  }

  private commitCreate(r: ResolvedTarget, key: string, input: JsonObject, ctx: Context): Answer {
    const admitted = this.admitted(r, ctx, "CREATE", input, undefined)
    if ("refused" in admitted) return admitted.refused
    const object = roundTrip(r.resource, admitted.object)
    if (this.dryRun(r)) return { status: 201, body: present(r.resource, this.version(r), object) }
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    const stored = this.store.put(resKey, key, object)
    if (resKey === CRDS) this.store.establishCrd(key)
    return { status: 201, body: present(r.resource, this.version(r), stored) }
  }

  // -------------------------------------------------------------------------------------------
  // update and patch

  /** The object a write to the main resource asks for, with what the server keeps. */
  private mainUpdate(r: ResolvedTarget, current: JsonObject, next: JsonObject): JsonObject {
    const meta = { ...metadataOf(next) }
    const old = metadataOf(current)
    for (const k of SYSTEM_METADATA) {
      if (old[k] === undefined) delete meta[k]
      else meta[k] = old[k]
    }
    meta["name"] = old["name"]
    if (old["namespace"] !== undefined) meta["namespace"] = old["namespace"]
    else delete meta["namespace"]
    let object: JsonObject = normalize(r.resource, { ...next, apiVersion: current["apiVersion"], kind: current["kind"], metadata: meta })
    if (r.resource.status) object = withStatusOf(object, current)
    return object
  }

  private nextGeneration(r: ResolvedTarget, current: JsonObject, next: JsonObject): number | undefined {
    const generation = metadataOf(current)["generation"]
    if (r.resource.generation === "none" || typeof generation !== "number") return undefined
    const strip = (o: JsonObject) => {
      const { metadata: _m, status: _s, ...rest } = o
      return r.resource.status ? rest : { ...rest, status: o["status"] }
    }
    const changed = r.resource.generation === "allButMetadataAndStatus"
      ? !deepEqual(strip(current), strip(next))
      : !deepEqual(current["spec"], next["spec"]) ||
        (r.resource.generation === "specAndAnnotations" && !deepEqual(metadataOf(current)["annotations"], metadataOf(next)["annotations"]))
    return changed ? generation + 1 : generation
  }

  private update(r: ResolvedTarget, body: unknown, ctx: Context): Answer {
    if (!isObject(body)) return S.badRequest("the body of the request was in an unknown format")
    const meta = metadataOf(body)
    const name = r.target.name!
    if (meta["name"] !== name) {
      return S.badRequest(`the name of the object (${str(meta["name"]) ?? ""}) does not match the name on the URL (${name})`)
    }
    if (r.resource.namespaced && meta["namespace"] !== undefined && meta["namespace"] !== "" && meta["namespace"] !== r.target.namespace) {
      return S.badRequest("the namespace of the provided object does not match the namespace sent on the request")
    }
    const current = this.store.get(resourceKey(r.resource.group, r.resource.plural), r.key)
    // a uid in the body is a precondition, checked by the storage before anything else (a missing
    // object has the empty uid)
    const uid = str(meta["uid"])
    if (uid !== undefined && uid !== "" && uid !== metadataOf(current)["uid"]) {
      return S.storagePrecondition(r.resource, name, r.target.namespace, `UID in precondition: ${uid}, UID in object meta: ${str(metadataOf(current)["uid"]) ?? ""}`)
    }
    if (current === undefined) return S.notFound(r.resource, name)
    const rv = str(meta["resourceVersion"])
    if (rv !== undefined && rv !== "" && rv !== metadataOf(current)["resourceVersion"]) return S.conflict(r.resource, name)
    if ((rv === undefined || rv === "") && !r.resource.unconditionalUpdate) {
      return S.invalid(r.resource, name, [{
        reason: "FieldValueInvalid",
        message: "Invalid value: 0x0: must be specified for an update",
        field: "metadata.resourceVersion"
      }])
    }
    const immutable = r.target.subresource === "status" ? [] : deletionProblems(current, metadataOf(body))
    const next = r.target.subresource === "status" ? withStatusOf(current, body) : this.mainUpdate(r, current, body)
    return this.commitUpdate(r, current, recordUpdate(current, roundTrip(r.resource, next), this.manager(r), this.apiVersion(r), timestamp(ctx.now)), next, ctx, immutable)
  }

  /** Validates `decoded` (the object as written), then stores `proposed` (as encoded, managed fields recorded). */
  private commitUpdate(
    r: ResolvedTarget,
    current: JsonObject,
    input: JsonObject,
    written: JsonObject,
    ctx: Context,
    metadataCauses: ReadonlyArray<S.Cause> = []
  ): Answer {
    const admitted = this.admitted(r, ctx, "UPDATE", input, current)
    if ("refused" in admitted) return admitted.refused
    // a mutating webhook's changes are written as the request's own
    const proposed = admitted.object
    const decoded = admitted.object === input ? written : admitted.object
    const name = r.target.name!
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    const oldMeta = metadataOf(current)
    const added = finalizersOf(proposed).filter((f) => !finalizersOf(current).includes(f))
    // validated as decoded (an empty map is not an absent one), stored as encoded
    const causes: Array<S.Cause> = oldMeta["deletionTimestamp"] !== undefined && added.length > 0
      ? [{
        reason: "FieldValueForbidden",
        message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        field: "metadata.finalizers"
      }]
      : []
    causes.push(...metadataCauses)
    if (r.target.subresource === undefined) {
      causes.push(
        ...metadataProblems(metadataOf(decoded)),
        ...updateProblems(r.resource, current, decoded),
        ...contentProblems(r.resource, decoded)
      )
    }
    if (causes.length > 0) return S.invalid(r.resource, name, causes)
    const generation = this.nextGeneration(r, current, proposed)
    const next = generation === undefined ? proposed : withMeta(proposed, { ...metadataOf(proposed), generation })
    const dry = this.dryRun(r)
    if (oldMeta["deletionTimestamp"] !== undefined && finalizersOf(next).length === 0) {
      // the last finalizer is gone: the object goes; the answer still carries the old resourceVersion
      if (!dry) this.store.remove(resKey, r.key)
      return this.show(r, withMeta(next, { ...metadataOf(next), resourceVersion: oldMeta["resourceVersion"] }))
    }
    if (deepEqual(next, current)) return this.show(r, current)
    if (dry) return this.show(r, next)
    const stored = this.store.put(resKey, r.key, next)
    if (resKey === CRDS) this.store.establishCrd(r.key)
    return this.show(r, stored)
  }

  private patch(r: ResolvedTarget, body: unknown, contentType: string | undefined, ctx: Context): Answer {
    const type = (contentType ?? "").split(";")[0]!.trim()
    const accepted = [
      "application/json-patch+json",
      "application/merge-patch+json",
      ...(r.resource.builtin ? ["application/strategic-merge-patch+json"] : []),
      "application/apply-patch+yaml"
    ]
    if (!accepted.includes(type)) {
      return type === "application/strategic-merge-patch+json"
        ? S.failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`)
        : S.failure(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
    }
    const name = r.target.name!
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    if (type === "application/apply-patch+yaml") return this.apply(r, body, ctx)
    const current = this.store.get(resKey, r.key)
    if (current === undefined) return S.notFound(r.resource, name)
    const full = present(r.resource, this.version(r), current)
    let patched: unknown
    try {
      patched = type === "application/json-patch+json"
        ? applyJsonPatch(full, body)
        : type === "application/merge-patch+json"
        ? applyMergePatch(full, body)
        : strategicMerge(full, body)
    } catch (e) {
      if (e instanceof PatchError) return S.patchRejected()
      throw e
    }
    if (!isObject(patched)) return S.badRequest("the patched object is not an object")
    const undecodable = undecodableData(r.resource, patched)
    if (undecodable !== undefined) {
      const message = `Invalid value: ${JSON.stringify(JSON.stringify(patched))}: v1.${r.resource.kind}.Data: decode base64: ${undecodable}`
      return S.failure(422, "Invalid", ` "" is invalid: patch: ${message}`, { causes: [{ reason: "FieldValueInvalid", message, field: "patch" }] })
    }
    const patchedUid = metadataOf(patched)["uid"]
    if (patchedUid !== undefined && patchedUid !== null && patchedUid !== metadataOf(current)["uid"]) {
      return S.invalid(r.resource, name, [S.fieldInvalid("metadata.uid", String(patchedUid), "field is immutable")])
    }
    const rv = metadataOf(patched)["resourceVersion"]
    if (rv !== undefined && rv !== metadataOf(current)["resourceVersion"]) return S.conflict(r.resource, name)
    const immutable = r.target.subresource === "status" ? [] : deletionProblems(current, metadataOf(patched))
    const next = r.target.subresource === "status" ? withStatusOf(current, patched) : this.mainUpdate(r, current, patched)
    return this.commitUpdate(r, current, recordUpdate(current, roundTrip(r.resource, next), this.manager(r), this.apiVersion(r), timestamp(ctx.now)), next, ctx, immutable)
  }

  private apply(r: ResolvedTarget, body: unknown, ctx: Context): Answer {
    const manager = r.target.query.get("fieldManager") ?? ""
    if (manager === "") {
      return S.failure(422, "Invalid", `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`, {
        group: "meta.k8s.io",
        kind: "PatchOptions",
        causes: [{ reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" }]
      })
    }
    if (!isObject(body)) return S.badRequest("the body of the request was in an unknown format")
    const name = r.target.name!
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    // the merged object is converted to the kind's Go type after the conflicts were checked
    const unconvertible = (object: JsonObject): Answer | undefined => {
      const undecodable = undecodableData(r.resource, object)
      return undecodable === undefined ? undefined : S.failure(
        500,
        undefined,
        `failed to convert new object to proper version: unable to convert unstructured object to /${r.target.version}, Kind=${r.resource.kind}: error decoding from json: ${undecodable}`
      )
    }
    const force = isTrue(r.target.query.get("force"))
    const current = this.store.get(resKey, r.key)
    const onStatus = r.target.subresource === "status"
    const skip = (path: ReadonlyArray<string>) =>
      onStatus ? path[0] !== "status" : r.resource.status && path[0] === "status"
    const time = timestamp(ctx.now)
    if (current === undefined) {
      if (onStatus) return S.notFound(r.resource, name)
      const early = unconvertible(body)
      if (early !== undefined) return early
      const prepared = this.prepareCreate(r, { ...body, metadata: { ...metadataOf(body), name: metadataOf(body)["name"] ?? name } }, ctx, name)
      if (!("object" in prepared)) return prepared
      const base = { apiVersion: prepared.object["apiVersion"], kind: prepared.object["kind"], metadata: prepared.object["metadata"] }
      const result = apply({ current: base as JsonObject, applied: roundTrip(r.resource, body), manager, force, apiVersion: this.apiVersion(r), time, skip })
      if (result._tag === "Conflicts") return this.conflicts(result.conflicts)
      const refused = unconvertible(result.object)
      if (refused !== undefined) return refused
      return this.commitCreate(r, prepared.key, creationDefaults(r.resource, normalize(r.resource, result.object)), ctx)
    }
    const result = apply({ current, applied: roundTrip(r.resource, body), manager, force, apiVersion: this.apiVersion(r), time, skip })
    if (result._tag === "Conflicts") return this.conflicts(result.conflicts)
    const refused = unconvertible(result.object)
    if (refused !== undefined) return refused
    // a resourceVersion in the applied configuration is a precondition, checked last
    const rv = str(metadataOf(body)["resourceVersion"])
    if (rv !== undefined && rv !== metadataOf(current)["resourceVersion"]) return S.conflict(r.resource, name)
    // apply only merged the fields it may touch; the rest of the object stays as stored
    const merged = onStatus ? withStatusOf(current, result.object) : this.mainUpdate(r, current, result.object)
    const managedFields = metadataOf(result.object)["managedFields"]
    const { managedFields: _, ...meta } = metadataOf(merged)
    return this.commitUpdate(r, current, roundTrip(r.resource, withMeta(merged, managedFields === undefined ? meta : { ...meta, managedFields })), merged, ctx)
  }

  private conflicts(conflicts: Parameters<typeof conflictMessage>[0]): Answer {
    return S.failure(409, "Conflict", conflictMessage(conflicts), { causes: conflictCauses(conflicts) })
  }

  // -------------------------------------------------------------------------------------------
  // delete

  private delete(r: ResolvedTarget, body: unknown): Answer {
    const name = r.target.name!
    const resKey = resourceKey(r.resource.group, r.resource.plural)
    // with a body, kube-apiserver reads every option from it (a dryRun in the query is then ignored)
    const options: JsonObject = isObject(body) ? body : {
      ...(r.target.query.get("dryRun") !== null ? { dryRun: [r.target.query.get("dryRun")] } : {}),
      ...(r.target.query.get("propagationPolicy") !== null ? { propagationPolicy: r.target.query.get("propagationPolicy") } : {})
    }
    // the options are validated before the object is looked up
    const policy = options["propagationPolicy"]
    if (policy !== undefined && policy !== null && policy !== "Foreground" && policy !== "Background" && policy !== "Orphan") {
      const message = `Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan", "nil"`
      return S.failure(422, "Invalid", `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: ${message}`, {
        group: "meta.k8s.io",
        kind: "DeleteOptions",
        causes: [{ reason: "FieldValueNotSupported", message, field: "propagationPolicy" }]
      })
    }
    const current = this.store.get(resKey, r.key)
    if (current === undefined) return S.notFound(r.resource, name)
    const meta = metadataOf(current)
    const preconditions = isObject(options["preconditions"]) ? options["preconditions"] : {}
    const uid = str(preconditions["uid"])
    if (uid !== undefined && uid !== meta["uid"]) {
      return S.preconditionFailed(
        r.resource,
        name,
        `the UID in the precondition (${uid}) does not match the UID in record (${String(meta["uid"])}). The object might have been deleted and then recreated`
      )
    }
    const rv = str(preconditions["resourceVersion"])
    if (rv !== undefined && rv !== meta["resourceVersion"]) {
      return S.preconditionFailed(
        r.resource,
        name,
        `the ResourceVersion in the precondition (${rv}) does not match the ResourceVersion in record (${String(meta["resourceVersion"])}). The object might have been modified`
      )
    }
    const special = resKey === NAMESPACES || resKey === CRDS
    // the garbage collector's finalizers as the propagation policy asks (special kinds keep theirs)
    const finalizers = special ? finalizersOf(current) : gcFinalizers(finalizersOf(current), typeof policy === "string" ? policy : undefined)
    const pending = finalizers.length > 0 || special
    const dry = Array.isArray(options["dryRun"]) && options["dryRun"].includes("All")
    if (dry) {
      if (!pending) return r.resource.returnDeletedObject ? this.show(r, current) : S.success(r.resource, name, String(meta["uid"]))
      const marked = special ? meta : { ...meta, ...(finalizers.length > 0 ? { finalizers } : {}) }
      if (meta["deletionTimestamp"] !== undefined) return this.show(r, withMeta(current, marked))
      return this.show(r, withMeta(current, { ...marked, deletionTimestamp: timestamp(this.store.now), ...(resKey === NAMESPACES ? {} : { deletionGracePeriodSeconds: 0 }) }))
    }
    const remaining = this.store.delete(resKey, r.key, special ? undefined : finalizers)
    if (remaining !== undefined) return this.show(r, remaining)
    return r.resource.returnDeletedObject ? this.show(r, current) : S.success(r.resource, name, String(meta["uid"]))
  }

  // -------------------------------------------------------------------------------------------
  // watch

  /**
   * Opens a watch: either the answer refusing it, or the events that come first (the current
   * objects as ADDED, the changes after a resourceVersion, or a 410 ERROR) and the registered watcher.
   */
  watch(
    request: Request,
    ctx: Context,
    sink: Pick<Watcher, "send" | "cut" | "end">
  ): Answer | { readonly initial: ReadonlyArray<JsonObject>; readonly watcher: Watcher | undefined } {
    const target = parsePath(request.path)
    const resolved = this.resolve(target)
    if (!("resource" in resolved)) return resolved
    this.store.now = ctx.now
    const selectors = this.selectors(resolved)
    if (!("labels" in selectors)) return selectors
    const q = resolved.target.query
    const refused = watchOptionsProblem(q, this.watchList)
    if (refused !== undefined) return refused
    const watcher: Watcher = {
      resource: resourceKey(resolved.resource.group, resolved.resource.plural),
      namespace: resolved.target.namespace,
      labels: selectors.labels,
      fields: selectors.fields,
      version: resolved.target.version,
      bookmarks: isTrue(q.get("allowWatchBookmarks")),
      ...sink
    }
    const asked = q.get("resourceVersion") ?? ""
    const start = initialEvents(q, this.watchList)
    let initial: Array<JsonObject>
    if (start === "none") {
      initial = []
    } else if (start === "current") {
      initial = this.store.list(watcher.resource, watcher.namespace)
        .filter(([, o]) => this.store.matches(watcher, o))
        .map(([, o]) => ({ type: "ADDED", object: present(resolved.resource, watcher.version, o) }))
      if (this.watchList && q.get("sendInitialEvents") === "true") initial.push(initialEventsEnd(this.bookmark(watcher)))
    } else {
      const rv = Number(asked)
      if (!/^[0-9]+$/.test(asked) || !Number.isSafeInteger(rv)) {
        return S.failure(500, undefined, `resourceVersion: Invalid value: ${JSON.stringify(asked)}: strconv.ParseUint: parsing ${JSON.stringify(asked)}: invalid syntax`)
      }
      if (rv + 1 < this.store.oldest) {
        const error = S.expired("The resourceVersion for the provided watch is too old.").body as JsonObject
        return { initial: [{ type: "ERROR", object: error }], watcher: undefined }
      }
      initial = this.store.replay(watcher, rv)
    }
    this.store.watchers.add(watcher)
    return { initial, watcher }
  }

  bookmark(w: Watcher): JsonObject {
    const resource = this.store.resources.get(w.resource)
    return {
      type: "BOOKMARK",
      object: {
        kind: resource?.kind ?? "",
        apiVersion: resource === undefined ? w.version : resource.group === "" ? w.version : `${resource.group}/${w.version}`,
        metadata: { resourceVersion: String(this.store.rv), creationTimestamp: null }
      }
    }
  }
}
