/**
 * Storage-version migration of a CustomResourceDefinition: every stored object rewritten in the
 * storage version, then only that version left in `status.storedVersions`, so older versions can be
 * removed from the CRD. Resumable after an interruption (a checkpoint on the CRD). The `Crd`
 * service's `migrate` runs it; {@link migrate} is the same over the Client in context.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

import { Client } from "./Client.ts"
import type { CustomResourceDefinition, Definition } from "./CrdDefinition.ts"
import { retryOnConflict } from "./internal/retryOnConflict.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Patch from "./Patch.ts"

const CRD = Kind.CustomResourceDefinition

/**
 * A storage-version migration could not go on. `reason`:
 * - `StorageVersionMismatch`: the CRD on the server stores another version than the definition says
 *   (apply the definition with `ensureCreated` first);
 * - `StorageVersionChanged`: the storage version changed while the migration ran;
 * - `ConflictsExhausted`: an object kept changing under every retry.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("CrdMigrationError", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdMigrationError extends Schema.TaggedError<CrdMigrationError>()("CrdMigrationError", {
  crd: Schema.String,
  reason: Schema.Literals(["StorageVersionMismatch", "StorageVersionChanged", "ConflictsExhausted"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `migration of ${this.crd} stopped (${this.reason}): ${this.detail}`
  }
}

/**
 * How far a migration got. Reported after each page is listed (before its objects are written) and
 * after each page is written, and once at the end with `done: true`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly crd: string
  readonly storageVersion: string
  readonly phase: "listed" | "rewritten" | "done"
  /** Pages listed so far (in this run). */
  readonly pages: number
  /** Objects listed so far. */
  readonly listed: number
  /** Objects written back in the storage version. */
  readonly rewritten: number
  /** Objects an interrupted earlier run had already written (see `migrate`'s resume). */
  readonly skipped: number
  /** Objects deleted between the list and their write. */
  readonly gone: number
  /** Writes refused because the object had changed; each was retried after a fresh read. */
  readonly conflicts: number
  /** The last object (`namespace/name`, or `name`) of the last completed page. */
  readonly checkpoint: string | undefined
  readonly done: boolean
}

/**
 * The outcome of a migration.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report extends Progress {
  readonly storedVersionsBefore: ReadonlyArray<string>
  readonly storedVersionsAfter: ReadonlyArray<string>
  /** Nothing to do: only the storage version was in `status.storedVersions`. */
  readonly alreadyMigrated: boolean
  /** The run continued after the checkpoint of an interrupted earlier run. */
  readonly resumed: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> {
  /** Objects per list page (and per checkpoint). Default 500. */
  readonly pageSize?: number
  /** Writes in flight at once. Default 8. */
  readonly concurrency?: number
  /** Fresh reads and writes tried for an object that keeps changing. Default 10. */
  readonly conflictRetries?: number
  /** Called as the migration goes; its failure stops the migration (the checkpoint stays). */
  readonly onProgress?: (progress: Progress) => Effect.Effect<void, E, R>
}

/**
 * The annotation that records a migration's checkpoint on the CRD: named after the CRD's own API
 * group, a domain of the user's.
 *
 * @example
 * ```ts
 * import { CrdMigration } from "operatorkit"
 *
 * CrdMigration.checkpointAnnotation("tenancy.example.com") // => "tenancy.example.com/storage-migration"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const checkpointAnnotation = (group: string): string => `${group}/storage-migration`

// where operatorkit 0.1 recorded it: read, and removed
const legacyCheckpointAnnotation = "operatorkit.giantswarm.io/storage-migration"

const objectKey = (o: Kind.KubeObject) =>
  o.metadata.namespace !== undefined && o.metadata.namespace !== "" ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name

const storageOf = (crd: CustomResourceDefinition) => crd.spec.versions.find((v) => v.storage)?.name

const parseCheckpoint = (value: string | undefined): { readonly storageVersion: string; readonly after: string } | undefined => {
  if (value === undefined) return undefined
  try {
    const parsed = JSON.parse(value) as { storageVersion?: unknown; after?: unknown }
    return typeof parsed.storageVersion === "string" && typeof parsed.after === "string"
      ? { storageVersion: parsed.storageVersion, after: parsed.after }
      : undefined
  } catch {
    return undefined
  }
}

/** A kind for the storage version that keeps every field as it is, whatever the version's Schema. */
const rawKind = (definition: Definition, version: string) =>
  Kind.customSchema({
    group: definition.group,
    version,
    kind: definition.kind,
    plural: definition.plural,
    singular: definition.storageKind.singular,
    listKind: definition.storageKind.listKind,
    namespaced: definition.namespaced,
    schema: Kind.object({})
  })

