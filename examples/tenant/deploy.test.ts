/**
 * The deployment manifests of deploy/, on a real API server: operator.yaml is what deployment.ts
 * generates (`operatorkit manifests`; stale, the test fails), every manifest is accepted, the
 * Deployment's arguments are exactly what main.ts reads (`Manifests.parseFlags`) and its ports and
 * Services the ones it serves, and the operator with its webhooks converges and cleans up with
 * exactly the rights of operator.yaml, signed in with its ServiceAccount's token: zero 403s (the
 * webhooks' CA Secret, webhook configuration and CRD conversion included); with one declared rule
 * left out of its roles, the API server's 403 names it.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { Yaml } from "effect/encoding"
import { Client, Crd, Informer, Kind, KubeConfig, Manifests, Rbac, Webhooks } from "operatorkit"
import { ValidatingWebhookConfiguration } from "operatorkit/kinds/admissionregistration/v1"
import { Envtest, RbacGuard } from "operatorkit/testing"
import { TenantDeployment } from "./deployment.ts"
import { parseArgs } from "./main.ts"
import * as TenantOperator from "./operator.ts"
import { rbac } from "./operator.ts"
import { samples } from "./samples.ts"
import { Tenant } from "./Tenant.ts"
import { certificates, TenantCrdV1beta1, TenantV1beta1, tenantWebhooks, TenantWebhooks } from "./webhooks.ts"

const deploy = (file: string) => Fs.readFileSync(Path.join(import.meta.dirname, "deploy", file), "utf8")

/** The documents of a YAML stream (`---` separated). */
const documents = (text: string): Array<Record<string, any>> =>
  text.split(/^---$/m)
    .filter((doc) => doc.split("\n").some((line) => line.trim() !== "" && !line.trimStart().startsWith("#")))
    .map((doc) => Yaml.parse(doc) as Record<string, any>)

// kube-controller-manager: namespace deletion, and the ServiceAccount's token Secret
const Cluster = Envtest.layerClient({ controllerManager: true }).pipe(Layer.orDie)

const kindOf = (doc: Record<string, any>): Kind.Any => {
  const known: Record<string, Kind.Any> = {
    CustomResourceDefinition: Kind.CustomResourceDefinition,
    Namespace: Kind.Namespace,
    ServiceAccount: Kind.ServiceAccount,
    ClusterRole: Kind.ClusterRole,
    ClusterRoleBinding: Kind.ClusterRoleBinding,
    Role: Kind.Role,
    RoleBinding: Kind.RoleBinding,
    Deployment: Kind.Deployment,
    Service: Kind.Service
  }
  const kind = known[doc["kind"]]
  if (kind === undefined) throw new Error(`no Kind for ${doc["kind"]}`)
  return kind
}

