/**
 * The state of the in-memory API server: the resources it serves, the objects, one global
 * resourceVersion counter, the retained history of changes (for watches from a resourceVersion
 * and for consistent list pages), and the open watches.
 *
 * Also the two controllers a real cluster runs that tests lean on: the namespace controller
 * (deleting a namespace deletes what it holds, then the namespace) and the CRD controllers
 * (establishing a new CustomResourceDefinition, and deleting a deleted CRD's objects).
 * @internal
 */
import { type FieldSelector, type LabelSelector, matchesFields, matchesLabels } from "../../internal/selector.ts"
import { deepEqual, isObject, type JsonObject } from "./status.ts"
import { CRD_CLEANUP, CRDS, metadataOf, NAMESPACES, present, type Resource, resourceKey, resourceOfCrd, str, timestamp } from "./kinds.ts"

export type EventType = "ADDED" | "MODIFIED" | "DELETED"

export interface Change {
  readonly rv: number
  readonly resource: string
  readonly key: string
  readonly type: EventType
  /** For DELETED: the last state, carrying the deletion's resourceVersion. */
  readonly object: JsonObject
  readonly previous: JsonObject | undefined
}

export interface Watcher {
  readonly resource: string
  readonly namespace: string | undefined
  readonly labels: LabelSelector
  readonly fields: FieldSelector
  readonly version: string
  readonly bookmarks: boolean
  readonly send: (event: JsonObject) => void
  /** The server dropped the connection. */
  readonly cut: () => void
  /** The resource stopped being served. */
  readonly end: () => void
}

export class Store {
  rv = 0
  /** Changes with a resourceVersion below this were compacted away. */
  oldest = 1
  readonly resources = new Map<string, Resource>()
  private readonly objects = new Map<string, Map<string, JsonObject>>()
  private history: Array<Change> = []
  readonly watchers = new Set<Watcher>()
  /** Told of every change as it is recorded (a simulation's invariants). */
  readonly observers = new Set<(change: Change) => void>()
  /** Set by the server before each request: the time of the request. */
  now = 0

  private readonly historyLimit: number

  constructor(historyLimit: number) {
    this.historyLimit = historyLimit
  }

  // -------------------------------------------------------------------------------------------
  // resources

  register(resource: Resource): void {
    const key = resourceKey(resource.group, resource.plural)
    const existing = this.resources.get(key)
    const versions = existing === undefined
      ? resource.versions
      : [...existing.versions, ...resource.versions.filter((v) => !existing.versions.includes(v))]
    this.resources.set(key, { ...resource, versions })
    if (!this.objects.has(key)) this.objects.set(key, new Map())
  }

  unregister(key: string): void {
    this.resources.delete(key)
    this.objects.delete(key)
    for (const w of this.watchers) {
      if (w.resource === key) {
        this.watchers.delete(w)
        w.end()
      }
    }
  }

  /** Whether some resource is served under this group and version. */
  servesGroupVersion(group: string, version: string): boolean {
    for (const r of this.resources.values()) if (r.group === group && r.versions.includes(version)) return true
    return false
  }

  find(group: string, version: string, plural: string): Resource | undefined {
    const r = this.resources.get(resourceKey(group, plural))
    return r !== undefined && r.versions.includes(version) ? r : undefined
  }

  // -------------------------------------------------------------------------------------------
  // objects

  get(resource: string, key: string): JsonObject | undefined {
    return this.objects.get(resource)?.get(key)
  }