/**
 * Rewrites every stored object in the storage version, then leaves only that version in
 * `status.storedVersions`, so older versions can be removed from the CRD.
 *
 * How: the API server encodes an object in the current storage version whenever it writes it, and
 * it writes on every update whose encoding differs from the stored bytes, so an unchanged PUT of
 * an object stored in an older version rewrites it in the new one (this is how
 * kube-storage-version-migrator works; checked on kube-apiserver 1.20.2 by reading etcd: an
 * object created as v1 stays v1 after the storage version moves to v2, one unchanged PUT stores
 * it as v2 with a new resourceVersion, and a second unchanged PUT writes nothing). The objects are
 * listed in pages; each is written back with its resourceVersion as a precondition; a conflict is
 * retried after a fresh read (the other writer's change is kept); an object deleted meanwhile is
 * skipped. Then `status.storedVersions` is set through the `/status` subresource. An object the
 * storage version's schema refuses stops the migration with that `Invalid` error, which names it;
 * fix the object and run again.
 *
 * Resume: after each page the last object's key (`namespace/name`, in the API server's list
 * order, which is etcd's key order) is recorded with the storage version in the CRD's annotation
 * `<the CRD's group>/storage-migration` ({@link checkpointAnnotation}; a checkpoint under
 * operatorkit 0.1's `operatorkit.giantswarm.io/storage-migration` is read too, and removed). A later run for the same storage version lists
 * from the start again but does not write objects at or before that key; everything after it,
 * including the page that was in flight when the run stopped, is written again (harmless: writes
 * are unchanged PUTs). A checkpoint for another storage version is ignored. The annotation is
 * removed when the migration completes; once `storedVersions` holds only the storage version, a
 * run does nothing. Objects created or modified after the storage version changed are already
 * stored in it, so a checkpoint never hides an object that needs a write.
 *
 * With several API servers, make sure every one of them serves the new storage version before
 * migrating (one still on the old CRD could write the old version).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CrdDefinition, CrdMigration } from "operatorkit"
 *
 * declare const WidgetCrd: CrdDefinition.Definition
 * const program = CrdMigration.migrate(WidgetCrd, {
 *   onProgress: (p) => Effect.log(`${p.crd}: ${p.rewritten} rewritten after ${p.pages} pages`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category migration
 */
