/**
 * A controller's own names and its finalizer's writes.
 *
 * - Names: the finalizer is `<prefix>/<controller name>` and the pause annotation
 *   `<prefix>/paused`, where the prefix is the API group of the controller's kind (a custom
 *   resource's group is the user's domain); for a built-in kind, whose group is Kubernetes', a
 *   `finalizerPrefix` (or the whole `finalizer`) is required. operatorkit 0.1's default prefix
 *   `operatorkit.giantswarm.io` is still recognised: its finalizer is replaced by ours when ours is
 *   added (or removed with ours), its pause annotation honoured.
 * - Adding: to a fresh read, with a resourceVersion test; never to an object being deleted (the
 *   API server refuses it, and a deletion must not wait on a finalizer whose ensureCreated never
 *   ran); a lost race (409, or 422 from the test) reads again.
 * - Removing: from a fresh read with a resourceVersion test, ours only (under either name), so a
 *   finalizer another controller added meanwhile is never lost; a lost race reads again; an object
 *   already gone is done.
 *
 * When to add and remove (before any ensureCreated, after every ensureDeleted) is the
 * Controller's business; these are the rules of one write.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Client from "./Client.ts"
import type * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import { retryOnConflict } from "./internal/retryOnConflict.ts"
import * as Patch from "./Patch.ts"

/**
 * What a controller of a built-in kind (`Builtin` true, or unknown) must say: a prefix of its own
 * domain for its finalizer and pause annotation (the kind's group is Kubernetes', not yours), or
 * the whole finalizer name. A custom kind needs neither: its group is the default prefix.
 *
 * @since 0.1.0
 * @category models
 */
export type OwnNames<B extends boolean> = [B] extends [false] ? {}
  : { readonly finalizerPrefix: string } | { readonly finalizer: string }

/**
 * The prefix operatorkit 0.1 used by default for finalizers and the pause annotation. Objects that
 * carry it keep working: its finalizer is replaced by the controller's own, its pause annotation
 * is honoured.
 *
 * @example
 * ```ts
 * import { Finalizers } from "operatorkit"
 *
 * Finalizers.legacyPrefix // => "operatorkit.giantswarm.io"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const legacyPrefix = "operatorkit.giantswarm.io"

/**
 * What names a controller's finalizer and pause annotation: its name and kind, and the options
 * that override the defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface NameOptions<B extends boolean = boolean> {
  readonly name: string
  readonly kind: Kind.Kind<any, B>
  /** The whole finalizer name; default `<finalizerPrefix>/<name>`. */
  readonly finalizer?: string | undefined
  /** A domain of yours; default the API group of a custom kind. */
  readonly finalizerPrefix?: string | undefined
  /** Objects with this annotation and value are left alone (default `<prefix>/paused: "true"`); `false` turns pausing off. */
  readonly pause?: { readonly annotation: string; readonly value: string } | false | undefined
}

/**
 * A controller's names, resolved.
 *
 * @since 0.1.0
 * @category models
 */
export interface Names {
  readonly finalizer: string
  /** operatorkit 0.1's finalizer of the same controller, when it differs from ours. */
  readonly legacyFinalizer: string | undefined
  readonly pause: { readonly annotation: string; readonly value: string } | false
  /** operatorkit 0.1's pause annotation, honoured when the pause annotation is the default. */
  readonly legacyPause: string | undefined
}

/** The prefix of a controller's names, or undefined for a built-in kind that was given none. */
const prefixOf = (options: NameOptions) =>
  options.finalizerPrefix ??
    (options.finalizer !== undefined && options.finalizer.includes("/") ? options.finalizer.slice(0, options.finalizer.indexOf("/")) : undefined) ??
    (options.kind.builtin ? undefined : options.kind.group)

const missingPrefix = (name: string, kind: Kind.Any) =>
  new Error(
    `controller ${name}: ${kind.kind} is a built-in kind, so its API group (${kind.group === "" ? "core" : kind.group}) is not a domain of yours ` +
      "to name a finalizer after: set finalizerPrefix to one (e.g. \"example.com\"), or finalizer to the whole name"
  )

