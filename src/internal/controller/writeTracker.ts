/**
 * The writes a controller's reconciles make through its Client, kept for two jobs, in one place:
 *
 * - Read-your-writes: before a key is reconciled again, every write made while reconciling it, to
 *   an object one of the controller's caches holds (its primary informer or a watched kind's),
 *   shows in that cache: the cache holds the written version or a newer one, or (for a delete)
 *   no longer holds the object, or (for an object the write took out of the cache's selectors)
 *   has dropped it.
 * - Echo suppression: the watch event a write causes carries nothing its writer has not seen, so
 *   it does not enqueue the writer's key again (other keys the object maps to still are). Events
 *   for an object that arrive while a write to it is in flight are held until the write answers:
 *   the one at the written version is the echo, the others are real changes. Only a write known to
 *   have made the version it answers has an echo: a create, or a write whose resourceVersion
 *   precondition the answer moved past (a replace, a status update, a patch testing or carrying
 *   the resourceVersion). A write that changed nothing answers the stored version, which may be
 *   someone else's change the reconcile never saw; a patch without a precondition may be such a
 *   write. And only a watch event is an echo: a relist's change may jump from a version before
 *   someone else's change straight to ours.
 *
 * A cache is told of every change it publishes ({@link WriteTracker.observe}), after its Store
 * applied it, which is what wakes the waits.
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Client from "../../Client.ts"
import type * as Informer from "../../Informer.ts"
import type * as Kind from "../../Kind.ts"
import type * as Patch from "../../Patch.ts"
import * as Store from "../../Store.ts"
import { type FieldSelector, type LabelSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "../selector.ts"

/** One of a controller's caches: an informer and what it selects. */
export interface Cache {
  readonly id: string
  readonly group: string
  readonly kind: string
  readonly namespace: string | undefined
  readonly labels: LabelSelector
  readonly fields: FieldSelector
  readonly informer: Informer.Informer<any>
}

/** A cache over an informer started with these options. */
export const cacheOf = (id: string, kind: Kind.Any, informer: Informer.Informer<any>, options: Informer.Options<any>): Cache => {
  const labels = parseLabelSelector(options.labelSelector ?? "")
  // the supported fields are the server's business: any path is evaluated on the object
  const fields = parseFieldSelector(options.fieldSelector ?? "", fieldsOf(options.fieldSelector))
  return {
    id,
    group: kind.group,
    kind: kind.kind,
    namespace: kind.namespaced ? options.namespace : undefined,
    // a selector the server refuses leaves the informer empty: nothing written lands in it
    labels: typeof labels === "string" ? [{ op: "exists", key: "\u0000unsatisfiable" }] : labels,
    fields: typeof fields === "string" ? [] : fields,
    informer
  }
}

const fieldsOf = (selector: string | undefined) =>
  (selector ?? "").split(",").map((part) => part.split(/!=|==|=/)[0]!.trim()).filter((f) => f !== "")

const rvOf = (rv: string | undefined) => {
  const n = rv === undefined || rv === "" ? NaN : Number(rv)
  return Number.isSafeInteger(n) ? n : NaN
}

/** What a write left behind, as far as the caches are concerned. */
export type Outcome =
  /** `echo`: the write made this version (so its watch event carries nothing new to the writer). */
  | { readonly _tag: "Present"; readonly object: Kind.KubeObject; readonly echo: boolean }
  /** Gone with this write; `uid` when known (else whatever the cache holds under the name). */
  | { readonly _tag: "Gone"; readonly uid?: string | undefined }
  | { readonly _tag: "Nothing" }

interface Expectation {
  readonly cache: Cache
  readonly key: string
  readonly uid: string | undefined
  /** The version the cache must reach; undefined: the object must leave the cache. */
  readonly rv: number | undefined
  /** Whether the written object matches the cache's selectors. */
  readonly inScope: boolean
}