export const migrate: <E = never, R = never>(
  definition: Definition,
  options?: Options<E, R>
) => Effect.Effect<Report, KubeError.KubeError | CrdMigrationError | E, R | Client> = Effect.fn("CrdMigration.migrate")(function*<E = never, R = never>(
  definition: Definition,
  options?: Options<E, R>
) {
  const client = yield* Client
  const name = definition.name
  yield* Effect.annotateCurrentSpan("k8s.crd", name)
  const pageSize = options?.pageSize ?? 500
  const concurrency = options?.concurrency ?? 8
  const conflictRetries = options?.conflictRetries ?? 10
  const onProgress: (progress: Progress) => Effect.Effect<void, E, R> = options?.onProgress ?? (() => Effect.void)

  const crd = yield* client.get(CRD, { name })
  const storageVersion = storageOf(crd)
  if (storageVersion !== definition.storageVersion) {
    return yield* new CrdMigrationError({
      crd: name,
      reason: "StorageVersionMismatch",
      detail: `the CRD on the server stores ${storageVersion ?? "no version"}, the definition ${definition.storageVersion}; ` +
        "apply the definition (ensureCreated) before migrating"
    })
  }
  const storedVersionsBefore = crd.status?.storedVersions ?? []
  const annotation = checkpointAnnotation(crd.spec.group)
  const checkpoint = parseCheckpoint(crd.metadata.annotations?.[annotation] ?? crd.metadata.annotations?.[legacyCheckpointAnnotation])
  const hadLegacy = crd.metadata.annotations?.[legacyCheckpointAnnotation] !== undefined
  let resumeAfter = checkpoint?.storageVersion === storageVersion ? checkpoint.after : undefined
  const resumed = resumeAfter !== undefined

  let progress: Progress = {
    crd: name,
    storageVersion,
    phase: "listed",
    pages: 0,
    listed: 0,
    rewritten: 0,
    skipped: 0,
    gone: 0,
    conflicts: 0,
    checkpoint: resumeAfter,
    done: false
  }
  const report = (alreadyMigrated: boolean, storedVersionsAfter: ReadonlyArray<string>): Report => ({
    ...progress,
    phase: "done",
    done: true,
    storedVersionsBefore,
    storedVersionsAfter,
    alreadyMigrated,
    resumed
  })
  const bump = (patch: Partial<Progress>) => (progress = { ...progress, ...patch })

  if (storedVersionsBefore.length === 1 && storedVersionsBefore[0] === storageVersion) {
    const final = report(true, storedVersionsBefore)
    yield* onProgress(final)
    return final
  }

  const raw = rawKind(definition, storageVersion)
  type RawObject = Kind.Type<typeof raw>

  // each conflict is counted; a lost race reads the object again (gone: counted as such)
  const rewrite = (object: RawObject): Effect.Effect<void, KubeError.KubeError | CrdMigrationError> =>
    retryOnConflict((attempt) =>
      Effect.gen(function*() {
        const current = attempt === 0
          ? Option.some(object)
          : yield* client.get(raw, object.metadata).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone))
        if (Option.isNone(current)) return void bump({ gone: progress.gone + 1 })
        const outcome = yield* client.replace(raw, current.value).pipe(
          Effect.as("rewritten" as const),
          Effect.catchTag("NotFound", () => Effect.succeed("gone" as const))
        )
        if (outcome === "rewritten") return void bump({ rewritten: progress.rewritten + 1 })
        return void bump({ gone: progress.gone + 1 })
      }), {
      attempts: conflictRetries + 1,
      onConflict: () => Effect.sync(() => bump({ conflicts: progress.conflicts + 1 }))
    }).pipe(
      Effect.catchTag("Conflict", () => {
        bump({ conflicts: progress.conflicts + 1 })
        return Effect.fail(
          new CrdMigrationError({ crd: name, reason: "ConflictsExhausted", detail: `${objectKey(object)} changed under each of ${conflictRetries + 1} writes` })
        )
      })
    )

  const saveCheckpoint = (after: string) =>
    client.patch(CRD, { name }, Patch.merge({
      metadata: {
        annotations: {
          [annotation]: JSON.stringify({ storageVersion, after }),
          ...(hadLegacy ? { [legacyCheckpointAnnotation]: null } : {})
        }
      }
    })).pipe(Effect.asVoid)

  const page = (items: ReadonlyArray<RawObject>) =>
    Effect.gen(function*() {
      const todo = resumeAfter === undefined ? items : items.filter((o) => objectKey(o) > resumeAfter!)
      bump({
        phase: "listed",
        pages: progress.pages + 1,
        listed: progress.listed + items.length,
        skipped: progress.skipped + items.length - todo.length
      })
      yield* onProgress(progress)
      yield* Effect.forEach(todo, rewrite, { concurrency, discard: true })
      if (items.length > 0) {
        const last = objectKey(items[items.length - 1]!)
        yield* saveCheckpoint(last)
        bump({ checkpoint: last })
      }
      bump({ phase: "rewritten" })
      yield* onProgress(progress)
      yield* Effect.logDebug(`CrdMigration.migrate ${name}: ${progress.rewritten} rewritten, ${progress.skipped} skipped after ${progress.pages} pages`)
    })

  const listAll = client.listPages(raw, { limit: pageSize }).pipe(
    Stream.runForEach((p) => p.invalid.length > 0 ? Effect.fail(p.invalid[0]!.error) : page(p.items))
  )
  // a continue token expires with etcd's compaction (410): list again, skipping what is done
  for (let restarts = 0;; restarts++) {
    const listed = yield* listAll.pipe(
      Effect.as(true),
      Effect.catchIf(
        (e): e is KubeError.Gone => (e as { _tag?: unknown })._tag === "Gone" && restarts < 3,
        () => Effect.succeed(false)
      )
    )
    if (listed) break
    resumeAfter = progress.checkpoint
  }

  // every object is written in the storage version: only it remains in storedVersions
  const updated = yield* retryOnConflict(() =>
    Effect.gen(function*() {
      const fresh = yield* client.get(CRD, { name })
      if (storageOf(fresh) !== storageVersion) {
        return yield* new CrdMigrationError({
          crd: name,
          reason: "StorageVersionChanged",
          detail: `the storage version moved from ${storageVersion} to ${storageOf(fresh) ?? "none"} during the migration; run it again`
        })
      }
      return yield* client.replaceStatus(CRD, { ...fresh, status: { ...fresh.status, storedVersions: [storageVersion] } })
    })
  )
  const storedVersionsAfter: ReadonlyArray<string> = updated.status?.storedVersions ?? []
  yield* client.patch(CRD, { name }, Patch.merge({
    metadata: { annotations: { [annotation]: null, ...(hadLegacy ? { [legacyCheckpointAnnotation]: null } : {}) } }
  }))
  const final = report(false, storedVersionsAfter)
  yield* onProgress(final)
  return final
})

