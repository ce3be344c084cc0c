/**
 * The `Crd` service: installs CustomResourceDefinitions (`CrdDefinition`) on a cluster and removes
 * them, waiting until the API server serves them (Established, names accepted) or has let them go;
 * and runs their storage-version migration (`CrdMigration`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

import { Client, type ClientService } from "./Client.ts"
import type { CustomResourceDefinition, Definition } from "./CrdDefinition.ts"
import * as CrdMigration from "./CrdMigration.ts"
import { retryOnConflict } from "./internal/retryOnConflict.ts"
import * as Kind from "./Kind.ts"
import type * as KubeError from "./KubeError.ts"
import * as Rbac from "./Rbac.ts"
import { millis } from "./internal/options.ts"

// ---------------------------------------------------------------------------------------------
// Errors of the service

const ConditionFields = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  reason: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String)
})

const conditionsText = (conditions: ReadonlyArray<typeof ConditionFields.Type>) =>
  conditions.length === 0
    ? "no conditions yet"
    : conditions.map((c) => `${c.type}=${c.status}${c.reason !== undefined ? ` (${c.reason}${c.message !== undefined ? `: ${c.message}` : ""})` : ""}`)
      .join("; ")

/**
 * The API server did not accept the CRD's names (`NamesAccepted=False`): another CRD of the group
 * already uses the plural, singular, kind, list kind or a short name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("CrdNameConflict", (e) => Effect.logError(`rename ${e.crd}: ${e.detail}`))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdNameConflict extends Schema.TaggedError<CrdNameConflict>()("CrdNameConflict", {
  crd: Schema.String,
  reason: Schema.String,
  /** The API server's message, such as `"Widget" is already in use`. */
  detail: Schema.String
}) {
  override get message(): string {
    return `CRD ${this.crd}: names not accepted (${this.reason}): ${this.detail}`
  }
}

/**
 * The CRD did not become Established (or did not go away) within the deadline. `conditions` are
 * the last ones the server reported.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 *
 * const explain = Effect.catchTag("CrdTimeout", (e) => Effect.logError(e.message))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CrdTimeout extends Schema.TaggedError<CrdTimeout>()("CrdTimeout", {
  crd: Schema.String,
  waitingFor: Schema.Literals(["Established", "Deleted"]),
  timeoutMillis: Schema.Number,
  conditions: Schema.Array(ConditionFields)
}) {
  override get message(): string {
    const what = this.waitingFor === "Established" ? "established" : "deleted"
    return `CRD ${this.crd} was not ${what} within ${this.timeoutMillis} ms; last conditions: ${conditionsText(this.conditions)}`
  }
}

// ---------------------------------------------------------------------------------------------
// The service

/**
 * @since 0.1.0
 * @category models
 */
export interface WaitOptions {
  /** How long to wait for the CRD to be Established (or gone). Default 60 seconds. */
  readonly timeout?: Duration.Input
  /** How often to look. Default 200 milliseconds. */
  readonly pollInterval?: Duration.Input
}

/**
 * What `ensureCreated` did, and the CRD as the server holds it once Established.
 *
 * @since 0.1.0
 * @category models
 */
export interface EnsureCreatedResult {
  readonly action: "created" | "updated" | "unchanged"
  readonly crd: CustomResourceDefinition
}

/**
 * The CRD operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface CrdService {
  /**
   * Creates the CRD, or updates an existing one whose spec (or labels and annotations from the
   * definition) differ, then waits until it is Established. Updating an unchanged CRD writes nothing
   * (`action: "unchanged"`, same resourceVersion). A conflict of names is a {@link CrdNameConflict};
   * a deadline miss a {@link CrdTimeout}. It never deletes a CRD: a change the server refuses (such
   * as dropping a version still in `status.storedVersions`) is its `Invalid` error.
   */
  readonly ensureCreated: (
    definition: Definition,
    options?: WaitOptions
  ) => Effect.Effect<EnsureCreatedResult, KubeError.KubeError | CrdNameConflict | CrdTimeout>
  /**
   * Deletes the CRD (and with it every object of its kind) and waits until it is gone. A CRD that
   * does not exist is success.
   */
  readonly ensureDeleted: (
    definition: Definition | string,
    options?: WaitOptions
  ) => Effect.Effect<void, KubeError.KubeError | CrdTimeout>
  /**
   * Rewrites every stored object in the storage version, then leaves only that version in
   * `status.storedVersions`, so older versions can be removed from the CRD: `CrdMigration.migrate`
   * (how, resume, and what to watch for with several API servers) over this service's Client.
   */
  readonly migrate: <E = never, R = never>(
    definition: Definition,
    options?: CrdMigration.Options<E, R>
  ) => Effect.Effect<CrdMigration.Report, KubeError.KubeError | CrdMigration.CrdMigrationError | E, R>
}

