/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's `leaderelection` does it.
 * Controllers reconcile only while their process leads; their informers keep a standby synced,
 * so a new leader starts from a warm cache.
 *
 * - The `Leadership` service is the seam the Controller listens to: it runs its workers while
 *   `changes` says true and interrupts reconciles in flight at once when it turns false. Without a
 *   `Leadership` service in context a process always leads.
 * - {@link make} / {@link layer} run a Lease elector with client-go's defaults: a 15 s lease, a 10 s
 *   renew deadline and a 2 s retry period. Every write of the Lease carries the resourceVersion it
 *   read (409 Conflict means another candidate won the race).
 * - Expiry of another holder's Lease is judged by this process's own Clock from the moment it saw
 *   the Lease change (never by comparing clocks across machines): a Lease is free once it has not
 *   changed for its `leaseDurationSeconds`, or at once when its holder is empty.
 * - A leader that cannot renew says "not leading" once `renewDeadline` has passed since the start
 *   of its last successful renewal, even while a request hangs (the attempt is interrupted at the
 *   deadline). Others can only take over `leaseDuration` after they saw that renewal, which is
 *   later still, so two leaders never overlap as long as `renewDeadline < leaseDuration`.
 * - On shutdown the elector says "not leading" and releases the Lease (empty holder, 1 s
 *   duration), so a standby takes over within about one retry period. Provide the elector to the
 *   controllers (e.g. `Layer.provide`), so their scopes close, and their reconciles stop, first.
 *
 * @since 0.1.0
 */
import * as Os from "node:os"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Client from "./Client.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Rbac from "./Rbac.ts"
import { checkTiming } from "./internal/leaseTiming.ts"
import { millis } from "./internal/options.ts"

/**
 * Whether this process leads, now and as it changes.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeadershipService {
  /** The current value first, then every change. Controllers run their workers while it is true. */
  readonly changes: Stream.Stream<boolean>
  readonly isLeader: Effect.Effect<boolean>
}

/**
 * The leadership of this process, as controllers see it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LeaderElection } from "operatorkit"
 *
 * const leading = Effect.gen(function*() {
 *   const leadership = yield* LeaderElection.Leadership
 *   return yield* leadership.isLeader
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Leadership extends Context.Service<Leadership, LeadershipService>()("operatorkit/Leadership") {}

/**
 * A process that always leads (the default when no `Leadership` is provided).
 *
 * @example
 * ```ts
 * import { LeaderElection } from "operatorkit"
 *
 * const Single = LeaderElection.layerAlwaysLeader
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAlwaysLeader: Layer.Layer<Leadership> = Layer.succeed(Leadership)({
  changes: Stream.succeed(true),
  isLeader: Effect.succeed(true)
})

// ---------------------------------------------------------------------------------------------
// The Lease elector

/**
 * Options of a Lease elector. Durations default to client-go's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The Lease's name (controller-runtime calls it the leader election ID). */
  readonly name: string
  readonly namespace: string
  /** This candidate's identity in `holderIdentity`. Default: `<hostname>_<random UUID>`. */
  readonly identity?: string | undefined
  /** How long others wait after the Lease last changed before they take it. Default 15 s. */
  readonly leaseDuration?: Duration.Input | undefined
  /** How long a leader keeps trying to renew before it stops leading. Default 10 s. */
  readonly renewDeadline?: Duration.Input | undefined
  /** Between attempts to acquire or renew (acquire attempts are jittered up to 1.2×). Default 2 s. */
  readonly retryPeriod?: Duration.Input | undefined
  /** Clear the holder on shutdown, so a standby takes over at once. Default true. */
  readonly releaseOnShutdown?: boolean | undefined
  /** Labels the Lease carries (set when this candidate creates or takes it), e.g. to be found by a selector. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /**
   * When this process last saw the Lease change, if it watched it before the elector started (the
   * sharder watches shard Leases): expiry is judged from then rather than from the elector's
   * first read, so a Lease already seen unchanged for its duration is taken at once.
   */
  readonly observed?: { readonly resourceVersion: string; readonly atMillis: number } | undefined
}

