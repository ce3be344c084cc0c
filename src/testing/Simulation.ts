/**
 * Deterministic simulation of an operator: its replicas run, as they run in production, against
 * the in-memory API server in simulated time (TestClock), while a workload of user actions and a
 * seeded storm of faults hit them; invariants are checked continuously and once the run is
 * quiet, and a failing seed replays exactly, shrunk to the shortest history that still fails.
 *
 * - **A run** ({@link run}) takes the operator's own Layer (one instance per replica, leader
 *   election and all), a {@link Workload} (create, update, delete, scale, kill a replica), a
 *   {@link FaultProfile} (watch drops and clean ends, write conflicts, 429 with Retry-After, 500,
 *   slow calls, compaction with 410, API server restarts, replica crashes and restarts, Lease loss)
 *   and a seed. Everything that varies derives from the seed: the plan of user actions and faults,
 *   the latencies that interleave the replicas' requests and watch events, the library's jitter
 *   and generated names and identities (Effect's `Random`, seeded), uids. A crash abandons a
 *   replica: nothing it does afterwards reaches the server (no Lease release, no drain), unlike a
 *   scale-down, which shuts it down gracefully.
 *   With {@link Options.webhooks}, the server calls the operator's admission and conversion
 *   webhooks, served by its running replicas; with {@link Options.rbac}, each replica's Client is
 *   held to the declared RBAC.
 * - **Invariants**: the caches (every controller's informers) equal the server once quiet; every
 *   object converges (your {@link converges} predicates); no two reconciles of one object overlap,
 *   across replicas too; a finalizer is removed only after its controller's deletion pass
 *   succeeded; no deleted object keeps a controller's finalizer once quiet; no hot loop (requests
 *   per simulated second per replica are bounded, and low over ten quiet seconds, which start
 *   again after each sharding hand-off: moving objects is not quiet); with webhooks, no stored
 *   object fails its validating admission's Schema and every stored object converts to each
 *   version and back unchanged; with RBAC, every call of a replica is declared; and your own
 *   {@link Invariant}s.
 * - **Check, shrink, replay**: {@link check} runs many seeds; the first failure is shrunk to the
 *   fewest events that still fail and reported with its seed, fault schedule, shrunk history and
 *   trace, as a {@link SimulationFailed}. {@link replay} runs one seed (or a shrunk subset of its
 *   events) again, with the same trace every time.
 *
 * What the in-memory server cannot simulate faithfully, and how the simulation stands in for it:
 * - A write conflict is another writer's change landing first (an annotation
 *   `simulation.operatorkit.dev/touched`): the server then answers what it answers to a stale
 *   write (409 for a replace, 422 for a failed JSON patch test, success for a merge patch).
 * - 429 and 500 come from the simulated network, not from API Priority and Fairness or etcd; half
 *   of the 500s to writes come after the write was applied (an etcd timeout after the commit).
 * - An API server restart cuts every watch, refuses connections for a while and starts the watch
 *   cache at the current revision (watches from older resourceVersions answer 410); the
 *   in-memory server keeps no other state a real restart loses.
 * - A crashed replica's finalizers still run inside the process, but nothing they send reaches the
 *   server: as seen from the cluster, it stopped at once.
 * - All replicas share one clock: clock skew between nodes is not simulated.
 * - Requests are handled one at a time, whole: no two writes are ever half-applied at once.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Client from "../Client.ts"
import { retryOnConflict } from "../internal/retryOnConflict.ts"
import type * as Kind from "../Kind.ts"
import type * as Rbac from "../Rbac.ts"
import type * as Webhooks from "../Webhooks.ts"
import { runOnce } from "./simulation/run.ts"
import { shrink } from "./simulation/shrink.ts"
import { clock } from "./simulation/trace.ts"
import { millis } from "../internal/options.ts"

// ---------------------------------------------------------------------------------------------
// Models

/**
 * A source of seeded choices, handed to workloads as they plan and to user actions as they run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Draw {
  /** Uniform in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max], both included. */
  readonly int: (min: number, max: number) => number
  /** One of the items (which must not be empty). */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
}

