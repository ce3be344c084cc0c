/**
 * What a controller watches besides its own kind, and which of its own updates count.
 *
 * - Secondary watches: `owns` (a kind the controller creates; a change enqueues the owner named by
 *   the object's controller reference) and `watches` (any kind, mapped to primary keys by a
 *   function). Each runs an informer (shared through `Informer.Informers` when provided).
 * - Predicates filter the primary kind's updates (`generationChanged`, `labelsChanged`,
 *   `annotationsChanged`, `any`); additions, deletions and resyncs always enqueue.
 *
 * Both are given to `Controller.make` (`watches`, `predicates`).
 *
 * @since 0.1.0
 */
import type * as Informer from "./Informer.ts"
import type * as Kind from "./Kind.ts"
import * as Store from "./Store.ts"

/**
 * Which primary changes enqueue their object. Added, Deleted and Resynced always do; predicates
 * decide about updates.
 *
 * @since 0.1.0
 * @category models
 */
export type Predicate<A> = (change: Informer.Change<A>) => boolean

/**
 * A secondary kind whose changes enqueue primary keys.
 *
 * @since 0.1.0
 * @category models
 */
export interface Watch {
  readonly kind: Kind.Any
  readonly options: Informer.Options<any>
  /** The primary keys to enqueue for a changed secondary object. */
  readonly keysFor: (primary: Kind.Any) => (object: any) => ReadonlyArray<string>
}

/**
 * Watch a kind the controller creates for its objects: a change enqueues the owner named by the
 * object's ownerReferences (controller references only, unless `controllerOnly: false`).
 *
 * @example
 * ```ts
 * import { Kind, Watch } from "operatorkit"
 *
 * const watches = [Watch.owns(Kind.ConfigMap), Watch.owns(Kind.Secret, { namespace: "team-a" })]
 * ```
 *
 * @since 0.1.0
 * @category watches
 */
export const owns = (kind: Kind.Any, options: Informer.Options<any> & { readonly controllerOnly?: boolean } = {}): Watch => {
  const { controllerOnly = true, ...informerOptions } = options
  return {
    kind,
    options: informerOptions,
    keysFor: (primary) => (object: Kind.KubeObject) =>
      (object.metadata.ownerReferences ?? [])
        .filter((ref) =>
          ref.kind === primary.kind && ref.apiVersion.split("/")[0] === primary.apiVersion.split("/")[0] &&
          (!controllerOnly || ref.controller === true)
        )
        .map((ref) => Store.key({ name: ref.name, namespace: primary.namespaced ? object.metadata.namespace : undefined }))
  }
}

/**
 * Watch any kind and map its objects to primary keys ("namespace/name") yourself.
 *
 * @example
 * ```ts
 * import { Kind, Watch } from "operatorkit"
 *
 * // every Secret labelled with a tenant enqueues that (cluster-scoped) Tenant
 * const w = Watch.watches(Kind.Secret, (secret) => {
 *   const tenant = secret.metadata.labels?.["tenant"]
 *   return tenant !== undefined ? [tenant] : []
 * })
 * ```
 *
 * @since 0.1.0
 * @category watches
 */
export const watches = <B extends Kind.KubeObject>(
  kind: Kind.Kind<B>,
  map: (object: B) => ReadonlyArray<string>,
  options: Informer.Options<B> = {}
): Watch => ({ kind, options, keysFor: () => map as (object: any) => ReadonlyArray<string> })

/**
 * Only updates that changed `metadata.generation` (the spec) or started a deletion.
 *
 * @example
 * ```ts
 * import { Watch } from "operatorkit"
 *
 * const predicates = [Watch.generationChanged]
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const generationChanged: Predicate<Kind.KubeObject> = (change) =>
  change._tag !== "Updated" ||
  change.old.metadata.generation !== change.object.metadata.generation ||
  change.old.metadata.deletionTimestamp !== change.object.metadata.deletionTimestamp

/**
 * Only updates that changed the labels.
 *
 * @example
 * ```ts
 * import { Watch } from "operatorkit"
 *
 * const predicates = [Watch.labelsChanged]
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const labelsChanged: Predicate<Kind.KubeObject> = (change) =>
  change._tag !== "Updated" || !sameRecord(change.old.metadata.labels, change.object.metadata.labels)

/**
 * Only updates that changed the annotations.
 *
 * @example
 * ```ts
 * import { Watch } from "operatorkit"
 *
 * const predicates = [Watch.annotationsChanged]
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const annotationsChanged: Predicate<Kind.KubeObject> = (change) =>
  change._tag !== "Updated" || !sameRecord(change.old.metadata.annotations, change.object.metadata.annotations)

/**
 * An update passes if any of the predicates passes it.
 *
 * @example
 * ```ts
 * import { Watch } from "operatorkit"
 *
 * const predicates = [Watch.any(Watch.generationChanged, Watch.labelsChanged)]
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const any = <A>(...predicates: ReadonlyArray<Predicate<A>>): Predicate<A> => (change) =>
  predicates.some((p) => p(change))

const sameRecord = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined) => {
  const ak = Object.keys(a ?? {})
  const bk = Object.keys(b ?? {})
  return ak.length === bk.length && ak.every((k) => a?.[k] === b?.[k])
}
