/**
 * The Tenant operator's webhooks: a v1beta1 of the Tenant API (several owners instead of one),
 * converted to and from the stored v1alpha1 by a conversion webhook, and a validation rule a
 * structural schema cannot state, checked by an admission webhook: no two Tenants share a display
 * name (the check lists the Tenants through the Client).
 *
 * main.ts serves them (`Webhooks.layer`, certificates made in-process, the CA in a Secret): in a
 * cluster the API server calls the Service `tenant-operator-webhooks` ({@link TenantWebhooks}, what
 * deployment.ts deploys); on the embedded control plane it calls `https://127.0.0.1:<port>`
 * ({@link tenantWebhooks} without a client config). The controller stays on v1alpha1, the stored
 * version: its watch needs no conversion, so a webhook outage cannot stall it.
 *
 * `npx operatorkit webhooks examples/tenant/webhooks.ts` prints the webhook configurations and the
 * CRD with `conversion: Webhook` (docs/webhooks.md).
 */
import { Effect, Schema } from "effect"
import { Admission, Client, Conversion, CrdDefinition, Kind, Rbac, Webhooks } from "operatorkit"
import { printerColumns, Tenant, TenantSpec, TenantStatus } from "./Tenant.ts"

/** v1beta1: `owners` (at least one) replaces v1alpha1's single `owner`. */
export const TenantV1beta1 = Kind.custom({
  group: "tenancy.example.com",
  version: "v1beta1",
  kind: "Tenant",
  namespaced: false,
  shortNames: ["tn"],
  spec: Schema.Struct({
    ...TenantSpec.mapFields(({ owner: _, ...fields }) => fields).fields,
    owners: Schema.Array(Schema.String.check(Schema.isMinLength(1))).check(Schema.isMinLength(1)).annotate({
      description: "The users who administer the tenant's namespace; the first is v1alpha1's owner"
    })
  }),
  status: TenantStatus,
  subresources: { status: true }
})

/** The Tenant CRD with both versions, v1alpha1 stored (the same printer columns, the owner as each version holds it). */
export const TenantCrdV1beta1 = CrdDefinition.makeUnsafe({
  versions: [
    { kind: Tenant, storage: true, printerColumns },
    { kind: TenantV1beta1, printerColumns: printerColumns.map((c) => c.name === "Owner" ? { ...c, name: "Owners", jsonPath: ".spec.owners" } : c) }
  ],
  decoderOnlyChecks: "fail"
})

/** v1alpha1 ↔ v1beta1; the owners after the first are kept in an annotation on the v1alpha1 object. */
export const TenantConversion = Conversion.makeUnsafe(TenantCrdV1beta1, [
  Conversion.step(Tenant, TenantV1beta1, {
    decode: ({ spec: { owner, ...spec }, ...tenant }) => ({ ...tenant, spec: { ...spec, owners: [owner] } }),
    encode: ({ spec: { owners, ...spec }, ...tenant }) => ({ ...tenant, spec: { ...spec, owner: owners[0] ?? "" } })
  })
])

/** No two Tenants share a display name. */
export const TenantAdmission = Admission.make(Tenant, {
  validate: (tenant) =>
    Effect.gen(function*() {
      const name = tenant.spec.displayName
      if (name === undefined) return []
      const client = yield* Client.Client
      const others = yield* client.list(Tenant)
      const taken = others.items.find((t) => t.metadata.name !== tenant.metadata.name && t.spec.displayName === name)
      return taken === undefined ? [] : [Admission.duplicate("spec.displayName", name, `Tenant ${taken.metadata.name} has it`)]
    })
})

/** What the validation reads beyond what the controller does: the Tenants, for display names taken. */
export const admissionPermissions = [
  Rbac.allow(Tenant, ["list"], { reason: "webhook validate.tenants.tenancy.example.com: lists the Tenants for display names taken" })
]

/** The webhooks, called where `clientConfig` says (none: the server's own URL, `https://<host>:<port>`). */
export const tenantWebhooks = (clientConfig?: Webhooks.ClientConfig) =>
  Webhooks.makeUnsafe({
    name: "tenant-operator",
    ...(clientConfig !== undefined ? { clientConfig } : {}),
    admissions: [TenantAdmission],
    conversions: [TenantConversion]
  })

/** In the cluster: through the Service deployment.ts makes, in the operator's namespace. */
export const TenantWebhooks = tenantWebhooks({ service: { namespace: "tenant-operator", name: "tenant-operator-webhooks" } })

/** Certificates made in-process; the CA in a Secret of the operator's namespace that every replica shares. */
export const certificates = (namespace: string) =>
  Webhooks.selfSigned({ secret: { namespace, name: "tenant-operator-webhook-ca" } })