/**
 * A replica of the operator, as {@link Options.operator} gets it when it is a function.
 *
 * @since 0.1.0
 * @category models
 */
export interface Replica {
  /** `replica-<index>`; a replica started again after a crash gets a new index. */
  readonly name: string
  readonly index: number
}

/**
 * What a workload step does: a call of a user (with the user's own `Client`, which sees no
 * injected fault), a change of the number of replicas (a scale-down shuts replicas down
 * gracefully), or the kill of a replica (it crashes and a new one starts after a while).
 *
 * @since 0.1.0
 * @category models
 */
export type Action =
  | {
    readonly _tag: "Call"
    /** What the user does; the string it answers goes into the trace. */
    readonly run: (draw: Draw) => Effect.Effect<string | void, unknown, Client.Client>
  }
  | { readonly _tag: "Scale"; readonly replicas: number }
  | { readonly _tag: "Kill"; readonly replica: number; readonly restartAfterMillis: number }

/**
 * One planned step: what happens, and when (simulated millis from the start of the workload).
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<A = Action> {
  readonly at: number
  readonly description: string
  readonly action: A
}

/**
 * What a workload knows when it plans a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlanContext {
  /** Millis of workload and faults (the run then settles). */
  readonly duration: number
  readonly replicas: number
  readonly maxReplicas: number
}

/**
 * A generator of user actions: it plans a run's steps from the run's seeded draws.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workload {
  readonly plan: (draw: Draw, context: PlanContext) => ReadonlyArray<Step>
}

/**
 * How often each fault happens, on average per simulated minute of the workload.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultProfile {
  /** A watch of a replica fails (connection reset). */
  readonly watchDrops?: number | undefined
  /** A watch of a replica ends cleanly, with no event. */
  readonly watchEnds?: number | undefined
  /** For a few seconds, writes to an object meet another writer's change first. */
  readonly conflicts?: number | undefined
  /** For a few seconds, calls answer 429 with a Retry-After. */
  readonly throttling?: number | undefined
  /** For a few seconds, calls answer 500 (writes, half of the time, after being applied). */
  readonly serverErrors?: number | undefined
  /** For a few seconds, calls take up to 8 s each way (past a call's deadline it times out). */
  readonly slowResponses?: number | undefined
  /** The server forgets its history: older resourceVersions answer 410 Gone. */
  readonly compactions?: number | undefined
  /** The API server goes down for a few seconds: watches cut, connections refused, watch cache reset. */
  readonly apiServerRestarts?: number | undefined
  /** A replica crashes; a new one starts after up to 15 s. */
  readonly crashes?: number | undefined
  /** The leader's Lease calls fail or hang for 5 to 25 s. */
  readonly leaseLosses?: number | undefined
}

/**
 * Fault profiles: `none`, `standard` (every fault, about a dozen a minute) and `heavy` (three
 * times as many).
 *
 * @example
 * ```ts
 * import { Simulation } from "operatorkit/testing"
 *
 * const noisy = { ...Simulation.faults.standard, apiServerRestarts: 2 }
 * ```
 *
 * @since 0.1.0
 * @category fault profiles
 */
export const faults: { readonly none: FaultProfile; readonly standard: FaultProfile; readonly heavy: FaultProfile } = {
  none: {},
  standard: {
    watchDrops: 3,
    watchEnds: 2,
    conflicts: 2,
    throttling: 1,
    serverErrors: 2,
    slowResponses: 1,
    compactions: 1,
    apiServerRestarts: 0.5,
    crashes: 0.5,
    leaseLosses: 0.5
  },
  heavy: {
    watchDrops: 9,
    watchEnds: 6,
    conflicts: 6,
    throttling: 3,
    serverErrors: 6,
    slowResponses: 3,
    compactions: 3,
    apiServerRestarts: 1.5,
    crashes: 1.5,
    leaseLosses: 1.5
  }
}

