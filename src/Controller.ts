/**
 * A controller: for every object of a kind, run a list of `Resource`s in order, reliably.
 *
 * - Keys, not events: changes from a (shared) informer go into a `WorkQueue`; reconciles of one
 *   key never overlap, events during a reconcile cause one follow-up, failures are retried with
 *   per-key backoff and reported, never stopping the controller or the process.
 * - Names of our own: the finalizer is `<prefix>/<controller name>` and the pause annotation
 *   `<prefix>/paused`, where the prefix is the API group of the controller's kind (a custom
 *   resource's group is the user's domain); for a built-in kind, whose group is Kubernetes', the
 *   `finalizerPrefix` (or `finalizer`) option is required. Objects still carrying the names of
 *   operatorkit 0.1's default prefix `operatorkit.giantswarm.io` keep working: that finalizer is
 *   replaced by ours at the next reconcile (or removed with ours on deletion) and that pause
 *   annotation is honoured.
 * - Finalizers: ours is added
 *   with a resourceVersion precondition before any `ensureCreated`, then the same pass goes on
 *   with `ensureCreated` on the patched object. It is removed only after every `ensureDeleted`
 *   succeeded (and neither "cancel the reconciliation" nor "keep finalizers" was asked for), from a
 *   fresh read and with a resourceVersion precondition, so other controllers' finalizers are never
 *   lost. An object deleted while the operator was down is cleaned up when it comes back: the
 *   initial list shows it with its deletionTimestamp and our finalizer.
 * - Exactly once: with no failures, `ensureDeleted` runs once per object per controller. Uids
 *   whose cleanup succeeded are remembered until their deletion is seen, so a stale cached copy
 *   (removing the last finalizer answers the object's last stored version; the deletion comes a
 *   version later) is never cleaned up twice. An object that went while carrying our finalizer
 *   without a deletion pass (kube-apiserver 1.20 completes a delete that read the object before our
 *   finalizer was added) still gets its `ensureDeleted`, once its absence is confirmed. The races
 *   of adding a finalizer (the object gone: 404; moved: 409, or 422 from the resourceVersion test or
 *   for an object being deleted) are handled, not counted as errors.
 * - Read-your-writes for every write a reconcile makes through the `Client` it gets from its
 *   context (create, replace, patch, delete, status; the finalizers too), to an object one of the
 *   controller's caches holds (the primary kind or a watched one): the key's next reconcile waits
 *   until those caches show the writes (up to `readYourWritesTimeout`). The watch event of such a
 *   write does not enqueue the writer's key again (adding the finalizer or writing status does not
 *   loop, and a failure's echo does not skip its backoff). A Client captured outside the
 *   reconcile (e.g. when the resource was built) is not tracked.
 * - Nothing stuck silently: an object that does not decode (another writer, or a tightened Schema,
 *   left it so) is reconciled from its raw form: reported (a Warning Event `DecodeFailed` naming
 *   the failing path, a log line, the informer's decode-failure counter) and retried with backoff,
 *   never acted on from its last good copy, until a fix lets it decode. Deleted with our finalizer
 *   on it, it keeps the finalizer by default; `undecodableDeletion` can release it, or hand the raw
 *   object to a hook first.
 * - A pause annotation (default `<prefix>/paused: "true"`) stops all work on an object; removing it
 *   resumes.
 * - Graceful shutdown: when the scope closes, no new keys are taken; reconciles in flight get up
 *   to `shutdownTimeout` to finish, then they are interrupted.
 * - Observability: each reconcile is a root span `Controller.reconcile` linked to the
 *   `Controller.watchEvent` spans of the watch events that caused it (see `Tracing`); with an
 *   `Events.Recorder` in context a failed reconcile is a Warning Event (`ReconcileError`) on its
 *   object, with the controller's name as source.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as Client from "./Client.ts"
import * as Events from "./Events.ts"
import * as Finalizers from "./Finalizers.ts"
import * as Framework from "./Framework.ts"
import * as Informer from "./Informer.ts"
import { causeMessage, logFailure } from "./internal/causeMessage.ts"
import { Probe } from "./internal/controller/probe.ts"
import { makeReconciliation, resourceRunner } from "./internal/controller/reconciliation.ts"
import { Undecodables } from "./internal/controller/undecodable.ts"
import { refreshOnLead, Workers } from "./internal/controller/workers.ts"
import { cacheOf, finalizerClient, trackedClient, WriteTracker } from "./internal/controller/writeTracker.ts"
import * as Def from "./internal/metrics.ts"
import { isTraced, whenTraced } from "./internal/tracing.ts"
import * as LeaderElection from "./LeaderElection.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Rbac from "./Rbac.ts"
import * as Sharding from "./Sharding.ts"
import * as Store from "./Store.ts"
import type * as Watch from "./Watch.ts"
import * as WorkQueue from "./WorkQueue.ts"

/**
 * Options of a controller.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<
  A extends Kind.KubeObject,
  Rs extends ReadonlyArray<Framework.Resource<A, any, any>>,
  B extends boolean = boolean
> {
  readonly name: string
  readonly kind: Kind.Kind<A, B>
  /** Run in this order for each object. */
  readonly resources: Rs
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** The whole finalizer name; default `<finalizerPrefix>/<name>`. */
  readonly finalizer?: string | undefined
  /**
   * The prefix of the finalizer and of the pause annotation: a domain of yours. Default: the API
   * group of a custom kind; required for a built-in kind (see `Finalizers.OwnNames`).
   */
  readonly finalizerPrefix?: string | undefined
  /**
   * Keys reconciled at once (default 4). Reconciles mostly wait on the API server, so a few run in
   * parallel cheaply, while one key never overlaps itself; more mostly adds load on the server.
   */
  readonly concurrency?: number | undefined
  /** Objects with this annotation and value are left alone (default `<prefix>/paused: "true"`). `false` turns pausing off. */
  readonly pause?: { readonly annotation: string; readonly value: string } | false | undefined
  readonly predicates?: ReadonlyArray<Watch.Predicate<A>> | undefined
  readonly watches?: ReadonlyArray<Watch.Watch> | undefined
  readonly resyncPeriod?: Duration.Input | undefined
  readonly workQueue?: WorkQueue.Options | undefined
  /** How long reconciles in flight may take to finish on shutdown (default 30 seconds). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /** How long a reconcile waits for the caches to show its key's last writes (default 10 s). */
  readonly readYourWritesTimeout?: Duration.Input | undefined
  /** Told about every failed reconcile (already requeued with backoff); e.g. to record an Event. */
  readonly onError?: ((failure: Failure<A>) => Effect.Effect<void>) | undefined
  /**
   * What happens to an object that does not decode (another writer, or a tightened Schema, left
   * it so) once it is being deleted with our finalizer on it. Until then, and by default after,
   * such an object is reported (a Warning Event `DecodeFailed` naming the failing path, a log
   * line, the informer's decode-failure counter) and retried with per-key backoff; no resource
   * runs on it, nor on its last good copy. A fix to the object (or the Schema) unblocks it.
   *
   * - `"keep"` (default): keep the finalizer and keep reporting; `ensureDeleted` runs once it decodes.
   * - `"release"`: remove our finalizer without cleanup (a Warning Event `FinalizerReleased` says so).
   * - a function: given the raw object and the decode error, it cleans up what it can; once it
   *   succeeds the finalizer is removed, a failure is retried with backoff.
   */
  readonly undecodableDeletion?:
    | "keep"
    | "release"
    | ((object: RawObject, error: KubeError.DecodeError) => Effect.Effect<void, unknown, Client.Client>)
    | undefined
}

