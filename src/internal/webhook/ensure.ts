/**
 * An operator's webhook configurations and the conversion of the CRDs it converts, created or
 * updated in the cluster with the current CA bundle. Several replicas write them: each object
 * records the CA generation it was written from (an annotation), and a replica writes only from a
 * generation at least as new, so replicas never undo each other. When this replica has no CA
 * bundle to give (certificates from files without a CA: cert-manager's injector owns it), the
 * server's is kept.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Client from "../../Client.ts"
import * as KindModule from "../../Kind.ts"
import type * as Kind from "../../Kind.ts"
import * as AdmissionRegistration from "../../kinds/admissionregistration/v1.ts"
import type * as KubeError from "../../KubeError.ts"
import type * as Webhooks from "../../Webhooks.ts"
import { retryOnConflict } from "../retryOnConflict.ts"
import * as Certs from "./certificates.ts"
import * as Configuration from "./configuration.ts"
import { jsonEqual } from "./conversion.ts"

/** What one guarded write did: wrote, found nothing to change, or met a newer CA generation. */
export type Written = "written" | "unchanged" | "stale"

const CRD_KIND = KindModule.CustomResourceDefinition

const isObject = (u: unknown): u is { readonly [k: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

/** Where the CA generation a configuration carries is recorded: a domain of the user's. */
const generationKey = (definition: Webhooks.Definition<unknown>) => {
  const group = [...definition.admissions.map((a) => a.kind), ...definition.conversions.map((c) => c.definition.storageKind)]
    .find((k) => !k.builtin)?.group
  return `${group ?? definition.name}/webhook-ca-generation`
}

/** The writes of one server: its view of the CA (generation, bundle) and its client config, read when they run. */
export const make = (options: {
  readonly client: Client.ClientService
  readonly definition: Webhooks.Definition<unknown>
  /** The client config the configurations point at (known once the server listens). */
  readonly clientConfig: () => Webhooks.ClientConfig
  /** The CA generation this replica holds (self-signed certificates), else undefined. */
  readonly generation: () => number | undefined
  /** The CA bundle this replica gives, else undefined (the server's is kept). */
  readonly bundle: () => string | undefined
}) => {
  const { client, definition } = options
  const key = generationKey(definition)

  const guarded = <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    name: string,
    create: (() => A) | undefined,
    update: (current: A) => A
  ): Effect.Effect<Written, KubeError.KubeError> =>
    // a lost race (created or changed by another replica meanwhile) reads again
    retryOnConflict(() =>
      Effect.gen(function*() {
        const current = yield* client.get(kind, { name }).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone))
        const generation = options.generation()
        if (Option.isNone(current)) {
          if (create === undefined) return "unchanged" as const
          const object = create()
          const annotated = generation === undefined ? object : {
            ...object,
            metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, [key]: String(generation) } }
          }
          yield* client.create(kind, annotated)
          return "written" as const
        }
        const seen = Number(current.value.metadata.annotations?.[key] ?? "0")
        if (generation !== undefined && seen > generation) return "stale" as const
        const desired = update(current.value)
        const annotated = generation === undefined ? desired : {
          ...desired,
          metadata: { ...desired.metadata, annotations: { ...desired.metadata.annotations, [key]: String(generation) } }
        }
        if (jsonEqual(annotated, current.value)) return "unchanged" as const
        yield* client.replace(kind, annotated)
        return "written" as const
      }), { isConflict: (e) => e._tag === "Conflict" || e._tag === "AlreadyExists" })

  /** The server's caBundle of a webhook when this replica has none to give (cert-manager's injector owns it). */
  const keepCaBundle = (desired: unknown, current: unknown) => {
    if (options.bundle() !== undefined) return desired
    const have = isObject(current) && isObject(current["clientConfig"]) ? current["clientConfig"]["caBundle"] : undefined
    if (!isObject(desired) || !isObject(desired["clientConfig"]) || have === undefined) return desired
    return { ...desired, clientConfig: { ...desired["clientConfig"], caBundle: have } }
  }

  /** Every configuration and converted CRD written (or found current); "stale" where a newer CA generation wrote it. */
  const ensureAll: Effect.Effect<ReadonlyArray<Written>, KubeError.KubeError> = Effect.gen(function*() {
    const target = { clientConfig: options.clientConfig(), caBundle: options.bundle() }
    const { validating, mutating } = Configuration.configurations(definition, target)
    const outcomes: Array<Written> = []
    for (const [kind, desired] of [
      [AdmissionRegistration.ValidatingWebhookConfiguration, validating],
      [AdmissionRegistration.MutatingWebhookConfiguration, mutating]
    ] as const) {
      if (desired === undefined) continue
      outcomes.push(yield* guarded(kind as Kind.Kind<any>, definition.name, () => desired, (current: any) => ({
        ...current,
        metadata: {
          ...current.metadata,
          ...(desired.metadata.labels !== undefined ? { labels: { ...current.metadata.labels, ...desired.metadata.labels } } : {})
        },
        webhooks: (desired.webhooks ?? []).map((w: any) =>
          keepCaBundle(w, (current.webhooks ?? []).find((c: any) => c.name === w.name))
        )
      })))
    }
    for (const c of definition.conversions) {
      const desired = Configuration.conversionSpec(target)
      outcomes.push(yield* guarded(
        CRD_KIND,
        c.definition.name,
        () => Configuration.crdManifest(c.definition, target),
        (current) => ({
          ...current,
          spec: {
            ...current.spec,
            conversion: {
              ...desired,
              webhook: keepCaBundle(desired.webhook, (current.spec.conversion as { webhook?: unknown } | undefined)?.webhook)
            }
          } as typeof current.spec
        })
      ))
    }
    return outcomes
  })

  /** Whether every configuration and converted CRD in the cluster trusts each CA of `expected` (a CA rotation's step waits for it). */
  const propagated = (expected: string): Effect.Effect<boolean, KubeError.KubeError> =>
    Effect.gen(function*() {
      const cas = Certs.splitBundle(expected)
      const holds = (u: unknown) => {
        const have = Configuration.caBundleOf(u)
        return have !== undefined && cas.every((c) => have.includes(c.trim()))
      }
      const { validating, mutating } = Configuration.configurations(definition, { clientConfig: options.clientConfig() })
      for (const [kind, desired] of [[AdmissionRegistration.ValidatingWebhookConfiguration, validating], [AdmissionRegistration.MutatingWebhookConfiguration, mutating]] as const) {
        if (desired === undefined) continue
        const current = yield* client.get(kind as Kind.Any, { name: definition.name })
        if (!((current as { webhooks?: ReadonlyArray<unknown> }).webhooks ?? []).every(holds)) return false
      }
      for (const c of definition.conversions) {
        const current = yield* client.get(CRD_KIND, { name: c.definition.name })
        if (!holds((current.spec.conversion as { webhook?: unknown } | undefined)?.webhook)) return false
      }
      return true
    }).pipe(Effect.catchTag("NotFound", () => Effect.succeed(false)))

  return { ensureAll, propagated }
}