/**
 * Whether an object of a kind converged: `true`, or `false` or a reason why not. Checked for every
 * object of the kind that is not being deleted, once the run is quiet, with a `Client` that sees
 * no fault.
 *
 * @since 0.1.0
 * @category models
 */
export interface Convergence {
  readonly kind: Kind.Any
  readonly check: (object: any) => boolean | string | Effect.Effect<boolean | string, unknown, Client.Client>
}

/**
 * The server's state as an {@link Invariant} sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface World {
  /** Simulated millis since the run started. */
  readonly now: number
  /** The server's objects of a kind, decoded (in key order; objects that do not decode are left out). */
  readonly objects: <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options?: { readonly namespace?: string }) => ReadonlyArray<A>
  /** The replicas running now. */
  readonly replicas: ReadonlyArray<string>
}

/**
 * An invariant of your own: `check` answers what is wrong (a string), or nothing. `always`
 * (default) checks it after every change of the server's state; `quiet` once the run settled.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invariant {
  readonly name: string
  readonly when?: "always" | "quiet" | undefined
  readonly check: (world: World) => string | undefined | void
}

/**
 * What to simulate.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A name for reports. */
  readonly name: string
  /**
   * The operator as it runs in production: a Layer that needs a `Client` (nothing else), one
   * instance per replica; or a function of the replica, to give each its own options.
   */
  readonly operator: Layer.Layer<never, unknown, Client.Client> | ((replica: Replica) => Layer.Layer<never, unknown, Client.Client>)
  /** Custom kinds the in-memory server serves (as if their CRDs were installed). */
  readonly kinds?: ReadonlyArray<Kind.Any> | undefined
  /** Runs before the replicas start, with the user's Client (namespaces, fixtures, CRDs…). */
  readonly setup?: Effect.Effect<unknown, unknown, Client.Client> | undefined
  /** Replicas at the start (default 1). */
  readonly replicas?: number | undefined
  /** The most replicas a workload or fault names (default: `replicas` + 1). */
  readonly maxReplicas?: number | undefined
  readonly workload: Workload
  /** Default {@link faults}`.standard`. */
  readonly faults?: FaultProfile | undefined
  readonly converged?: ReadonlyArray<Convergence> | undefined
  readonly invariants?: ReadonlyArray<Invariant> | undefined
  /** How long the workload and the faults last (default one minute of simulated time). */
  readonly duration?: Duration.Input | undefined
  /** How long the run may take to settle afterwards (default three minutes of simulated time). */
  readonly settleTimeout?: Duration.Input | undefined
  /**
   * The most requests per second a replica may send on average over any ten simulated seconds
   * (default 100): a loop is sustained, while a new leader's first reconciles of everything come
   * in a burst.
   */
  readonly maxRequestsPerSecond?: number | undefined
  /** The most requests per second a replica may send on average once quiet (default 5). */
  readonly quietRequestsPerSecond?: number | undefined
  /** Options of the replicas' and the user's Clients. */
  readonly client?: Client.ClientOptions | undefined
  /**
   * The operator's webhooks, served by its replicas as in production: each review goes to a
   * running replica (chosen by the seed), whose handlers run with that replica's Client, faults
   * and all; while none runs, the webhook cannot be reached and its failure policy decides. The
   * server calls the admissions on every create and update (the workload's, the operator's) and
   * converts the CRDs the definition converts (installed as its `Webhooks.crd`) for every request
   * in another version than the storage one. Invariants `admission-enforced` (no stored object
   * fails its validating admission's Schema) and `conversion-round-trip` (every stored object
   * converts to each version and back unchanged), after every change.
   */
  readonly webhooks?: Webhooks.Definition<Client.Client> | undefined
  /**
   * The operator's declared RBAC: each replica's Client (its webhooks' too) is guarded by it (as
   * `RbacGuard` does), so a call the declaration does not allow is refused with a Forbidden, as
   * the API server would refuse it in production, and fails the run (`rbac-declared`) naming the
   * missing rule. The declaration's namespace (where the operator runs) is created at the start.
   */
  readonly rbac?: Rbac.Declaration | undefined
}