/**
 * client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { LeaderElection } from "operatorkit"
 *
 * Duration.toSeconds(LeaderElection.defaults.leaseDuration) // => 15
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults = {
  leaseDuration: Duration.seconds(15),
  renewDeadline: Duration.seconds(10),
  retryPeriod: Duration.seconds(2)
} as const

/**
 * Options that cannot give a safe election (each duration positive, `renewDeadline` shorter than
 * `leaseDuration`, and longer than 1.2 retry periods).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const report = Effect.catchTag("LeaderElectionConfigError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaderElectionConfigError extends Schema.TaggedError<LeaderElectionConfigError>()("LeaderElectionConfigError", {
  lease: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `leader election on Lease ${this.lease}: ${this.reason}`
  }
}

/**
 * What an elector knows, read at scrape time by metrics and health checks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** The Lease's name. */
  readonly name: string
  readonly namespace: string
  readonly identity: string
  readonly leading: boolean
  /** The holder of the Lease as last seen (undefined before the first read, "" when released). */
  readonly holder: string | undefined
  readonly leaseTransitions: number | undefined
  /** Clock millis at the start of this process's last successful acquire or renew. */
  readonly lastRenewMillis: number | undefined
  /** Whether the first attempt has answered (before that, leadership is unknown). */
  readonly decided: boolean
  readonly attempts: number
  /** Attempts that failed with an API error or timed out. */
  readonly failures: number
  readonly leaseDurationMillis: number
  readonly renewDeadlineMillis: number
  readonly retryPeriodMillis: number
}

/**
 * A running Lease elector: the `Leadership` it provides, plus what it knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface Elector extends LeadershipService {
  readonly name: string
  readonly namespace: string
  readonly identity: string
  /**
   * Whether it leads at this instant: it leads and its last renewal began less than the renew
   * deadline ago (`isLeader` reads the same). A process that was paused past its deadline finds
   * out here before its renew loop runs again.
   */
  readonly isLeaderUnsafe: () => boolean
  readonly stats: Effect.Effect<Stats>
}

