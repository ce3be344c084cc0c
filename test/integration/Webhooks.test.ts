import { assert, layer } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { X509Certificate } from "node:crypto"
import { Effect, Exit, Fiber, Layer, Schema, Scope } from "effect"
import * as Admission from "../../src/Admission.ts"
import * as Client from "../../src/Client.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as AdmissionRegistration from "../../src/kinds/admissionregistration/v1.ts"
import * as Patch from "../../src/Patch.ts"
import * as Rbac from "../../src/Rbac.ts"
import type * as KubeError from "../../src/KubeError.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import { eventually } from "../../src/testing/helpers.ts"
import * as RbacGuard from "../../src/testing/RbacGuard.ts"
import * as Webhooks from "../../src/Webhooks.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import * as RoundRobin from "../support/roundRobin.ts"

const suffix = Crypto.randomBytes(3).toString("hex")
const group = `wh${suffix}.operatorkit.test`

const Email = Schema.String.check(Schema.makeFilter((s: string) => s.includes("@") || "must be an email address"))

const GadgetV1 = Kind.custom({
  group,
  version: "v1",
  kind: "Gadget",
  namespaced: true,
  spec: Schema.Struct({ owner: Schema.String, size: Schema.Int.pipe(CrdDefinition.withDefault(1)) })
})
const GadgetV2 = Kind.custom({
  group,
  version: "v2",
  kind: "Gadget",
  namespaced: true,
  spec: Schema.Struct({
    owners: Schema.Array(Email),
    size: Schema.Int,
    tier: Schema.Literals(["gold", "silver"]).pipe(CrdDefinition.withDefault("silver")),
    legacyName: Schema.optionalKey(Schema.String.pipe(Admission.deprecated("use metadata.name")))
  })
})
type GadgetV2 = Kind.Type<typeof GadgetV2>

const GadgetCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: GadgetV1, storage: true }, { kind: GadgetV2 }] })

const definition = Webhooks.makeUnsafe({
  name: `gadget-webhooks-${group.split(".")[0]}`,
  conversions: [Conversion.makeUnsafe(GadgetCrd, [
    Conversion.step(GadgetV1, GadgetV2, {
      decode: (g) => ({ ...g, spec: { owners: g.spec.owner === "" ? [] : [g.spec.owner], size: g.spec.size, tier: "silver" as const } }),
      encode: (g) => ({ ...g, spec: { owner: g.spec.owners[0] ?? "", size: g.spec.size } })
    })
  ])],
  admissions: [Admission.make(GadgetV2, {
    validate: (gadget, request) =>
      Effect.gen(function*() {
        const errors: Array<Admission.FieldError> = []
        const max = gadget.spec.tier === "gold" ? 100 : 10
        if (gadget.spec.size > max) errors.push(Admission.invalid("spec.size", gadget.spec.size, `must be at most ${max} for the ${gadget.spec.tier} tier`))
        const seen = new Set<string>()
        gadget.spec.owners.forEach((o, i) => {
          if (seen.has(o)) errors.push(Admission.duplicate(`spec.owners[${i}]`, o))
          seen.add(o)
        })
        if (request.operation === "UPDATE" && request.oldObject !== undefined && request.oldObject.spec.tier === "gold" && gadget.spec.tier !== "gold") {
          errors.push(Admission.forbidden("spec.tier", "a gold gadget stays gold"))
        }
        // a check that reads the cluster: the namespace must not be marked frozen
        const client = yield* Client.Client
        const ns = yield* client.get(Kind.Namespace, { name: gadget.metadata.namespace! })
        if (ns.metadata.labels?.["frozen"] === "true") errors.push(Admission.forbidden("metadata.namespace", "the namespace is frozen"))
        return errors
      }),
    default: (gadget, request) =>
      Effect.succeed<GadgetV2>({
        ...gadget,
        metadata: { ...gadget.metadata, labels: { ...gadget.metadata.labels, [`${group}/tier`]: gadget.spec.tier } },
        spec: { ...gadget.spec, owners: gadget.spec.owners.length > 0 ? gadget.spec.owners : [`${request.userInfo.username}@cluster.local`] }
      })
  })]
})