  /** Current objects of a resource, in key order, optionally in one namespace. */
  list(resource: string, namespace?: string): Array<[string, JsonObject]> {
    const all = [...(this.objects.get(resource) ?? new Map<string, JsonObject>())]
    const filtered = namespace === undefined ? all : all.filter(([, o]) => metadataOf(o)["namespace"] === namespace)
    return filtered.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** The objects of a resource as they were at `rv` (which must not be older than `oldest`). */
  listAt(resource: string, rv: number): Array<[string, JsonObject]> {
    const state = new Map(this.objects.get(resource) ?? [])
    for (let i = this.history.length - 1; i >= 0 && this.history[i]!.rv > rv; i--) {
      const change = this.history[i]!
      if (change.resource !== resource) continue
      if (change.previous === undefined) state.delete(change.key)
      else state.set(change.key, change.previous)
    }
    return [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  /** Writes an object with the next resourceVersion and tells the watches. */
  put(resource: string, key: string, object: JsonObject): JsonObject {
    const previous = this.get(resource, key)
    const rv = ++this.rv
    const stored: JsonObject = { ...object, metadata: { ...metadataOf(object), resourceVersion: String(rv) } }
    this.objects.get(resource)?.set(key, stored)
    this.record({ rv, resource, key, type: previous === undefined ? "ADDED" : "MODIFIED", object: stored, previous })
    return stored
  }

  /** Removes an object; the DELETED event carries its last state at a new resourceVersion. */
  remove(resource: string, key: string): void {
    const previous = this.get(resource, key)
    if (previous === undefined) return
    const rv = ++this.rv
    this.objects.get(resource)?.delete(key)
    const object = { ...previous, metadata: { ...metadataOf(previous), resourceVersion: String(rv) } }
    this.record({ rv, resource, key, type: "DELETED", object, previous })
    this.afterRemoval(resource, previous)
  }

  private record(change: Change): void {
    this.history.push(change)
    if (this.history.length > this.historyLimit) {
      // older versions expire at once; the array is trimmed in batches (a filter at every write
      // made each write cost the whole history)
      this.oldest = Math.max(this.oldest, this.history[this.history.length - this.historyLimit]!.rv)
      if (this.history.length > this.historyLimit + Math.max(64, this.historyLimit >> 3)) this.trim()
    }
    for (const w of this.watchers) {
      const event = this.eventFor(w, change)
      if (event !== undefined) w.send(event)
    }
    for (const observe of this.observers) observe(change)
  }

  /** Drops the history below `rv` (default: everything but the latest change). */
  compact(rv: number = this.rv): number {
    this.oldest = Math.max(this.oldest, rv)
    this.trim()
    return this.oldest
  }

  /** Drops the changes below `oldest` (replays skip them anyway). */
  private trim(): void {
    let i = 0
    while (i < this.history.length && this.history[i]!.rv < this.oldest) i++
    if (i > 0) this.history = this.history.slice(i)
  }

  /** The changes after `rv` as events for a watcher. */
  replay(w: Watcher, rv: number): Array<JsonObject> {
    const out: Array<JsonObject> = []
    for (const change of this.history) {
      if (change.rv <= rv) continue
      const event = this.eventFor(w, change)
      if (event !== undefined) out.push(event)
    }
    return out
  }

  matches(w: Pick<Watcher, "namespace" | "labels" | "fields">, object: JsonObject | undefined): boolean {
    if (object === undefined) return false
    const meta = metadataOf(object)
    if (w.namespace !== undefined && meta["namespace"] !== w.namespace) return false
    return matchesLabels(w.labels, meta["labels"] as Record<string, string> | undefined) && matchesFields(w.fields, object)
  }

  /** A change as a watcher sees it: leaving its selector is a DELETED, entering it an ADDED. */
  private eventFor(w: Watcher, change: Change): JsonObject | undefined {
    if (w.resource !== change.resource) return undefined
    const resource = this.resources.get(change.resource)
    if (resource === undefined) return undefined
    const show = (o: JsonObject) => present(resource, w.version, o)
    if (change.type === "DELETED") {
      return this.matches(w, change.previous) ? { type: "DELETED", object: show(change.object) } : undefined
    }
    const now = this.matches(w, change.object)
    const before = this.matches(w, change.previous)
    if (now && (change.type === "ADDED" || before)) return { type: change.type, object: show(change.object) }
    if (now) return { type: "ADDED", object: show(change.object) }
    if (before) {
      const gone = { ...change.previous!, metadata: { ...metadataOf(change.previous), resourceVersion: String(change.rv) } }
      return { type: "DELETED", object: show(gone) }
    }
    return undefined
  }

  // -------------------------------------------------------------------------------------------
  // deletion and the controllers

  /**
   * Deletes as the API server does: an object with finalizers only gets a deletionTimestamp;
   * namespaces and CRDs start their controllers. `after`: the finalizers the delete leaves (the
   * garbage collector's, as its propagation policy asks). Returns the object while it still exists.
   */
  delete(resource: string, key: string, after?: ReadonlyArray<string>): JsonObject | undefined {
    const current = this.get(resource, key)
    if (current === undefined) return undefined
    const meta = metadataOf(current)
    const deleting = meta["deletionTimestamp"] !== undefined
    if (resource === NAMESPACES) {
      if (deleting) return current
      const marked = this.put(resource, key, {
        ...current,
        metadata: { ...meta, deletionTimestamp: timestamp(this.now) },
        status: { ...(isObject(current["status"]) ? current["status"] : {}), phase: "Terminating" }
      })
      this.finalizeNamespace(str(meta["name"]) ?? key)
      return marked
    }
    if (resource === CRDS) {
      if (deleting) return current
      const finalizers = Array.isArray(meta["finalizers"]) ? meta["finalizers"] as Array<string> : []
      const status = isObject(current["status"]) ? current["status"] : {}
      const conditions = Array.isArray(status["conditions"]) ? status["conditions"] : []
      const marked = this.put(resource, key, {
        ...current,
        metadata: {
          ...meta,
          deletionTimestamp: timestamp(this.now),
          finalizers: finalizers.includes(CRD_CLEANUP) ? finalizers : [...finalizers, CRD_CLEANUP]
        },
        status: {
          ...status,
          conditions: [...conditions, {
            type: "Terminating",
            status: "True",
            lastTransitionTime: timestamp(this.now),
            reason: "InstanceDeletionPending",
            message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"
          }]
        }
      })
      this.cleanupCrd(key)
      return marked
    }
    const before = Array.isArray(meta["finalizers"]) ? meta["finalizers"] as Array<string> : []
    const finalizers = after !== undefined ? [...after] : before
    if (finalizers.length > 0) {
      const same = finalizers.length === before.length && finalizers.every((f, i) => f === before[i])
      if (deleting && same) return current
      const generation = !deleting && typeof meta["generation"] === "number" ? { generation: meta["generation"] + 1 } : {}
      return this.put(resource, key, {
        ...current,
        metadata: {
          ...meta,
          finalizers,
          ...(deleting ? {} : { deletionTimestamp: timestamp(this.now), deletionGracePeriodSeconds: 0 }),
          ...generation
        }
      })
    }
    this.remove(resource, key)
    return undefined
  }

  private afterRemoval(resource: string, object: JsonObject): void {
    const meta = metadataOf(object)
    const namespace = str(meta["namespace"])
    if (namespace !== undefined && metadataOf(this.get(NAMESPACES, namespace))["deletionTimestamp"] !== undefined) {
      this.finalizeNamespace(namespace)
    }
    const r = this.resources.get(resource)
    if (r?.crd !== undefined && metadataOf(this.get(CRDS, r.crd))["deletionTimestamp"] !== undefined) {
      this.cleanupCrd(r.crd)
    }
    if (resource === CRDS) {
      const defined = [...this.resources].find(([, x]) => x.crd === str(meta["name"]))
      if (defined !== undefined) this.unregister(defined[0])
    }
  }

  /** The namespace controller: delete the namespace's objects; once none is left, the namespace. */
  private finalizeNamespace(namespace: string): void {
    let left = 0
    for (const [key, r] of [...this.resources]) {
      if (!r.namespaced) continue
      for (const [objKey, object] of this.list(key, namespace)) {
        if (metadataOf(object)["deletionTimestamp"] === undefined) this.delete(key, objKey)
        if (this.get(key, objKey) !== undefined) left++
      }
    }
    if (left === 0 && this.get(NAMESPACES, namespace) !== undefined) this.remove(NAMESPACES, namespace)
  }

  /** The CRD finalizer: delete every object of the kind; once none is left, the CRD. */
  private cleanupCrd(name: string): void {
    const defined = [...this.resources].find(([, r]) => r.crd === name)
    let left = 0
    if (defined !== undefined) {
      for (const [objKey, object] of this.list(defined[0])) {
        if (metadataOf(object)["deletionTimestamp"] === undefined) this.delete(defined[0], objKey)
        if (this.get(defined[0], objKey) !== undefined) left++
      }
    }
    const crd = this.get(CRDS, name)
    if (left > 0 || crd === undefined) return
    const meta = metadataOf(crd)
    const finalizers = (Array.isArray(meta["finalizers"]) ? meta["finalizers"] as Array<string> : []).filter((f) => f !== CRD_CLEANUP)
    if (finalizers.length > 0) {
      this.put(CRDS, name, { ...crd, metadata: { ...meta, finalizers } })
    } else {
      this.remove(CRDS, name)
    }
  }

  /** The CRD controllers: serve the kind it defines and report Established and NamesAccepted. */
  establishCrd(name: string): void {
    const crd = this.get(CRDS, name)
    if (crd === undefined || metadataOf(crd)["deletionTimestamp"] !== undefined) return
    const spec = isObject(crd["spec"]) ? crd["spec"] : {}
    const names = isObject(spec["names"]) ? spec["names"] : {}
    const group = str(spec["group"]) ?? ""
    const plural = str(names["plural"]) ?? ""
    const kind = str(names["kind"]) ?? ""
    const key = resourceKey(group, plural)
    const taken = this.resources.get(key)
    const accepted = taken === undefined || taken.crd === name
    const status = isObject(crd["status"]) ? crd["status"] : {}
    const previous = Array.isArray(status["conditions"]) ? status["conditions"].filter(isObject) : []
    const condition = (type: string, ok: boolean, reason: string, message: string) => {
      const before = previous.find((c) => c["type"] === type)
      const value = ok ? "True" : "False"
      return {
        type,
        status: value,
        lastTransitionTime: before !== undefined && before["status"] === value ? before["lastTransitionTime"] : timestamp(this.now),
        reason,
        message
      }
    }
    const acceptedNames = accepted
      ? {
        plural,
        singular: str(names["singular"]) ?? kind.toLowerCase(),
        ...(Array.isArray(names["shortNames"]) ? { shortNames: names["shortNames"] } : {}),
        kind,
        listKind: str(names["listKind"]) ?? `${kind}List`,
        ...(Array.isArray(names["categories"]) ? { categories: names["categories"] } : {})
      }
      : status["acceptedNames"]
    const nextStatus = {
      ...status,
      conditions: [
        accepted
          ? condition("NamesAccepted", true, "NoConflicts", "no conflicts found")
          : condition("NamesAccepted", false, "PluralConflict", `"${plural}" is already in use`),
        accepted
          ? condition("Established", true, "InitialNamesAccepted", "the initial names have been accepted")
          : condition("Established", false, "NotAccepted", "not all names are accepted")
      ],
      acceptedNames,
      storedVersions: status["storedVersions"]
    }
    const resource = accepted ? resourceOfCrd(name, spec) : undefined
    if (resource !== undefined) {
      const stale = [...this.resources].find(([k, r]) => r.crd === name && k !== key)
      if (stale !== undefined) this.unregister(stale[0])
      // a CRD's versions replace what it served before
      this.resources.set(key, resource)
      if (!this.objects.has(key)) this.objects.set(key, new Map())
    }
    if (!deepEqual(nextStatus, status)) this.put(CRDS, name, { ...crd, status: nextStatus })
  }
}
