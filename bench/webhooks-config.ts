/** The kind, admission and review the webhooks benchmark sends (shared by its driver and its server). */
import { Effect, Schema } from "effect"
import * as Admission from "../src/Admission.ts"
import * as CrdDefinition from "../src/CrdDefinition.ts"
import * as Kind from "../src/Kind.ts"
import * as Webhooks from "../src/Webhooks.ts"

export const App = Kind.custom({
  group: "bench.operatorkit.test",
  version: "v1",
  kind: "App",
  namespaced: true,
  spec: Schema.Struct({
    image: Schema.String.check(Schema.isPattern(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/)),
    replicas: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })),
    tier: Schema.Literals(["gold", "silver", "bronze"]).pipe(CrdDefinition.withDefault("silver")),
    owners: Schema.Array(Schema.String),
    env: Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String })),
    ports: Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })) })),
    resources: Schema.Struct({ cpu: Schema.String, memory: Schema.String })
  })
})

export const definition = Webhooks.makeUnsafe({
  name: "bench",
  admissions: [Admission.make(App, {
    validate: (app) =>
      Effect.succeed(app.spec.tier !== "gold" && app.spec.replicas > 10 ? [Admission.invalid("spec.replicas", app.spec.replicas, "at most 10 below gold")] : [])
  })]
})

export const path = "/validate-bench-operatorkit-test-v1-app"

/** An AdmissionReview as kube-apiserver sends it for a create (about 2.5 KB). */
export const review = (i: number) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`,
    kind: { group: "bench.operatorkit.test", version: "v1", kind: "App" },
    resource: { group: "bench.operatorkit.test", version: "v1", resource: "apps" },
    requestKind: { group: "bench.operatorkit.test", version: "v1", kind: "App" },
    requestResource: { group: "bench.operatorkit.test", version: "v1", resource: "apps" },
    name: `app-${i}`,
    namespace: "bench",
    operation: "CREATE",
    userInfo: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
    object: {
      apiVersion: "bench.operatorkit.test/v1",
      kind: "App",
      metadata: {
        name: `app-${i}`,
        namespace: "bench",
        labels: { app: "web", team: "platform" },
        annotations: { "example.com/owner": "platform-team" },
        managedFields: [{ manager: "kubectl", operation: "Update", apiVersion: "bench.operatorkit.test/v1", time: "2026-12-03T09:00:00Z", fieldsType: "FieldsV1", fieldsV1: { "f:spec": { "f:image": {}, "f:replicas": {} } } }]
      },
      spec: {
        image: "registry.example.com/web:1.27.3",
        replicas: 3,
        tier: "silver",
        owners: ["alice@example.com", "bob@example.com"],
        env: Array.from({ length: 8 }, (_, k) => ({ name: `VAR_${k}`, value: `value-${k}-${"x".repeat(40)}` })),
        ports: [{ name: "http", port: 8080 }, { name: "metrics", port: 9090 }],
        resources: { cpu: "500m", memory: "256Mi" }
      }
    },
    oldObject: null,
    dryRun: false,
    options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" }
  }
})