/**
 * The Crd service.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Crd, CrdDefinition, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({
 *   group: "example.com", version: "v1", kind: "Widget", namespaced: true,
 *   spec: Schema.Struct({ size: Schema.Int })
 * })
 * const WidgetCrd = CrdDefinition.makeUnsafe(Widget)
 *
 * const install = Effect.gen(function*() {
 *   const crds = yield* Crd.Crd
 *   const { action } = yield* crds.ensureCreated(WidgetCrd, { timeout: "30 seconds" })
 *   yield* Effect.log(`CRD ${WidgetCrd.name}: ${action}`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Crd extends Context.Service<Crd, CrdService>()("operatorkit/Crd") {}

const CRD = Kind.CustomResourceDefinition

const conditionsOf = (crd: CustomResourceDefinition | undefined): Array<typeof ConditionFields.Type> =>
  (crd?.status?.conditions ?? []).map((c) => ({
    type: c.type,
    status: c.status,
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(c.message !== undefined ? { message: c.message } : {})
  }))


const makeService = (client: ClientService): CrdService => {
  const getCrd = (name: string) =>
    client.get(CRD, { name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )

  const waitEstablished = (name: string, options: WaitOptions | undefined) =>
    Effect.suspend(() => {
      const timeoutMillis = millis(options?.timeout ?? "60 seconds")
      const interval = options?.pollInterval ?? "200 millis"
      let last: CustomResourceDefinition | undefined
      const poll: Effect.Effect<CustomResourceDefinition, KubeError.KubeError | CrdNameConflict> = Effect.gen(function*() {
        while (true) {
          const crd = yield* client.get(CRD, { name })
          last = crd
          const conditions = crd.status?.conditions ?? []
          const names = conditions.find((c) => c.type === "NamesAccepted")
          if (names?.status === "False") {
            return yield* new CrdNameConflict({
              crd: name,
              reason: names.reason ?? "NamesNotAccepted",
              detail: names.message ?? "the names are not accepted"
            })
          }
          if (conditions.some((c) => c.type === "Established" && c.status === "True")) return crd
          yield* Effect.sleep(interval)
        }
      })
      return poll.pipe(Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMillis),
        orElse: () =>
          Effect.fail(new CrdTimeout({ crd: name, waitingFor: "Established", timeoutMillis, conditions: conditionsOf(last) }))
      }))
    })

  const merged = (current: Record<string, string> | undefined, desired: Record<string, string> | undefined) =>
    desired === undefined ? current : { ...current, ...desired }

  /**
   * The conversion as the server has it when the definition states none (the Webhooks layer keeps
   * it), and a webhook's CA bundle when the definition's webhook has none (cert-manager's CA
   * injector or the Webhooks layer writes it): updating the CRD never takes them away.
   */
  const keepConversion = (desired: CustomResourceDefinition["spec"], current: CustomResourceDefinition["spec"]) => {
    const wanted = desired.conversion as { webhook?: { clientConfig?: Record<string, unknown> } } | undefined
    const have = current.conversion as { webhook?: { clientConfig?: { caBundle?: unknown } } } | undefined
    if (wanted === undefined) return current.conversion === undefined ? desired : { ...desired, conversion: current.conversion }
    const caBundle = have?.webhook?.clientConfig?.caBundle
    if (wanted.webhook?.clientConfig === undefined || wanted.webhook.clientConfig["caBundle"] !== undefined || caBundle === undefined) return desired
    return {
      ...desired,
      conversion: { ...wanted, webhook: { ...wanted.webhook, clientConfig: { ...wanted.webhook.clientConfig, caBundle } } }
    } as CustomResourceDefinition["spec"]
  }

  /** PUTs the desired spec over the current object; an unchanged object keeps its resourceVersion. */
  const update = (definition: Definition): Effect.Effect<EnsureCreatedResult, KubeError.KubeError> =>
    Effect.gen(function*() {
      const desired = definition.manifest
      return yield* retryOnConflict(() =>
        Effect.gen(function*() {
          const current = yield* client.get(CRD, { name: definition.name })
          const labels = merged(current.metadata.labels, desired.metadata.labels)
          const annotations = merged(current.metadata.annotations, desired.metadata.annotations)
          const candidate: CustomResourceDefinition = {
            ...current,
            metadata: {
              ...current.metadata,
              ...(labels !== undefined ? { labels } : {}),
              ...(annotations !== undefined ? { annotations } : {})
            },
            spec: keepConversion(desired.spec, current.spec)
          }
          const crd = yield* client.replace(CRD, candidate)
          return { action: crd.metadata.resourceVersion === current.metadata.resourceVersion ? "unchanged" : "updated", crd } as const
        })
      )
    })

  const ensureCreated = Effect.fn("Crd.ensureCreated")(function*(definition: Definition, options?: WaitOptions) {
    yield* Effect.annotateCurrentSpan("k8s.crd", definition.name)
    const existing = yield* getCrd(definition.name)
    let result: EnsureCreatedResult | undefined
    if (Option.isNone(existing)) {
      const created = yield* client.create(CRD, definition.manifest).pipe(
        Effect.map(Option.some),
        // created by someone else meanwhile: update it like any existing one
        Effect.catchTag("AlreadyExists", () => Effect.succeedNone)
      )
      if (Option.isSome(created)) result = { action: "created", crd: created.value }
    }
    result ??= yield* update(definition)
    const crd = yield* waitEstablished(definition.name, options)
    return { action: result.action, crd }
  })

  const ensureDeleted = Effect.fn("Crd.ensureDeleted")(function*(definition: Definition | string, options?: WaitOptions) {
    const name = typeof definition === "string" ? definition : definition.name
    yield* Effect.annotateCurrentSpan("k8s.crd", name)
    yield* client.delete(CRD, { name }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone))
    const timeoutMillis = millis(options?.timeout ?? "60 seconds")
    const interval = options?.pollInterval ?? "200 millis"
    let last: CustomResourceDefinition | undefined
    yield* Effect.gen(function*() {
      while (true) {
        const crd = yield* getCrd(name)
        if (Option.isNone(crd)) return
        last = crd.value
        yield* Effect.sleep(interval)
      }
    }).pipe(Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMillis),
      orElse: () => Effect.fail(new CrdTimeout({ crd: name, waitingFor: "Deleted", timeoutMillis, conditions: conditionsOf(last) }))
    }))
  })

  const migrate: CrdService["migrate"] = (definition, options) =>
    Effect.provideService(CrdMigration.migrate(definition, options), Client, client)

  return { ensureCreated, ensureDeleted, migrate }
}


