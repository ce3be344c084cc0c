/**
 * A controller's objects that do not decode (another writer, or a tightened Schema, left them so).
 * The informer reports them (its `invalid` stream); until a version that decodes or the deletion
 * arrives, their key is reconciled from the raw object: read afresh, reported (an
 * `UndecodableObject` failure, so a log line, a `DecodeFailed` Event and backoff), and, once it is
 * being deleted with our finalizer, handled by the controller's `undecodableDeletion` policy (keep
 * the finalizer, release it, or run a hook and release it). Never acted on from a last good copy.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Client from "../../Client.ts"
import type * as Controller from "../../Controller.ts"
import type * as Events from "../../Events.ts"
import * as Finalizers from "../../Finalizers.ts"
import * as Framework from "../../Framework.ts"
import type * as Informer from "../../Informer.ts"
import * as Kind from "../../Kind.ts"
import type * as KubeError from "../../KubeError.ts"
import * as Store from "../../Store.ts"
import type * as WorkQueue from "../../WorkQueue.ts"
import { decodeObject, isDecodeError } from "../codec.ts"
import { retryOnConflict } from "../retryOnConflict.ts"
import { makeReconciliation } from "./reconciliation.ts"
import type { WriteTracker } from "./writeTracker.ts"

/** What an undecodable object's reconcile works with: the controller's parts it touches. */
export interface Context<A extends Kind.KubeObject> {
  readonly name: string
  readonly kind: Kind.Kind<A>
  /** The controller's Client (fenced when sharded), for the raw read and the finalizer's release. */
  readonly client: Client.ClientService
  /** The Client the resources get (tracked), for the undecodableDeletion hook. */
  readonly resourceClient: Client.ClientService
  readonly informer: Informer.Informer<A>
  readonly names: Finalizers.Names
  readonly tracker: WriteTracker
  readonly policy: NonNullable<Controller.Options<A, any>["undecodableDeletion"]>
  readonly readYourWritesTimeout: Duration.Input
  readonly recorder: Option.Option<Events.RecorderService>
  /** Remembers an object whose cleanup is done, so its deletion is not taken for a skipped one. */
  readonly markCleanedUp: (uid: string | undefined) => void
  /** The controller's failure for an object that does not decode (`Controller.UndecodableObject`). */
  readonly failure: (fields: {
    readonly kind: string
    readonly namespace?: string
    readonly name: string
    readonly problem: string
    readonly deleting: boolean
  }) => unknown
}

/** The undecodable objects of one controller, by key, and their reconcile. */
export class Undecodables<A extends Kind.KubeObject> {
  private readonly entries = new Map<string, Informer.Invalid>()
  private readonly context: Context<A>

  constructor(context: Context<A>) {
    this.context = context
  }

  /** Whether the key's object does not decode now (cheap when none does, the common case). */
  has(key: string): boolean {
    return this.entries.size > 0 && this.entries.has(key)
  }

  get(key: string): Informer.Invalid | undefined {
    return this.entries.size > 0 ? this.entries.get(key) : undefined
  }

  /** A change of the primary informer: a version that decodes (or the deletion) ends it. */
  changed(change: Informer.Change<A>, key: string): void {
    if (this.entries.size === 0 || change._tag === "Resynced") return
    const entry = this.entries.get(key)
    if (entry !== undefined && (change._tag === "Deleted" || !(rvOf(change.object.metadata.resourceVersion) < rvOf(entry.meta.resourceVersion)))) {
      this.entries.delete(key)
    }
  }

  /**
   * An object of the informer's `invalid` stream: remembered and its key enqueued, unless a newer
   * version that decodes is in the cache already; its deletion ends it.
   */
  invalid(invalid: Informer.Invalid, enqueue: (key: string) => Effect.Effect<void>): Effect.Effect<void> {
    if (invalid.deleted) {
      this.entries.delete(invalid.key)
      return Effect.void
    }
    return Effect.flatMap(this.context.informer.store.get(invalid.key), (cached) => {
      if (Option.isSome(cached) && rvOf(cached.value.metadata.resourceVersion) > rvOf(invalid.meta.resourceVersion)) return Effect.void
      this.entries.set(invalid.key, invalid)
      return enqueue(invalid.key)
    })
  }

