import { assert, layer } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { Effect, Layer, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as admissionregistrationV1 from "../../src/kinds/admissionregistration/v1.ts"
import * as apiextensionsV1 from "../../src/kinds/apiextensions/v1.ts"
import * as appsV1 from "../../src/kinds/apps/v1.ts"
import * as autoscalingV2beta2 from "../../src/kinds/autoscaling/v2beta2.ts"
import * as batchV1 from "../../src/kinds/batch/v1.ts"
import * as batchV1beta1 from "../../src/kinds/batch/v1beta1.ts"
import * as coordinationV1 from "../../src/kinds/coordination/v1.ts"
import * as coreV1 from "../../src/kinds/core/v1.ts"
import * as eventsV1 from "../../src/kinds/events/v1.ts"
import * as networkingV1 from "../../src/kinds/networking/v1.ts"
import * as policyV1beta1 from "../../src/kinds/policy/v1beta1.ts"
import * as rbacV1 from "../../src/kinds/rbac/v1.ts"
import * as schedulingV1 from "../../src/kinds/scheduling/v1.ts"
import * as storageV1 from "../../src/kinds/storage/v1.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"

const suffix = () => Crypto.randomBytes(3).toString("hex")

const labels = { app: "web" }
const template: coreV1.PodTemplateSpec = {
  metadata: { labels },
  spec: {
    containers: [{
      name: "web",
      image: "nginx:1.27",
      ports: [{ containerPort: 80, name: "http", protocol: "TCP" }],
      resources: { limits: { cpu: "500m", memory: "128Mi" } },
      readinessProbe: { httpGet: { path: "/", port: "http" } },
      env: [{ name: "MODE", value: "fast" }, { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]
    }],
    volumes: [{ name: "cache", emptyDir: { sizeLimit: "1Gi" } }]
  }
}

/** One object of each kind kube-apiserver 1.20.2 serves (CronJob, PodDisruptionBudget and HPA in their 1.20 versions). */
const sample = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, object: NoInfer<A>) => [kind, object] as const

const samples = (namespace: string, s: string): ReadonlyArray<readonly [Kind.Kind<Kind.KubeObject>, Kind.KubeObject]> => {
  const ns = (name: string) => ({ name, namespace })
  const container = { name: "c", image: "busybox" }
  return [
    sample(coreV1.ConfigMap, { metadata: ns("cm"), data: { a: "b" } }),
    sample(coreV1.Secret, { metadata: ns("secret"), stringData: { password: "p" } }),
    sample(coreV1.ServiceAccount, { metadata: ns("sa") }),
    sample(coreV1.Service, { metadata: ns("web"), spec: { selector: labels, ports: [{ port: 80, targetPort: "http" }] } }),
    sample(coreV1.Endpoints, { metadata: ns("web-manual"), subsets: [{ addresses: [{ ip: "10.1.0.4" }], ports: [{ port: 80 }] }] }),
    sample(coreV1.Pod, { metadata: ns("pod"), spec: template.spec! }),
    sample(coreV1.PodTemplate, { metadata: ns("tpl"), template }),
    sample(coreV1.PersistentVolumeClaim, {
      metadata: ns("data"),
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
    }),
    sample(coreV1.PersistentVolume, {
      metadata: { name: `pv-${s}` },
      spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/tmp/pv" } }
    }),
    sample(coreV1.Event, {
      metadata: ns("cm.1"),
      involvedObject: { kind: "ConfigMap", name: "cm", namespace },
      reason: "Synced",
      message: "ok",
      type: "Normal"
    }),
    sample(coreV1.Node, { metadata: { name: `node-${s}`, labels: { zone: "a" } }, spec: { podCIDR: "10.2.0.0/24" } }),
    sample(coreV1.ResourceQuota, { metadata: ns("quota"), spec: { hard: { pods: "10" } } }),
    sample(coreV1.LimitRange, { metadata: ns("limits"), spec: { limits: [{ type: "Container", default: { cpu: "100m" } }] } }),
    sample(appsV1.Deployment, { metadata: ns("web"), spec: { replicas: 2, selector: { matchLabels: labels }, template } }),
    sample(appsV1.StatefulSet, {
      metadata: ns("db"),
      spec: {
        serviceName: "db",
        selector: { matchLabels: labels },
        template,
        volumeClaimTemplates: [{
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } }
        }]
      }
    }),
    sample(appsV1.DaemonSet, { metadata: ns("agent"), spec: { selector: { matchLabels: labels }, template } }),
    sample(appsV1.ReplicaSet, { metadata: ns("rs"), spec: { selector: { matchLabels: labels }, template } }),
    sample(appsV1.ControllerRevision, { metadata: ns("rev"), revision: 1, data: { spec: { template: {} } } }),
    sample(batchV1.Job, {
      metadata: ns("job"),
      spec: { backoffLimit: 2, template: { spec: { containers: [container], restartPolicy: "Never" } } }
    }),
    sample(batchV1beta1.CronJob, {
      metadata: ns("cron"),
      spec: {
        schedule: "*/5 * * * *",
        jobTemplate: { spec: { template: { spec: { containers: [container], restartPolicy: "OnFailure" } } } }
      }
    }),
    sample(networkingV1.IngressClass, { metadata: { name: `nginx-${s}` }, spec: { controller: "example.com/ingress" } }),
    sample(networkingV1.Ingress, {
      metadata: ns("web"),
      spec: {
        rules: [{
          host: "web.example.com",
          http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] }
        }]
      }
    }),
    sample(networkingV1.NetworkPolicy, {
      metadata: ns("deny"),
      spec: { podSelector: { matchLabels: labels }, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 80 }] }] }
    }),
    sample(rbacV1.Role, { metadata: ns("read"), rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] }),
    sample(rbacV1.RoleBinding, {
      metadata: ns("read"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read" },
      subjects: [{ kind: "ServiceAccount", name: "sa", namespace }]
    }),
    sample(rbacV1.ClusterRole, {
      metadata: { name: `agg-${s}` },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [`agg-${s}`]: "true" } }] }
    }),
    sample(rbacV1.ClusterRoleBinding, {
      metadata: { name: `read-${s}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `agg-${s}` },
      subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }]
    }),
    sample(coordinationV1.Lease, {
      metadata: ns("leader"),
      spec: { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: "2026-12-01T10:00:00.000000Z" }
    }),
    sample(storageV1.StorageClass, { metadata: { name: `fast-${s}` }, provisioner: "example.com/disk", parameters: { type: "ssd" } }),
    sample(storageV1.CSIDriver, { metadata: { name: `csi-${s}.example.com` }, spec: { attachRequired: false } }),
    sample(storageV1.VolumeAttachment, {
      metadata: { name: `va-${s}` },
      spec: { attacher: "disk.example.com", nodeName: `node-${s}`, source: { persistentVolumeName: `pv-${s}` } }
    }),
    sample(policyV1beta1.PodDisruptionBudget, { metadata: ns("web"), spec: { minAvailable: 1, selector: { matchLabels: labels } } }),
    sample(autoscalingV2beta2.HorizontalPodAutoscaler, {
      metadata: ns("web"),
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        maxReplicas: 5,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }]
      }
    }),
    sample(schedulingV1.PriorityClass, { metadata: { name: `high-${s}` }, value: 1000 }),
    sample(eventsV1.Event, {
      metadata: ns("ev.1"),
      eventTime: "2026-12-01T10:00:00.000000Z",
      reportingController: "example.com/op",
      reportingInstance: "op-1",
      action: "Sync",
      reason: "Synced",
      regarding: { kind: "ConfigMap", name: "cm", namespace },
      type: "Normal",
      note: "ok"
    }),
    sample(admissionregistrationV1.ValidatingWebhookConfiguration, {
      metadata: { name: `check-${s}` },
      webhooks: [{
        name: "check.example.com",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        clientConfig: { url: "https://127.0.0.1:9443/validate" },
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["nothing-here"] }]
      }]
    }),
    sample(admissionregistrationV1.MutatingWebhookConfiguration, {
      metadata: { name: `mutate-${s}` },
      webhooks: [{
        name: "mutate.example.com",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        clientConfig: { url: "https://127.0.0.1:9443/mutate" },
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["nothing-here"] }]
      }]
    })
  ]
}

const Runner = Kind.custom({
  group: `g${suffix()}.operatorkit.test`,
  version: "v1",
  kind: "Runner",
  namespaced: true,
  spec: Schema.Struct({
    template: coreV1.PodTemplateSpec,
    service: Schema.optionalKey(coreV1.ServiceSpec),
    resources: Schema.optionalKey(coreV1.ResourceRequirements)
  })
})

layer(Crd.layer.pipe(Layer.provideMerge(cluster())), { excludeTestServices: true, timeout: "120 seconds" })(
  "built-in kinds on kube-apiserver 1.20.2",
  (it) => {
    it.effect("one object of every kind 1.20 serves is created, and every object of that kind in the cluster decodes", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const namespace = yield* freshNamespace("kinds")
        const all = samples(namespace, suffix())
        for (const [kind, object] of all) {
          yield* client.create(kind, object).pipe(Effect.mapError((e) => new Error(`create ${kind}: ${e.message}`)))
        }
        // lists fail on the first object that does not decode: the server's own objects (kube-system's
        // ClusterRoles, the default Service and its Endpoints, …) decode as well as ours
        for (const [kind, object] of all) {
          const list = yield* client.list(kind).pipe(Effect.mapError((e) => new Error(`list ${kind}: ${e.message}`)))
          assert.isTrue(list.items.some((o) => o.metadata.name === object.metadata.name), `${kind} lists ${object.metadata.name}`)
        }
        const kinds = new Set(all.map(([k]) => k.toString()))
        assert.strictEqual(kinds.size, 37)
        assert.isTrue(kinds.has("CustomResourceDefinition.apiextensions.k8s.io/v1") === false)
        // and the CRDs (Runner's below, or any other test's)
        yield* client.list(apiextensionsV1.CustomResourceDefinition)
      }))

    it.effect("a typed Deployment is read, changed and written back with everything the server defaulted", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const namespace = yield* freshNamespace("kinds")
        yield* client.create(appsV1.Deployment, { metadata: { name: "web", namespace }, spec: { selector: { matchLabels: labels }, template } })
        const read = yield* client.get(appsV1.Deployment, { namespace, name: "web" })
        // defaults the server filled in, typed
        assert.strictEqual(read.spec?.strategy?.type, "RollingUpdate")
        assert.strictEqual(read.spec?.template.spec?.containers[0]?.terminationMessagePath, "/dev/termination-log")
        assert.strictEqual(read.spec?.template.spec?.containers[0]?.readinessProbe?.httpGet?.port, "http")
        assert.isNull(read.spec?.template.metadata?.creationTimestamp)
        const written = yield* client.replace(appsV1.Deployment, { ...read, spec: { ...read.spec!, replicas: 3 } })
        assert.strictEqual(written.spec?.replicas, 3)
        assert.deepStrictEqual(written.spec?.template, read.spec?.template)
      }))

    it.effect("a CRD whose Schema embeds a PodTemplateSpec is accepted, and its objects round-trip", () =>
      Effect.gen(function*() {
        const crds = yield* Crd.Crd
        const client = yield* Client.Client
        const definition = CrdDefinition.makeUnsafe(Runner)
        yield* crds.ensureCreated(definition)
        const namespace = yield* freshNamespace("kinds")
        const spec = {
          template: { ...template, metadata: { ...template.metadata, creationTimestamp: null } },
          service: { selector: labels, ports: [{ port: 80, targetPort: "http", protocol: "TCP" }] },
          resources: { requests: { cpu: "250m" } }
        }
        yield* client.create(Runner, { metadata: { name: "r", namespace }, spec })
        const read = yield* client.get(Runner, { namespace, name: "r" })
        assert.deepStrictEqual(read.spec, spec)
        // the schema is enforced: a container needs a name
        const refused = yield* client.raw({
          method: "POST",
          path: Kind.collectionPath(Runner, namespace),
          body: { apiVersion: Runner.apiVersion, kind: "Runner", metadata: { name: "bad" }, spec: { template: { spec: { containers: [{ image: "x" }] } } } }
        }).pipe(Effect.flip)
        assert.strictEqual(refused._tag, "Invalid")
      }))
  }
)