interface Pending {
  count: number
  /** `watch`: the change came from a watch event (only those can be a write's echo). */
  readonly held: Array<{ readonly rv: string; readonly keys: ReadonlyArray<string>; readonly watch: boolean }>
}

interface Waiter {
  signal: Deferred.Deferred<void>
}

const slotOf = (cache: Cache, key: string) => `${cache.id}\u0000${key}`

/** Whether `held`, what a cache shows for the expectation's key, shows what the write left. */
const shows = (e: Expectation, held: Kind.KubeObject | undefined): boolean => {
  if (e.rv === undefined) return held === undefined || held.metadata.uid !== e.uid
  if (held !== undefined && rvOf(held.metadata.resourceVersion) >= e.rv) return true
  return !e.inScope && (held === undefined || held.metadata.uid !== e.uid)
}

/** The writes of one controller (see the module's header). */
export class WriteTracker {
  private readonly expected = new Map<string, Array<Expectation>>()
  /** The keys with expectations on each slot (a cache and an object), dropped as the cache shows them. */
  private readonly expecting = new Map<string, Set<string>>()
  private readonly waiters = new Map<string, Set<Waiter>>()
  private readonly pending = new Map<string, Pending>()
  private readonly echoes = new Map<string, Map<string, Set<string>>>()
  readonly caches: ReadonlyArray<Cache>
  private readonly enqueue: (keys: ReadonlyArray<string>) => Effect.Effect<void>

  constructor(caches: ReadonlyArray<Cache>, enqueue: (keys: ReadonlyArray<string>) => Effect.Effect<void>) {
    this.caches = caches
    this.enqueue = enqueue
  }

  /** The caches a write of this kind in this namespace may land in. */
  cachesFor(kind: Kind.Any, namespace: string | undefined): ReadonlyArray<Cache> {
    return this.caches.filter((c) =>
      c.group === kind.group && c.kind === kind.kind && (c.namespace === undefined || c.namespace === namespace)
    )
  }

  /**
   * Runs a write made while reconciling `primary` to the object `ref` of `kind`, and records what
   * it left behind (`outcome` of its result) for read-your-writes and echo suppression.
   */
  around<A, E, R>(
    primary: string,
    kind: Kind.Any,
    ref: Client.ObjectRef,
    write: Effect.Effect<A, E, R>,
    outcome: (a: A) => Outcome
  ): Effect.Effect<A, E, R> {
    return Effect.suspend(() => {
      const caches = this.cachesFor(kind, ref.namespace)
      if (caches.length === 0) return write
      // a generated name is known only from the answer: nothing to hold before it
      const before = ref.name === "" ? undefined : Store.key(ref)
      if (before !== undefined) {
        for (const c of caches) {
          const slot = slotOf(c, before)
          const p = this.pending.get(slot) ?? { count: 0, held: [] }
          p.count++
          this.pending.set(slot, p)
        }
      }
      return Effect.onExit(write, (exit) =>
        Effect.suspend(() => {
          const done = exit._tag === "Success" ? outcome(exit.value) : undefined
          const release: Array<string> = []
          const records: Array<Effect.Effect<void>> = []
          for (const c of caches) {
            const key = done?._tag === "Present" ? Store.keyOf(done.object) : before
            if (key === undefined) continue
            const slot = slotOf(c, key)
            const p = this.pending.get(slot)
            if (done?._tag === "Present" && done.echo) {
              const rv = done.object.metadata.resourceVersion
              if (rv !== undefined) {
                const i = p === undefined ? -1 : p.held.findIndex((h) => h.rv === rv && h.watch)
                if (i >= 0) {
                  // the echo came first: the other keys it maps to still see it
                  for (const k of p!.held[i]!.keys) if (k !== primary) release.push(k)
                  p!.held.splice(i, 1)
                } else {
                  const mine = this.echoes.get(slot) ?? new Map<string, Set<string>>()
                  mine.set(rv, (mine.get(rv) ?? new Set()).add(primary))
                  this.echoes.set(slot, mine)
                }
              }
            }
            if (done !== undefined && done._tag !== "Nothing") records.push(this.expect(primary, c, key, done))
            if (before !== undefined && key === before && p !== undefined && --p.count === 0) {
              this.pending.delete(slot)
              // what arrived meanwhile and was not the echo is a real change
              for (const h of p.held) release.push(...h.keys)
            }
          }
          return Effect.andThen(
            Effect.all(records, { discard: true }),
            release.length > 0 ? this.enqueue(Array.from(new Set(release))) : Effect.void
          )
        }))
    })
  }