/**
 * A simulation: its options, checked and with their defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface Simulation {
  readonly name: string
  readonly options: Options
  readonly durationMillis: number
  readonly settleMillis: number
  readonly replicas: number
  readonly maxReplicas: number
  readonly faults: FaultProfile
}

/**
 * A planned event of a run: a workload step or a fault, numbered in time order.
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly id: number
  /** Simulated millis from the start of the workload. */
  readonly at: number
  readonly source: "workload" | "faults"
  readonly description: string
}

/**
 * An invariant that did not hold, and when.
 *
 * @since 0.1.0
 * @category models
 */
export interface Violation {
  readonly invariant: string
  /** Simulated millis since the run started. */
  readonly at: number
  readonly message: string
}

/**
 * What one run did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly simulation: string
  readonly seed: number
  /** Every event the seed plans. */
  readonly plan: ReadonlyArray<Event>
  /** The events this run ran (all of them, unless a subset was asked for). */
  readonly events: ReadonlyArray<Event>
  readonly violation: Violation | undefined
  /** Every line of the trace; equal for two runs of one seed and events. */
  readonly trace: ReadonlyArray<string>
  /** A digest of the trace. */
  readonly digest: string
  readonly requests: number
  readonly reconciles: number
  readonly simulatedMillis: number
}

/**
 * A run broke an invariant. The message says everything needed to act on it: the seed, the
 * invariant and what broke it, the seed's fault schedule, the shortest history that still fails,
 * the end of the trace, and how to replay it.
 *
 * @example
 * ```ts
 * import { Simulation } from "operatorkit/testing"
 *
 * const e = new Simulation.SimulationFailed({ simulation: "tenant", seed: 7, invariant: "converged", events: [3, 9], report: "…" })
 * e.message.startsWith("simulation tenant failed with seed 7") // => true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SimulationFailed extends Schema.TaggedError<SimulationFailed>()("SimulationFailed", {
  simulation: Schema.String,
  seed: Schema.Number,
  invariant: Schema.String,
  /** The events of the shortest failing history (replay them with `Simulation.replay`). */
  events: Schema.Array(Schema.Number),
  /** The whole report. */
  report: Schema.String
}) {
  override get message(): string {
    return `simulation ${this.simulation} failed with seed ${this.seed}: ${this.invariant}\n${this.report}`
  }
}

// ---------------------------------------------------------------------------------------------
// Constructors


/**
 * A simulation of an operator.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Controller, Framework, Kind } from "operatorkit"
 * import { Simulation } from "operatorkit/testing"
 *
 * const hello = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({ name: "hello", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.void })
 * const operator = Controller.layer({ name: "hello", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: [hello] })
 * const simulation = Simulation.make({
 *   name: "hello",
 *   operator,
 *   workload: Simulation.objects(Kind.ConfigMap, { create: (name) => ({ metadata: { name, namespace: "default" } }) })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Simulation => {
  const replicas = Math.max(1, Math.floor(options.replicas ?? 1))
  const durationMillis = millis(options.duration ?? "1 minute")
  const settleMillis = millis(options.settleTimeout ?? "3 minutes")
  if (!(durationMillis > 0) || !(settleMillis > 0)) throw new Error(`simulation ${options.name}: duration and settleTimeout must be positive`)
  return {
    name: options.name,
    options,
    durationMillis,
    settleMillis,
    replicas,
    maxReplicas: Math.max(replicas, Math.floor(options.maxReplicas ?? replicas + 1)),
    faults: options.faults ?? faults.standard
  }
}

/**
 * Options of {@link objects}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectsOptions<A extends Kind.KubeObject> {
  /** How many names the objects take turns on (default 4), or the names. */
  readonly names?: number | ReadonlyArray<string> | undefined
  /** The namespace of a namespaced kind (default `default`). */
  readonly namespace?: string | undefined
  /** How many actions (default 12). */
  readonly actions?: number | undefined
  /** The object to create under a name. */
  readonly create: (name: string, draw: Draw) => NoInfer<A>
  /** A change of an object (read, changed, replaced; retried on conflict). None: no updates. */
  readonly update?: ((object: A, draw: Draw) => NoInfer<A>) | undefined
  /** Whether objects get deleted (default true). */
  readonly delete?: boolean | undefined
}

