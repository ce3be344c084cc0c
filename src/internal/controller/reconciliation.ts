/**
 * One reconciliation of one object: a fresh {@link Framework.ReconciliationState} and the resources
 * run in order against it. The Controller runs every reconcile through here.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as References from "effect/References"
import * as Framework from "../../Framework.ts"
import type { KubeObject } from "../../Kind.ts"

/** A fresh reconciliation state (the Controller makes one per reconcile of a key). */
export const makeReconciliation = (options: {
  readonly controller: string
  readonly key: string
  readonly mode: "create" | "delete"
}): Framework.ReconciliationState => ({
  ...options,
  reconciliationCanceled: false,
  resourceCanceled: false,
  finalizersKept: false,
  requeueAfter: undefined
})

/**
 * Runs resources in order for one object: `ensureCreated` (mode "create") or `ensureDeleted` (mode
 * "delete"); a canceled reconciliation skips the rest, a canceled resource skips to the next; the
 * first error stops the run. Log annotations (`resource`) stay with their resource. A runner per
 * controller: for a lone resource it keeps the annotated context of the last context it ran in
 * (a worker's context does not change from one reconcile to the next).
 */
export const resourceRunner = <A extends KubeObject, E, R>(
  resources: ReadonlyArray<Framework.Resource<A, E, R>>
) => {
  const only = resources.length === 1 ? resources[0]!.name : undefined
  let lastContext: Context.Context<never> | undefined
  let lastAnnotated: Context.Context<never> | undefined
  const annotated = (context: Context.Context<never>): Context.Context<never> => {
    if (only === undefined) return context
    if (context !== lastContext) {
      lastContext = context
      lastAnnotated = withResourceAnnotation(context, only)
    }
    return lastAnnotated!
  }
  // a plain loop of flatMaps (this runs once per reconcile, so it stays cheap); each resource's
  // operation is called when its turn comes, not when the program is built. The state is provided
  // with one context update, which for a lone resource also carries its log annotation.
  return (object: A, state: Framework.ReconciliationState): Effect.Effect<void, E, Exclude<R, Framework.Reconciliation>> =>
    Effect.updateContext(
      Effect.suspend(() => runFrom(resources, object, state, 0, only !== undefined)),
      (context: Context.Context<Exclude<R, Framework.Reconciliation>>): Context.Context<R> =>
        Context.add(annotated(context as Context.Context<never>), Framework.Reconciliation, state) as Context.Context<R>
    ) as Effect.Effect<void, E, Exclude<R, Framework.Reconciliation>>
}

/** The resources run once for one object (see {@link resourceRunner}). */
export const runResources = <A extends KubeObject, E, R>(
  resources: ReadonlyArray<Framework.Resource<A, E, R>>,
  object: A,
  state: Framework.ReconciliationState
): Effect.Effect<void, E, Exclude<R, Framework.Reconciliation>> => resourceRunner(resources)(object, state)

/** The context with the log annotation `resource`, as `Effect.annotateLogs` adds it. */
const withResourceAnnotation = <R>(context: Context.Context<R>, resource: string): Context.Context<R> =>
  Context.add(context, References.CurrentLogAnnotations, { ...Context.get(context, References.CurrentLogAnnotations), resource })

const runFrom = <A extends KubeObject, E, R>(
  resources: ReadonlyArray<Framework.Resource<A, E, R>>,
  object: A,
  state: Framework.ReconciliationState,
  index: number,
  annotated: boolean
): Effect.Effect<void, E, R> => {
  const resource = resources[index]
  if (resource === undefined || state.reconciliationCanceled) return Effect.void
  state.resourceCanceled = false
  const operation = state.mode === "create" ? resource.ensureCreated(object) : resource.ensureDeleted(object)
  const call = annotated ? operation : Effect.annotateLogs(operation, { resource: resource.name })
  // nothing follows the last resource: its operation is the rest of the run
  if (index === resources.length - 1) return call
  return Effect.flatMap(call, () => Effect.suspend(() => runFrom(resources, object, state, index + 1, false)))
}
