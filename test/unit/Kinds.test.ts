import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import * as SchemaAST from "effect/SchemaAST"
import * as Client from "../../src/Client.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import { decodeObject, encodeObject, type GuardPlan, guardOf } from "../../src/internal/codec.ts"
import * as Kind from "../../src/Kind.ts"
import * as apiextensionsV1 from "../../src/kinds/apiextensions/v1.ts"
import * as appsV1 from "../../src/kinds/apps/v1.ts"
import * as batchV1 from "../../src/kinds/batch/v1.ts"
import * as batchV1beta1 from "../../src/kinds/batch/v1beta1.ts"
import * as coordinationV1 from "../../src/kinds/coordination/v1.ts"
import * as coreV1 from "../../src/kinds/core/v1.ts"
import * as eventsV1 from "../../src/kinds/events/v1.ts"
import * as metaV1 from "../../src/kinds/meta/v1.ts"
import * as networkingV1 from "../../src/kinds/networking/v1.ts"
import * as rbacV1 from "../../src/kinds/rbac/v1.ts"
import * as storageV1 from "../../src/kinds/storage/v1.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

const managedFields = [{
  manager: "kubectl-client-side-apply",
  operation: "Update",
  apiVersion: "v1",
  time: "2026-12-01T10:00:00Z",
  fieldsType: "FieldsV1",
  fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } } }
}]

const meta = (name: string) => ({
  name,
  namespace: "default",
  uid: "0f6c1d7e-8d1c-4f57-9a3e-6c1e8c2f4b11",
  resourceVersion: "4711",
  creationTimestamp: "2026-12-01T10:00:00Z",
  labels: { app: "web" },
  managedFields
})

/** A Pod as a 1.30 server answers it: fields 1.28-1.30 added, at several depths, that the 1.27 document lacks. */
const pod130 = () => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: meta("web-0"),
  spec: {
    containers: [{
      name: "web",
      image: "nginx:1.27",
      ports: [{ containerPort: 80, protocol: "TCP" }],
      resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "100m" } },
      livenessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 10 },
      // 1.29: SleepAction; 1.30: AppArmor profile in the security context
      lifecycle: { preStop: { sleep: { seconds: 5 } } },
      securityContext: { appArmorProfile: { type: "RuntimeDefault" }, runAsNonRoot: true },
      terminationMessagePolicy: "File"
    }],
    // 1.28: sidecar containers (restartPolicy on an init container)
    initContainers: [{ name: "proxy", image: "envoy", restartPolicy: "Always" }],
    securityContext: { appArmorProfile: { type: "Localhost", localhostProfile: "k8s-web" } },
    volumes: [{ name: "cache", emptyDir: {} }, { name: "config", configMap: { name: "web", defaultMode: 420 } }],
    nodeName: "node-1",
    restartPolicy: "Always"
  },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-12-01T10:00:05Z" }],
    // 1.28: hostIPs
    hostIPs: [{ ip: "10.0.0.7" }],
    podIP: "10.1.0.4",
    containerStatuses: [{
      name: "web",
      ready: true,
      restartCount: 0,
      image: "nginx:1.27",
      imageID: "docker.io/library/nginx@sha256:0000",
      started: true,
      state: { running: { startedAt: "2026-12-01T10:00:03Z" } },
      // 1.30: the mounts in the status; 1.31: the user
      volumeMounts: [{ name: "cache", mountPath: "/cache" }],
      user: { linux: { uid: 101, gid: 101 } }
    }]
  },
  futureTopLevel: { added: "in 1.40" }
})