const describeError = (e: unknown) =>
  typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : String(e)

/**
 * A workload of one kind: objects created, updated and deleted under a few names, at random times.
 * Actions that fail (creating an object that exists, updating one that went) are what users meet
 * too: they are traced, not failures.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 * import { Simulation } from "operatorkit/testing"
 *
 * const configMaps = Simulation.objects(Kind.ConfigMap, {
 *   create: (name, draw) => ({ metadata: { name, namespace: "default" }, data: { size: String(draw.int(1, 9)) } }),
 *   update: (cm, draw) => ({ ...cm, data: { size: String(draw.int(1, 9)) } })
 * })
 * ```
 *
 * @since 0.1.0
 * @category workloads
 */
export const objects = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options: ObjectsOptions<A>): Workload => ({
  plan: (draw, context) => {
    const names = typeof options.names === "object"
      ? options.names
      : Array.from({ length: Math.max(1, options.names ?? 4) }, (_, i) => `${kind.kind.toLowerCase()}-${i}`)
    const namespace = kind.namespaced ? options.namespace ?? "default" : undefined
    const count = Math.max(0, options.actions ?? 12)
    const times = Array.from({ length: count }, () => draw.int(0, context.duration - 1)).sort((a, b) => a - b)
    const exists = new Set<string>()
    const label = (name: string) => `${kind.kind} ${namespace !== undefined ? `${namespace}/` : ""}${name}`
    return times.map((at): Step => {
      const name = draw.pick(names)
      const ref = { name, namespace }
      if (!exists.has(name)) {
        exists.add(name)
        return {
          at,
          description: `create ${label(name)}`,
          action: {
            _tag: "Call",
            run: (d) =>
              Client.Client.use((client) => client.create(kind, options.create(name, d))).pipe(
                Effect.map((created) => `created (uid ${created.metadata.uid})`),
                Effect.catch((e) => Effect.succeed(`failed: ${describeError(e)}`))
              )
          }
        }
      }
      if (options.update !== undefined && (options.delete === false || draw.chance(0.6))) {
        const update = options.update
        return {
          at,
          description: `update ${label(name)}`,
          action: {
            _tag: "Call",
            run: (d) =>
              Client.Client.use((client) =>
                retryOnConflict(() =>
                  Effect.gen(function*() {
                    const current = yield* client.get(kind, ref)
                    const o = yield* client.replace(kind, update(current, d))
                    return `updated (generation ${o.metadata.generation ?? "-"})`
                  })
                )).pipe(Effect.catch((e) => Effect.succeed(`failed: ${describeError(e)}`)))
          }
        }
      }
      exists.delete(name)
      return {
        at,
        description: `delete ${label(name)}`,
        action: {
          _tag: "Call",
          run: () =>
            Client.Client.use((client) => client.delete(kind, ref)).pipe(
              Effect.map(() => "deleted"),
              Effect.catch((e) => Effect.succeed(`failed: ${describeError(e)}`))
            )
        }
      }
    })
  }
})

/**
 * Replicas coming and going as a user or the cluster makes them: scaled between 1 and the
 * simulation's `maxReplicas` (a scale-down shuts replicas down gracefully), and killed (a crash;
 * a new replica starts after a few seconds).
 *
 * @example
 * ```ts
 * import { Simulation } from "operatorkit/testing"
 *
 * const churn = Simulation.replicaChurn({ scales: 2, kills: 1 })
 * ```
 *
 * @since 0.1.0
 * @category workloads
 */
