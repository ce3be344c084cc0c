/**
 * The reconciliation framework: the composable `Resource` that drives current state towards
 * desired state, its step-by-step CRUD form, the values a reconciliation carries (cancel the
 * reconciliation, cancel this resource, keep finalizers, requeue after), and the combinators that
 * wrap resources (`retry`, `rateLimit`, `timeout`, `withMetrics`, `withTracing`).
 *
 * A `Controller` (see `Controller.ts`) runs a list of resources in order for every object of its
 * kind: `ensureCreated` for live objects, `ensureDeleted` for deleted ones (finalizers guarantee it).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Def from "./internal/metrics.ts"
import { acquire as acquireToken, TokenBucket } from "./internal/tokenBucket.ts"
import { whenTraced } from "./internal/tracing.ts"
import type { KubeObject } from "./Kind.ts"
import * as Rbac from "./Rbac.ts"

// ---------------------------------------------------------------------------------------------
// The reconciliation in progress

/**
 * The values of one reconciliation. A fresh one is provided for every reconcile of every key, and
 * `resourceCanceled` starts over for each resource, so nothing leaks from one to the next.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReconciliationState {
  readonly controller: string
  readonly key: string
  /** "create" runs ensureCreated; "delete" runs ensureDeleted. */
  readonly mode: "create" | "delete"
  reconciliationCanceled: boolean
  resourceCanceled: boolean
  finalizersKept: boolean
  requeueAfter: Duration.Duration | undefined
}

/**
 * The reconciliation in progress, provided by the Controller to every resource it runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framework } from "operatorkit"
 *
 * const logKey = Effect.gen(function*() {
 *   const r = yield* Framework.Reconciliation
 *   yield* Effect.log(`${r.controller} reconciles ${r.key} (${r.mode})`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Reconciliation extends Context.Service<Reconciliation, ReconciliationState>()("operatorkit/Reconciliation") {}

/**
 * Skip every remaining resource of this reconciliation. It counts as success; on the delete path
 * the finalizer stays, so deletion is tried again later.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framework } from "operatorkit"
 *
 * const waitForDependency = (ready: boolean) => ready ? Effect.void : Framework.cancelReconciliation
 * ```
 *
 * @since 0.1.0
 * @category cancellation
 */
export const cancelReconciliation: Effect.Effect<void, never, Reconciliation> = Reconciliation.use((r) =>
  Effect.sync(() => {
    r.reconciliationCanceled = true
  })
)

/**
 * Skip the remaining steps of the current resource; the next resource runs. Not an error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framework } from "operatorkit"
 *
 * const skipIfExternal = (external: boolean) => external ? Framework.cancelResource : Effect.void
 * ```
 *
 * @since 0.1.0
 * @category cancellation
 */
export const cancelResource: Effect.Effect<void, never, Reconciliation> = Reconciliation.use((r) =>
  Effect.sync(() => {
    r.resourceCanceled = true
  })
)

/**
 * Let every resource run, but keep the finalizer at the end of a deletion (e.g. to wait for an
 * external system and try again).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framework } from "operatorkit"
 *
 * const waitForBackup = (done: boolean) => done ? Effect.void : Framework.keepFinalizers
 * ```
 *
 * @since 0.1.0
 * @category cancellation
 */
export const keepFinalizers: Effect.Effect<void, never, Reconciliation> = Reconciliation.use((r) =>
  Effect.sync(() => {
    r.finalizersKept = true
  })
)

/**
 * See this object again after a delay even if nothing changes (the shortest request wins).
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * const pollAgain = Framework.requeueAfter("30 seconds")
 * ```
 *
 * @since 0.1.0
 * @category cancellation
 */
export const requeueAfter = (delay: Duration.Input): Effect.Effect<void, never, Reconciliation> =>
  Reconciliation.use((r) =>
    Effect.sync(() => {
      const d = Duration.fromInputUnsafe(delay)
      if (r.requeueAfter === undefined || Duration.isLessThan(d, r.requeueAfter)) r.requeueAfter = d
    })
  )

