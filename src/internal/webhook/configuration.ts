/**
 * The objects that point the API server at an operator's webhooks, generated from a definition
 * whose client config is resolved: the Validating- and MutatingWebhookConfiguration (one webhook
 * per admission, its rule from the admission's kind) and a CRD's `spec.conversion`.
 */
import * as Conversion from "../../Conversion.ts"
import type * as CrdDefinition from "../../CrdDefinition.ts"
import type * as Admission from "../../Admission.ts"
import type * as Kind from "../../Kind.ts"
import type * as Webhooks from "../../Webhooks.ts"

type Definition = Webhooks.Definition<unknown>

const isObject = (u: unknown): u is { readonly [k: string]: unknown } => typeof u === "object" && u !== null && !Array.isArray(u)

const clientConfigFor = (config: Webhooks.ClientConfig, path: string, caBundle: string | undefined) => ({
  ...("url" in config
    ? { url: `${config.url.replace(/\/+$/, "")}${path}` }
    : { service: { namespace: config.service.namespace, name: config.service.name, port: config.service.port ?? 443, path } }),
  ...(caBundle !== undefined && caBundle !== "" ? { caBundle: Buffer.from(caBundle, "utf8").toString("base64") } : {})
})

/** A webhook's name: qualified, as the API server wants it (`validate.widgets.example.com`). */
const webhookName = (definition: Definition, verb: string, kind: Kind.Any) =>
  kind.group === "" ? `${verb}.${kind.plural}.${definition.name}.core` : `${verb}.${kind.plural}.${kind.group}`

const metadataFor = (definition: Definition, annotations: Readonly<Record<string, string>> | undefined) => ({
  name: definition.name,
  ...(definition.labels !== undefined ? { labels: { ...definition.labels } } : {}),
  ...(annotations !== undefined ? { annotations: { ...annotations } } : {})
})

const webhookOf = (definition: Definition, a: Admission.Admission<unknown>, verb: "validate" | "default", config: Webhooks.ClientConfig, caBundle: string | undefined) => ({
  name: webhookName(definition, verb, a.kind),
  admissionReviewVersions: ["v1"],
  clientConfig: clientConfigFor(config, verb === "validate" ? a.validatePath : a.mutatePath, caBundle),
  rules: [{
    apiGroups: [a.kind.group],
    apiVersions: [a.kind.version],
    operations: [...a.call.operations],
    resources: [a.kind.plural],
    scope: a.kind.namespaced ? "Namespaced" : "Cluster"
  }],
  failurePolicy: a.call.failurePolicy,
  matchPolicy: "Equivalent",
  sideEffects: a.call.sideEffects,
  timeoutSeconds: a.call.timeoutSeconds,
  namespaceSelector: a.call.namespaceSelector ?? {},
  objectSelector: a.call.objectSelector ?? {}
})

/** Where the server is and what the API server trusts (`caBundle`), the client config resolved. */
export interface Target {
  readonly clientConfig: Webhooks.ClientConfig
  readonly caBundle?: string | undefined
  readonly annotations?: Readonly<Record<string, string>> | undefined
}

/** The two webhook configurations of a definition (each undefined when no admission needs it). */
export const configurations = (definition: Definition, target: Target): {
  readonly validating: Webhooks.ValidatingWebhookConfiguration | undefined
  readonly mutating: Webhooks.MutatingWebhookConfiguration | undefined
} => {
  const validating = definition.admissions.filter((a) => a.validating)
  const mutating = definition.admissions.filter((a) => a.mutating)
  return {
    validating: validating.length === 0 ? undefined : {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingWebhookConfiguration",
      metadata: metadataFor(definition, target.annotations),
      webhooks: validating.map((a) => webhookOf(definition, a, "validate", target.clientConfig, target.caBundle))
    } as unknown as Webhooks.ValidatingWebhookConfiguration,
    mutating: mutating.length === 0 ? undefined : {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: metadataFor(definition, target.annotations),
      webhooks: mutating.map((a) => ({ ...webhookOf(definition, a, "default", target.clientConfig, target.caBundle), reinvocationPolicy: "Never" }))
    } as unknown as Webhooks.MutatingWebhookConfiguration
  }
}

/** `spec.conversion` of a CRD converted by these webhooks. */
export const conversionSpec = (target: Target) => ({
  strategy: "Webhook",
  webhook: {
    conversionReviewVersions: ["v1"],
    clientConfig: clientConfigFor(target.clientConfig, Conversion.path, target.caBundle)
  }
})

/** A CRD's manifest with `conversion: Webhook` pointing at the webhooks. */
export const crdManifest = (crdDefinition: CrdDefinition.Definition, target: Target): CrdDefinition.CustomResourceDefinition =>
  ({
    ...crdDefinition.manifest,
    spec: { ...crdDefinition.manifest.spec, conversion: conversionSpec(target) }
  }) as CrdDefinition.CustomResourceDefinition

/** The host names a serving certificate is made for, from where the API server reaches it. */
export const hostOf = (config: Webhooks.ClientConfig): ReadonlyArray<string> =>
  "url" in config
    ? [new URL(config.url).hostname.replace(/^\[|\]$/g, "")]
    : [
      `${config.service.name}.${config.service.namespace}.svc`,
      `${config.service.name}.${config.service.namespace}.svc.cluster.local`
    ]

/** The CA certificates (PEM) a webhook's client config trusts, when it has any. */
export const caBundleOf = (u: unknown): string | undefined => {
  const encoded = isObject(u) && isObject(u["clientConfig"]) ? u["clientConfig"]["caBundle"] : undefined
  return typeof encoded === "string" ? Buffer.from(encoded, "base64").toString("utf8") : undefined
}