export const replicaChurn = (options: { readonly scales?: number | undefined; readonly kills?: number | undefined } = {}): Workload => ({
  plan: (draw, context) => {
    const steps: Array<Step> = []
    for (let i = 0; i < (options.scales ?? 1); i++) {
      const replicas = draw.int(1, context.maxReplicas)
      steps.push({ at: draw.int(0, context.duration - 1), description: `scale to ${replicas} replicas`, action: { _tag: "Scale", replicas } })
    }
    for (let i = 0; i < (options.kills ?? 1); i++) {
      const replica = draw.int(0, context.maxReplicas - 1)
      const restartAfterMillis = draw.int(1000, 10_000)
      steps.push({
        at: draw.int(0, context.duration - 1),
        description: `kill replica #${replica}; a new one starts after ${clock(restartAfterMillis)}`,
        action: { _tag: "Kill", replica, restartAfterMillis }
      })
    }
    return steps
  }
})

/**
 * Several workloads as one.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 * import { Simulation } from "operatorkit/testing"
 *
 * const all = Simulation.workload(
 *   Simulation.objects(Kind.ConfigMap, { create: (name) => ({ metadata: { name, namespace: "default" } }) }),
 *   Simulation.replicaChurn()
 * )
 * ```
 *
 * @since 0.1.0
 * @category workloads
 */
export const workload = (...parts: ReadonlyArray<Workload>): Workload => ({
  plan: (draw, context) => parts.flatMap((part) => part.plan(draw, context))
})

/**
 * Your definition of "converged" for a kind.
 *
 * @example
 * ```ts
 * import { Kind } from "operatorkit"
 * import { Simulation } from "operatorkit/testing"
 *
 * const labelled = Simulation.converges(Kind.ConfigMap, (cm) => cm.metadata.labels?.["done"] === "true" || "not labelled done yet")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const converges = <A extends Kind.KubeObject>(
  kind: Kind.Kind<A>,
  check: (object: A) => boolean | string | Effect.Effect<boolean | string, unknown, Client.Client>
): Convergence => ({ kind, check })

// ---------------------------------------------------------------------------------------------
// Running

/**
 * Options of {@link run} and {@link replay}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** Only these events of the seed's plan (ids as reports print them); default all. */
  readonly events?: ReadonlyArray<number> | undefined
}

/**
 * One run of a seed: its report, whether an invariant broke or not.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "operatorkit/testing"
 *
 * declare const simulation: Simulation.Simulation
 * const report = Effect.map(Simulation.run(simulation, 42), (r) => r.violation?.invariant ?? "ok")
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = (simulation: Simulation, seed: number, options: RunOptions = {}): Effect.Effect<Report> =>
  runOnce(simulation, seed, options.events === undefined ? undefined : new Set(options.events))

/**
 * Runs a seed again, exactly as before: the same trace every time. It fails with
 * {@link SimulationFailed} when an invariant breaks (unshrunk: pass the `events` a failure printed
 * to replay its shortest history).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Simulation } from "operatorkit/testing"
 *
 * declare const simulation: Simulation.Simulation
 * const again = Simulation.replay(simulation, 1234, { events: [3, 9] })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const replay = (simulation: Simulation, seed: number, options: RunOptions = {}): Effect.Effect<Report, SimulationFailed> =>
  Effect.flatMap(run(simulation, seed, options), (report) =>
    report.violation === undefined
      ? Effect.succeed(report)
      : Effect.fail(failure(simulation, report, report, undefined)))

/**
 * Options of {@link check}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CheckOptions {
  /** How many seeds (default 100), from `from` (default 1). */
  readonly seeds?: number | undefined
  readonly from?: number | undefined
  /** Seeds that found bugs once: run first, every time. */
  readonly regressions?: ReadonlyArray<number> | undefined
  /** The most runs spent shrinking a failure (default 100; 0: no shrinking). */
  readonly shrinkRuns?: number | undefined
  /** Told after each seed. */
  readonly onSeed?: ((report: Report) => Effect.Effect<void>) | undefined
}