const canceledNow = Effect.map(
  Effect.serviceOption(Reconciliation),
  (r) => Option.isSome(r) && (r.value.reconciliationCanceled || r.value.resourceCanceled)
)

// ---------------------------------------------------------------------------------------------
// Resources

/**
 * @since 0.1.0
 * @category type IDs
 */
export const TypeId: TypeId = "~operatorkit/Resource"

/**
 * @since 0.1.0
 * @category type IDs
 */
export type TypeId = "~operatorkit/Resource"

/**
 * Names of the operations a resource performs; combinators see each call with its name.
 *
 * @since 0.1.0
 * @category models
 */
export type Step =
  | "ensureCreated"
  | "ensureDeleted"
  | "getCurrentState"
  | "getDesiredState"
  | "newUpdatePatch"
  | "newDeletePatch"
  | "applyCreateChange"
  | "applyDeleteChange"
  | "applyUpdateChange"

/**
 * What a combinator knows about a call it wraps.
 *
 * @since 0.1.0
 * @category models
 */
export interface StepInfo {
  readonly resource: string
  readonly step: Step
  readonly object: KubeObject
}

/**
 * Wraps each call of a resource (each ensure call, or each CRUD step).
 *
 * @since 0.1.0
 * @category models
 */
export type Wrapper<E2, R2> = <X, E, R>(info: StepInfo, call: Effect.Effect<X, E, R>) => Effect.Effect<X, E | E2, R | R2>

/**
 * A part of the world a controller manages for each object of its kind: `ensureCreated` drives it
 * towards the object's desired state, `ensureDeleted` cleans it up once the object is deleted.
 * Both must be idempotent: they run again after failures, restarts and resyncs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resource<in A extends KubeObject, out E = never, out R = never> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly ensureCreated: (object: A) => Effect.Effect<void, E, R>
  readonly ensureDeleted: (object: A) => Effect.Effect<void, E, R>
  /**
   * The API calls it makes, for the operator's RBAC (see `Rbac`; the Controller declares its own:
   * its kind, finalizer and watches). Each without a reason of its own names this resource.
   */
  readonly permissions: ReadonlyArray<Rbac.Permission>
  /** Rebuilds the resource with one more wrapper around each of its calls. */
  readonly wrap: <E2, R2>(wrapper: Wrapper<E2, R2>) => Resource<A, E | E2, R | R2>
}

/**
 * The error type of a resource.
 *
 * @since 0.1.0
 * @category models
 */
export type Error<T> = T extends Resource<any, infer E, any> ? E : never

/**
 * The object type resources accept (for several: an object every one of them accepts).
 *
 * @since 0.1.0
 * @category models
 */
export type ObjectOf<T> = [T] extends [Resource<infer A, any, any>] ? A : never

/**
 * The requirements of a resource.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<T> = T extends Resource<any, any, infer R> ? R : never

type Calls<A, E, R> = (
  call: <X, E1, R1>(step: Step, object: A, effect: Effect.Effect<X, E1, R1>) => Effect.Effect<X, E1 | E, R1 | R>
) => {
  readonly ensureCreated: (object: A) => Effect.Effect<void, E, R>
  readonly ensureDeleted: (object: A) => Effect.Effect<void, E, R>
}

const ResourceProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const build = <A extends KubeObject, E, R>(
  name: string,
  calls: Calls<A, any, any>,
  wrappers: ReadonlyArray<Wrapper<any, any>>,
  permissions: ReadonlyArray<Rbac.Permission>
): Resource<A, E, R> => {
  const call = <X, E1, R1>(step: Step, object: A, effect: Effect.Effect<X, E1, R1>) => {
    let wrapped: Effect.Effect<X, any, any> = effect
    for (const w of wrappers) wrapped = w({ resource: name, step, object }, wrapped)
    return wrapped
  }
  const { ensureCreated, ensureDeleted } = calls(call)
  return Object.assign(Object.create(ResourceProto), {
    name,
    ensureCreated,
    ensureDeleted,
    permissions,
    wrap: (wrapper: Wrapper<any, any>) => build(name, calls, [...wrappers, wrapper], permissions)
  })
}

/**
 * A resource from its two operations (the Go operatorkit's `resource.Interface`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Framework, Kind } from "operatorkit"
 *
 * const announce = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({
 *   name: "announce",
 *   ensureCreated: (cm) => Effect.log(`${cm.metadata.name} exists`),
 *   ensureDeleted: (cm) => Effect.log(`${cm.metadata.name} is gone`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends KubeObject>() =>
<E, R, E2 = never, R2 = never>(options: {
  readonly name: string
  readonly ensureCreated: (object: A) => Effect.Effect<void, E, R>
  readonly ensureDeleted: (object: A) => Effect.Effect<void, E2, R2>
  /** The API calls it makes beyond its controller's own (see {@link Resource.permissions}). */
  readonly permissions?: ReadonlyArray<Rbac.Permission> | undefined
}): Resource<A, E | E2, R | R2> =>
  build(options.name, (call) => ({
    ensureCreated: (object) => call("ensureCreated", object, options.ensureCreated(object)),
    ensureDeleted: (object) => call("ensureDeleted", object, options.ensureDeleted(object))
  }), [], Rbac.withReason(options.permissions ?? [], `resource ${options.name}`))

