/**
 * What a controller tells a simulation (operatorkit/testing's Simulation) about itself: the
 * informers it reads, the reconciles it runs and the deletion passes that succeeded, so that the
 * simulation can check its invariants (no two reconciles of one object at once, a finalizer
 * removed only after its cleanup succeeded, each cache equal to the server once quiet), and the
 * sharding hand-offs it takes part in (moving objects is not being quiet). Nothing
 * listens outside a simulation: the default is no probe, and a controller then does nothing more
 * than read the reference once per reconcile.
 * @internal
 */
import * as Context from "effect/Context"
import type * as Informer from "../../Informer.ts"
import type * as Kind from "../../Kind.ts"

export interface ProbedInformer {
  readonly kind: Kind.Any
  readonly options: Informer.Options<any>
  readonly informer: Informer.Informer<any>
}

export interface Probe {
  /** A controller started: its name, its finalizer and its informers (the primary first). */
  readonly controllerStarted: (controller: {
    readonly name: string
    readonly finalizer: string
    readonly informers: ReadonlyArray<ProbedInformer>
  }) => void
  readonly reconcileStarted: (controller: string, key: string) => void
  readonly reconcileEnded: (controller: string, key: string) => void
  /**
   * Every ensureDeleted of a deletion pass succeeded (or the undecodable object was released by
   * its policy): the controller's finalizer may now be removed from the object with this uid.
   */
  readonly cleanedUp: (controller: string, uid: string) => void
  /**
   * A write of a sharding hand-off was made (the sharder's label writes: drain, undrain, assign,
   * reclaim, follow; a shard's acknowledgement): objects are moving between replicas.
   */
  readonly handedOff: (ring: string, what: string) => void
}

export const Probe = Context.Reference<Probe | undefined>("operatorkit/internal/Probe", {
  defaultValue: () => undefined
})
