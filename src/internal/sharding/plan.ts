/**
 * What the sharder does with one object, from its labels and the ring: a pure decision, so every
 * case of the handoff is a line of a table (and a unit test), and the sharder's loop only carries
 * it out.
 * @internal
 */

/** Where an object is, as its labels say. */
export interface Placement {
  /** The shard label's value; undefined when unassigned. */
  readonly shard: string | undefined
  /** The drain label is set: the sharder asked its shard to let it go. */
  readonly draining: boolean
}

export type Action =
  /** Where it belongs, or nowhere to go (no live shard). */
  | { readonly _tag: "Keep" }
  /** Unassigned (new, or acknowledged by its old shard): label it for `to`. */
  | { readonly _tag: "Assign"; readonly to: string }
  /** Its live shard must let it go: set the drain label and wait for the acknowledgement. */
  | { readonly _tag: "Drain"; readonly from: string; readonly to: string }
  /** Drained toward a shard that is gone again, back where the ring wants it: withdraw the drain. */
  | { readonly _tag: "Undrain"; readonly shard: string }
  /** Draining: its shard finishes what is in flight, then acknowledges. */
  | { readonly _tag: "AwaitAck"; readonly from: string }
  /** Its shard is gone (Lease expired or released): move it at once, while holding that Lease. */
  | { readonly _tag: "Reclaim"; readonly from: string; readonly to: string }
  /** An owned object: follow its owner, at once (it is not reconciled on its own). */
  | { readonly _tag: "Follow"; readonly from: string | undefined; readonly to: string }

const keep: Action = { _tag: "Keep" }

/**
 * The next step for an object the ring places on `desired` (undefined: no live shard).
 *
 * - unassigned → Assign
 * - on a live shard: where it belongs → Keep (or Undrain); elsewhere → Drain, then AwaitAck
 * - on a gone shard → Reclaim (no acknowledgement can come; the Lease, held by the sharder, fences it)
 */
export const decide = (placement: Placement, desired: string | undefined, isLive: (shard: string) => boolean): Action => {
  const { draining, shard } = placement
  if (desired === undefined) return keep
  if (shard === undefined) return { _tag: "Assign", to: desired }
  if (!isLive(shard)) return { _tag: "Reclaim", from: shard, to: desired }
  if (shard === desired) return draining ? { _tag: "Undrain", shard } : keep
  return draining ? { _tag: "AwaitAck", from: shard } : { _tag: "Drain", from: shard, to: desired }
}

/**
 * Where an owned object belongs: with its owner's shard; an unassigned owner's objects go ahead to
 * where the owner is going, so they are in the new shard's caches before the owner arrives.
 */
export const ownedTarget = (owner: Placement | undefined, ownerDesired: string | undefined): string | undefined =>
  owner === undefined ? undefined : owner.shard ?? ownerDesired

/** The next step for an owned object: follow the owner's target. A drain label on it is dropped too. */
export const decideOwned = (placement: Placement, target: string | undefined): Action =>
  target === undefined || (placement.shard === target && !placement.draining)
    ? keep
    : { _tag: "Follow", from: placement.shard, to: target }