/**
 * The finalizer a controller uses: `<prefix>/<name>`, the prefix being `finalizerPrefix`, else the
 * API group of its (custom) kind. Throws for a built-in kind given neither (a type error too).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Finalizers, Kind } from "operatorkit"
 *
 * const Tenant = Kind.custom({ group: "tenancy.example.com", version: "v1", kind: "Tenant", namespaced: false, spec: Schema.Struct({}) })
 * Finalizers.finalizerName({ name: "tenant-operator", kind: Tenant }) // => "tenancy.example.com/tenant-operator"
 * Finalizers.finalizerName({ name: "cm-operator", kind: Kind.ConfigMap, finalizerPrefix: "example.com" }) // => "example.com/cm-operator"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const finalizerName = <B extends boolean>(options: NameOptions<B> & OwnNames<B>): string =>
  options.finalizer ?? names(options).finalizer

/**
 * A controller's names: its finalizer, pause annotation and operatorkit 0.1's. Throws for a
 * built-in kind given neither `finalizerPrefix` nor `finalizer` (a type error too).
 *
 * @example
 * ```ts
 * import { Finalizers, Kind } from "operatorkit"
 *
 * const names = Finalizers.names({ name: "cm-operator", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
 * names.pause // => { annotation: "example.com/paused", value: "true" }
 * names.legacyFinalizer // => "operatorkit.giantswarm.io/cm-operator"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const names = <B extends boolean>(options: NameOptions<B> & OwnNames<B>): Names => {
  const prefix = prefixOf(options)
  if (prefix === undefined) throw missingPrefix(options.name, options.kind)
  const finalizer = options.finalizer ?? `${prefix}/${options.name}`
  const legacy = `${legacyPrefix}/${options.name}`
  return {
    finalizer,
    legacyFinalizer: legacy !== finalizer ? legacy : undefined,
    pause: options.pause === undefined ? { annotation: `${prefix}/paused`, value: "true" } : options.pause,
    legacyPause: options.pause === undefined ? `${legacyPrefix}/paused` : undefined
  }
}

/**
 * Whether the object carries our finalizer under its current name.
 *
 * @example
 * ```ts
 * import { Finalizers, Kind } from "operatorkit"
 *
 * declare const cm: Kind.ConfigMap
 * const names = Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
 * Finalizers.has(names, cm)
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const has = (names: Names, object: Kind.KubeObject): boolean => object.metadata.finalizers?.includes(names.finalizer) ?? false

/**
 * Whether the object carries operatorkit 0.1's finalizer of this controller.
 *
 * @example
 * ```ts
 * import { Finalizers, Kind } from "operatorkit"
 *
 * declare const cm: Kind.ConfigMap
 * Finalizers.hasLegacy(Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" }), cm)
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const hasLegacy = (names: Names, object: Kind.KubeObject): boolean =>
  names.legacyFinalizer !== undefined && (object.metadata.finalizers?.includes(names.legacyFinalizer) ?? false)

/**
 * Whether the object carries our finalizer under either name (ours, or operatorkit 0.1's).
 *
 * @example
 * ```ts
 * import { Finalizers, Kind } from "operatorkit"
 *
 * declare const cm: Kind.ConfigMap
 * Finalizers.ours(Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" }), cm)
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const ours = (names: Names, object: Kind.KubeObject): boolean => has(names, object) || hasLegacy(names, object)

/**
 * Whether these annotations pause the controller's work on their object (its pause annotation,
 * or operatorkit 0.1's).
 *
 * @example
 * ```ts
 * import { Finalizers, Kind } from "operatorkit"
 *
 * const names = Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
 * Finalizers.isPaused(names, { "example.com/paused": "true" }) // => true
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPaused = (names: Names, annotations: Readonly<Record<string, string>> | undefined): boolean =>
  names.pause !== false &&
  (annotations?.[names.pause.annotation] === names.pause.value || (names.legacyPause !== undefined && annotations?.[names.legacyPause] === "true"))

const refOf = (object: Kind.KubeObject) => ({ name: object.metadata.name, namespace: object.metadata.namespace })

const fresh = <A extends Kind.KubeObject>(client: Client.ClientService, kind: Kind.Kind<A>, object: A) =>
  client.get(kind, refOf(object)).pipe(
    Effect.map(Option.some),
    Effect.catchTag("NotFound", () => Effect.succeedNone)
  )

// a failed resourceVersion test answers 422 (Invalid), as does a finalizer added to an object being
// deleted; a stale write 409: read again
const lostRace = (e: KubeError.KubeError) => e._tag === "Conflict" || e._tag === "Invalid"

/**
 * Adds our finalizer to a fresh read of the object, guarded by its resourceVersion (operatorkit
 * 0.1's finalizer is replaced by ours, or removed when ours is there already). None: the object
 * is gone or being deleted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Finalizers, Kind } from "operatorkit"
 *
 * declare const cm: Kind.ConfigMap
 * const names = Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
 * const program = Effect.flatMap(Client.Client, (client) => Finalizers.add(client, Kind.ConfigMap, names, cm))
 * ```
 *
 * @since 0.1.0
 * @category writes
 */