  /** Records what the next reconcile of `primary` waits for. */
  private expect(primary: string, cache: Cache, key: string, outcome: Outcome): Effect.Effect<void> {
    return Effect.map(cache.informer.store.get(key), (cached) => {
      const held = Option.getOrUndefined(cached) as Kind.KubeObject | undefined
      let expectation: Expectation | undefined
      if (outcome._tag === "Gone") {
        const uid = outcome.uid ?? held?.metadata.uid
        if (held !== undefined && held.metadata.uid === uid) expectation = { cache, key, uid, rv: undefined, inScope: false }
      } else if (outcome._tag === "Present") {
        const object = outcome.object
        const rv = rvOf(object.metadata.resourceVersion)
        const inScope = this.inScope(cache, object)
        // out of the cache's selection and not in it: nothing will show there
        if (!Number.isNaN(rv) && (inScope || held !== undefined)) {
          expectation = { cache, key, uid: object.metadata.uid, rv, inScope }
        }
      }
      // already shown (its echo came first): nothing to wait for, nothing to keep
      if (expectation === undefined || shows(expectation, held)) return
      const list = this.expected.get(primary)
      if (list === undefined) this.expected.set(primary, [expectation])
      else list.push(expectation)
      const slot = slotOf(cache, key)
      const keys = this.expecting.get(slot)
      if (keys === undefined) this.expecting.set(slot, new Set([primary]))
      else keys.add(primary)
    })
  }

  /**
   * Drops the expectations on a slot that `held` (what its cache shows now) satisfies: a key
   * reconciled once and never again (its write's echo suppressed) keeps nothing.
   */
  private settle(cache: Cache, key: string, held: Kind.KubeObject | undefined): void {
    const slot = slotOf(cache, key)
    const keys = this.expecting.get(slot)
    if (keys === undefined) return
    for (const primary of keys) {
      const list = this.expected.get(primary)
      const left = list?.filter((e) => !(e.cache === cache && e.key === key && shows(e, held)))
      if (left === undefined || !left.some((e) => e.cache === cache && e.key === key)) keys.delete(primary)
      if (list === undefined || left!.length === list.length) continue
      if (left!.length === 0) this.expected.delete(primary)
      else this.expected.set(primary, left!)
    }
    if (keys.size === 0) this.expecting.delete(slot)
  }

  /** Forgets a key's expectations (its reconcile now waits for them). */
  private take(primary: string): ReadonlyArray<Expectation> | undefined {
    const list = this.expected.get(primary)
    if (list === undefined) return undefined
    this.expected.delete(primary)
    for (const e of list) {
      const slot = slotOf(e.cache, e.key)
      const keys = this.expecting.get(slot)
      if (keys === undefined) continue
      keys.delete(primary)
      if (keys.size === 0) this.expecting.delete(slot)
    }
    return list
  }

  private inScope(cache: Cache, object: Kind.KubeObject): boolean {
    if (cache.namespace !== undefined && object.metadata.namespace !== cache.namespace) return false
    return matchesLabels(cache.labels, object.metadata.labels) && matchesFields(cache.fields, object)
  }

  /** Whether a cache shows what a write left. */
  private check(e: Expectation): Effect.Effect<boolean> {
    return Effect.map(e.cache.informer.store.get(e.key), (cached) => shows(e, Option.getOrUndefined(cached) as Kind.KubeObject | undefined))
  }