/**
 * An object as the API server sent it, undecoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawObject {
  readonly apiVersion?: unknown
  readonly kind?: unknown
  readonly metadata: {
    readonly name: string
    readonly namespace?: string | undefined
    readonly uid?: string | undefined
    readonly resourceVersion?: string | undefined
    readonly deletionTimestamp?: string | undefined
    readonly finalizers?: ReadonlyArray<string> | undefined
    readonly annotations?: Readonly<Record<string, string>> | undefined
    readonly [key: string]: unknown
  }
  readonly [key: string]: unknown
}

/**
 * A reconcile found its object undecodable: it is retried with backoff, and reported on the
 * object (a Warning Event `DecodeFailed`) when an `Events.Recorder` is in context.
 *
 * @example
 * ```ts
 * import { Controller } from "operatorkit"
 *
 * const e = new Controller.UndecodableObject({ kind: "Widget", namespace: "a", name: "w", problem: "spec.size: Expected number", deleting: false })
 * e.message // => "Widget a/w does not decode: spec.size: Expected number"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UndecodableObject extends Schema.TaggedError<UndecodableObject>()("UndecodableObject", {
  kind: Schema.String,
  namespace: Schema.optionalKey(Schema.String),
  name: Schema.String,
  /** The first failing path and what is wrong there. */
  problem: Schema.String,
  /** Being deleted with our finalizer, which it keeps until it decodes. */
  deleting: Schema.Boolean
}) {
  override get message(): string {
    const ns = this.namespace !== undefined ? `${this.namespace}/` : ""
    return `${this.kind} ${ns}${this.name} does not decode: ${this.problem}` +
      (this.deleting ? "; it is being deleted and keeps our finalizer until it decodes (see the undecodableDeletion option)" : "")
  }
}

/**
 * A failed reconcile.
 *
 * @since 0.1.0
 * @category models
 */
export interface Failure<A> extends WorkQueue.Failure<string, unknown> {
  readonly controller: string
  /** The object as the controller last saw it, when it still exists. */
  readonly object: A | undefined
}

