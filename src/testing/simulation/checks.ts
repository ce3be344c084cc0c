/**
 * The invariants a simulation checks while it runs, each a small state machine fed by what the
 * replicas report (reconciles, deletion passes) and by every change of the in-memory server's
 * state; each answers a violation the moment one happens.
 * @internal
 */
import { clock } from "./trace.ts"

/** An invariant that did not hold. */
export interface Violation {
  /** The invariant's name, e.g. `no-overlapping-reconciles`. */
  readonly invariant: string
  /** Simulated millis. */
  readonly at: number
  readonly message: string
}

/** The names of the built-in invariants. */
export const Invariants = {
  overlap: "no-overlapping-reconciles",
  finalizer: "finalizer-removed-after-cleanup",
  leftBehind: "no-finalizer-left-behind",
  storeEqualsServer: "store-equals-server",
  converged: "converged",
  hotLoop: "no-hot-loop",
  started: "replicas-start",
  rbac: "rbac-declared"
} as const

// ---------------------------------------------------------------------------------------------
// No two reconciles of one object at once, across replicas too

interface Running {
  readonly replica: string
  readonly since: number
}

/** Reconciles in flight by controller and key; a second one of the same key is a violation. */
export class OverlapTracker {
  private readonly running = new Map<string, Array<Running>>()

  start(replica: string, controller: string, key: string, at: number): Violation | undefined {
    const id = `${controller}\u0000${key}`
    const others = this.running.get(id) ?? []
    others.push({ replica, since: at })
    this.running.set(id, others)
    if (others.length < 2) return undefined
    const first = others[0]!
    return {
      invariant: Invariants.overlap,
      at,
      message: `controller ${controller}: ${replica} started reconciling ${key} while ${first.replica}'s reconcile of it (since ${clock(first.since)}) was still running`
    }
  }

  end(replica: string, controller: string, key: string): void {
    const id = `${controller}\u0000${key}`
    const list = this.running.get(id)
    if (list === undefined) return
    const i = list.findIndex((r) => r.replica === replica)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.running.delete(id)
  }

  /** A crashed replica's reconciles are over: it can no longer reach the server. */
  abandon(replica: string): void {
    for (const [id, list] of this.running) {
      const left = list.filter((r) => r.replica !== replica)
      if (left.length === 0) this.running.delete(id)
      else this.running.set(id, left)
    }
  }

  /** How many reconciles are in flight. */
  get size(): number {
    let n = 0
    for (const list of this.running.values()) n += list.length
    return n
  }
}

// ---------------------------------------------------------------------------------------------
// A finalizer goes only after its controller's ensureDeleted pass succeeded

/** What the tracker needs of a stored object (the in-memory server's raw JSON). */
export interface RawObject {
  readonly metadata?: {
    readonly name?: unknown
    readonly namespace?: unknown
    readonly uid?: unknown
    readonly deletionTimestamp?: unknown
    readonly finalizers?: unknown
  } | undefined
}

/** A change of the server's state: `object` is undefined when the object went. */
export interface Change {
  readonly kind: string
  readonly previous: RawObject | undefined
  readonly object: RawObject | undefined
}

export const finalizersOf = (object: RawObject | undefined): ReadonlyArray<string> => {
  const f = object?.metadata?.finalizers
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === "string") : []
}

const describe = (kind: string, object: RawObject | undefined) => {
  const meta = object?.metadata
  const ns = typeof meta?.namespace === "string" ? `${meta.namespace}/` : ""
  return `${kind} ${ns}${String(meta?.name ?? "?")}`
}

/**
 * Tracks, per controller and object uid, whether a deletion pass of the controller succeeded
 * (every ensureDeleted ran and succeeded, nothing cancelled, finalizers not kept), and checks each
 * removal of a controller's finalizer against it.
 */
export class FinalizerTracker {
  /** finalizer → controller name */
  private readonly owners = new Map<string, string>()
  private readonly cleanedUp = new Set<string>()

  /** A controller and its finalizer (from a replica's running controllers). */
  register(controller: string, finalizer: string): void {
    this.owners.set(finalizer, controller)
  }

  get finalizers(): ReadonlySet<string> {
    return new Set(this.owners.keys())
  }

  /** A deletion pass of `controller` on `uid` succeeded: its finalizer may go. */
  cleanedUpBy(controller: string, uid: string): void {
    this.cleanedUp.add(`${controller}\u0000${uid}`)
  }

  observe(change: Change, at: number): Violation | undefined {
    const before = finalizersOf(change.previous)
    if (before.length === 0) return undefined
    const after = new Set(finalizersOf(change.object))
    const uid = change.previous?.metadata?.uid
    for (const finalizer of before) {
      if (after.has(finalizer)) continue
      const controller = this.owners.get(finalizer)
      if (controller === undefined) continue
      if (typeof uid === "string" && this.cleanedUp.has(`${controller}\u0000${uid}`)) continue
      const deleting = change.previous?.metadata?.deletionTimestamp !== undefined && change.previous?.metadata?.deletionTimestamp !== null
      return {
        invariant: Invariants.finalizer,
        at,
        message: deleting
          ? `finalizer ${finalizer} was removed from ${describe(change.kind, change.previous)} (uid ${String(uid)}) but no deletion pass of controller ${controller} succeeded for it`
          : `finalizer ${finalizer} was removed from ${describe(change.kind, change.previous)} (uid ${String(uid)}), which is not being deleted`
      }
    }
    return undefined
  }

  /** Objects being deleted that still carry one of the controllers' finalizers (checked once quiet). */
  leftBehind(kind: string, objects: Iterable<RawObject>): ReadonlyArray<string> {
    const out: Array<string> = []
    for (const object of objects) {
      const deleting = object.metadata?.deletionTimestamp
      if (deleting === undefined || deleting === null) continue
      const ours = finalizersOf(object).filter((f) => this.owners.has(f))
      if (ours.length > 0) out.push(`${describe(kind, object)} is being deleted and still carries ${ours.join(", ")}`)
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// No hot loop: requests per simulated second are bounded

/** The window the request rate is averaged over: a hot loop is sustained, a takeover's burst is not. */
export const RATE_WINDOW_MILLIS = 10_000

/** Requests of each replica in the last {@link RATE_WINDOW_MILLIS}, and all of them, for the quiet check. */
export class RateTracker {
  private readonly recent = new Map<string, Array<number>>()
  private readonly totals = new Map<string, Array<number>>()
  private readonly limit: number

  constructor(limitPerSecond: number) {
    this.limit = limitPerSecond * RATE_WINDOW_MILLIS / 1000
  }

  record(replica: string, at: number): Violation | undefined {
    const window = this.recent.get(replica) ?? []
    window.push(at)
    while (window.length > 0 && window[0]! <= at - RATE_WINDOW_MILLIS) window.shift()
    this.recent.set(replica, window)
    const all = this.totals.get(replica) ?? []
    all.push(at)
    this.totals.set(replica, all)
    if (window.length <= this.limit) return undefined
    return {
      invariant: Invariants.hotLoop,
      at,
      message: `${replica} sent ${window.length} requests within ${RATE_WINDOW_MILLIS / 1000} simulated seconds (the limit is ${this.limit})`
    }
  }

  /** Requests of each replica at or after `from` (simulated millis). */
  since(from: number): ReadonlyMap<string, number> {
    const out = new Map<string, number>()
    for (const [replica, all] of this.totals) {
      let n = 0
      for (let i = all.length - 1; i >= 0 && all[i]! >= from; i--) n++
      if (n > 0) out.set(replica, n)
    }
    return out
  }
}