/**
 * Several resources as one, run in order with the controller's rules (cancellations, first error
 * stops). Combinators applied to it wrap the whole sequence: that is how retry, timeout, metrics
 * and tracing apply to a reconcile program rather than to one resource.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * declare const namespace: Framework.Resource<any>
 * declare const quota: Framework.Resource<any>
 * const tenant = Framework.sequence("tenant", [namespace, quota]).pipe(Framework.timeout("2 minutes"), Framework.withTracing)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sequence = <const Rs extends ReadonlyArray<Resource<any, any, any>>>(
  name: string,
  resources: Rs
): Resource<ObjectOf<Rs[number]>, Error<Rs[number]>, Requirements<Rs[number]> | Reconciliation> =>
  build(name, (call) => {
    const run = (object: ObjectOf<Rs[number]>, mode: "create" | "delete") =>
      Effect.gen(function*() {
        const state = yield* Reconciliation
        for (const resource of resources) {
          if (state.reconciliationCanceled) return
          state.resourceCanceled = false
          const step = mode === "create" ? resource.ensureCreated(object) : resource.ensureDeleted(object)
          yield* Effect.annotateLogs(step, { resource: resource.name })
        }
        // the sequence's own "resource" is not canceled by its last member
        state.resourceCanceled = false
      })
    return {
      ensureCreated: (object) => call("ensureCreated", object, run(object, "create")),
      ensureDeleted: (object) => call("ensureDeleted", object, run(object, "delete"))
    }
  }, [], resources.flatMap((r) => r.permissions))

// ---------------------------------------------------------------------------------------------
// The CRUD form

/**
 * The changes a CRUD resource computed. A part that is set (even to an empty change) runs its
 * apply step; a part left out does not.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrudPatch<C, U, D> {
  readonly create: Option.Option<C>
  readonly update: Option.Option<U>
  readonly delete: Option.Option<D>
}

/**
 * Builds a {@link CrudPatch} from the parts that are present as keys.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * const patch = Framework.patch({ create: [], update: ["b"] }) // delete is not set: no applyDeleteChange
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const patch = <C = never, U = never, D = never>(parts: {
  readonly create?: C
  readonly update?: U
  readonly delete?: D
}): CrudPatch<C, U, D> => ({
  create: "create" in parts ? Option.some(parts.create as C) : Option.none(),
  update: "update" in parts ? Option.some(parts.update as U) : Option.none(),
  delete: "delete" in parts ? Option.some(parts.delete as D) : Option.none()
})

/**
 * The CRUD form of a resource (the Go operatorkit's `crud.Interface`): the framework computes the
 * current and desired state, asks for a patch, and applies its parts in the order create, delete,
 * update. `newUpdatePatch` serves ensureCreated, `newDeletePatch` ensureDeleted; returning `None`
 * (or `undefined`) means nothing to apply. Cancellation is checked before every step.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrudOptions<A extends KubeObject, S, D, C, U, Del, E, R> {
  readonly name: string
  readonly getCurrentState: (object: A) => Effect.Effect<S, E, R>
  readonly getDesiredState: (object: A) => Effect.Effect<D, E, R>
  readonly newUpdatePatch: (object: A, current: S, desired: D) => Effect.Effect<CrudPatch<C, U, Del> | undefined, E, R>
  readonly newDeletePatch: (object: A, current: S, desired: D) => Effect.Effect<CrudPatch<C, U, Del> | undefined, E, R>
  readonly applyCreateChange: (object: A, change: C) => Effect.Effect<void, E, R>
  readonly applyDeleteChange: (object: A, change: Del) => Effect.Effect<void, E, R>
  readonly applyUpdateChange: (object: A, change: U) => Effect.Effect<void, E, R>
  /** The API calls its steps make (see {@link Resource.permissions}). */
  readonly permissions?: ReadonlyArray<Rbac.Permission> | undefined
}

