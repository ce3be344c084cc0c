/**
 * Leader election. Controllers reconcile only while their process leads; their informers keep a
 * standby synced, so a new leader starts from a warm cache.
 *
 * This module defines the `Leadership` seam the Controller listens to. Without a `Leadership`
 * service in context a process always leads.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

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
