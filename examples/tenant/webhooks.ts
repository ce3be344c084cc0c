/**
 * The Tenant operator's webhooks: a v1beta1 of the Tenant API (several owners instead of one),
 * converted to and from the stored v1alpha1 by a conversion webhook, and a validation rule a
 * structural schema cannot state, checked by an admission webhook: no two Tenants share a display
 * name (the check lists the Tenants through the Client).
 *
 * `npx operatorkit webhooks examples/tenant/webhooks.ts` prints the webhook configurations and the
 * CRD with `conversion: Webhook`; `Webhooks.layer(TenantWebhooks, …)` serves them (docs/webhooks.md).
 */
import { Effect, Schema } from "effect"
import { Admission, Client, Conversion, CrdDefinition, Kind, Webhooks } from "operatorkit"
import { Tenant, TenantSpec, TenantStatus } from "./Tenant.ts"

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

/** The Tenant CRD with both versions, v1alpha1 stored. */
export const TenantCrdV1beta1 = CrdDefinition.makeUnsafe({
  versions: [{ kind: Tenant, storage: true }, { kind: TenantV1beta1 }],
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

export const TenantWebhooks = Webhooks.makeUnsafe({
  name: "tenant-operator",
  clientConfig: { service: { namespace: "tenant-system", name: "tenant-operator-webhooks" } },
  admissions: [TenantAdmission],
  conversions: [TenantConversion]
})