/**
 * Running electors, for metrics (`leader_election_master_status`) and health checks (a default
 * registry is shared process-wide; provide your own to isolate).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LeaderElection } from "operatorkit"
 *
 * const leases = Effect.map(LeaderElection.Registry, (registry) => [...registry].map((e) => e.name))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Registry = Context.Reference<Set<Elector>>("operatorkit/LeaderElection/Registry", {
  defaultValue: () => new Set()
})

/**
 * The identity a candidate uses unless told otherwise: the host name and a random UUID, as
 * controller-runtime does. The UUID comes from Effect's `Random`, so that a seeded run (a
 * simulation) draws the same identities every time.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LeaderElection } from "operatorkit"
 *
 * const id = Effect.runSync(LeaderElection.defaultIdentity) // e.g. "operator-7d9f-x2_1b4e…"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultIdentity: Effect.Effect<string> = Effect.map(Random.Random, (random) => {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random.nextDoubleUnsafe() * 16).toString(16)).join("")
  const variant = "89ab"[Math.floor(random.nextDoubleUnsafe() * 4)]
  return `${Os.hostname()}_${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`
})

/** A metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (millis: number) => new Date(millis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

type LeaseSpec = NonNullable<Kind.Type<typeof Kind.Lease>["spec"]>

type Attempt =
  | { readonly _tag: "Acquired"; readonly startedAt: number }
  | { readonly _tag: "HeldBy"; readonly holder: string }
  | { readonly _tag: "LostRace" }


/**
 * Starts a Lease elector; it campaigns until the scope closes, then stops leading and releases
 * the Lease.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { LeaderElection } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const elector = yield* LeaderElection.make({ name: "my-operator", namespace: "operators" })
 *   yield* elector.changes.pipe(Stream.runForEach((leading) => Effect.log(leading ? "leading" : "standing by")))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Elector, LeaderElectionConfigError, Client.Client | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const lease = `${options.namespace}/${options.name}`
    const timing = {
      leaseDuration: options.leaseDuration ?? defaults.leaseDuration,
      renewDeadline: options.renewDeadline ?? defaults.renewDeadline,
      retryPeriod: options.retryPeriod ?? defaults.retryPeriod
    }
    const leaseMs = millis(timing.leaseDuration)
    const renewMs = millis(timing.renewDeadline)
    const retryMs = millis(timing.retryPeriod)
    const invalid = (reason: string) => Effect.fail(new LeaderElectionConfigError({ lease, reason }))
    const problem = checkTiming(timing)
    if (problem !== undefined) return yield* invalid(problem)
    if (options.name === "" || options.namespace === "") return yield* invalid("name and namespace must not be empty")
    const leaseSeconds = Math.max(1, Math.ceil(leaseMs / 1000))
    const identity = options.identity ?? (yield* defaultIdentity)
    const ref = { name: options.name, namespace: options.namespace }

    const leadingRef = yield* SubscriptionRef.make(false)
    const state = {
      leading: false,
      decided: false,
      /** The Lease as last seen, and when this process saw its resourceVersion change. */
      observed: (options.observed === undefined ? undefined : { rv: options.observed.resourceVersion, spec: {}, at: options.observed.atMillis }) as
        | { readonly rv: string; readonly spec: LeaseSpec; readonly at: number }
        | undefined,
      lastRenew: undefined as number | undefined,
      attempts: 0,
      failures: 0
    }

    const setLeading = (leading: boolean) =>
      Effect.suspend(() => {
        if (state.leading === leading) return Effect.void
        state.leading = leading
        return SubscriptionRef.set(leadingRef, leading).pipe(
          Effect.andThen(
            leading
              ? Effect.logInfo(`leader election ${lease}: ${identity} is leading`)
              : Effect.logWarning(`leader election ${lease}: ${identity} stopped leading`)
          )
        )
      })

    const observe = (object: Kind.Type<typeof Kind.Lease>, at: number) => {
      const rv = object.metadata.resourceVersion ?? ""
      // the time counts from the first sight of this version
      state.observed = { rv, spec: object.spec ?? {}, at: state.observed?.rv === rv ? state.observed.at : at }
    }
    const labelled = (metadata: Kind.Type<typeof Kind.Lease>["metadata"]) =>
      options.labels === undefined || Object.entries(options.labels).every(([k, v]) => metadata.labels?.[k] === v)
        ? metadata
        : { ...metadata, labels: { ...metadata.labels, ...options.labels } }

    /** One acquire-or-renew, client-go's tryAcquireOrRenew. */
    const attempt: Effect.Effect<Attempt, KubeError.KubeError> = Effect.gen(function*() {
      const startedAt = yield* Clock.currentTimeMillis
      state.attempts++
      const current = yield* client.get(Kind.Lease, ref).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeedNone)
      )
      // judge expiry from when the answer arrived, never from the holder's clock
      const seenAt = yield* Clock.currentTimeMillis
      const now = microTime(startedAt)
      if (Option.isNone(current)) {
        const spec: LeaseSpec = {
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0
        }
        const created = yield* client.create(Kind.Lease, { apiVersion: Kind.Lease.apiVersion, kind: "Lease", metadata: labelled(ref), spec }).pipe(
          Effect.map(Option.some),
          Effect.catchTag("AlreadyExists", () => Effect.succeedNone)
        )
        if (Option.isNone(created)) return { _tag: "LostRace" } as const
        observe(created.value, seenAt)
        return { _tag: "Acquired", startedAt } as const
      }
      const object = current.value
      observe(object, seenAt)
      const spec = object.spec ?? {}
      const holder = spec.holderIdentity ?? ""
      const durationMs = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000
      if (holder !== "" && holder !== identity && state.observed!.at + durationMs > seenAt) {
        return { _tag: "HeldBy", holder } as const
      }
      const mine = holder === identity
      const next: LeaseSpec = {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: mine ? (spec.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1
      }
      // the resourceVersion read above is the precondition: a 409 means someone else wrote first
      const written = yield* client.replace(Kind.Lease, { ...object, metadata: labelled(object.metadata), spec: next }).pipe(
        Effect.map(Option.some),
        Effect.catchTag("Conflict", () => Effect.succeedNone)
      )
      if (Option.isNone(written)) return { _tag: "LostRace" } as const
      observe(written.value, yield* Clock.currentTimeMillis)
      return { _tag: "Acquired", startedAt } as const
    })

    const failed = (error: KubeError.KubeError | string) =>
      Effect.suspend(() => {
        state.failures++
        return Effect.logWarning(
          `leader election ${lease}: acquire/renew failed: ${typeof error === "string" ? error : error.message}`
        )
      })

    const jitteredRetry = Effect.map(Random.next, (r) => Duration.millis(Math.round(retryMs * (1 + 0.2 * r))))

    /** Campaigns until acquired. */
    const standby: Effect.Effect<void> = Effect.gen(function*() {
      let lastHolder: string | undefined
      while (true) {
        const result = yield* attempt.pipe(Effect.timeoutOption(renewMs), Effect.result)
        state.decided = true
        if (result._tag === "Success" && Option.isSome(result.success)) {
          const outcome = result.success.value
          if (outcome._tag === "Acquired") {
            state.lastRenew = outcome.startedAt
            return yield* setLeading(true)
          }
          if (outcome._tag === "HeldBy" && outcome.holder !== lastHolder) {
            lastHolder = outcome.holder
            yield* Effect.logInfo(`leader election ${lease}: ${outcome.holder} leads; ${identity} stands by`)
          }
        } else {
          yield* failed(result._tag === "Failure" ? result.failure : `no answer within ${renewMs} ms`)
        }
        yield* Effect.sleep(yield* jitteredRetry)
      }
    })

    /**
     * Renews until the renew deadline passes without a successful renewal (measured from the
     * start of the last successful one), or another holder is seen; then stops leading.
     */
    const leading: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(Duration.millis(retryMs))
        while (true) {
          const remaining = state.lastRenew! + renewMs - (yield* Clock.currentTimeMillis)
          if (remaining <= 0) {
            yield* Effect.logWarning(`leader election ${lease}: could not renew within ${renewMs} ms`)
            return yield* setLeading(false)
          }
          const result = yield* attempt.pipe(Effect.timeoutOption(Duration.millis(remaining)), Effect.result)
          if (result._tag === "Success" && Option.isSome(result.success)) {
            const outcome = result.success.value
            if (outcome._tag === "Acquired") {
              state.lastRenew = outcome.startedAt
              break
            }
            if (outcome._tag === "HeldBy") {
              yield* Effect.logWarning(`leader election ${lease}: the Lease is held by ${outcome.holder}`)
              return yield* setLeading(false)
            }
            // lost a race: read again at once
            continue
          }
          if (result._tag === "Failure") yield* failed(result.failure)
          const left = state.lastRenew! + renewMs - (yield* Clock.currentTimeMillis)
          if (left > 0) yield* Effect.sleep(Duration.millis(Math.min(retryMs, left)))
        }
      }
    })

    const release = Effect.gen(function*() {
      yield* setLeading(false)
      if (options.releaseOnShutdown === false || state.observed?.spec.holderIdentity !== identity) return
      const current = yield* client.get(Kind.Lease, ref)
      if (current.spec?.holderIdentity !== identity) return
      const now = microTime(yield* Clock.currentTimeMillis)
      yield* client.replace(Kind.Lease, {
        ...current,
        spec: { ...current.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now }
      })
      yield* Effect.logInfo(`leader election ${lease}: ${identity} released the Lease`)
    }).pipe(
      Effect.timeoutOption(Duration.millis(renewMs)),
      Effect.catch((error) => Effect.logWarning(`leader election ${lease}: release failed: ${error.message}`))
    )

    const clock = yield* Clock.Clock
    const isLeaderUnsafe = () =>
      state.leading && state.lastRenew !== undefined && clock.currentTimeMillisUnsafe() < state.lastRenew + renewMs
    const elector: Elector = {
      name: options.name,
      namespace: options.namespace,
      identity,
      changes: SubscriptionRef.changes(leadingRef),
      isLeader: Effect.sync(isLeaderUnsafe),
      isLeaderUnsafe,
      stats: Effect.sync(() => ({
        name: options.name,
        namespace: options.namespace,
        identity,
        leading: state.leading,
        holder: state.observed === undefined ? undefined : (state.observed.spec.holderIdentity ?? ""),
        leaseTransitions: state.observed?.spec.leaseTransitions ?? undefined,
        lastRenewMillis: state.lastRenew,
        decided: state.decided,
        attempts: state.attempts,
        failures: state.failures,
        leaseDurationMillis: leaseMs,
        renewDeadlineMillis: renewMs,
        retryPeriodMillis: retryMs
      }))
    }

    const fiber = yield* Effect.forkDetach(Effect.forever(Effect.andThen(standby, leading)))
    const registry = yield* Registry
    registry.add(elector)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        registry.delete(elector)
        yield* Fiber.interrupt(fiber)
        yield* release
      })
    )
    return elector
  })