describe("built-in kinds (generated)", () => {
  it("Kind re-exports the generated descriptors, so existing code keeps its names", () => {
    assert.strictEqual(Kind.ConfigMap, coreV1.ConfigMap)
    assert.strictEqual(Kind.Deployment, appsV1.Deployment)
    assert.strictEqual(Kind.Lease, coordinationV1.Lease)
    assert.strictEqual(Kind.ClusterRole, rbacV1.ClusterRole)
    assert.strictEqual(Kind.CustomResourceDefinition, apiextensionsV1.CustomResourceDefinition)
    assert.strictEqual(Kind.ObjectMeta, metaV1.NamedObjectMeta)
    assert.isTrue(Kind.isKind(batchV1.Job))
  })

  it("plural, scope and subresources come from the document's paths", () => {
    const describe = (k: Kind.Any) => [k.apiVersion, k.plural, k.namespaced, k.subresources.status, k.subresources.scale]
    assert.deepStrictEqual(describe(coreV1.Endpoints), ["v1", "endpoints", true, false, false])
    assert.deepStrictEqual(describe(coreV1.Namespace), ["v1", "namespaces", false, true, false])
    assert.deepStrictEqual(describe(coreV1.PersistentVolume), ["v1", "persistentvolumes", false, true, false])
    assert.deepStrictEqual(describe(appsV1.Deployment), ["apps/v1", "deployments", true, true, true])
    assert.deepStrictEqual(describe(appsV1.StatefulSet), ["apps/v1", "statefulsets", true, true, true])
    assert.deepStrictEqual(describe(batchV1beta1.CronJob), ["batch/v1beta1", "cronjobs", true, true, false])
    assert.deepStrictEqual(describe(networkingV1.IngressClass), ["networking.k8s.io/v1", "ingressclasses", false, false, false])
    assert.deepStrictEqual(describe(storageV1.StorageClass), ["storage.k8s.io/v1", "storageclasses", false, false, false])
    assert.deepStrictEqual(describe(eventsV1.Event), ["events.k8s.io/v1", "events", true, false, false])
    assert.deepStrictEqual(describe(coordinationV1.Lease), ["coordination.k8s.io/v1", "leases", true, false, false])
    assert.isTrue(appsV1.Deployment.builtin)
  })

  it("an object of a newer server survives decode, change and encode, unknown fields at every level included", () => {
    const raw = pod130()
    const decoded = decodeObject<coreV1.Pod>(coreV1.Pod, raw)
    if (decoded instanceof Error) throw decoded
    assert.deepStrictEqual(decoded, pod130())
    // change one field the Schema knows, deep inside, the way a reconcile would
    const [web, ...others] = decoded.spec!.containers
    const changed: coreV1.Pod = { ...decoded, spec: { ...decoded.spec!, containers: [{ ...web!, image: "nginx:1.28" }, ...others] } }
    const encoded = encodeObject(coreV1.Pod, changed)
    if (Result.isFailure(encoded)) throw new Error(encoded.failure)
    const expected = pod130()
    expected.spec.containers[0]!.image = "nginx:1.28"
    assert.deepStrictEqual(encoded.success, expected)
    // the same through Schema's own (non-fast-path) decoder
    assert.deepStrictEqual(Schema.decodeUnknownSync(coreV1.Pod.schema)(pod130()), pod130())
  })

  it.effect("a read, change and write through the Client keeps what the Schemas do not model", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const { metadata, ...rest } = pod130()
      yield* client.create(coreV1.Pod, { ...rest, metadata: { name: metadata.name, namespace: "default" } } as coreV1.Pod)
      const read = yield* client.get(coreV1.Pod, { namespace: "default", name: "web-0" })
      const [web] = read.spec!.containers
      yield* client.replace(coreV1.Pod, { ...read, spec: { ...read.spec!, containers: [{ ...web!, image: "nginx:1.28" }] } })
      const again = yield* client.raw({ method: "GET", path: "/api/v1/namespaces/default/pods/web-0" }) as Effect.Effect<any>
      assert.strictEqual(again.spec.containers[0].image, "nginx:1.28")
      assert.deepStrictEqual(again.spec.containers[0].lifecycle, { preStop: { sleep: { seconds: 5 } } })
      assert.deepStrictEqual(again.spec.containers[0].securityContext.appArmorProfile, { type: "RuntimeDefault" })
      assert.deepStrictEqual(again.spec.securityContext, pod130().spec.securityContext)
      assert.deepStrictEqual(again.futureTopLevel, { added: "in 1.40" })
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it.effect("the in-memory server serves every kind Kind re-exports", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const template = { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } }
      const selector = { matchLabels: { app: "web" } }
      const ns = (name: string) => ({ name, namespace: "default" })
      yield* client.create(Kind.StatefulSet, { metadata: ns("db"), spec: { serviceName: "db", selector, template } })
      yield* client.create(Kind.DaemonSet, { metadata: ns("agent"), spec: { selector, template } })
      yield* client.create(Kind.ReplicaSet, { metadata: ns("rs"), spec: { selector, template } })
      yield* client.create(Kind.Endpoints, { metadata: ns("web"), subsets: [{ addresses: [{ ip: "10.1.0.4" }] }] })
      yield* client.create(Kind.PersistentVolumeClaim, { metadata: ns("data"), spec: { resources: { requests: { storage: "1Gi" } } } })
      yield* client.create(Kind.PersistentVolume, { metadata: { name: "pv" }, spec: { capacity: { storage: "1Gi" } } })
      yield* client.create(Kind.Node, { metadata: { name: "node-1" } })
      assert.strictEqual((yield* client.get(Kind.StatefulSet, ns("db"))).spec?.template.spec?.containers[0]?.image, "nginx")
      assert.strictEqual((yield* client.list(Kind.Node)).items.length, 1)
      assert.strictEqual((yield* client.list(Kind.PersistentVolumeClaim, { namespace: "default" })).items.length, 1)
    }).pipe(Effect.provide(TestServer.layer(), { local: true })))

  it("maps the apimachinery value types: int-or-string, quantities and times as on the wire", () => {
    const port = Schema.decodeUnknownSync(coreV1.ServicePort)
    assert.deepStrictEqual(port({ port: 80, targetPort: 8080 }), { port: 80, targetPort: 8080 })
    assert.deepStrictEqual(port({ port: 80, targetPort: "http" }), { port: 80, targetPort: "http" })
    assert.throws(() => port({ port: 80, targetPort: true }))
    assert.throws(() => port({ port: 80.5 }), /integer/)
    assert.deepStrictEqual(Schema.decodeUnknownSync(coreV1.ResourceRequirements)({ limits: { cpu: "1.5", memory: "1Gi" } }), {
      limits: { cpu: "1.5", memory: "1Gi" }
    })
    // a zero time.Time is serialized as null: what a pod template's metadata carries
    const template = { metadata: { creationTimestamp: null, labels: { app: "web" } }, spec: { containers: [{ name: "web" }] } }
    assert.deepStrictEqual(Schema.decodeUnknownSync(coreV1.PodTemplateSpec)(template), template)
    // …while a stored object's metadata has a name
    assert.throws(() => Schema.decodeUnknownSync(coreV1.ConfigMap.schema)({ metadata: { namespace: "a" } }))
  })

  it("a decode failure deep inside names the path", () => {
    const raw = pod130() as any
    delete raw.spec.containers[0].name
    const result = decodeObject(coreV1.Pod, raw)
    assert.instanceOf(result, Error)
    assert.match((result as unknown as { issue: string }).issue, /\["spec"\]\["containers"\]\[0\]\["name"\]/)
  })

  it("a CRD whose Schema embeds a PodTemplateSpec, ports and resources is structural", () => {
    const Runner = Kind.custom({
      group: "runners.example.com",
      version: "v1",
      kind: "Runner",
      namespaced: true,
      spec: Schema.Struct({ template: coreV1.PodTemplateSpec, service: Schema.optionalKey(coreV1.ServiceSpec) })
    })
    const definition = Result.getOrThrow(CrdDefinition.make(Runner))
    const spec = (definition.manifest.spec.versions[0] as any).schema.openAPIV3Schema.properties.spec.properties
    const podSpec = spec.template.properties.spec
    assert.deepStrictEqual(podSpec.required, ["containers"])
    const ports = podSpec.properties.containers.items.properties.ports
    assert.strictEqual(ports["x-kubernetes-list-type"], "map")
    assert.deepStrictEqual(ports["x-kubernetes-list-map-keys"], ["containerPort", "protocol"])
    assert.strictEqual(ports.items.properties.protocol.default, "TCP")
    assert.strictEqual(podSpec.properties.containers.items.properties.livenessProbe.properties.httpGet.properties.port["x-kubernetes-int-or-string"], true)
    assert.deepStrictEqual(podSpec.properties.containers.items.properties.resources.properties.limits.additionalProperties, { type: "string" })
    assert.strictEqual(spec.template.properties.metadata.properties.creationTimestamp.nullable, true)
    assert.strictEqual(podSpec["x-kubernetes-preserve-unknown-fields"], true)
  })
})