/**
 * The Crd service over the Client in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Crd, KubeConfig } from "operatorkit"
 *
 * const CrdLive = Crd.layer.pipe(Layer.provide(Client.layer()), Layer.provide(KubeConfig.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Crd, never, Client> = Layer.effect(
  Crd,
  Effect.gen(function*() {
    return makeService(yield* Client)
  })
)

/**
 * What the service calls for these CRDs (RBAC): `ensureCreated` reads, creates and updates each
 * CRD by name (and polls it until Established); with `delete`, `ensureDeleted` deletes it and polls
 * until it is gone; with `migrate`, the migration reads and patches the CRD (its checkpoint),
 * updates its `/status` (storedVersions), and lists, reads and rewrites every object of its kind.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Crd, CrdDefinition, Kind } from "operatorkit"
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
 * const needs = Crd.permissions([CrdDefinition.makeUnsafe(Widget)])
 * needs[0]!.names // => ["widgets.example.com"]
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (
  definitions: ReadonlyArray<Definition>,
  options: { readonly delete?: boolean | undefined; readonly migrate?: boolean | undefined } = {}
): ReadonlyArray<Rbac.Permission> => {
  if (definitions.length === 0) return []
  const names = definitions.map((d) => d.name)
  const crd = Kind.CustomResourceDefinition
  return [
    Rbac.allow(crd, ["get", "create", "update"], { names, reason: "CRD install: created or updated, then read until Established" }),
    ...(options.delete === true ? [Rbac.allow(crd, ["get", "delete"], { names, reason: "CRD removal: deleted, then read until gone" })] : []),
    ...(options.migrate === true
      ? [
        Rbac.allow(crd, ["get", "patch"], { names, reason: "storage migration: the CRD's checkpoint annotation" }),
        Rbac.allow(crd, ["update"], { names, subresource: "status", reason: "storage migration: only the storage version left in storedVersions" }),
        ...definitions.map((d) =>
          Rbac.allow(d.storageKind, ["list", "get", "update"], { reason: `storage migration: every ${d.kind} rewritten in ${d.storageVersion}` })
        )
      ]
      : [])
  ]
}