export const add = <A extends Kind.KubeObject>(
  client: Client.ClientService,
  kind: Kind.Kind<A>,
  names: Names,
  object: A
): Effect.Effect<Option.Option<A>, KubeError.KubeError> =>
  retryOnConflict(() =>
    Effect.gen(function*() {
      const read = yield* fresh(client, kind, object)
      if (Option.isNone(read)) return Option.none()
      const current = read.value
      if (current.metadata.deletionTimestamp !== undefined) return Option.none()
      const hasOurs = has(names, current)
      if (hasOurs && !hasLegacy(names, current)) return Option.some(current)
      const finalizers = current.metadata.finalizers
      const legacyAt = names.legacyFinalizer === undefined ? -1 : finalizers?.indexOf(names.legacyFinalizer) ?? -1
      return yield* client.patch(kind, refOf(current), Patch.json([
        { op: "test", path: "/metadata/resourceVersion", value: current.metadata.resourceVersion },
        legacyAt >= 0
          ? hasOurs
            ? { op: "remove", path: `/metadata/finalizers/${legacyAt}` }
            : { op: "replace", path: `/metadata/finalizers/${legacyAt}`, value: names.finalizer }
          : finalizers === undefined
          ? { op: "add", path: "/metadata/finalizers", value: [names.finalizer] }
          : { op: "add", path: "/metadata/finalizers/-", value: names.finalizer }
      ])).pipe(
        Effect.map(Option.some),
        // deleted between the read and the patch: nothing to do, its deletion brings it back
        Effect.catchTag("NotFound", () => Effect.succeedNone)
      )
    }), { isConflict: lostRace })

/**
 * Removes our finalizer (under either name) from a fresh read of the object, guarded by its
 * resourceVersion, so a finalizer another controller added meanwhile is never lost. An object
 * already gone, or without ours, is done.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Finalizers, Kind } from "operatorkit"
 *
 * declare const cm: Kind.ConfigMap
 * const names = Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
 * const program = Effect.flatMap(Client.Client, (client) => Finalizers.remove(client, Kind.ConfigMap, names, cm))
 * ```
 *
 * @since 0.1.0
 * @category writes
 */
export const remove = <A extends Kind.KubeObject>(
  client: Client.ClientService,
  kind: Kind.Kind<A>,
  names: Names,
  object: A
): Effect.Effect<void, KubeError.KubeError> =>
  retryOnConflict(() =>
    Effect.gen(function*() {
      const read = yield* fresh(client, kind, object)
      if (Option.isNone(read)) return
      const present = read.value.metadata.finalizers ?? []
      // ours under either name, highest index first so each removal leaves the next in place
      const indices = [names.finalizer, names.legacyFinalizer]
        .map((f) => (f === undefined ? -1 : present.indexOf(f)))
        .filter((i) => i >= 0)
        .sort((a, b) => b - a)
      if (indices.length === 0) return
      yield* client.patch(kind, refOf(read.value), Patch.json([
        { op: "test", path: "/metadata/resourceVersion", value: read.value.metadata.resourceVersion },
        ...indices.map((i) => ({ op: "remove" as const, path: `/metadata/finalizers/${i}` }))
      ])).pipe(Effect.catchTag("NotFound", () => Effect.void))
    }), { isConflict: lostRace })
