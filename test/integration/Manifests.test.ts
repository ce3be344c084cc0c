/**
 * The manifests of `Manifests` on kube-apiserver 1.20.2: every document an operator renders (with
 * secure metrics, leader election and a ServiceMonitor) passes a server-side dry run, so the API
 * server's own validation (schemas, RBAC rule shapes, the Deployment's probes and security context)
 * accepts what `operatorkit manifests` prints.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Manifests from "../../src/Manifests.ts"
import * as Rbac from "../../src/Rbac.ts"
import { cluster } from "../support/cluster.ts"

const Widget = Kind.custom({
  group: "manifests.example.com",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ size: Schema.Int }),
  subresources: { status: true }
})

/** The Prometheus Operator's ServiceMonitor, enough of it for the API server to accept one (its real CRD is much longer). */
const ServiceMonitor = Kind.custom({
  group: "monitoring.coreos.com",
  version: "v1",
  kind: "ServiceMonitor",
  namespaced: true,
  spec: Kind.Open({})
})

const known: Record<string, Kind.Any> = {
  Namespace: Kind.Namespace,
  CustomResourceDefinition: Kind.CustomResourceDefinition,
  ServiceAccount: Kind.ServiceAccount,
  ClusterRole: Kind.ClusterRole,
  ClusterRoleBinding: Kind.ClusterRoleBinding,
  Role: Kind.Role,
  RoleBinding: Kind.RoleBinding,
  Service: Kind.Service,
  Deployment: Kind.Deployment,
  ServiceMonitor
}

layer(cluster(), { excludeTestServices: true })("Manifests on kube-apiserver 1.20.2", (it) => {
  it.effect("every document passes a server-side dry run (the Namespace created first, the ServiceMonitor's CRD installed)", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* (yield* Crd.Crd).ensureCreated(CrdDefinition.makeUnsafe(ServiceMonitor))
      const operator = Manifests.make({
        name: "widget-operator",
        namespace: "widget-operator",
        image: "ghcr.io/acme/widget-operator:1.0.0",
        crds: [CrdDefinition.makeUnsafe(Widget)],
        permissions: [
          Rbac.allow(Widget, ["list", "watch", "get", "patch"], { reason: "controller widget" }),
          Rbac.allow(Widget, ["get", "update"], { subresource: "status" }),
          LeaderElection.permissions({ name: "widget-operator" })
        ],
        metrics: { serviceMonitor: true, scraper: { name: "prometheus-k8s", namespace: "monitoring" } }
      })
      const docs = Manifests.documents(operator)
      assert.deepStrictEqual([...new Set(docs.map((d) => d.object.kind))].sort(), Object.keys(known).sort())
      const accepted: Array<string> = []
      for (const { object } of docs) {
        const kind = known[object.kind]!
        // a namespaced object's dry run needs its namespace to exist
        const dryRun = object.kind !== "Namespace"
        const created = yield* client.create(kind, object as Kind.KubeObject, { dryRun })
        accepted.push(`${created.kind}/${created.metadata.name}`)
      }
      assert.strictEqual(accepted.length, docs.length)
      // a dry run persists nothing
      const deployments = yield* client.list(Kind.Deployment, { namespace: "widget-operator" })
      assert.deepStrictEqual(deployments.items, [])
    }).pipe(Effect.provide(Crd.layer, { local: true })))
})