  private waitFor(e: Expectation): Effect.Effect<void> {
    return Effect.suspend(() => {
      const slot = slotOf(e.cache, e.key)
      const waiter: Waiter = { signal: Deferred.makeUnsafe<void>() }
      const set = this.waiters.get(slot) ?? new Set()
      set.add(waiter)
      this.waiters.set(slot, set)
      // a fresh signal before each check: a change between the check and the wait is not lost
      const loop: Effect.Effect<void> = Effect.suspend(() => {
        waiter.signal = Deferred.makeUnsafe<void>()
        return Effect.flatMap(this.check(e), (ok) => ok ? Effect.void : Effect.andThen(Deferred.await(waiter.signal), loop))
      })
      // once the informer got past the written version, its Store shows whatever followed it
      const waited = e.rv === undefined ? loop : Effect.raceFirst(loop, e.cache.informer.waitForResourceVersion(String(e.rv)))
      return Effect.ensuring(
        waited,
        Effect.sync(() => {
          set.delete(waiter)
          if (set.size === 0 && this.waiters.get(slot) === set) this.waiters.delete(slot)
        })
      )
    })
  }

  /** Whether the next reconcile of `primary` has writes to wait for. */
  waits(primary: string): boolean {
    return this.expected.has(primary)
  }

  /** Completes once every cache shows the writes made while reconciling `primary` before. */
  caughtUp(primary: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const list = this.take(primary)
      if (list === undefined) return Effect.void
      return Effect.forEach(list, (e) => this.waitFor(e), { discard: true, concurrency: "unbounded" })
    })
  }

  /**
   * A change a cache published (its Store already shows it), with the keys it would enqueue:
   * the keys to enqueue now. Echoes of a key's own writes leave that key out; changes held for a
   * write in flight come back when it answers.
   */
  observe(cache: Cache, change: Informer.Change<Kind.KubeObject>, keys: ReadonlyArray<string>): ReadonlyArray<string> {
    // no write awaited, expected, echoing or in flight (a controller whose reconciles write
    // nothing): nothing below applies, and no slot string is made
    if (this.waiters.size === 0 && this.expecting.size === 0 && this.echoes.size === 0 && this.pending.size === 0) return keys
    const key = Store.keyOf(change.object)
    const slot = slotOf(cache, key)
    const waiting = this.waiters.get(slot)
    if (waiting !== undefined) for (const w of waiting) Deferred.doneUnsafe(w.signal, Effect.void)
    this.settle(cache, key, change._tag === "Deleted" ? undefined : change.object)
    if (change._tag === "Deleted") {
      this.echoes.delete(slot)
      return keys
    }
    if (change._tag === "Resynced") return keys
    const rv = change.object.metadata.resourceVersion
    if (rv === undefined) return keys
    const mine = this.echoes.get(slot)
    if (mine !== undefined) {
      const writers = mine.get(rv)
      // versions older than this one will not come any more
      const n = rvOf(rv)
      for (const r of Array.from(mine.keys())) if (r === rv || rvOf(r) < n) mine.delete(r)
      if (mine.size === 0) this.echoes.delete(slot)
      // a list (a relist after 410) may jump over someone else's change to our version
      if (writers !== undefined && change.source === "watch") return keys.filter((k) => !writers.has(k))
    }
    const p = this.pending.get(slot)
    if (p !== undefined) {
      p.held.push({ rv, keys, watch: change.source === "watch" })
      return []
    }
    return keys
  }
}

/**
 * A Client whose writes, made while the controller reconciles a key (`primary` says which, from
 * the reconcile's context), are recorded by the tracker. Reads and dry runs pass through.
 */
