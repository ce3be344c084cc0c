/**
 * The four kinds of patch the API server accepts. Strategic merge works on built-in kinds only (a
 * custom resource answers 415), so its type only fits a built-in `Kind`; server-side apply needs a
 * field manager, so its constructor asks for one.
 *
 * @since 0.1.0
 */

/**
 * One RFC 6902 operation. A `test` on `/metadata/resourceVersion` makes the patch an optimistic lock.
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * const ops: ReadonlyArray<Patch.JsonPatchOperation> = [
 *   { op: "test", path: "/metadata/resourceVersion", value: "42" },
 *   { op: "add", path: "/metadata/finalizers/-", value: "example.com/cleanup" }
 * ]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type JsonPatchOperation =
  | { readonly op: "add" | "replace" | "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly from: string; readonly path: string }

/**
 * @since 0.1.0
 * @category models
 */
export interface JsonPatch {
  readonly _tag: "JsonPatch"
  readonly operations: ReadonlyArray<JsonPatchOperation>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MergePatch {
  readonly _tag: "MergePatch"
  readonly patch: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StrategicMergePatch {
  readonly _tag: "StrategicMergePatch"
  readonly patch: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ApplyPatch {
  readonly _tag: "ApplyPatch"
  readonly object: unknown
  readonly fieldManager: string
  readonly force: boolean
}

/**
 * Any patch.
 *
 * @since 0.1.0
 * @category models
 */
export type Patch = JsonPatch | MergePatch | StrategicMergePatch | ApplyPatch

/**
 * The patches a kind accepts: all four for built-in kinds, all but strategic merge for custom ones.
 *
 * @since 0.1.0
 * @category models
 */
export type For<Builtin extends boolean> = Builtin extends true ? Patch : Exclude<Patch, StrategicMergePatch>

/**
 * A JSON patch (`application/json-patch+json`).
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * const guarded = Patch.json([
 *   { op: "test", path: "/metadata/resourceVersion", value: "42" },
 *   { op: "replace", path: "/data/mode", value: "fast" }
 * ])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (operations: ReadonlyArray<JsonPatchOperation>): JsonPatch => ({ _tag: "JsonPatch", operations })

/**
 * A JSON merge patch (`application/merge-patch+json`): `null` deletes a key, lists are replaced.
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * const p = Patch.merge({ metadata: { labels: { stale: null } }, data: { mode: "fast" } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const merge = (patch: unknown): MergePatch => ({ _tag: "MergePatch", patch })

/**
 * A strategic merge patch (`application/strategic-merge-patch+json`), for built-in kinds only.
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * const p = Patch.strategic({ spec: { template: { spec: { containers: [{ name: "app", image: "app:2" }] } } } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const strategic = (patch: unknown): StrategicMergePatch => ({ _tag: "StrategicMergePatch", patch })

/**
 * A server-side apply (`application/apply-patch+yaml`) of the fields this manager owns. With
 * `force`, fields owned by other managers are taken over instead of answering 409.
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * const p = Patch.apply(
 *   { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "b" }, data: { x: "1" } },
 *   { fieldManager: "my-operator", force: true }
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const apply = (
  object: unknown,
  options: { readonly fieldManager: string; readonly force?: boolean }
): ApplyPatch => ({ _tag: "ApplyPatch", object, fieldManager: options.fieldManager, force: options.force ?? false })

/**
 * The Content-Type header of a patch.
 *
 * @example
 * ```ts
 * import { Patch } from "operatorkit"
 *
 * Patch.contentType(Patch.merge({})) // => "application/merge-patch+json"
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const contentType = (patch: Patch): string => {
  switch (patch._tag) {
    case "JsonPatch":
      return "application/json-patch+json"
    case "MergePatch":
      return "application/merge-patch+json"
    case "StrategicMergePatch":
      return "application/strategic-merge-patch+json"
    case "ApplyPatch":
      return "application/apply-patch+yaml"
  }
}