/**
 * Figures of a running controller.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly name: string
  readonly reconciles: number
  readonly errors: number
  readonly activeWorkers: number
  readonly maxConcurrentReconciles: number
  /** Whether workers run now (false on a standby). */
  readonly leading: boolean
  readonly queue: WorkQueue.Stats
}

/**
 * A running controller.
 *
 * @since 0.1.0
 * @category models
 */
export interface Controller<A extends Kind.KubeObject> {
  readonly name: string
  readonly finalizer: string
  readonly informer: Informer.Informer<A>
  readonly queue: WorkQueue.WorkQueue<string>
  /** Completes once the primary informer synced. */
  readonly synced: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

/**
 * Running controllers, for health checks and metrics (a default registry is shared process-wide;
 * provide your own to isolate).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Controller } from "operatorkit"
 *
 * const names = Effect.gen(function*() {
 *   const registry = yield* Controller.Registry
 *   return [...registry].map((c) => c.name)
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Registry = Context.Reference<Set<Controller<any>>>("operatorkit/Controller/Registry", {
  defaultValue: () => new Set()
})

/**
 * Starts a controller; it runs until the scope closes, then stops gracefully.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Controller, Framework, Kind } from "operatorkit"
 *
 * const hello = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({
 *   name: "hello",
 *   ensureCreated: (cm) => Effect.log(`hello ${cm.metadata.name}`),
 *   ensureDeleted: (cm) => Effect.log(`bye ${cm.metadata.name}`)
 * })
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const controller = yield* Controller.make({ name: "hello", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: [hello] })
 *   yield* controller.synced
 *   yield* Effect.never
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Kind.KubeObject, const Rs extends ReadonlyArray<Framework.Resource<A, any, any>>, B extends boolean = boolean>(
  options: Options<A, Rs, B> & Finalizers.OwnNames<B>
): Effect.Effect<
  Controller<A>,
  never,
  Client.Client | Scope.Scope | Exclude<Framework.Requirements<Rs[number]>, Framework.Reconciliation>
> =>
  Effect.gen(function*() {
    const { kind, name } = options
    // a Shard in context whose ring spreads this kind: reconcile only this replica's share, while
    // it holds its shard Lease, writing through its fenced Client
    const shard = Option.filter(yield* Effect.serviceOption(Sharding.Shard), (s) => s.role(kind) === "primary")
    const sharded = Option.getOrUndefined(shard)
    const client = sharded === undefined ? yield* Client.Client : sharded.client(yield* Client.Client)
    const names = yield* Effect.try({ try: () => Finalizers.names(options), catch: (e) => e }).pipe(Effect.orDie)
    const { finalizer } = names
    const concurrency = Math.max(1, options.concurrency ?? 4)
    const rywTimeout = options.readYourWritesTimeout ?? "10 seconds"
    const predicates = options.predicates ?? []

    const informers = yield* Effect.serviceOption(Informer.Informers)
    const informerOf = <B extends Kind.KubeObject>(k: Kind.Kind<B>, o: Informer.Options<B>) =>
      Option.isSome(informers) ? informers.value.get(k, o) : Informer.make(k, o)
    const primaryOptions = {
      namespace: options.namespace,
      labelSelector: sharded === undefined ? options.labelSelector : sharded.narrow(options.labelSelector),
      fieldSelector: options.fieldSelector,
      resyncPeriod: options.resyncPeriod
    }
    const informer = yield* informerOf(kind, primaryOptions)
    // owned kinds of the ring follow their owner's shard: watched with the same selector
    const watchOptions = (watch: Watch.Watch): Informer.Options<any> =>
      sharded !== undefined && sharded.role(watch.kind) === "owned"
        ? { ...watch.options, labelSelector: sharded.narrow(watch.options.labelSelector) }
        : watch.options
    const watched = yield* Effect.forEach(options.watches ?? [], (watch) =>
      Effect.map(informerOf(watch.kind, watchOptions(watch)), (secondary) => ({ watch: { ...watch, options: watchOptions(watch) }, secondary })))

    const counters = { reconciles: 0, errors: 0, active: 0 }
    const queue = yield* WorkQueue.make<string>({
      name,
      ...options.workQueue,
      metrics: Def.workQueueHooks(name, options.workQueue?.metrics, Def.metricContext(yield* Effect.context<never>()))
    })

    // Every write a reconcile makes through the Client to an object one of the controller's
    // caches holds goes through one tracker: the key's next reconcile waits until the caches show
    // it (read-your-writes), and its watch event does not enqueue the writer again (adding the
    // finalizer or writing status does not loop, and a failure's echo does not skip its backoff).
    const primaryCache = cacheOf("primary", kind, informer, primaryOptions)
    const secondaryCaches = watched.map(({ secondary, watch }, i) => cacheOf(`watch${i}`, watch.kind, secondary, watch.options))
    const tracker = new WriteTracker(
      [primaryCache, ...secondaryCaches],
      (keys) => Effect.forEach(keys, (key) => queue.add(key), { discard: true })
    )
    // the Client the resources get: their writes are tracked under the key being reconciled
    const reconciling = Effect.map(
      Effect.serviceOption(Framework.Reconciliation),
      (r) => (Option.isSome(r) && r.value.controller === name ? r.value.key : undefined)
    )
    const resourceClient = trackedClient(client, tracker, reconciling)

    // Exactly once: the uids whose ensureDeleted all succeeded, until their deletion is seen, so a
    // stale copy (the cache may still show the object with our finalizer for a moment after its
    // removal) is never cleaned up twice; and objects that went while carrying our finalizer
    // without a deletion pass (kube-apiserver 1.20 completes a delete that read the object before
    // our finalizer was added), whose ensureDeleted is still owed.
    const cleanedUp = new Set<string>()
    const owed = new Map<string, A>()
    // the uids this replica let go to another shard (an acknowledged drain): they leave its cache
    // with our finalizer on, and their cleanup is the new shard's, never owed here
    const handedOff = new Set<string>()
    const markHandedOff = (uid: string | undefined) => {
      if (uid === undefined) return
      handedOff.add(uid)
      if (handedOff.size > 10_000) handedOff.delete(handedOff.values().next().value!)
    }
    // a simulation's probe (see internal/controller/probe.ts); none outside one
    const probe = yield* Probe
    const markCleanedUp = (uid: string | undefined) => {
      if (uid === undefined) return
      probe?.cleanedUp(name, uid)
      cleanedUp.add(uid)
      // bounded: the oldest entries are the least likely to meet a stale copy
      if (cleanedUp.size > 10_000) cleanedUp.delete(cleanedUp.values().next().value!)
    }
    // Objects that do not decode now (from the informer's `invalid` stream): their reconcile reads
    // them raw, reports them and applies the undecodableDeletion policy, never their stale copy.
    // A failed reconcile is a Warning Event on its object when an Events.Recorder is in context.
    const recorder = yield* Effect.serviceOption(Events.Recorder)
    const undecodables = new Undecodables<A>({
      name,
      kind,
      client,
      resourceClient,
      informer,
      names,
      tracker,
      policy: options.undecodableDeletion ?? "keep",
      readYourWritesTimeout: rywTimeout,
      recorder,
      markCleanedUp,
      failure: (fields) => new UndecodableObject(fields)
    })
    const ours = (object: Kind.KubeObject) => Finalizers.ours(names, object)
    const runResources = resourceRunner(options.resources)
    const refOf = (object: Kind.KubeObject) => ({ name: object.metadata.name, namespace: object.metadata.namespace })
    // the finalizer writes of a reconcile, tracked under its key (see finalizerClient)
    const finalizers = (key: string) => finalizerClient(client, tracker, key, ours)

    // the primary cache read at once, without an Effect step (a Store made by an informer always has one)
    const readNow = Store.reader(informer.store)
    /** The object to reconcile: from the Store, once the caches show the key's own last writes. */
    const current = (key: string): Effect.Effect<Option.Option<A>> => {
      if (!tracker.waits(key)) return informer.store.get(key)
      return Effect.gen(function*() {
        const caughtUp = yield* tracker.caughtUp(key).pipe(Effect.timeoutOption(rywTimeout))
        if (Option.isNone(caughtUp)) {
          yield* Effect.logWarning(`controller ${name}: the caches did not show the last writes of ${key} within ${Duration.format(Duration.fromInputUnsafe(rywTimeout))}; reconciling what they have`)
        }
        return yield* informer.store.get(key)
      })
    }