/**
 * A Lease elector as the `Leadership` of everything it is provided to.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Controller, Framework, Kind, KubeConfig, LeaderElection } from "operatorkit"
 *
 * declare const resources: ReadonlyArray<Framework.Resource<Kind.Type<typeof Kind.ConfigMap>>>
 * const App = Controller.layer({ name: "demo", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources }).pipe(
 *   Layer.provide(LeaderElection.layer({ name: "demo-operator", namespace: "operators" })),
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Leadership, LeaderElectionConfigError, Client.Client> =>
  Layer.effect(Leadership, Effect.map(make(options), (elector): LeadershipService => elector))

/**
 * What an elector calls: `get` and `update` on its Lease (by name), and `create` for its first run
 * (RBAC cannot restrict a create by name). The Lease lives in the operator's own namespace unless
 * told otherwise.
 *
 * @example
 * ```ts
 * import { LeaderElection, Rbac } from "operatorkit"
 *
 * const needs = LeaderElection.permissions({ name: "tenant-operator" })
 * needs[0]!.namespace === Rbac.operatorNamespace // => true
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (options: {
  /** The Lease's name (the elector's `name`). */
  readonly name: string
  /** Default: the namespace the operator runs in. */
  readonly namespace?: string | Rbac.OperatorNamespace | undefined
}): ReadonlyArray<Rbac.ResourcePermission> => {
  const namespace = options.namespace ?? Rbac.operatorNamespace
  const reason = `leader election: the Lease ${options.name}, created once, then read and renewed`
  return [
    Rbac.allow(Kind.Lease, ["get", "update"], { namespace, names: [options.name], reason }),
    Rbac.allow(Kind.Lease, ["create"], { namespace, reason })
  ]
}
