/**
 * The Tenant custom resource: one Schema types the objects, decodes them, and becomes the CRD.
 *
 * A Tenant is cluster-scoped. For each one the operator keeps a Namespace of the same name, a
 * ResourceQuota from `spec.quota`, a RoleBinding that makes `spec.owner` admin of the namespace,
 * and a ConfigMap of `spec.settings`; `status` says whether all of it is in place.
 *
 * `npx operatorkit crd examples/tenant/Tenant.ts` prints the CRD of v1alpha1 alone; webhooks.ts adds
 * v1beta1 and its conversion, and deploy/operator.yaml holds that CRD.
 */
import { Schema } from "effect"
import { CrdDefinition, Kind } from "operatorkit"

/** A Kubernetes quantity such as `500m`, `4`, `8Gi` (the common forms). */
const Quantity = Schema.String.check(Schema.isPattern(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/u)).annotate({
  description: "A quantity such as 500m, 4 or 8Gi"
})

export const TenantSpec = Schema.Struct({
  owner: Schema.String.check(Schema.isMinLength(1)).annotate({
    description: "The user who administers the tenant's namespace (bound to the ClusterRole admin)"
  }),
  displayName: Schema.optionalKey(Schema.String.annotate({ description: "A name for people" })),
  quota: Schema.Struct({
    pods: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1000 })).pipe(CrdDefinition.withDefault(10)),
    cpu: Quantity.pipe(CrdDefinition.withDefault("4")),
    memory: Quantity.pipe(CrdDefinition.withDefault("8Gi"))
  }).annotate({ description: "Hard limits of the namespace's ResourceQuota" }).pipe(CrdDefinition.withDefault({})),
  settings: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String).annotate({ description: "Written to the ConfigMap tenant-settings" })
  )
})

export const TenantStatus = Schema.Struct({
  namespace: Schema.optionalKey(Schema.String),
  observedGeneration: Schema.optionalKey(Schema.Int),
  conditions: Schema.optionalKey(Schema.Array(Kind.ConditionSchema).pipe(CrdDefinition.listMap(["type"])))
})

export const Tenant = Kind.custom({
  group: "tenancy.example.com",
  version: "v1alpha1",
  kind: "Tenant",
  namespaced: false,
  shortNames: ["tn"],
  spec: TenantSpec,
  status: TenantStatus,
  subresources: { status: true }
})

export type Tenant = Kind.Type<typeof Tenant>

/** What `kubectl get tenants` shows. */
export const printerColumns: ReadonlyArray<CrdDefinition.PrinterColumn> = [
  { name: "Owner", type: "string", jsonPath: ".spec.owner" },
  { name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status" },
  { name: "Reason", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].reason" },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
]

export const TenantCrd = CrdDefinition.makeUnsafe(Tenant, {
  // every check of the Schema must be in the CRD: the API server then refuses what the operator
  // could not decode (a check it cannot state fails this definition when the module loads)
  decoderOnlyChecks: "fail",
  printerColumns
})