    // A shard that does not hold its Lease at this instant starts no reconcile (its workers are
    // about to be stopped): the key goes back in the queue after a retry period.
    const unfenced = sharded === undefined
      ? undefined
      : Effect.andThen(Effect.sleep(sharded.config.retryPeriod), Effect.interrupt)
    // what a simulation counts as a reconcile of an object (a key whose object is gone, a drain's
    // acknowledgement, or a check that a vanished object still exists is not one)
    const probed = <X, E, R>(key: string, effect: Effect.Effect<X, E, R>): Effect.Effect<X, E, R> =>
      probe === undefined ? effect : Effect.suspend(() => {
        probe.reconcileStarted(name, key)
        return Effect.ensuring(effect, Effect.sync(() => probe.reconcileEnded(name, key)))
      })

    const reconcile = (
      key: string
    ): Effect.Effect<WorkQueue.Outcome, unknown, Exclude<Framework.Requirements<Rs[number]>, Framework.Reconciliation>> =>
      Effect.withFiber((fiber) => {
        if (unfenced !== undefined && !sharded!.holds()) return unfenced
        // spans and their annotations only when a tracer records them (see internal/tracing.ts)
        // inside withFiber already: timed at once, one step fewer per reconcile
        if (!isTraced(fiber)) return timed(reconcileObject(key, false), false)
        return Effect.suspend(() => timed(reconcileObject(key, true), true)).pipe(
          Effect.withSpan("Controller.reconcile", {
            attributes: {
              "operatorkit.controller": name,
              "k8s.kind": kind.kind,
              ...keyAttributes(key),
              ...(sharded !== undefined ? { "operatorkit.shard": sharded.config.id } : {})
            },
            // a trace of its own, linked to the watch events that caused it
            root: true,
            links: takeCauses(key)
          }, { captureStackTrace: false })
        )
      }) as Effect.Effect<WorkQueue.Outcome, unknown, Exclude<Framework.Requirements<Rs[number]>, Framework.Reconciliation>>