const certificates = Webhooks.selfSigned({ secret: { namespace: "default", name: `gadget-ca-${group.split(".")[0]}` } })

// the layer's calls (and the validation's read of the namespace) go through a guard that refuses
// anything its RBAC declaration does not state
const rbac = Rbac.make({
  name: "gadget-operator",
  namespace: "default",
  permissions: [
    Webhooks.permissions(definition, { certificates }),
    Rbac.allow(Kind.Namespace, ["get"], { reason: "the validation reads the object's namespace" })
  ]
})

const WebhooksLive = Webhooks.layer(definition, { host: "127.0.0.1", port: 0, certificates, syncInterval: "2 seconds" }).pipe(
  Layer.provide(RbacGuard.layer(rbac))
)

const Live = Layer.provideMerge(WebhooksLive, Crd.layer.pipe(Layer.provideMerge(cluster())))

/** Waits until the API server calls the webhooks (its caches take a moment after the configurations are written). */
const webhooksReady = (namespace: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const crds = yield* Crd.Crd
    // the layer wrote the CRD's conversion; ensuring the plain definition (no conversion stated) keeps it
    const { crd } = yield* crds.ensureCreated(GadgetCrd)
    assert.strictEqual((crd.spec.conversion as { strategy?: string } | undefined)?.strategy, "Webhook")
    yield* eventually(
      Effect.gen(function*() {
        const created = yield* client.create(GadgetV2, { metadata: { name: "probe", namespace }, spec: { owners: [], size: 1 } } as any, { dryRun: true })
        assert.deepStrictEqual(created.spec.owners, ["envtest-admin@cluster.local"], "the defaulting webhook answered")
      }),
      { timeout: "60 seconds", interval: "200 millis" }
    )
  })

const invalidOf = (e: KubeError.KubeError) => {
  assert.strictEqual(e._tag, "Invalid", e.message)
  return e as KubeError.Invalid
}