/**
 * What {@link check} ran.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly simulation: string
  readonly seeds: number
  readonly requests: number
  readonly reconciles: number
  readonly simulatedMillis: number
}

/**
 * Runs seeds (the regressions first) until one breaks an invariant; that one is shrunk and
 * reported as a {@link SimulationFailed}.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Simulation } from "operatorkit/testing"
 *
 * declare const simulation: Simulation.Simulation
 * it.effect("survives 200 seeds of faults", () => Simulation.check(simulation, { seeds: 200, regressions: [1234] }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const check = (simulation: Simulation, options: CheckOptions = {}): Effect.Effect<Summary, SimulationFailed> =>
  Effect.gen(function*() {
    const from = options.from ?? 1
    const seeds = [...(options.regressions ?? []), ...Array.from({ length: Math.max(0, options.seeds ?? 100) }, (_, i) => from + i)]
    let requests = 0
    let reconciles = 0
    let simulatedMillis = 0
    for (const seed of seeds) {
      const report = yield* run(simulation, seed)
      requests += report.requests
      reconciles += report.reconciles
      simulatedMillis += report.simulatedMillis
      if (options.onSeed !== undefined) yield* options.onSeed(report)
      if (report.violation === undefined) continue
      const original = report.violation
      const ids = report.events.map((e) => e.id)
      const workloadOnly = report.events.filter((e) => e.source === "workload").map((e) => e.id)
      const shrunk = (options.shrinkRuns ?? 100) > 0
        ? yield* shrink(
          ids,
          (candidate) => Effect.map(run(simulation, seed, { events: candidate }), (r) => r.violation?.invariant === original.invariant),
          { maxRuns: options.shrinkRuns ?? 100, first: [workloadOnly] }
        )
        : { kept: ids, runs: 0 }
      const last = shrunk.kept.length === ids.length ? report : yield* run(simulation, seed, { events: shrunk.kept })
      return yield* failure(simulation, report, last, shrunk.runs)
    }
    return { simulation: simulation.name, seeds: seeds.length, requests, reconciles, simulatedMillis }
  })

// ---------------------------------------------------------------------------------------------
// Reports

const TRACE_LINES = 60

const failure = (simulation: Simulation, original: Report, shrunk: Report, shrinkRuns: number | undefined): SimulationFailed => {
  const violation = shrunk.violation ?? original.violation!
  const line = (e: Event) => `  #${String(e.id).padEnd(3)} ${clock(e.at)}  [${e.source}] ${e.description}`
  const faultEvents = original.plan.filter((e) => e.source === "faults")
  const ids = shrunk.events.map((e) => e.id)
  const whole = ids.length === original.plan.length
  const report = [
    `  at ${clock(violation.at)}: ${violation.message}`,
    "",
    `Fault schedule of seed ${original.seed} (${faultEvents.length} faults over ${clock(simulation.durationMillis)}):`,
    ...(faultEvents.length === 0 ? ["  (none)"] : faultEvents.map(line)),
    "",
    whole
      ? `The history (${ids.length} events${shrinkRuns !== undefined ? `; no smaller one fails the same way, ${shrinkRuns} runs tried` : ""}):`
      : `Shortest history that still fails (${ids.length} of ${original.plan.length} events, found in ${shrinkRuns} runs):`,
    ...(shrunk.events.length === 0 ? ["  (no event: it fails without any)"] : shrunk.events.map(line)),
    "",
    `The last ${Math.min(TRACE_LINES, shrunk.trace.length)} of ${shrunk.trace.length} trace lines of that run:`,
    ...shrunk.trace.slice(-TRACE_LINES).map((l) => `  ${l}`),
    "",
    `Replay it: Simulation.replay(simulation, ${original.seed}${whole ? "" : `, { events: [${ids.join(", ")}] }`})` +
    `  (the whole seed: Simulation.replay(simulation, ${original.seed}))`
  ].join("\n")
  return new SimulationFailed({ simulation: simulation.name, seed: original.seed, invariant: violation.invariant, events: ids, report })
}