export const trackedClient = (
  base: Client.ClientService,
  tracker: WriteTracker,
  primary: Effect.Effect<string | undefined>
): Client.ClientService => {
  const track = <A, E, R>(kind: Kind.Any, ref: Client.ObjectRef, write: Effect.Effect<A, E, R>, outcome: (a: A) => Outcome) =>
    Effect.flatMap(primary, (key) => (key === undefined ? write : tracker.around(key, kind, ref, write, outcome)))
  const created = (object: Kind.KubeObject): Outcome => ({ _tag: "Present", object, echo: true })
  // the write made the answered version when it moved past its precondition; without one, it may
  // have changed nothing and answered someone else's version
  const written = (precondition: string | undefined) => (object: Kind.KubeObject): Outcome => ({
    _tag: "Present",
    object,
    echo: precondition !== undefined && object.metadata.resourceVersion !== precondition
  })
  return {
    ...base,
    create: (kind, object, options) =>
      options?.dryRun === true ? base.create(kind, object, options) : track(kind, object.metadata, base.create(kind, object, options), created),
    replace: (kind, object, options) =>
      options?.dryRun === true
        ? base.replace(kind, object, options)
        : track(kind, object.metadata, base.replace(kind, object, options), written(object.metadata.resourceVersion)),
    replaceStatus: (kind, object, options) =>
      options?.dryRun === true
        ? base.replaceStatus(kind, object, options)
        : track(kind, object.metadata, base.replaceStatus(kind, object, options), written(object.metadata.resourceVersion)),
    patch: (kind, ref, patch, options) =>
      options?.dryRun === true ? base.patch(kind, ref, patch, options) : track(kind, ref, base.patch(kind, ref, patch, options), written(preconditionOf(patch))),
    patchStatus: (kind, ref, patch, options) =>
      options?.dryRun === true
        ? base.patchStatus(kind, ref, patch, options)
        : track(kind, ref, base.patchStatus(kind, ref, patch, options), written(preconditionOf(patch))),
    delete: (kind, ref, options) =>
      options?.dryRun === true
        ? base.delete(kind, ref, options)
        : track(kind, ref, base.delete(kind, ref, options), (o): Outcome => (Option.isSome(o) ? written(undefined)(o.value) : { _tag: "Gone" }))
  }
}

/**
 * The Client the finalizer writes of a reconcile of `primary` go through (`Finalizers.add` and
 * `remove`). Their patches test the resourceVersion and always change the object, so they made the
 * version they answer, whose watch event is their echo; but removing the last finalizer of an
 * object being deleted deletes it, and the answer is its last stored version with our finalizer
 * (`ours`) still in it: the cache must drop the object, not merely reach that version.
 */
export const finalizerClient = (
  base: Client.ClientService,
  tracker: WriteTracker,
  primary: string,
  ours: (object: Kind.KubeObject) => boolean
): Client.ClientService => ({
  ...base,
  patch: (kind, ref, patch, options) =>
    tracker.around(primary, kind, ref, base.patch(kind, ref, patch, options), (answer): Outcome =>
      answer.metadata.deletionTimestamp !== undefined && ours(answer)
        ? { _tag: "Gone", uid: answer.metadata.uid }
        : { _tag: "Present", object: answer, echo: true })
})

/** The resourceVersion a patch requires the object to have: a JSON patch's `test`, or one the patch carries. */
const preconditionOf = (patch: Patch.Patch): string | undefined => {
  switch (patch._tag) {
    case "JsonPatch": {
      const test = patch.operations.find((op) => op.op === "test" && op.path === "/metadata/resourceVersion")
      return test !== undefined && "value" in test && typeof test.value === "string" ? test.value : undefined
    }
    case "ApplyPatch":
      return rvIn(patch.object)
    default:
      return rvIn(patch.patch)
  }
}

const rvIn = (object: unknown): string | undefined => {
  const meta = typeof object === "object" && object !== null ? (object as { metadata?: unknown }).metadata : undefined
  const rv = typeof meta === "object" && meta !== null ? (meta as { resourceVersion?: unknown }).resourceVersion : undefined
  return typeof rv === "string" ? rv : undefined
}
