/**
 * Resources for objects a controller creates for each of its objects (a ConfigMap, a Secret, or
 * anything else): `ensureCreated` server-side applies the desired object with an owner reference to
 * the reconciled object (field manager: the controller's name, forced, so the controller owns what
 * it sets), `ensureDeleted` deletes it, but only if it carries that owner reference (so an object
 * of the same name the controller never created is left alone; NotFound is success). Watch them
 * with `Watch.owns` so a change or deletion brings the owner back.
 *
 * RBAC: each resource declares what it calls (`Framework.Resource.permissions`): a server-side apply
 * that creates an object needs `create` as well as `patch`; deletion needs `get` and `delete` (none
 * with `cleanup: "ownerReference"`, when the object goes with its owner).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Client from "./Client.ts"
import * as Framework from "./Framework.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Patch from "./Patch.ts"
import * as Rbac from "./Rbac.ts"

/**
 * The desired owned object, or `undefined` when the owner wants none: nothing is applied or
 * deleted for it.
 *
 * @since 0.1.0
 * @category models
 */
export type Desired<B> = Omit<B, "apiVersion" | "kind"> | undefined

/**
 * Options of an owned object's resource.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How it goes when its owner is deleted: `"delete"` (default), by `ensureDeleted`; or
   * `"ownerReference"`, with its owner (Kubernetes' garbage collector follows the owner reference,
   * or its namespace goes): `ensureDeleted` does nothing and needs no rights.
   */
  readonly cleanup?: "delete" | "ownerReference" | undefined
}

/**
 * An owner reference to an object of a kind (controller: true, blockOwnerDeletion: true).
 *
 * @example
 * ```ts
 * import { Kind, Owned } from "operatorkit"
 *
 * const ref = Owned.ownerReference(Kind.ConfigMap, { metadata: { name: "a", namespace: "b", uid: "123" } })
 * // => { apiVersion: "v1", kind: "ConfigMap", name: "a", uid: "123", controller: true, blockOwnerDeletion: true }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ownerReference = (kind: Kind.Any, owner: Kind.KubeObject): Kind.OwnerReference => ({
  apiVersion: kind.apiVersion,
  kind: kind.kind,
  name: owner.metadata.name,
  uid: owner.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/**
 * A resource that keeps one object of `kind` as `desired(owner)` says.
 *
 * @example
 * ```ts
 * import { Kind, Owned } from "operatorkit"
 *
 * declare const Tenant: Kind.Kind<Kind.KubeObject & { spec: { quota: string } }, false>
 * const quota = Owned.make(Tenant, Kind.ResourceQuota, "quota", (tenant) => ({
 *   metadata: { name: "quota", namespace: tenant.metadata.name },
 *   spec: { hard: { pods: tenant.spec.quota } }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A extends Kind.KubeObject, B extends Kind.KubeObject>(
  ownerKind: Kind.Kind<A>,
  kind: Kind.Kind<B>,
  name: string,
  desired: (owner: A) => Desired<B>,
  options: Options = {}
): Framework.Resource<A, KubeError.KubeError, Client.Client | Framework.Reconciliation> =>
  Framework.make<A>()({
    name,
    permissions: [
      Rbac.allow(kind, ["create", "patch"], { reason: `resource ${name}: server-side applies its ${kind.kind} (creating it when missing)` }),
      ...(options.cleanup === "ownerReference" ? [] : [Rbac.allow(kind, ["get", "delete"], { reason: `resource ${name}: deletes its ${kind.kind} with its owner` })])
    ],
    ensureCreated: (owner) =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const reconciliation = yield* Framework.Reconciliation
        const want = desired(owner)
        if (want === undefined) return
        const ref = { name: want.metadata.name, namespace: want.metadata.namespace }
        // a namespaced owner can only own objects in its own namespace
        const canOwn = !ownerKind.namespaced || ownerKind.namespaced && want.metadata.namespace === owner.metadata.namespace
        const owners = canOwn && owner.metadata.uid !== undefined ? [ownerReference(ownerKind, owner)] : undefined
        yield* client.patch(
          kind,
          ref,
          Patch.apply(
            {
              ...want,
              metadata: { ...want.metadata, ...(owners !== undefined ? { ownerReferences: owners } : {}) }
            },
            { fieldManager: reconciliation.controller, force: true }
          ) as Patch.For<boolean>
        )
      }),
    ensureDeleted: (owner) =>
      Effect.gen(function*() {
        if (options.cleanup === "ownerReference") return
        const client = yield* Client.Client
        const want = desired(owner)
        if (want === undefined) return
        const ref = { name: want.metadata.name, namespace: want.metadata.namespace }
        const current = yield* client.get(kind, ref).pipe(
          Effect.map(Option.some),
          Effect.catchTag("NotFound", () => Effect.succeedNone)
        )
        if (Option.isNone(current)) return
        const ours = current.value.metadata.ownerReferences?.some((r) => r.uid === owner.metadata.uid) ?? false
        if (!ours) return
        // the uid precondition: never delete a namesake created after our read
        yield* client.delete(kind, ref, { preconditions: { uid: current.value.metadata.uid! } }).pipe(
          Effect.catchTag("NotFound", () => Effect.void),
          Effect.asVoid
        )
      })
  })

/**
 * A ConfigMap owned by the reconciled object.
 *
 * @example
 * ```ts
 * import { Kind, Owned } from "operatorkit"
 *
 * const copy = Owned.configMap(Kind.ConfigMap, "copy", (source) => ({
 *   metadata: { name: `${source.metadata.name}-copy`, namespace: source.metadata.namespace },
 *   data: source.data ?? {}
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const configMap = <A extends Kind.KubeObject>(
  ownerKind: Kind.Kind<A>,
  name: string,
  desired: (owner: A) => Desired<Kind.Type<typeof Kind.ConfigMap>>,
  options: Options = {}
) => make(ownerKind, Kind.ConfigMap, name, desired, options)

/**
 * A Secret owned by the reconciled object (use `stringData` for plain text values).
 *
 * @example
 * ```ts
 * import { Kind, Owned } from "operatorkit"
 *
 * const credentials = Owned.secret(Kind.ConfigMap, "credentials", (owner) => ({
 *   metadata: { name: `${owner.metadata.name}-credentials`, namespace: owner.metadata.namespace },
 *   stringData: { user: owner.metadata.name }
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const secret = <A extends Kind.KubeObject>(
  ownerKind: Kind.Kind<A>,
  name: string,
  desired: (owner: A) => Desired<Kind.Type<typeof Kind.Secret>>,
  options: Options = {}
) => make(ownerKind, Kind.Secret, name, desired, options)