layer(Live, { excludeTestServices: true, timeout: "180 seconds" })("Webhooks (real API server)", (it) => {
  it.effect("an invalid object is refused at create with every failing field path, as the API server's own errors", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const namespace = yield* freshNamespace("wh")
      yield* webhooksReady(namespace)
      // sent raw: the Client would not send what its Schema refuses
      const post = (body: unknown) => client.raw({ method: "POST", path: Kind.collectionPath(GadgetV2, namespace), body })
      const error = invalidOf(yield* Effect.flip(post({
        apiVersion: GadgetV2.apiVersion,
        kind: "Gadget",
        metadata: { name: "bad", namespace },
        spec: { owners: ["alice@example.com", "bob", "alice@example.com"], size: 11, tier: "silver" }
      })))
      const causes = error.causes.map((c) => `${c.field}: ${c.message}`).sort()
      assert.deepStrictEqual(causes, [
        "spec.owners[1]: Invalid value: \"bob\": must be an email address"
      ], "the Schema decode fails first (in the defaulting webhook, which runs first): its errors alone")
      assert.match(error.detail, /admission webhook "default\.gadgets\..*" denied the request: Gadget\..* "bad" is invalid: spec\.owners\[1\]: Invalid value: "bob": must be an email address/)

      const second = invalidOf(yield* Effect.flip(client.create(GadgetV2, {
        metadata: { name: "bad", namespace },
        spec: { owners: ["alice@example.com", "alice@example.com"], size: 11, tier: "silver" }
      })))
      assert.deepStrictEqual(second.causes.map((c) => ({ field: c.field, reason: c.reason, message: c.message })), [
        { field: "spec.size", reason: "FieldValueInvalid", message: "Invalid value: 11: must be at most 10 for the silver tier" },
        { field: "spec.owners[1]", reason: "FieldValueDuplicate", message: "Duplicate value: \"alice@example.com\"" }
      ])
      assert.match(second.detail, /is invalid: \[spec\.size: Invalid value: 11: must be at most 10 for the silver tier, spec\.owners\[1\]: Duplicate value: "alice@example.com"\]/)

      // the check reads the cluster
      yield* client.patch(Kind.Namespace, { name: namespace }, Patch.merge({ metadata: { labels: { frozen: "true" } } }))
      const frozen = invalidOf(yield* Effect.flip(client.create(GadgetV2, { metadata: { name: "cold", namespace }, spec: { owners: ["a@b"], size: 1 } } as any)))
      assert.deepStrictEqual(frozen.causes.map((c) => c.field), ["metadata.namespace"])
    }))

  it.effect("a default is filled in by the mutating webhook, on writes in either version", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const namespace = yield* freshNamespace("wh")
      yield* webhooksReady(namespace)
      const created = yield* client.create(GadgetV2, { metadata: { name: "g", namespace }, spec: { owners: [], size: 2, tier: "gold" } } as any)
      assert.deepStrictEqual(created.spec.owners, ["envtest-admin@cluster.local"])
      assert.strictEqual(created.metadata.labels?.[`${group}/tier`], "gold")
      // a v1 write goes through the same webhooks, converted to v2 and back
      const v1 = yield* client.create(GadgetV1, { metadata: { name: "old", namespace }, spec: { owner: "", size: 3 } } as any)
      assert.strictEqual(v1.spec.owner, "envtest-admin@cluster.local")
      assert.strictEqual(v1.metadata.labels?.[`${group}/tier`], "silver")
    }))

  it.effect("v1 objects read back as v2 and v2 objects as v1; a v2 write stored as v1 reads back unchanged as v2", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const namespace = yield* freshNamespace("wh")
      yield* webhooksReady(namespace)
      yield* client.create(GadgetV1, { metadata: { name: "one", namespace }, spec: { owner: "ann@example.com", size: 4 } } as any)
      const asV2 = yield* client.get(GadgetV2, { namespace, name: "one" })
      assert.deepStrictEqual(asV2.spec, { owners: ["ann@example.com"], size: 4, tier: "silver" })

      const written = yield* client.create(GadgetV2, {
        metadata: { name: "two", namespace },
        spec: { owners: ["bo@example.com", "cy@example.com"], size: 50, tier: "gold" }
      } as any)
      const asV1 = yield* client.get(GadgetV1, { namespace, name: "two" })
      assert.deepStrictEqual(asV1.spec, { owner: "bo@example.com", size: 50 })
      assert.isString(asV1.metadata.annotations?.[`conversion.${group}/v2`], "what v1 cannot hold is kept in an annotation")
      const back = yield* client.get(GadgetV2, { namespace, name: "two" })
      assert.deepStrictEqual(back.spec, written.spec)
      assert.deepStrictEqual(back.metadata, written.metadata)
      assert.deepStrictEqual(yield* storedApiVersion(namespace, "two"), `${group}/v1`, "stored as v1")
    }))

  it.effect("the storage migration rewrites objects stored as v1 in v2 through the conversion webhook", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const crds = yield* Crd.Crd
      const namespace = yield* freshNamespace("wh")
      yield* webhooksReady(namespace)
      const made = yield* Effect.forEach(["m1", "m2", "m3"], (name, i) =>
        client.create(GadgetV2, { metadata: { name, namespace }, spec: { owners: [`o${i}@example.com`, "x@example.com"], size: i + 1, tier: "gold" } } as any))
      for (const m of made) assert.strictEqual(yield* storedApiVersion(namespace, m.metadata.name), `${group}/v1`)
      const storedInV2 = CrdDefinition.makeUnsafe({ versions: [{ kind: GadgetV1 }, { kind: GadgetV2, storage: true }] })
      yield* crds.ensureCreated(storedInV2)
      const report = yield* crds.migrate(storedInV2)
      assert.deepStrictEqual(report.storedVersionsAfter, ["v2"])
      for (const m of made) {
        assert.strictEqual(yield* storedApiVersion(namespace, m.metadata.name), `${group}/v2`)
        const read = yield* client.get(GadgetV2, { namespace, name: m.metadata.name })
        assert.deepStrictEqual(read.spec, m.spec, "nothing was lost on the way through v1 and back")
      }
      yield* crds.ensureCreated(GadgetCrd)
    }))

  it.effect("the server stopped: Fail refuses the request, Ignore admits it", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const namespace = yield* freshNamespace("wh")
      const policies = (["Fail", "Ignore"] as const).map((policy) =>
        Webhooks.makeUnsafe({
          name: `policy-${policy.toLowerCase()}-${suffix}`,
          admissions: [Admission.make(Kind.ConfigMap, {
            failurePolicy: policy,
            timeoutSeconds: 5,
            objectSelector: { matchLabels: { [`${group}/policy`]: policy } },
            default: (cm) => Effect.succeed({ ...cm, data: { ...cm.data, admitted: "yes" } })
          })]
        })
      )
      const create = (policy: string, name: string, dryRun = false) =>
        client.create(Kind.ConfigMap, { metadata: { name, namespace, labels: { [`${group}/policy`]: policy } } }, { dryRun })
      const scope = yield* Scope.make()
      for (const definition of policies) {
        yield* Webhooks.serve(definition, {
          host: "127.0.0.1",
          port: 0,
          certificates: Webhooks.selfSigned({ secret: { namespace: "default", name: `${definition.name}-ca` } })
        }).pipe(Scope.provide(scope))
      }
      for (const policy of ["Fail", "Ignore"]) {
        yield* eventually(Effect.map(create(policy, "probe", true), (cm) => assert.strictEqual(cm.data?.["admitted"], "yes")), { timeout: "60 seconds", interval: "200 millis" })
      }
      yield* Scope.close(scope, Exit.void)
      const refused = yield* Effect.flip(create("Fail", "refused"))
      assert.match(refused.message, /failed calling webhook "default\.configmaps\.policy-fail-/)
      const admitted = yield* create("Ignore", "admitted")
      assert.strictEqual(admitted.data?.["admitted"], undefined, "admitted without the webhook")
    }))

  it.effect("CA and serving certificates rotate under a steady stream of creates, two replicas serving: no request fails", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const namespace = yield* freshNamespace("wh")
      const label = `${group}/stream`
      const definition = Webhooks.makeUnsafe({
        name: `rotation-${suffix}`,
        admissions: [Admission.make(Kind.ConfigMap, {
          objectSelector: { matchLabels: { [label]: "yes" } },
          validate: (cm) => Effect.succeed(cm.data?.["forbidden"] !== undefined ? [Admission.forbidden("data[forbidden]", "not here")] : []),
          default: (cm) => Effect.succeed({ ...cm, data: { ...cm.data, admitted: "yes" } })
        })]
      })
      const secret = { namespace: "default", name: `rotation-ca-${suffix}` }
      const targets: Array<number> = []
      const proxy = yield* RoundRobin.make(targets)
      const replicas = yield* Effect.forEach([1, 2], () =>
        Webhooks.serve(definition, {
          host: "127.0.0.1",
          port: 0,
          clientConfig: { url: `https://127.0.0.1:${proxy.port}` },
          certificates: Webhooks.selfSigned({ secret, servingValidity: "20 seconds", propagation: "1 second" }),
          syncInterval: "500 millis"
        }))
      for (const r of replicas) targets.push(r.port)
      const create = (name: string, dryRun = false) =>
        client.create(Kind.ConfigMap, { metadata: { name, namespace, labels: { [label]: "yes" } } }, { dryRun })
      yield* eventually(Effect.map(create("probe", true), (cm) => assert.strictEqual(cm.data?.["admitted"], "yes")), { timeout: "60 seconds", interval: "200 millis" })

      const caOf = Effect.map(client.get(Kind.Secret, secret), (s) => Buffer.from(s.data!["ca.crt"]!, "base64").toString())
      const firstCa = yield* caOf
      // what each write of the configuration carried: its CA generation never goes back
      const seen: Array<{ readonly resourceVersion: string; readonly generation: number }> = []
      const observe = Effect.gen(function*() {
        const vwc = yield* client.get(AdmissionRegistration.ValidatingWebhookConfiguration, { name: definition.name })
        const generation = Number(vwc.metadata.annotations?.[`${definition.name}/webhook-ca-generation`])
        if (seen.at(-1)?.resourceVersion !== vwc.metadata.resourceVersion) seen.push({ resourceVersion: vwc.metadata.resourceVersion!, generation })
      })
      let stop = false
      const failures: Array<string> = []
      let created = 0
      const writer = (w: number) =>
        Effect.gen(function*() {
          for (let i = 0; !stop; i++) {
            const result = yield* Effect.result(create(`s-${w}-${i}`))
            if (result._tag === "Failure") failures.push(result.failure.message)
            else if (result.success.data?.["admitted"] !== "yes") failures.push(`s-${w}-${i} was not defaulted`)
            else created++
          }
        })
      const writers = yield* Effect.forkChild(Effect.all([1, 2, 3, 4].map(writer), { concurrency: "unbounded" }))
      const observer = yield* Effect.forkChild(Effect.forever(Effect.andThen(observe, Effect.sleep("100 millis"))))

      const connections = () => [...proxy.forwarded().values()].reduce((a, b) => a + b, 0)
      yield* Effect.sleep("2 seconds")
      const atRotation = connections()
      yield* replicas[0]!.rotateCa
      // rotated: a new CA signs both replicas' certificates, and the old one left the bundle
      yield* eventually(
        Effect.gen(function*() {
          const ca = yield* caOf
          assert.notStrictEqual(ca, firstCa)
          const state = JSON.parse(Buffer.from((yield* client.get(Kind.Secret, secret)).data!["state.json"]!, "base64").toString())
          assert.deepStrictEqual(state.retired, [])
          for (const r of replicas) {
            const serving = new X509Certificate((yield* r.servingCertificate).cert)
            assert.isTrue(serving.checkIssued(new X509Certificate(ca)))
            assert.strictEqual(yield* r.caBundle, ca)
          }
          const vwc = yield* client.get(AdmissionRegistration.ValidatingWebhookConfiguration, { name: definition.name })
          assert.strictEqual(Buffer.from(vwc.webhooks![0]!.clientConfig.caBundle!, "base64").toString(), ca)
        }),
        { timeout: "120 seconds", interval: "500 millis" }
      )
      // and on a little: the API server's new connections now trust the new CA alone
      yield* Effect.sleep("3 seconds")
      stop = true
      yield* Fiber.join(writers)
      yield* Fiber.interrupt(observer)
      assert.deepStrictEqual(failures, [])
      assert.isAbove(created, 50)
      for (const port of targets) assert.isAbove(proxy.forwarded().get(port) ?? 0, 0, "both replicas served")
      assert.isAbove(connections(), atRotation, "the API server connected anew during the rotation (new bundles, new certificates)")
      const generations = seen.map((s) => s.generation)
      assert.deepStrictEqual(generations, [...generations].sort((a, b) => a - b), "no configuration went back to an older CA generation")
      // each write moved the generation (nobody rewrote a configuration back and forth)
      assert.strictEqual(new Set(generations).size, generations.length)
    }))
})

/** The apiVersion an object is stored with, read from etcd. */
const storedApiVersion = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const env = yield* Envtest.Envtest
    const key = Buffer.from(`/registry/${group}/gadgets/${namespace}/${name}`).toString("base64")
    const body = yield* Effect.promise(() =>
      fetch(`${env.etcdEndpoint}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key }) })
        .then((r) => r.json() as Promise<{ kvs?: Array<{ value: string }> }>)
    )
    const value = body.kvs?.[0]?.value
    return value === undefined ? undefined : (JSON.parse(Buffer.from(value, "base64").toString()) as { apiVersion: string }).apiVersion
  })