/**
 * A resource from its CRUD form. Combinators applied to it wrap each step (so `retry` retries a
 * failed step, not the whole resource).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Framework, Kind } from "operatorkit"
 *
 * type Obj = Kind.Type<typeof Kind.ConfigMap>
 * const members = Framework.crud({
 *   name: "members",
 *   getCurrentState: (_: Obj) => Effect.succeed(["a"]),
 *   getDesiredState: (_: Obj) => Effect.succeed(["a", "b"]),
 *   newUpdatePatch: (_, current: ReadonlyArray<string>, desired: ReadonlyArray<string>) =>
 *     Effect.succeed(Framework.patch({ create: desired.filter((m) => !current.includes(m)) })),
 *   newDeletePatch: (_, current) => Effect.succeed(Framework.patch({ delete: current })),
 *   applyCreateChange: (_, added) => Effect.log(`add ${added}`),
 *   applyDeleteChange: (_, removed) => Effect.log(`remove ${removed}`),
 *   applyUpdateChange: () => Effect.void
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const crud = <A extends KubeObject, S, D, C, U, Del, E = never, R = never>(
  options: CrudOptions<A, S, D, C, U, Del, E, R>
): Resource<A, E, R> =>
  build(options.name, (call) => {
    const run = (object: A, newPatch: "newUpdatePatch" | "newDeletePatch") =>
      Effect.gen(function*() {
        if (yield* canceledNow) return
        const current = yield* call("getCurrentState", object, options.getCurrentState(object))
        if (yield* canceledNow) return
        const desired = yield* call("getDesiredState", object, options.getDesiredState(object))
        if (yield* canceledNow) return
        const p = yield* call(newPatch, object, options[newPatch](object, current, desired))
        if (p === undefined) return
        if (Option.isSome(p.create)) {
          if (yield* canceledNow) return
          yield* call("applyCreateChange", object, options.applyCreateChange(object, p.create.value))
        }
        if (Option.isSome(p.delete)) {
          if (yield* canceledNow) return
          yield* call("applyDeleteChange", object, options.applyDeleteChange(object, p.delete.value))
        }
        if (Option.isSome(p.update)) {
          if (yield* canceledNow) return
          yield* call("applyUpdateChange", object, options.applyUpdateChange(object, p.update.value))
        }
      })
    return {
      ensureCreated: (object) => run(object, "newUpdatePatch"),
      ensureDeleted: (object) => run(object, "newDeletePatch")
    }
  }, [], Rbac.withReason(options.permissions ?? [], `resource ${options.name}`))

// ---------------------------------------------------------------------------------------------
// Combinators

/**
 * The Go library's default retry: three attempts, one second apart.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * const schedule = Framework.defaultRetrySchedule
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const defaultRetrySchedule: Schedule.Schedule<unknown> = Schedule.max([
  Schedule.spaced("1 second"),
  Schedule.recurs(2)
]) as Schedule.Schedule<unknown>

/**
 * Retries each failing call (each ensure call, or each CRUD step) on a schedule; the last error
 * propagates. Cancellations are values, not errors, so they are never retried.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { Framework } from "operatorkit"
 *
 * declare const resource: Framework.Resource<any, Error>
 * const patient = resource.pipe(Framework.retry(Schedule.exponential("200 millis").pipe(Schedule.upTo({ times: 5 }))))
 * const withDefault = Framework.retry(resource) // 3 attempts, 1 s apart
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  (schedule?: Schedule.Schedule<unknown, any>): <A extends KubeObject, E, R>(self: Resource<A, E, R>) => Resource<A, E, R>
  <A extends KubeObject, E, R>(self: Resource<A, E, R>, schedule?: Schedule.Schedule<unknown, any>): Resource<A, E, R>
} = dual(
  (args) => isResource(args[0]),
  <A extends KubeObject, E, R>(self: Resource<A, E, R>, schedule: Schedule.Schedule<unknown, any> = defaultRetrySchedule) =>
    self.wrap((_, call) => Effect.retry(call, schedule))
) as any

/**
 * A call that did not finish within its resource's deadline.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const onTimeout = Effect.catchTag("ResourceTimeout", (e) => Effect.logWarning(`${e.resource}.${e.step} timed out`))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ResourceTimeout extends Schema.TaggedError<ResourceTimeout>()("ResourceTimeout", {
  resource: Schema.String,
  step: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `resource ${this.resource}: ${this.step} did not finish within ${this.timeoutMillis} ms`
  }
}

/**
 * Gives each call a deadline; a late call is interrupted and fails with {@link ResourceTimeout}.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * declare const resource: Framework.Resource<any>
 * const bounded = resource.pipe(Framework.timeout("10 seconds"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const timeout: {
  (duration: Duration.Input): <A extends KubeObject, E, R>(self: Resource<A, E, R>) => Resource<A, E | ResourceTimeout, R>
  <A extends KubeObject, E, R>(self: Resource<A, E, R>, duration: Duration.Input): Resource<A, E | ResourceTimeout, R>
} = dual(2, <A extends KubeObject, E, R>(self: Resource<A, E, R>, duration: Duration.Input) => {
  const d = Duration.fromInputUnsafe(duration)
  return self.wrap((info, call) =>
    Effect.timeoutOrElse(call, {
      duration: d,
      orElse: () => Effect.fail(new ResourceTimeout({ resource: info.resource, step: info.step, timeoutMillis: Duration.toMillis(d) }))
    })
  )
})

/**
 * Spaces out the calls of a resource (across every object) with a token bucket: a burst, then
 * `perSecond` calls a second. Calls wait for a token; none fails. A call interrupted while it
 * waits (by a `timeout` around it, or a shutdown) gives its token back.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * declare const resource: Framework.Resource<any>
 * const gentle = resource.pipe(Framework.rateLimit({ perSecond: 5, burst: 10 }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const rateLimit: {
  (options: { readonly perSecond: number; readonly burst?: number }): <A extends KubeObject, E, R>(self: Resource<A, E, R>) => Resource<A, E, R>
  <A extends KubeObject, E, R>(self: Resource<A, E, R>, options: { readonly perSecond: number; readonly burst?: number }): Resource<A, E, R>
} = dual(2, <A extends KubeObject, E, R>(self: Resource<A, E, R>, options: { readonly perSecond: number; readonly burst?: number }) => {
  const bucket = new TokenBucket(options.perSecond, options.burst ?? 1)
  // tokens are taken synchronously so concurrent calls never share one; an interrupted wait gives its token back
  const acquire = acquireToken(bucket)
  return self.wrap((_, call) => Effect.andThen(acquire, call))
})

/**
 * The three series of one resource operation, built once with their attributes fixed (as the
 * Controller's are: `Metric.withAttributes` would key the series again on every update).
 */