    const reconcileObject = (key: string, traced: boolean): Effect.Effect<WorkQueue.Outcome, unknown, any> => {
      if (undecodables.has(key)) return probed(key, undecodables.reconcile(key, () => reconcileObject(key, traced)))
      const debt = owed.get(key)
      // the common case: no cleanup owed, no write of this key to wait for; the cache read now
      if (debt === undefined && readNow !== undefined && !tracker.waits(key)) return reconcileCurrent(key, readNow(key), traced)
      const main = Effect.flatMap(current(key), (found) => reconcileCurrent(key, Option.getOrUndefined(found), traced))
      if (debt === undefined) return main
      return Effect.gen(function*() {
        const retryIn = yield* settleOwed(key, debt)
        const outcome = yield* main
        if (retryIn === undefined) return outcome
        const other = outcome?.requeueAfter
        return { requeueAfter: other === undefined || Duration.isLessThan(retryIn, Duration.fromInputUnsafe(other)) ? retryIn : other }
      })
    }

    /** Reconciles what the cache holds under the key, if anything. */
    const reconcileCurrent = (key: string, object: A | undefined, traced: boolean): Effect.Effect<WorkQueue.Outcome, unknown, any> => {
      if (object === undefined) return Effect.void // deleted, or never ours: nothing to do
      // the sharder asked for it: this reconcile is the last here; it lets the object go
      if (sharded !== undefined && sharded.draining(object)) return letGo(sharded, object, key)
      return probed(key, reconcileFound(object, key, traced))
    }

    /** Reconciles an object the cache holds (a simulation's probe counts it). */
    const reconcileFound = (object: A, key: string, traced: boolean): Effect.Effect<WorkQueue.Outcome, unknown, any> => {
      if (Finalizers.isPaused(names, object.metadata.annotations)) return Effect.succeed(undefined)
      const state = makeReconciliation({
        controller: name,
        key,
        mode: object.metadata.deletionTimestamp !== undefined ? "delete" : "create"
      })
      const done = (): WorkQueue.Outcome =>
        state.requeueAfter !== undefined ? { requeueAfter: state.requeueAfter } : undefined
      // the resources' Client (resourceClient) is the workers' (see Workers above)
      const run = (object: A) => runResources(object, state)
      // the common case, kept free of generators: a live object that already has our finalizer
      const steps = state.mode === "create" && Finalizers.has(names, object) && !Finalizers.hasLegacy(names, object)
        ? Effect.map(run(object), done)
        : Effect.gen(function*() {
          if (state.mode === "delete") {
            if (!ours(object)) return // not ours to clean up
            const uid = object.metadata.uid
            // a stale copy of an object already cleaned up (or whose finalizer removal failed
            // after every ensureDeleted succeeded) only gets its finalizer removed
            if (uid === undefined || !cleanedUp.has(uid)) {
              yield* run(object)
              if (state.reconciliationCanceled || state.finalizersKept) return done()
              markCleanedUp(uid)
            }
            yield* Finalizers.remove(finalizers(key), kind, names, object)
            return done()
          }
          const added = yield* Finalizers.add(finalizers(key), kind, names, object)
          if (Option.isNone(added)) return // gone, or being deleted: its next event brings it back
          yield* run(added.value)
          return done()
        })
      if (!traced) return steps
      return Effect.andThen(
        Effect.annotateCurrentSpan({
          "k8s.resource_version": object.metadata.resourceVersion ?? "",
          ...(object.metadata.generation !== undefined ? { "k8s.generation": object.metadata.generation } : {}),
          "operatorkit.mode": state.mode
        }),
        steps
      )
    }

