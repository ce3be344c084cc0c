/**
 * The label writes of sharding, as JSON patches.
 * @internal
 */
import type * as Kind from "../../Kind.ts"
import type * as Patch from "../../Patch.ts"

/** A label key as a JSON pointer segment. */
export const escape = (key: string): string => key.replaceAll("~", "~0").replaceAll("/", "~1")

/**
 * Sets (a string) or removes (undefined) labels, guarded by the resourceVersion the writer saw:
 * a write decided on a stale copy fails its test (422) instead of undoing a newer change.
 */
export const move = (
  object: Kind.KubeObject,
  set: Readonly<Record<string, string | undefined>>
): Array<Patch.JsonPatchOperation> => {
  const ops: Array<Patch.JsonPatchOperation> = [{ op: "test", path: "/metadata/resourceVersion", value: object.metadata.resourceVersion }]
  const labels = object.metadata.labels
  if (labels === undefined) {
    const added = Object.fromEntries(Object.entries(set).filter((e): e is [string, string] => e[1] !== undefined))
    if (Object.keys(added).length > 0) ops.push({ op: "add", path: "/metadata/labels", value: added })
    return ops
  }
  for (const [key, value] of Object.entries(set)) {
    if (value === undefined) {
      if (labels[key] !== undefined) ops.push({ op: "remove", path: `/metadata/labels/${escape(key)}` })
    } else if (labels[key] !== value) {
      ops.push({ op: "add", path: `/metadata/labels/${escape(key)}`, value })
    }
  }
  return ops
}

/**
 * The acknowledgement of a drain by the shard that held the object: both labels go, provided the
 * object is still this shard's and still draining (a withdrawn drain fails the test, 422).
 */
export const acknowledge = (shardLabel: string, drainLabel: string, id: string, drainValue: string): Array<Patch.JsonPatchOperation> => [
  { op: "test", path: `/metadata/labels/${escape(shardLabel)}`, value: id },
  { op: "test", path: `/metadata/labels/${escape(drainLabel)}`, value: drainValue },
  { op: "remove", path: `/metadata/labels/${escape(shardLabel)}` },
  { op: "remove", path: `/metadata/labels/${escape(drainLabel)}` }
]