/** Each subtree Effect is handed, with its size and whether its JIT compiles it. */
const leaves = (plan: GuardPlan): Array<{ nodes: number; compilable: boolean }> =>
  plan._tag === "Effect"
    ? [plan]
    : plan._tag === "Array"
    ? leaves(plan.item)
    : plan.fields.flatMap((f) => leaves(f.plan))

describe("built-in kinds on the codec's fast path", () => {
  const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: meta("settings"), data: { mode: "fast" } }
  const secret = { apiVersion: "v1", kind: "Secret", metadata: meta("creds"), type: "Opaque", data: { password: "cGFzcw==" } }
  const lease = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: meta("op"),
    spec: { holderIdentity: "op-1", leaseDurationSeconds: 15, acquireTime: "2026-12-01T10:00:00.000000Z", renewTime: "2026-12-01T10:00:10.000000Z", leaseTransitions: 2 }
  }

  it("the hot kinds decode to their input itself (a compiled type guard, no copy)", () => {
    for (const [kind, raw] of [[coreV1.ConfigMap, configMap], [coreV1.Secret, secret], [coordinationV1.Lease, lease], [coreV1.Pod, pod130()]] as const) {
      assert.strictEqual(decodeObject(kind, raw), raw, kind.kind)
    }
  })

  it("ConfigMap, Secret and Lease are one compiled guard each; Pod and the workloads split into compiled subtrees", () => {
    for (const kind of [coreV1.ConfigMap, coreV1.Secret, coordinationV1.Lease]) {
      const plan = guardOf(SchemaAST.toType(kind.schema.ast)).plan
      assert.strictEqual(plan._tag, "Effect", kind.kind)
      assert.isTrue(plan._tag === "Effect" && plan.compilable, kind.kind)
    }
    for (const kind of [coreV1.Pod, appsV1.Deployment, appsV1.StatefulSet, appsV1.DaemonSet, batchV1.Job, batchV1.CronJob]) {
      const plan = guardOf(SchemaAST.toType(kind.schema.ast)).plan
      assert.strictEqual(plan._tag, "Object", kind.kind)
      for (const leaf of leaves(plan)) assert.isTrue(leaf.compilable && leaf.nodes <= 1024, `${kind.kind}: ${JSON.stringify(leaf)}`)
    }
  })

  it("the guard of an open object still wants an object at every level", () => {
    const bad = [
      { ...configMap, metadata: [] },
      { ...configMap, metadata: "cm" },
      { ...configMap, data: ["x"] },
      { ...configMap, data: { k: 1 } },
      { ...configMap, metadata: { ...configMap.metadata, managedFields: [{ ...managedFields[0], fieldsV1: "x" }] } },
      { ...configMap, metadata: { ...configMap.metadata, managedFields: [[]] } },
      [configMap]
    ]
    for (const raw of bad) {
      assert.instanceOf(decodeObject(coreV1.ConfigMap, raw), Error, JSON.stringify(raw).slice(0, 120))
      assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(coreV1.ConfigMap.schema)(raw)))
    }
    const extra = { ...configMap, metadata: { ...configMap.metadata, future: [1] }, future: { a: null } }
    assert.strictEqual(decodeObject(coreV1.ConfigMap, extra), extra)
  })

  it("the split guard accepts and rejects what the Schema does", () => {
    const bad = (f: (pod: any) => void) => {
      const raw = pod130()
      f(raw)
      return raw
    }
    const cases = [
      bad((p) => p.spec.containers[0].name = 1), // inside a large field checked on its own
      bad((p) => p.spec.hostname = 1), // a small field packed with the object's shape
      bad((p) => delete p.spec.containers), // a required large field
      bad((p) => p.metadata.name = null),
      bad((p) => p.status.conditions[0].lastProbeTime = 0),
      bad((p) => p.spec = []),
      bad((p) => p.spec.volumes = {})
    ]
    for (const raw of cases) {
      const fast = decodeObject(coreV1.Pod, raw)
      assert.instanceOf(fast, Error, JSON.stringify(raw.spec).slice(0, 80))
      assert.isTrue(Result.isFailure(Schema.decodeUnknownResult(coreV1.Pod.schema)(raw)))
    }
  })
})