    /**
     * Acknowledges a drain: reconciles of one key never overlap, so none of this object is in
     * flight here; removing both labels hands it to the sharder (and takes it out of this
     * replica's caches). A withdrawn drain fails the patch's test (422): it stays ours.
     */
    const letGo = (shard: Sharding.ShardService, object: A, key: string): Effect.Effect<WorkQueue.Outcome, KubeError.KubeError> =>
      tracker.around(key, kind, refOf(object), client.patch(kind, refOf(object), shard.acknowledgement(object)), (answer) => ({ _tag: "Present" as const, object: answer, echo: true })).pipe(
        Effect.andThen(shard.acknowledged(object)),
        Effect.tap(() => Effect.sync(() => markHandedOff(object.metadata.uid))),
        Effect.tap(() => Effect.sync(() => probe?.handedOff(shard.config.ring, `${key}: drain acknowledged by controller ${name}`))),
        Effect.catchIf((e) => e._tag === "Invalid" || e._tag === "NotFound", () => Effect.void),
        Effect.as(undefined)
      )

    /**
     * The ensureDeleted owed to an object that went while carrying our finalizer, without a
     * deletion pass. Confirmed gone first: an object that left the label selector still exists
     * (and keeps our finalizer). A canceled or kept cleanup is tried again after the delay the
     * resources asked for (default 30 seconds): there is no finalizer left to hold it.
     */
    const settleOwed = (key: string, object: A): Effect.Effect<Duration.Duration | undefined, unknown, any> =>
      Effect.gen(function*() {
        // let go while its departure was on the way: the new shard cleans it up
        if (object.metadata.uid !== undefined && handedOff.delete(object.metadata.uid)) {
          owed.delete(key)
          return undefined
        }
        const fresh = yield* client.get(kind, refOf(object)).pipe(
          Effect.map(Option.some),
          Effect.catchTag("NotFound", () => Effect.succeedNone)
        )
        if (Option.isSome(fresh) && fresh.value.metadata.uid === object.metadata.uid) {
          owed.delete(key)
          return undefined
        }
        yield* Effect.logInfo(`controller ${name}: ${key} was deleted with our finalizer still on it; running its ensureDeleted`)
        const state = makeReconciliation({ controller: name, key, mode: "delete" })
        yield* probed(key, Effect.provideService(runResources(object, state), Client.Client, resourceClient))
        if (state.reconciliationCanceled || state.finalizersKept) return state.requeueAfter ?? Duration.seconds(30)
        if (owed.get(key) === object) owed.delete(key)
        markCleanedUp(object.metadata.uid)
        return undefined
      })

    // the metrics with this controller's attributes, built once, updated synchronously
    const metricContext = Def.metricContext(yield* Effect.context<never>())
    const metrics = Def.reconcileSeries(name)
    // the clock of the controller's context (TestClock in tests), read without an Effect per reading
    const clock = yield* Clock.Clock
    /** Counts and times a reconcile from now (called as it starts: inside `reconcile`'s withFiber). */
    const timed = <X, E, R>(effect: Effect.Effect<X, E, R>, traced: boolean) => {
      const start = clock.currentTimeMillisUnsafe()
      counters.active++
      // the bookkeeping is synchronous: untraced, the finalizer returns no effect to run after it;
      // traced, the span's annotation follows it. Uninterruptibly either way (an interrupted
      // reconcile is counted too)
      return Effect.onExitPrimitive(effect, (exit) => {
        counters.active--
        counters.reconciles++
        const requeued = exit._tag === "Success" && exit.value !== undefined &&
          (exit.value as { requeueAfter?: unknown }).requeueAfter !== undefined
        const result = exit._tag === "Failure" ? "error" : requeued ? "requeue_after" : "success"
        metrics.time.updateUnsafe((clock.currentTimeMillisUnsafe() - start) / 1000, metricContext)
        if (exit._tag === "Failure") {
          counters.errors++
          metrics.error.updateUnsafe(1, metricContext)
          metrics.errors.updateUnsafe(1, metricContext)
        } else {
          ;(requeued ? metrics.requeueAfter : metrics.success).updateUnsafe(1, metricContext)
        }
        return traced ? Effect.annotateCurrentSpan("operatorkit.result", result) : undefined
      })
    }

    const onError = (failure: WorkQueue.Failure<string, unknown>) =>
      Effect.gen(function*() {
        const object = Option.getOrUndefined(yield* informer.store.get(failure.key))
        yield* logFailure("Error", `controller ${name}: reconcile of ${failure.key} failed; retry ${failure.retries} in ${Duration.format(failure.retryIn)}`, failure.cause)
        if (Option.isSome(recorder)) {
          const undecodable = undecodables.get(failure.key)
          // an object that never decoded has no copy in the cache: what the server said stands in
          const about = object ?? (undecodable !== undefined ? undecodables.standIn(undecodable.meta, failure.key) : undefined)
          const reason = Cause.squash(failure.cause) instanceof UndecodableObject ? "DecodeFailed" : "ReconcileError"
          if (about !== undefined) yield* recorder.value.warning(about, reason, causeMessage(failure.cause), { component: name })
        }
        if (options.onError !== undefined) yield* options.onError({ ...failure, controller: name, object })
      })