describe("deploy/ manifests", () => {
  layer(Cluster, { excludeTestServices: true })("on kube-apiserver 1.20.2", (it) => {
    it.effect("operator.yaml is what deployment.ts generates; samples.yaml holds the samples of samples.ts", () =>
      Effect.sync(() => {
        const file = deploy("operator.yaml")
        const generated = Manifests.toYaml(TenantDeployment)
        // only comment lines (how to regenerate it) come before the generated documents
        assert.isTrue(
          file.endsWith(generated) && file.slice(0, file.length - generated.length).split("\n").every((l) => l === "" || l.startsWith("#")),
          "deploy/operator.yaml is stale: regenerate it with the command in its first lines"
        )
        assert.deepStrictEqual(
          deploy("kustomization.yaml").match(/^ {2}- (\S+)$/gm)?.map((l) => l.trim().slice(2)),
          ["operator.yaml"]
        )
        const fromYaml = documents(deploy("samples.yaml")).map((doc) => Schema.decodeUnknownSync(Tenant.schema)(doc))
        assert.deepStrictEqual(fromYaml, samples.map((s) => Schema.decodeUnknownSync(Tenant.schema)(s)))
      }))

    it.effect("the Deployment's arguments are exactly what main.ts reads; its ports, Services, CRD conversion and ServiceAccount match", () =>
      Effect.gen(function*() {
        const docs = documents(deploy("operator.yaml"))
        const deployment = docs.find((d) => d["kind"] === "Deployment")!
        assert.strictEqual(deployment["spec"].replicas, 2)
        const pod = deployment["spec"].template.spec
        const [container] = pod.containers
        // main.ts takes every argument, and runs with the settings the manifests were made with
        const options = yield* parseArgs(container.args)
        assert.deepStrictEqual(options.flags, {
          healthPort: TenantDeployment.healthPort,
          metricsPort: TenantDeployment.metricsPort,
          secureMetrics: true,
          leaderElection: true,
          webhookPort: 9443,
          qps: TenantDeployment.options.apiRateLimit?.qps,
          burst: TenantDeployment.options.apiRateLimit?.burst,
          rest: []
        })
        assert.deepStrictEqual(container.ports.map((p: any) => [p.name, p.containerPort]), [["health", 8081], ["metrics", 8443], ["webhook", 9443]])
        assert.deepStrictEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "health" })
        assert.deepStrictEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "health" })
        assert.deepStrictEqual(container.env.slice(0, 2).map((e: any) => [e.name, e.valueFrom.fieldRef.fieldPath]), [
          ["POD_NAME", "metadata.name"],
          ["POD_NAMESPACE", "metadata.namespace"]
        ])
        // the webhook Service is the one the webhooks' client config names, in front of the container's webhook port
        const config = TenantWebhooks.clientConfig!
        assert.isTrue("service" in config)
        if (!("service" in config)) return
        const service = docs.find((d) => d["kind"] === "Service" && d["metadata"].name === config.service.name)!
        assert.strictEqual(service["metadata"].namespace, config.service.namespace)
        assert.strictEqual(deployment["metadata"].namespace, config.service.namespace)
        assert.deepStrictEqual(service["spec"].ports, [{ name: "webhook", port: 443, targetPort: "webhook", protocol: "TCP" }])
        assert.deepStrictEqual(service["spec"].selector, deployment["spec"].selector.matchLabels)
        const crd = docs.find((d) => d["kind"] === "CustomResourceDefinition")!
        assert.deepStrictEqual(crd["spec"].versions.map((v: any) => [v.name, v.storage]), [["v1alpha1", true], ["v1beta1", false]])
        assert.deepStrictEqual(crd["spec"].conversion.webhook.clientConfig.service, { ...config.service, port: 443, path: "/convert" })
        const subjects = docs.flatMap((d) => d["subjects"] ?? [])
        assert.isNotEmpty(subjects)
        for (const s of subjects) {
          assert.deepStrictEqual([s.kind, s.namespace, s.name], ["ServiceAccount", deployment["metadata"].namespace, pod.serviceAccountName])
        }
      }))

    it.effect("every manifest is accepted, and the operator and its webhooks converge all samples and clean up with only the rights of operator.yaml: zero 403s", () =>
      Effect.gen(function*() {
        const admin = yield* Client.Client
        for (const doc of documents(deploy("operator.yaml"))) {
          yield* admin.create(kindOf(doc), doc as Kind.KubeObject)
        }
        // Established; the conversion stated by operator.yaml is kept (the webhooks layer rewrites it)
        yield* (yield* Crd.Crd).ensureCreated(TenantCrdV1beta1)

        const restricted = yield* signInAs("tenant-operator")
        // the rights really are restricted
        const forbidden = yield* Effect.flip(restricted.list(Kind.Secret, { namespace: "tenant-operator" }))
        assert.strictEqual(forbidden._tag, "Forbidden")

        // every call the operator makes goes through the guard: it records what the API server refused
        const guard = RbacGuard.guard(restricted, TenantDeployment.rbac)
        const names = samples.map((s) => s.metadata.name)
        const results = yield* Effect.gen(function*() {
          // the webhooks as main.ts serves them on this machine (kube-apiserver calls 127.0.0.1),
          // their CA Secret where the Deployment's pods keep it
          yield* Webhooks.serve(tenantWebhooks(), { certificates: certificates("tenant-operator"), host: "127.0.0.1", port: 0 })
          const running = yield* TenantOperator.start({ leaderElection: { namespace: "tenant-operator", identity: "pod-a" } })
          yield* running.controller.synced
          for (const sample of samples) yield* admin.create(Tenant, sample)
          for (const name of names) {
            yield* poll(Effect.map(admin.get(Tenant, { name }), (t) => TenantOperator.isReady(t) ? Option.some(t) : Option.none()))
          }
          const quota = yield* admin.get(Kind.ResourceQuota, { namespace: names[0]!, name: "tenant-quota" })
          assert.strictEqual(quota.spec?.hard?.["pods"], String(samples[0]!.spec.quota.pods))
          // the admission webhook (listing Tenants as the operator) refuses team-a's display name;
          // the conversion webhook serves v1beta1
          const twin = { ...samples[0]!, metadata: { name: "twin" } }
          const refused = yield* poll(Effect.map(Effect.result(admin.create(Tenant, twin, { dryRun: true })), (r) =>
            r._tag === "Failure" ? Option.some(r.failure) : Option.none()))
          assert.strictEqual(refused._tag, "Invalid", refused.message)
          assert.deepStrictEqual((refused as { causes: ReadonlyArray<{ field?: string }> }).causes.map((c) => c.field), ["spec.displayName"])
          assert.deepStrictEqual((yield* admin.get(TenantV1beta1, { name: names[0]! })).spec.owners, [samples[0]!.spec.owner])
          for (const name of names) yield* admin.delete(Tenant, { name })
          yield* poll(Effect.gen(function*() {
            const exists = (kind: Kind.Any, name: string) =>
              admin.get(kind, { name }).pipe(Effect.as(true), Effect.catchTag("NotFound", () => Effect.succeed(false)))
            for (const name of names) {
              if ((yield* exists(Tenant, name)) || (yield* exists(Kind.Namespace, name))) return Option.none()
            }
            return Option.some(true)
          }))
          yield* running.events.flush
          const informers = yield* (yield* Informer.Informers).all
          return {
            leading: yield* running.elector!.isLeader,
            controller: yield* running.controller.stats,
            informerErrors: yield* Effect.forEach(informers, (i) =>
              Effect.map(i.stats, (s) => [i.kind.kind, s.errors, s.lastError?.message] as const)),
            events: yield* running.events.stats
          }
        }).pipe(
          Effect.scoped,
          Effect.provide(Informer.layer, { local: true }),
          Effect.provideService(Client.Client, guard.client)
        )
        // the webhook server is gone: its configuration goes too, so the next test's writes are not refused
        yield* admin.delete(ValidatingWebhookConfiguration, { name: TenantWebhooks.name })
        assert.deepStrictEqual((yield* guard.forbidden).map((c) => c.error?.message), [], "the API server refused calls")
        assert.deepStrictEqual(yield* guard.missingRules, [], "the operator made calls its RBAC does not declare")
        const calls = yield* guard.calls
        assert.isAtLeast(calls.length, 20)
        for (const resource of ["secrets", "validatingwebhookconfigurations", "customresourcedefinitions"]) {
          assert.isTrue(calls.some((c) => c.requests.some((r) => r._tag === "ResourceRequest" && r.resource === resource)), `the webhooks layer called on ${resource}`)
        }
        assert.isTrue(results.leading)
        assert.strictEqual(results.controller.errors, 0)
        assert.isAtLeast(results.informerErrors.length, 4)
        for (const [kind, errors, last] of results.informerErrors) assert.strictEqual(errors, 0, `${kind}: ${last}`)
        assert.strictEqual(results.events.failed, 0)
        assert.isAtLeast(results.events.created, 3 * names.length) // NamespaceCreated, Ready, NamespaceDeleting
        const events = yield* admin.list(Kind.Event, { namespace: "default" })
        for (const name of names) {
          assert.includeMembers(
            events.items.filter((e) => e.involvedObject.name === name).map((e) => e.reason),
            ["NamespaceCreated", "Ready", "NamespaceDeleting"]
          )
        }
      }).pipe(Effect.provide(Crd.layer, { local: true })))

    it.effect("with one declared rule left out of its roles, the API server refuses that call with a typed 403 naming it", () =>
      Effect.gen(function*() {
        const admin = yield* Client.Client
        yield* (yield* Crd.Crd).ensureCreated(TenantCrdV1beta1)
        // the roles of the declaration without the settings ConfigMap's writes, for another ServiceAccount
        const less = Rbac.make({
          name: "tenant-operator-less",
          namespace: "tenant-operator",
          permissions: Rbac.without(rbac, (p) => p.reason?.startsWith("resource settings:") === true).permissions
        })
        yield* admin.create(Kind.Namespace, { metadata: { name: "tenant-operator" } }).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
        for (const doc of Rbac.manifests(less)) {
          yield* admin.create(kindOf(doc), doc as Kind.KubeObject).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
        }
        const guard = RbacGuard.guard(yield* signInAs("tenant-operator-less"), rbac)
        const refused = yield* Effect.gen(function*() {
          const running = yield* TenantOperator.start()
          yield* running.controller.synced
          yield* admin.create(Tenant, { ...samples[0]!, metadata: { name: "rbac-less" } })
          return yield* poll(Effect.map(guard.forbidden, (calls) => Option.fromUndefinedOr(calls[0]?.error)))
        }).pipe(
          Effect.scoped,
          Effect.provide(Informer.layer, { local: true }),
          Effect.provideService(Client.Client, guard.client)
        )
        assert.strictEqual(refused._tag, "Forbidden")
        if (refused._tag !== "Forbidden") return
        assert.deepStrictEqual([refused.verb, refused.resource, refused.namespace], ["patch", "configmaps", "rbac-less"])
        assert.include(refused.message, `"patch" on "configmaps" in namespace "rbac-less"`)
        // the declaration has the rule; the roles do not: nothing is undeclared
        assert.deepStrictEqual(yield* guard.missingRules, [])
        yield* admin.delete(Tenant, { name: "rbac-less" })
      }).pipe(Effect.provide(Crd.layer, { local: true })))
  })
})

