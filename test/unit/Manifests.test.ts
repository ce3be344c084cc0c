import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Yaml } from "effect/encoding"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as Manifests from "../../src/Manifests.ts"
import * as Rbac from "../../src/Rbac.ts"

const Widget = Kind.custom({
  group: "example.com",
  version: "v1",
  kind: "Widget",
  namespaced: true,
  spec: Schema.Struct({ size: Schema.Int })
})
const WidgetCrd = CrdDefinition.makeUnsafe(Widget)

const operator = Manifests.make({
  name: "widget-operator",
  namespace: "widgets",
  image: "ghcr.io/acme/widget-operator:1.0.0",
  crds: [WidgetCrd],
  permissions: [
    Rbac.allow(Widget, ["list", "watch", "get", "patch"], { reason: "controller widget: its kind and finalizer" }),
    Rbac.allow(Kind.Lease, ["get", "update"], { namespace: Rbac.operatorNamespace, names: ["widget-operator"] })
  ],
  metrics: { serviceMonitor: true, scraper: { name: "prometheus-k8s", namespace: "monitoring" } }
})

const parse = (yaml: string) => yaml.split(/^---$/m).map((d) => Yaml.parse(d) as Record<string, any>)

describe("Manifests", () => {
  it("renders every part in apply order; the YAML parses back to the objects", () => {
    const docs = Manifests.documents(operator)
    assert.deepStrictEqual(docs.map((d) => `${d.object.kind}/${d.object.metadata.name}`), [
      "Namespace/widgets",
      "CustomResourceDefinition/widgets.example.com",
      "ServiceAccount/widget-operator",
      "ClusterRole/widget-operator",
      "ClusterRoleBinding/widget-operator",
      "Role/widget-operator",
      "RoleBinding/widget-operator",
      "ClusterRole/widget-operator-metrics-reader",
      "ClusterRoleBinding/widget-operator-metrics-reader",
      "Service/widget-operator-metrics",
      "Deployment/widget-operator",
      "ServiceMonitor/widget-operator"
    ])
    assert.deepStrictEqual(parse(Manifests.toYaml(operator)), JSON.parse(JSON.stringify(docs.map((d) => d.object))))
    assert.deepStrictEqual(JSON.parse(Manifests.toJson(operator, ["rbac"])).items.map((o: any) => o.kind), [
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "ClusterRole",
      "ClusterRoleBinding"
    ])
  })

  it("secure metrics add their TokenReview and SubjectAccessReview to the operator's RBAC", () => {
    const cluster = Rbac.rules(operator.rbac).cluster.map((r) => r.rule)
    assert.deepStrictEqual(cluster.filter((r) => r.apiGroups?.[0]?.startsWith("auth")), [
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] }
    ])
    const insecure = Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], metrics: { secure: false }, leaderElection: false })
    assert.deepStrictEqual(insecure.rbac.permissions, [])
    assert.strictEqual(insecure.metricsPort, 8080)
  })

  it("the Deployment: probes on the plain port, metrics on theirs, leader election, requests, non-root", () => {
    const deployment = Manifests.documents(operator, ["deployment"]).find((d) => d.object.kind === "Deployment")!.object as any
    assert.strictEqual(deployment.spec.replicas, 2)
    const pod = deployment.spec.template.spec
    assert.strictEqual(pod.serviceAccountName, "widget-operator")
    assert.deepStrictEqual(pod.securityContext.runAsNonRoot, true)
    const [c] = pod.containers
    assert.deepStrictEqual(c.args, ["--health-port=8081", "--metrics-port=8443", "--metrics-secure", "--leader-elect"])
    assert.deepStrictEqual(Manifests.parseFlags(c.args), { healthPort: 8081, metricsPort: 8443, secureMetrics: true, leaderElection: true, rest: [] })
    assert.deepStrictEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [["health", 8081], ["metrics", 8443]])
    assert.deepStrictEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "health" })
    assert.deepStrictEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "health" })
    assert.deepStrictEqual(c.resources.requests, { cpu: "50m", memory: "96Mi" })
    assert.deepStrictEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    assert.deepStrictEqual(c.env.map((e: any) => e.name), ["POD_NAME", "POD_NAMESPACE"])
    const single = Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], leaderElection: false })
    assert.deepStrictEqual(Manifests.flags(single), ["--health-port=8081", "--metrics-port=8443", "--metrics-secure"])
  })

  it("parseFlags refuses a port that is not one", () => {
    assert.throws(() => Manifests.parseFlags(["--health-port=http"]), /--health-port takes a port number/)
  })

  it("the Dockerfile: Node 24 slim, production dependencies only, the built dist/ as the non-root user", () => {
    const text = Manifests.dockerfile()
    const runtime = text.slice(text.lastIndexOf("FROM "))
    assert.match(runtime, /^FROM node:24-slim$/m)
    assert.include(runtime, "npm ci --omit=dev")
    assert.include(runtime, "COPY --from=build /app/dist ./dist")
    assert.match(runtime, /^USER node$/m)
    assert.match(runtime, /^CMD \["node", "dist\/main.js"\]$/m)
    assert.notInclude(text, "--conditions")
  })
})
