/**
 * The Client a sharded controller writes through:
 *
 * - Fenced: a write is made only while the replica holds its shard Lease at that instant (its last
 *   renewal began less than the renew deadline ago). Otherwise the reconcile making it is
 *   interrupted (its key goes back in the queue): a replica that was paused, or cut off from the
 *   API server, past its deadline never writes again on the strength of a Lease it may have lost.
 * - Stamped: an object of an owned kind it creates (or applies) carries its shard label, so the
 *   replica's own label-selected caches see it at once (the sharder moves it with its owner later).
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Client from "../../Client.ts"
import type * as Kind from "../../Kind.ts"
import type * as Patch from "../../Patch.ts"

export interface Fence {
  /** Whether the replica holds its shard Lease at this instant. */
  readonly holds: () => boolean
  /** Runs when a write is refused (once per refusal): a log line, a counter. */
  readonly refused: (what: string) => Effect.Effect<void>
}

/** Interrupts the current fiber unless the fence holds. */
export const check = (fence: Fence, what: string): Effect.Effect<void> =>
  Effect.suspend(() => (fence.holds() ? Effect.void : Effect.andThen(fence.refused(what), Effect.interrupt)))

const fenced = <A, E, R>(fence: Fence, what: string, write: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => (fence.holds() ? write : Effect.andThen(fence.refused(what), Effect.interrupt)))

const withLabel = <A extends Kind.KubeObject>(object: A, key: string, value: string): A =>
  object.metadata.labels?.[key] !== undefined
    ? object
    : { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, [key]: value } } }

const stampApply = (patch: Patch.Patch, key: string, value: string): Patch.Patch => {
  if (patch._tag !== "ApplyPatch" || typeof patch.object !== "object" || patch.object === null) return patch
  const object = patch.object as { readonly metadata?: { readonly labels?: Record<string, string> } }
  if (object.metadata?.labels?.[key] !== undefined) return patch
  return { ...patch, object: { ...object, metadata: { ...object.metadata, labels: { ...object.metadata?.labels, [key]: value } } } }
}

export interface Stamp {
  readonly label: string
  readonly value: string
  /** Whether objects of this kind carry the shard label (the ring's owned kinds). */
  readonly owned: (kind: Kind.Any) => boolean
}

const describe = (verb: string, kind: Kind.Any, ref: { readonly name?: string | undefined; readonly namespace?: string | undefined }) =>
  `${verb} ${kind.kind} ${ref.namespace !== undefined ? `${ref.namespace}/` : ""}${ref.name ?? ""}`

export const make = (base: Client.ClientService, fence: Fence, stamp: Stamp): Client.ClientService => ({
  ...base,
  create: (kind, object, options) =>
    fenced(fence, describe("create", kind, object.metadata), base.create(kind, stamp.owned(kind) ? withLabel(object, stamp.label, stamp.value) : object, options)),
  replace: (kind, object, options) => fenced(fence, describe("replace", kind, object.metadata), base.replace(kind, object, options)),
  replaceStatus: (kind, object, options) => fenced(fence, describe("replace the status of", kind, object.metadata), base.replaceStatus(kind, object, options)),
  patch: <A extends Kind.KubeObject, B extends boolean>(kind: Kind.Kind<A, B>, ref: Client.ObjectRef, patch: Patch.For<B>, options?: Client.WriteOptions) =>
    fenced(
      fence,
      describe("patch", kind, ref),
      base.patch(kind, ref, (stamp.owned(kind) ? stampApply(patch, stamp.label, stamp.value) : patch) as Patch.For<B>, options)
    ),
  patchStatus: (kind, ref, patch, options) => fenced(fence, describe("patch the status of", kind, ref), base.patchStatus(kind, ref, patch, options)),
  delete: (kind, ref, options) => fenced(fence, describe("delete", kind, ref), base.delete(kind, ref, options)),
  raw: (request) => request.method === "GET" ? base.raw(request) : fenced(fence, `${request.method} ${request.path}`, base.raw(request))
})