  /** An object as the API server sent it, never decoded, standing in for Events and errors. */
  standIn(meta: { readonly name?: string | undefined; readonly namespace?: string | undefined; readonly uid?: string | undefined; readonly resourceVersion?: string | undefined }, key: string): Kind.KubeObject {
    const { kind } = this.context
    const ref = Store.parseKey(key)
    return {
      apiVersion: kind.apiVersion,
      kind: kind.kind,
      metadata: {
        name: meta.name ?? ref.name,
        ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
        ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
        ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {})
      }
    }
  }

  /**
   * The reconcile of an object that does not decode: read it raw; if it decodes now, the normal
   * reconcile (`reconcileObject`, once the cache shows it); else report it, and when it is being
   * deleted with our finalizer, apply the undecodableDeletion policy.
   */
  reconcile(
    key: string,
    reconcileObject: () => Effect.Effect<WorkQueue.Outcome, unknown, any>
  ): Effect.Effect<WorkQueue.Outcome, unknown, any> {
    const self = this
    const { client, informer, kind, name, names, policy, recorder, tracker } = this.context
    const ref = Store.parseKey(key)
    const path = Kind.objectPath(kind, kind.namespaced ? ref.namespace : undefined, ref.name)
    // a lost race of the release patch reads the object again; nothing else of the pass does
    return retryOnConflict((): Effect.Effect<WorkQueue.Outcome, unknown, any> =>
      Effect.gen(function*() {
        const fetched = yield* client.raw({ method: "GET", path }).pipe(
          Effect.map(Option.some),
          Effect.catchTag("NotFound", () => Effect.succeedNone)
        )
        if (Option.isNone(fetched)) {
          self.entries.delete(key) // gone: its deletion comes through the informer
          return undefined
        }
        const raw = fetched.value as Controller.RawObject
        const decoded = decodeObject<A>(kind, raw)
        if (!isDecodeError(decoded)) {
          // fixed: reconcile it as usual once the cache shows this version
          self.entries.delete(key)
          const rv = raw.metadata.resourceVersion
          if (rv !== undefined) yield* informer.waitForResourceVersion(rv).pipe(Effect.timeoutOption(self.context.readYourWritesTimeout))
          return yield* reconcileObject()
        }
        const meta = raw.metadata
        if (Finalizers.isPaused(names, meta.annotations)) return undefined
        const index = meta.finalizers?.findIndex((f) => f === names.finalizer || f === names.legacyFinalizer) ?? -1
        const deleting = meta.deletionTimestamp !== undefined
        if (deleting && index === -1) {
          self.entries.delete(key) // going, and not ours to hold
          return undefined
        }
        const problem = problemOf(kind, raw)
        if (!deleting || policy === "keep") {
          return yield* Effect.fail(self.context.failure({
            kind: kind.kind,
            ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
            name: ref.name,
            problem,
            deleting
          }))
        }
        if (policy !== "release") {
          const state = makeReconciliation({ controller: name, key, mode: "delete" })
          yield* policy(raw, decoded).pipe(
            Effect.provideService(Client.Client, self.context.resourceClient),
            Effect.provideService(Framework.Reconciliation, state)
          )
        }
        yield* tracker.around(
          key,
          kind,
          ref,
          client.raw({
            method: "PATCH",
            path,
            contentType: "application/json-patch+json",
            body: [
              { op: "test", path: "/metadata/resourceVersion", value: meta.resourceVersion },
              { op: "remove", path: `/metadata/finalizers/${index}` }
            ]
          }),
          () => ({ _tag: "Nothing" as const })
        ).pipe(
          Effect.catchTag("NotFound", () => Effect.void),
          Effect.catchIf((e) => e._tag === "Conflict" || e._tag === "Invalid", (e) => Effect.fail(new LostRace(e)))
        )
        // its deletion must not be taken for one that skipped our cleanup
        self.context.markCleanedUp(meta.uid)
        self.entries.delete(key)
        const how = policy === "release" ? "without cleanup" : "after the undecodableDeletion hook"
        yield* Effect.logWarning(`controller ${name}: ${key} does not decode (${problem}); our finalizer was released ${how}`)
        if (Option.isSome(recorder)) {
          yield* recorder.value.warning(self.standIn(meta, key), "FinalizerReleased", `${problem}: the object does not decode; our finalizer was released ${how}`, { component: name })
        }
        return undefined
      }), { isConflict: (e) => e instanceof LostRace }).pipe(
      Effect.catchIf((e): e is LostRace => e instanceof LostRace, (e) => Effect.fail(e.error))
    )
  }
}

/** The first failing path of an undecodable object and what is wrong there. */
const problemOf = (kind: Kind.Any, raw: unknown): string => {
  const result = Schema.decodeUnknownResult(kind.schema as Schema.Codec<unknown, unknown>)(raw, { errors: "all" })
  if (Result.isSuccess(result)) return "does not match the Schema"
  const [first, ...rest] = SchemaIssue.makeFormatterStandardSchemaV1()(result.failure.issue).issues
  if (first === undefined) return "does not match the Schema"
  const path = (first.path ?? []).map((p) => {
    const k = typeof p === "object" && p !== null && "key" in p ? p.key : p
    return typeof k === "number" ? `[${k}]` : `.${String(k)}`
  }).join("").replace(/^\./, "")
  return `${path === "" ? "<root>" : path}: ${first.message}${rest.length > 0 ? ` (and ${rest.length} more)` : ""}`
}

/** A lost race of the release of an undecodable object's finalizer: read it again. */
class LostRace {
  readonly error: KubeError.KubeError
  constructor(error: KubeError.KubeError) {
    this.error = error
  }
}

/** A resourceVersion as a number to compare, NaN when it is none (every comparison then false). */
const rvOf = (rv: string | undefined) => {
  const n = rv === undefined || rv === "" ? NaN : Number(rv)
  return Number.isSafeInteger(n) ? n : NaN
}
