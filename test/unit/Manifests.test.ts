import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { Yaml } from "effect/encoding"
import * as Admission from "../../src/Admission.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as Manifests from "../../src/Manifests.ts"
import * as Rbac from "../../src/Rbac.ts"
import * as Webhooks from "../../src/Webhooks.ts"

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
  })

  it("plain metrics: the metrics Service targets the probes' port, where Health serves /metrics without secureMetrics", () => {
    const insecure = Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], metrics: { secure: false }, leaderElection: false })
    assert.strictEqual(insecure.metricsPort, 8081)
    const docs = Manifests.documents(insecure, ["deployment"]).map((d) => d.object as any)
    const service = docs.find((o) => o.kind === "Service" && o.metadata.name === "a-metrics")
    assert.deepStrictEqual(service.spec.ports, [{ name: "http", port: 8081, targetPort: "health", protocol: "TCP" }])
    const container = docs.find((o) => o.kind === "Deployment").spec.template.spec.containers[0]
    assert.deepStrictEqual(container.ports.map((p: any) => p.name), ["health"])
    assert.deepStrictEqual(container.args, ["--health-port=8081", "--metrics-insecure"])
    const flags = Effect.runSync(Manifests.parseFlags(container.args))
    assert.deepStrictEqual([flags.healthPort, flags.metricsPort, flags.secureMetrics], [8081, 8081, false])
  })

  it("the Deployment: probes on the plain port, metrics on theirs, leader election, requests, non-root", () => {
    const deployment = Manifests.documents(operator, ["deployment"]).find((d) => d.object.kind === "Deployment")!.object as any
    assert.strictEqual(deployment.spec.replicas, 2)
    const pod = deployment.spec.template.spec
    assert.strictEqual(pod.serviceAccountName, "widget-operator")
    assert.deepStrictEqual(pod.securityContext.runAsNonRoot, true)
    const [c] = pod.containers
    assert.deepStrictEqual(c.args, ["--health-port=8081", "--metrics-port=8443", "--metrics-secure", "--leader-elect"])
    assert.deepStrictEqual(Effect.runSync(Manifests.parseFlags(c.args)), {
      healthPort: 8081,
      metricsPort: 8443,
      secureMetrics: true,
      leaderElection: true,
      webhookPort: 9443,
      qps: undefined,
      burst: undefined,
      rest: []
    })
    assert.deepStrictEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [["health", 8081], ["metrics", 8443]])
    assert.deepStrictEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "health" })
    assert.deepStrictEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "health" })
    assert.deepStrictEqual(c.resources.requests, { cpu: "50m", memory: "96Mi" })
    assert.deepStrictEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    assert.deepStrictEqual(c.env.map((e: any) => e.name), ["POD_NAME", "POD_NAMESPACE"])
    const single = Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], leaderElection: false })
    assert.deepStrictEqual(Manifests.flags(single), ["--health-port=8081", "--metrics-port=8443", "--metrics-secure"])
  })

  it("parseFlags: the flags, the others in order for the program, defaults for what is not given", () => {
    const parse = (argv: ReadonlyArray<string>, defaults?: Parameters<typeof Manifests.parseFlags>[1]) =>
      Effect.runSync(Effect.result(Manifests.parseFlags(argv, defaults)))
    assert.deepStrictEqual(
      parse(["--check", "--health-port=0", "--metrics-insecure", "--webhook-port=10443", "--leader-elect=true", "--exit-after=3"]),
      Result.succeed({ healthPort: 0, metricsPort: 0, secureMetrics: false, leaderElection: true, webhookPort: 10443, qps: undefined, burst: undefined, rest: ["--check", "--exit-after=3"] })
    )
    assert.deepStrictEqual(
      parse([]),
      Result.succeed({ healthPort: 8081, metricsPort: 8443, secureMetrics: true, leaderElection: false, webhookPort: 9443, qps: undefined, burst: undefined, rest: [] })
    )
    // the program's defaults for what is not given; a flag given wins
    assert.deepStrictEqual(
      parse(["--leader-elect=false", "--metrics-secure"], { healthPort: 8080, secureMetrics: false, leaderElection: true }),
      Result.succeed({ healthPort: 8080, metricsPort: 8443, secureMetrics: true, leaderElection: false, webhookPort: 9443, qps: undefined, burst: undefined, rest: [] })
    )
  })

  it("the Client's rate limit: Manifests.make's apiRateLimit as --kube-api-qps/--kube-api-burst, which parseFlags reads back", () => {
    const limited = Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], apiRateLimit: { qps: 2.5, burst: 30 } })
    const args = Manifests.flags(limited)
    assert.deepStrictEqual(args.slice(-2), ["--kube-api-qps=2.5", "--kube-api-burst=30"])
    const flags = Effect.runSync(Manifests.parseFlags(args))
    assert.deepStrictEqual([flags.qps, flags.burst, flags.rest], [2.5, 30, []])
    // qps alone: the Client's own burst applies
    const qpsOnly = Manifests.flags(Manifests.make({ name: "a", namespace: "b", image: "a:1", permissions: [], apiRateLimit: { qps: 20 } }))
    assert.deepStrictEqual(qpsOnly.filter((a) => a.startsWith("--kube-api")), ["--kube-api-qps=20"])
    // the program's default, and a flag given wins
    const parsed = Effect.runSync(Manifests.parseFlags(["--kube-api-burst=7"], { qps: 5, burst: 10 }))
    assert.deepStrictEqual([parsed.qps, parsed.burst], [5, 7])
    for (const [arg, flag, value, reason] of [
      ["--kube-api-qps=0", "--kube-api-qps", "0", "NotAPositiveNumber"],
      ["--kube-api-qps=fast", "--kube-api-qps", "fast", "NotAPositiveNumber"],
      ["--kube-api-qps", "--kube-api-qps", undefined, "NotAPositiveNumber"],
      ["--kube-api-burst=1.5", "--kube-api-burst", "1.5", "NotAPositiveInteger"],
      ["--kube-api-burst=0", "--kube-api-burst", "0", "NotAPositiveInteger"]
    ] as const) {
      const result = Effect.runSync(Effect.result(Manifests.parseFlags([arg])))
      if (Result.isSuccess(result)) return assert.fail(`${arg} was accepted`)
      assert.deepStrictEqual([result.failure.flag, result.failure.value, result.failure.reason], [flag, value, reason])
      assert.include(result.failure.message, `${flag} takes a ${reason === "NotAPositiveNumber" ? "number" : "whole number"} above 0`)
    }
  })

  it("parseFlags refuses a bad value with a FlagError naming the flag, the value and what was wrong", () => {
    const refused = (argv: ReadonlyArray<string>) => {
      const parsed = Effect.runSync(Effect.result(Manifests.parseFlags(argv)))
      if (Result.isSuccess(parsed)) return assert.fail(`${argv.join(" ")} was accepted`)
      return parsed.failure
    }
    for (const [arg, flag, value] of [
      ["--health-port=http", "--health-port", "http"],
      ["--metrics-port=", "--metrics-port", ""],
      ["--webhook-port=65536", "--webhook-port", "65536"],
      ["--health-port=-1", "--health-port", "-1"],
      ["--health-port=8.5", "--health-port", "8.5"],
      ["--health-port", "--health-port", undefined]
    ] as const) {
      const error = refused(["--leader-elect", arg])
      assert.instanceOf(error, Manifests.FlagError)
      assert.deepStrictEqual([error._tag, error.flag, error.value, error.reason], ["FlagError", flag, value, "NotAPort"])
      assert.include(error.message, `${flag} takes a port number from 0 to 65535 (${flag}=<n>), not ${value === undefined ? "nothing" : JSON.stringify(value)}`)
    }
    const bool = refused(["--leader-elect=yes"])
    assert.deepStrictEqual([bool.flag, bool.value, bool.reason], ["--leader-elect", "yes", "NotABoolean"])
    assert.strictEqual(bool.message, `--leader-elect takes no value, or true or false, not "yes"`)
    // a Schema-backed error: it encodes and decodes with its Schema
    const encoded = Schema.encodeSync(Manifests.FlagError)(bool)
    assert.deepStrictEqual(encoded, { _tag: "FlagError", flag: "--leader-elect", value: "yes", reason: "NotABoolean" })
    assert.strictEqual(Schema.decodeUnknownSync(Manifests.FlagError)(encoded).message, bool.message)
    assert.strictEqual(new Manifests.FlagError({ flag: "--verbose", value: undefined, reason: "Unknown" }).message, "unknown flag --verbose")
  })

  it.effect("parseFlags in Effect.gen: a bad flag is the program's typed failure", () =>
    Effect.gen(function*() {
      const program = (argv: ReadonlyArray<string>) => Effect.gen(function*() {
        const flags = yield* Manifests.parseFlags(argv)
        return flags.healthPort
      })
      assert.strictEqual(yield* program(["--health-port=9000"]), 9000)
      const error = yield* Effect.flip(program(["--health-port=x"]))
      assert.strictEqual(error._tag, "FlagError")
      assert.strictEqual(error.flag, "--health-port")
    }))

  it("with webhooks: the converted CRD with conversion: Webhook, their RBAC, a Service on the webhook port, --webhook-port", () => {
    const WidgetV2 = Kind.custom({
      group: "example.com",
      version: "v2",
      kind: "Widget",
      namespaced: true,
      spec: Schema.Struct({ sizes: Schema.Array(Schema.Int) })
    })
    const TwoVersions = CrdDefinition.makeUnsafe({ versions: [{ kind: Widget, storage: true }, { kind: WidgetV2 }] })
    const definition = Webhooks.makeUnsafe({
      name: "widget-operator",
      admissions: [Admission.make(Widget, {})],
      conversions: [Conversion.makeUnsafe(TwoVersions, [Conversion.step(Widget, WidgetV2, {
        decode: (w) => ({ ...w, spec: { sizes: [w.spec.size] } }),
        encode: (w) => ({ ...w, spec: { size: w.spec.sizes[0] ?? 0 } })
      })])]
    })
    const certificates = Webhooks.selfSigned({ secret: { namespace: "widgets", name: "widget-operator-webhook-ca" } })
    const withWebhooks = Manifests.make({
      name: "widget-operator",
      namespace: "widgets",
      image: "widget-operator:1",
      crds: [TwoVersions],
      permissions: [],
      webhooks: { definition, certificates }
    })
    const docs = Manifests.documents(withWebhooks)
    assert.deepStrictEqual(docs.filter((d) => d.part === "deployment").map((d) => `${d.object.kind}/${d.object.metadata.name}`), [
      "Service/widget-operator-metrics",
      "Service/widget-operator-webhooks",
      "Deployment/widget-operator"
    ])
    const crd = docs.find((d) => d.object.kind === "CustomResourceDefinition")!.object as any
    assert.deepStrictEqual(crd.spec.conversion, {
      strategy: "Webhook",
      webhook: {
        conversionReviewVersions: ["v1"],
        clientConfig: { service: { namespace: "widgets", name: "widget-operator-webhooks", port: 443, path: "/convert" } }
      }
    })
    const service = docs.find((d) => d.object.metadata.name === "widget-operator-webhooks")!.object as any
    assert.deepStrictEqual(service.spec.ports, [{ name: "webhook", port: 443, targetPort: "webhook", protocol: "TCP" }])
    assert.deepStrictEqual(service.spec.selector, { "app.kubernetes.io/name": "widget-operator" })
    const [container] = (docs.find((d) => d.object.kind === "Deployment")!.object as any).spec.template.spec.containers
    assert.deepStrictEqual(container.ports.map((p: any) => [p.name, p.containerPort]), [["health", 8081], ["metrics", 8443], ["webhook", 9443]])
    assert.deepStrictEqual(Effect.runSync(Manifests.parseFlags(container.args)).webhookPort, 9443)
    // the RBAC of what the webhooks layer calls, with the operator's
    const rules = Rbac.rules(withWebhooks.rbac)
    const all = [...rules.cluster, ...rules.namespaces.flatMap((n) => n.rules)].map((r) => r.rule)
    for (const resource of ["secrets", "validatingwebhookconfigurations", "customresourcedefinitions"]) {
      assert.isTrue(all.some((r) => r.resources?.includes(resource)), resource)
    }
    assert.deepStrictEqual(withWebhooks.rbac.permissions.slice(-5).map((p) => p._tag === "ResourcePermission" && p.resource), [
      "secrets",
      "secrets",
      "validatingwebhookconfigurations",
      "validatingwebhookconfigurations",
      "customresourcedefinitions"
    ])
    // without webhooks, none of it
    assert.notInclude(Manifests.toYaml(operator), "webhook")
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
