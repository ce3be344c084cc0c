/**
 * Status helpers: conditions (`type`, `status`, `reason`, `message`, `lastTransitionTime`,
 * `observedGeneration`) and writes through the `/status` subresource with a resourceVersion
 * precondition, retried from a fresh read on conflict. Inside a reconcile, the Client is the
 * controller's, so a status write is waited for before the next reconcile (read-your-writes) and its
 * echo does not trigger one.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Client from "./Client.ts"
import { retryOnConflict } from "./internal/retryOnConflict.ts"
import type * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Rbac from "./Rbac.ts"

/**
 * A condition to set; `lastTransitionTime` and `observedGeneration` are filled in.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConditionInput {
  readonly type: string
  readonly status: "True" | "False" | "Unknown"
  readonly reason?: string
  readonly message?: string
}

/**
 * Sets a condition in a list: the transition time moves only when the status changes.
 *
 * @example
 * ```ts
 * import { Status } from "operatorkit"
 *
 * const conditions = Status.setCondition([], { type: "Ready", status: "True", reason: "Reconciled" }, {
 *   observedGeneration: 3,
 *   now: "2026-01-01T00:00:00Z"
 * })
 * // => [{ type: "Ready", status: "True", reason: "Reconciled", observedGeneration: 3, lastTransitionTime: "2026-01-01T00:00:00Z" }]
 * ```
 *
 * @since 0.1.0
 * @category conditions
 */
export const setCondition = (
  conditions: ReadonlyArray<Kind.Condition> | undefined,
  condition: ConditionInput,
  options: { readonly observedGeneration?: number | undefined; readonly now: string }
): ReadonlyArray<Kind.Condition> => {
  const list = conditions ?? []
  const existing = list.find((c) => c.type === condition.type)
  const next: Kind.Condition = {
    type: condition.type,
    status: condition.status,
    ...(condition.reason !== undefined ? { reason: condition.reason } : {}),
    ...(condition.message !== undefined ? { message: condition.message } : {}),
    ...(options.observedGeneration !== undefined ? { observedGeneration: options.observedGeneration } : {}),
    lastTransitionTime: existing !== undefined && existing.status === condition.status && existing.lastTransitionTime !== undefined
      ? existing.lastTransitionTime
      : options.now
  }
  return existing === undefined ? [...list, next] : list.map((c) => (c.type === condition.type ? next : c))
}

/**
 * The condition of a type, if any.
 *
 * @example
 * ```ts
 * import { Status } from "operatorkit"
 *
 * Status.getCondition([{ type: "Ready", status: "True" }], "Ready") // => Option.some({ type: "Ready", status: "True" })
 * ```
 *
 * @since 0.1.0
 * @category conditions
 */
export const getCondition = (conditions: ReadonlyArray<Kind.Condition> | undefined, type: string) =>
  Option.fromUndefinedOr(conditions?.find((c) => c.type === type))

/**
 * Whether a condition is "True" and was observed for the given generation.
 *
 * @example
 * ```ts
 * import { Status } from "operatorkit"
 *
 * Status.isTrue([{ type: "Ready", status: "True", observedGeneration: 2 }], "Ready", 2) // => true
 * Status.isTrue([{ type: "Ready", status: "True", observedGeneration: 1 }], "Ready", 2) // => false
 * ```
 *
 * @since 0.1.0
 * @category conditions
 */
export const isTrue = (conditions: ReadonlyArray<Kind.Condition> | undefined, type: string, generation?: number) =>
  Option.match(getCondition(conditions, type), {
    onNone: () => false,
    onSome: (c) => c.status === "True" && (generation === undefined || c.observedGeneration === generation)
  })

type WithStatus = Kind.KubeObject & { readonly status?: unknown }

/**
 * Rewrites an object's status through `/status`: `f` maps the current status to the new one. The
 * write carries the object's resourceVersion; on a conflict the status is read again and `f`
 * applied again (up to 5 times). Skips the write when `f` returns the status unchanged (deep).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Kind, Status } from "operatorkit"
 *
 * declare const Tenant: Kind.Kind<Kind.KubeObject & { readonly status?: { readonly phase?: string } }, false>
 * declare const tenant: Kind.Type<typeof Tenant>
 * const markReady = Status.update(Tenant, tenant, (status) => ({ ...status, phase: "Ready" }))
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const update = <A extends WithStatus>(
  kind: Kind.Kind<A>,
  object: A,
  f: (status: A["status"] | undefined) => A["status"]
): Effect.Effect<A, KubeError.KubeError, Client.Client> =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* retryOnConflict((attempt) =>
      Effect.gen(function*() {
        // a lost race reads the status again and applies f to it
        const current = attempt === 0 ? object : yield* client.getStatus(kind, { name: object.metadata.name, namespace: object.metadata.namespace })
        const next = f(current.status as A["status"] | undefined)
        if (JSON.stringify(next) === JSON.stringify(current.status)) return current
        return yield* client.replaceStatus(kind, { ...current, status: next })
      })
    )
  })

/**
 * Sets conditions on an object's `status.conditions` (observedGeneration = the object's
 * generation, transition times from the Clock) and writes them with {@link update}.
 *
 * @example
 * ```ts
 * import { Kind, Status } from "operatorkit"
 *
 * declare const Tenant: Kind.Kind<Kind.KubeObject & { readonly status?: { readonly conditions?: ReadonlyArray<Kind.Condition> } }, false>
 * declare const tenant: Kind.Type<typeof Tenant>
 * const ready = Status.setConditions(Tenant, tenant, [{ type: "Ready", status: "True", reason: "Reconciled" }])
 * ```
 *
 * @since 0.1.0
 * @category writing
 */
export const setConditions = <A extends Kind.KubeObject & { readonly status?: { readonly conditions?: ReadonlyArray<Kind.Condition> | undefined } | undefined }>(
  kind: Kind.Kind<A>,
  object: A,
  conditions: ReadonlyArray<ConditionInput>
): Effect.Effect<A, KubeError.KubeError, Client.Client> =>
  Effect.gen(function*() {
    const now = DateTime.formatIso(DateTime.makeUnsafe(yield* Clock.currentTimeMillis)).replace(/\.\d{3}Z$/, "Z")
    return yield* update(kind, object, (status) => {
      let list = status?.conditions
      for (const c of conditions) list = setCondition(list, c, { observedGeneration: object.metadata.generation, now })
      return { ...status, conditions: list } as A["status"]
    })
  })

/**
 * What {@link update} and {@link setConditions} call: `get` and `update` on the kind's `/status`
 * (for a Resource's `permissions`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Kind, Status } from "operatorkit"
 *
 * const Tenant = Kind.custom({ group: "example.com", version: "v1", kind: "Tenant", namespaced: false, spec: Schema.Struct({}) })
 * Status.permissions(Tenant)[0]!.subresource // => "status"
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (kind: Kind.Any, options: { readonly namespace?: string | undefined } = {}): ReadonlyArray<Rbac.ResourcePermission> => [
  Rbac.allow(kind, ["get", "update"], { subresource: "status", namespace: options.namespace, reason: `status of ${kind.kind}: written through /status, read again after a conflict` })
]