    // While leading, each watch event that enqueues keys gets a short span; the next reconcile of
    // each key links to the spans of the events that caused it (the newest few).
    const causes = new Map<string, Array<Tracer.AnySpan>>()
    // Workers run while this process leads (see internal/controller/workers.ts); declared here: the
    // change streams below read whether they run. The resources get resourceClient: provided once
    // to the workers rather than per reconcile (outside a reconcile it tracks nothing; the
    // controller's own calls use `client`).
    const workers = new Workers(
      name,
      Effect.provideService(WorkQueue.run(queue, reconcile, { concurrency, onError }), Client.Client, resourceClient),
      () => causes.clear()
    )
    const takeCauses = (key: string): ReadonlyArray<Tracer.SpanLink> => {
      const spans = causes.get(key)
      if (spans === undefined) return []
      causes.delete(key)
      return spans.map((span) => ({ span, attributes: { "operatorkit.link": "watch event" } }))
    }
    const withEventSpan = (change: Informer.Change<Kind.KubeObject>, keys: ReadonlyArray<string>, add: Effect.Effect<void>) => {
      if (change.source !== "watch" || !workers.running || keys.length === 0) return add
      return whenTraced(add, (add) => eventSpan(change, keys, add))
    }
    const eventSpan = (change: Informer.Change<Kind.KubeObject>, keys: ReadonlyArray<string>, add: Effect.Effect<void>) => {
      const meta = change.object.metadata
      return Effect.useSpan("Controller.watchEvent", {
        root: true,
        kind: "consumer",
        attributes: {
          "operatorkit.controller": name,
          "operatorkit.event": change._tag,
          ...(change.object.kind !== undefined ? { "k8s.kind": change.object.kind } : {}),
          ...(meta.namespace !== undefined ? { "k8s.namespace": meta.namespace } : {}),
          "k8s.name": meta.name,
          "k8s.resource_version": meta.resourceVersion ?? ""
        }
      }, (span) => {
        for (const key of keys) {
          const spans = causes.get(key) ?? []
          if (spans.push(span) > 4) spans.shift()
          causes.set(key, spans)
        }
        return add
      })
    }

    // Primary changes → keys. List and resync changes queue behind watch changes.
    yield* informer.changes.pipe(
      Stream.runForEach((change) => {
        const key = Store.keyOf(change.object)
        undecodables.changed(change, key)
        if (change._tag === "Deleted") {
          const uid = change.object.metadata.uid
          if (uid !== undefined && cleanedUp.has(uid)) cleanedUp.delete(uid)
          else if (uid !== undefined && handedOff.has(uid)) handedOff.delete(uid)
          else if (ours(change.object)) owed.set(key, change.object)
        }
        const keys = tracker.observe(primaryCache, change, [key])
        // a drain is always heard, whatever the predicates say
        const drain = sharded !== undefined && change._tag === "Updated" && sharded.draining(change.object)
        if (keys.length === 0 || change._tag === "Updated" && !drain && !predicates.every((p) => p(change))) return Effect.void
        return withEventSpan(change, keys, queue.add(key, { priority: change.source === "watch" ? "live" : "bulk" }))
      }),
      Effect.forkScoped
    )
    // Objects that stop decoding: their key is reconciled from the raw object until they decode again.
    yield* informer.invalid.pipe(
      Stream.runForEach((invalid) =>
        undecodables.invalid(invalid, (key) => queue.add(key, { priority: invalid.source === "watch" ? "live" : "bulk" }))
      ),
      Effect.forkScoped
    )
    // Secondary changes → the keys of the primaries they belong to.
    for (const [i, { secondary, watch }] of watched.entries()) {
      const keysFor = watch.keysFor(kind)
      const cache = secondaryCaches[i]!
      yield* secondary.changes.pipe(
        Stream.runForEach((change) => {
          const keys = tracker.observe(cache, change, keysFor(change.object))
          return withEventSpan(
            change,
            keys,
            Effect.forEach(keys, (key) => queue.add(key, { priority: change.source === "watch" ? "live" : "bulk" }), { discard: true })
          )
        }),
        Effect.forkScoped
      )
    }

    const leadership = sharded !== undefined ? Option.some(sharded.leadership) : yield* Effect.serviceOption(LeaderElection.Leadership)
    yield* workers.manage({
      leadership,
      leadingLine: sharded !== undefined ? `holds its shard Lease (${sharded.config.id}), reconciling ${sharded.selector}` : "leading, reconciling",
      // a shard lists its caches afresh each time it takes its Lease; a leader, those that were in trouble
      refresh: sharded === undefined
        ? refreshOnLead([informer, ...watched.map(({ secondary }) => secondary)], false)
        : refreshOnLead([informer, ...watched.filter(({ watch }) => sharded.role(watch.kind) === "owned").map(({ secondary }) => secondary)], true),
      queue,
      shutdownTimeout: options.shutdownTimeout ?? "30 seconds"
    })