/** A Client signed in as a ServiceAccount of the namespace tenant-operator (kube-controller-manager puts its token in a Secret). */
const signInAs = (serviceAccount: string) =>
  Effect.gen(function*() {
    const admin = yield* Client.Client
    const token = yield* poll(Effect.gen(function*() {
      const secrets = yield* admin.list(Kind.Secret, { namespace: "tenant-operator" })
      const secret = secrets.items.find((s) =>
        s.type === "kubernetes.io/service-account-token" &&
        s.metadata.annotations?.["kubernetes.io/service-account.name"] === serviceAccount
      )
      return Option.fromUndefinedOr(secret?.data?.["token"])
    }))
    const env = yield* Envtest.Envtest
    const kubeconfig = yield* KubeConfig.fromString([
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{ name: envtest, cluster: { server: "${env.server}", certificate-authority-data: "${Buffer.from(env.caData).toString("base64")}" } }]`,
      `users: [{ name: ${serviceAccount}, user: { token: "${Buffer.from(token, "base64").toString()}" } }]`,
      `contexts: [{ name: envtest, context: { cluster: envtest, user: ${serviceAccount} } }]`,
      "current-context: envtest",
      ""
    ].join("\n"))
    return yield* Client.make(kubeconfig)
  })

/** Polls every 100 ms (real time) until the effect gives Some, for up to 30 seconds. */
const poll = <A, E, R>(effect: Effect.Effect<Option.Option<A>, E, R>) =>
  Effect.gen(function*() {
    const deadline = performance.now() + 30_000
    while (true) {
      const result = yield* effect
      if (Option.isSome(result)) return result.value
      if (performance.now() > deadline) return yield* Effect.die(new Error("timed out after 30 s"))
      yield* Effect.sleep("100 millis")
    }
  })