const operationSeries = new Map<string, {
  readonly total: Metric.Counter<number>
  readonly errors: Metric.Counter<number>
  readonly seconds: Metric.Histogram<number>
}>()
const operationSeriesOf = (resource: string, operation: string) => {
  const key = `${resource}\u0000${operation}`
  let series = operationSeries.get(key)
  if (series === undefined) {
    const attributes = { resource, operation }
    series = {
      total: Def.counter(Def.operationTotal, attributes),
      errors: Def.counter(Def.operationErrors, attributes),
      seconds: Def.histogram(Def.operationSeconds, attributes)
    }
    operationSeries.set(key, series)
  }
  return series
}

/**
 * Counts every call (failures included, separately too) and times it, with attributes `resource`
 * and `operation`: `operatorkit_controller_operation_total`, `…_errors_total` and the
 * `operatorkit_controller_operation` histogram (seconds), as the Go library named them.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * declare const resource: Framework.Resource<any>
 * const measured = resource.pipe(Framework.withMetrics)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withMetrics = <A extends KubeObject, E, R>(self: Resource<A, E, R>): Resource<A, E, R> =>
  self.wrap((info, call) => {
    const series = operationSeriesOf(info.resource, info.step)
    return Effect.gen(function*() {
      const start = yield* Clock.currentTimeMillis
      return yield* call.pipe(
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            const end = yield* Clock.currentTimeMillis
            yield* Metric.update(series.total, 1)
            yield* Metric.update(series.seconds, (end - start) / 1000)
            if (exit._tag === "Failure") yield* Metric.update(series.errors, 1)
          })
        )
      )
    })
  })

/**
 * Declares more API calls a resource makes (for the operator's RBAC, see `Rbac`); those without a
 * reason name the resource. Wrappers applied later keep them.
 *
 * @example
 * ```ts
 * import { Framework, Kind, Rbac } from "operatorkit"
 *
 * declare const binding: Framework.Resource<any>
 * // creating a RoleBinding to the ClusterRole admin takes the right to bind it
 * const declared = binding.pipe(Framework.withPermissions([Rbac.allow(Kind.ClusterRole, ["bind"], { names: ["admin"] })]))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withPermissions: {
  (permissions: ReadonlyArray<Rbac.Permission>): <A extends KubeObject, E, R>(self: Resource<A, E, R>) => Resource<A, E, R>
  <A extends KubeObject, E, R>(self: Resource<A, E, R>, permissions: ReadonlyArray<Rbac.Permission>): Resource<A, E, R>
} = dual(2, <A extends KubeObject, E, R>(self: Resource<A, E, R>, permissions: ReadonlyArray<Rbac.Permission>): Resource<A, E, R> => {
  const extra = Rbac.withReason(permissions, `resource ${self.name}`)
  const add = <E2, R2>(resource: Resource<A, E2, R2>): Resource<A, E2, R2> =>
    Object.assign(Object.create(ResourceProto), {
      name: resource.name,
      ensureCreated: resource.ensureCreated,
      ensureDeleted: resource.ensureDeleted,
      permissions: [...resource.permissions, ...extra],
      wrap: <E3, R3>(wrapper: Wrapper<E3, R3>) => add(resource.wrap(wrapper))
    })
  return add(self)
})

/**
 * A span per call named `resource.<name>.<step>`, with the object's kind, namespace, name and
 * generation and the resource and step as attributes.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * declare const resource: Framework.Resource<any>
 * const traced = resource.pipe(Framework.withTracing)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTracing = <A extends KubeObject, E, R>(self: Resource<A, E, R>): Resource<A, E, R> =>
  self.wrap((info, call) =>
    whenTraced(call, (call) =>
      Effect.withSpan(call, `resource.${info.resource}.${info.step}`, {
        captureStackTrace: false,
        attributes: {
          "operatorkit.resource": info.resource,
          "operatorkit.step": info.step,
          ...(info.object.kind !== undefined ? { "k8s.kind": info.object.kind } : {}),
          ...(info.object.metadata.namespace !== undefined ? { "k8s.namespace": info.object.metadata.namespace } : {}),
          "k8s.name": info.object.metadata.name,
          ...(info.object.metadata.generation !== undefined ? { "k8s.generation": info.object.metadata.generation } : {})
        }
      }))
  )

/**
 * Whether a value is a {@link Resource}.
 *
 * @example
 * ```ts
 * import { Framework } from "operatorkit"
 *
 * Framework.isResource({}) // => false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isResource = (u: unknown): u is Resource<any, unknown, unknown> =>
  typeof u === "object" && u !== null && (u as { [TypeId]?: unknown })[TypeId] === TypeId