    const controller: Controller<A> = {
      name,
      finalizer,
      informer,
      queue,
      synced: informer.synced,
      stats: Effect.map(queue.stats, (q) => ({
        name,
        reconciles: counters.reconciles,
        errors: counters.errors,
        activeWorkers: counters.active,
        leading: workers.running,
        maxConcurrentReconciles: concurrency,
        queue: q
      }))
    }
    const registry = yield* Registry
    registry.add(controller)
    probe?.controllerStarted({
      name,
      finalizer,
      informers: [
        { kind, options: primaryOptions, informer },
        ...watched.map(({ secondary, watch }) => ({ kind: watch.kind, options: watch.options, informer: secondary }))
      ]
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => registry.delete(controller)))
    return controller
  })

const keyAttributes = (key: string) => {
  const { name, namespace } = Store.parseKey(key)
  return { "k8s.name": name, ...(namespace !== undefined ? { "k8s.namespace": namespace } : {}) }
}

/**
 * Runs a controller until interrupted.
 *
 * @example
 * ```ts
 * import { Controller, Framework, Kind } from "operatorkit"
 *
 * declare const resources: ReadonlyArray<Framework.Resource<Kind.Type<typeof Kind.ConfigMap>>>
 * const main = Controller.run({ name: "demo", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <A extends Kind.KubeObject, const Rs extends ReadonlyArray<Framework.Resource<A, any, any>>, B extends boolean = boolean>(
  options: Options<A, Rs, B> & Finalizers.OwnNames<B>
): Effect.Effect<never, never, Client.Client | Exclude<Framework.Requirements<Rs[number]>, Framework.Reconciliation>> =>
  Effect.scoped(Effect.andThen(make(options), Effect.never))

/**
 * A controller as a Layer: it runs while the Layer is alive.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Controller, Framework, Kind, KubeConfig } from "operatorkit"
 *
 * declare const resources: ReadonlyArray<Framework.Resource<Kind.Type<typeof Kind.ConfigMap>>>
 * const App = Controller.layer({ name: "demo", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources }).pipe(
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <A extends Kind.KubeObject, const Rs extends ReadonlyArray<Framework.Resource<A, any, any>>, B extends boolean = boolean>(
  options: Options<A, Rs, B> & Finalizers.OwnNames<B>
): Layer.Layer<never, never, Client.Client | Exclude<Framework.Requirements<Rs[number]>, Framework.Reconciliation>> =>
  Layer.effectDiscard(make(options))
// ---------------------------------------------------------------------------------------------
// RBAC

/**
 * What a controller calls, derived from the options it is given (the same ones `make` takes):
 * its informer on the kind (`list`, `watch`); its finalizer (a fresh `get`, then a JSON `patch`);
 * an informer per watched kind; the calls each Resource declares (`Framework.Resource.permissions`);
 * and, unless `recordsEvents` is false, the Warning Events it records about its objects when an
 * `Events.Recorder` is in context. Everything in the controller's namespace when it has one.
 *
 * @example
 * ```ts
 * import { Controller, Framework, Kind, Watch } from "operatorkit"
 *
 * declare const resources: ReadonlyArray<Framework.Resource<Kind.Type<typeof Kind.ConfigMap>>>
 * const options = { name: "cm", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources, watches: [Watch.owns(Kind.Secret)] }
 * const needs = Controller.permissions(options) // ConfigMaps: list, watch, get, patch; Secrets: list, watch; Events; the resources'
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = <A extends Kind.KubeObject, Rs extends ReadonlyArray<Framework.Resource<A, any, any>>, B extends boolean = boolean>(
  options: Options<A, Rs, B>,
  declare: { readonly recordsEvents?: boolean | undefined } = {}
): ReadonlyArray<Rbac.Permission> => {
  const { kind, name, namespace } = options
  return [
    ...Informer.permissions(kind, { namespace }).map((p) => ({ ...p, reason: `controller ${name}: ${p.reason}` })),
    Rbac.allow(kind, ["get", "patch"], { namespace, reason: `controller ${name}: its finalizer (read fresh, then a JSON patch)` }),
    ...(options.watches ?? []).flatMap((watch) =>
      Informer.permissions(watch.kind, watch.options).map((p) => ({ ...p, reason: `controller ${name}: ${p.reason} (a secondary watch)` }))
    ),
    ...options.resources.flatMap((resource) => resource.permissions),
    ...(declare.recordsEvents === false ? [] : Events.permissions({
      about: [kind],
      namespace,
      reason: `controller ${name}: Events about ${kind.kind} (Warning when a reconcile fails; those its resources record)`
    }))
  ]
}
