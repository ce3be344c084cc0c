/**
 * Admission webhooks on both servers: kube-apiserver calls a `Webhooks.serve` server by URL on
 * 127.0.0.1; the in-memory server calls the same handlers in-process (`TestServer.webhooks`).
 * The answers a client sees must be the same.
 */
import { assert } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import * as Admission from "../../src/Admission.ts"
import * as Client from "../../src/Client.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import { eventually as eventuallyTrue } from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Webhooks from "../../src/Webhooks.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, eventually, unique } from "./harness.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const Size = Schema.NumberFromString.check(Schema.isBetween({ minimum: 1, maximum: 10 }))

/** ConfigMaps labelled for one test: `data.size` at most 10, `data.tier` defaulted from the size. */
const definitionFor = (label: string, policy: "Fail" | "Ignore" = "Fail") =>
  Webhooks.makeUnsafe({
    name: label,
    admissions: [Admission.make(Kind.ConfigMap, {
      objectSelector: { matchLabels: { [`contract.operatorkit.test/${label}`]: "yes" } },
      failurePolicy: policy,
      timeoutSeconds: 5,
      validate: (cm: ConfigMap) =>
        Effect.gen(function*() {
          if (cm.data?.["broken"] !== undefined) return yield* Effect.fail(new Error("the check cannot run"))
          const size = cm.data?.["size"]
          if (size === undefined) return [Admission.required("data[size]")]
          const decoded = Schema.decodeUnknownOption(Size)(size)
          return Option.isNone(decoded) ? [Admission.invalid("data[size]", size, "must be a number from 1 to 10")] : []
        }),
      default: (cm: ConfigMap) =>
        Effect.succeed<ConfigMap>({ ...cm, data: { ...cm.data, tier: Number(cm.data?.["size"] ?? "0") > 5 ? "large" : "small" } })
    })]
  })

/** Serves the webhooks to the backend under test until the scope closes; waits until they answer. */
const install = (definition: Webhooks.Definition, probe: (dryRun: boolean) => Effect.Effect<unknown, unknown, Client.Client>) =>
  Effect.gen(function*() {
    const server = yield* Effect.serviceOption(TestServer.TestServer)
    if (Option.isSome(server)) return yield* server.value.webhooks(definition)
    yield* Webhooks.serve(definition, {
      host: "127.0.0.1",
      port: 0,
      certificates: Webhooks.selfSigned({ secret: { namespace: "default", name: `${definition.name}-ca` } })
    })
    // the API server's configuration cache catches up a moment later
    yield* eventuallyTrue(Effect.asVoid(probe(true)), { timeout: "60 seconds", interval: "200 millis" })
  })

const labelled = (label: string, ns: string, name: string, data: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, labels: { [`contract.operatorkit.test/${label}`]: "yes" } },
  data
})

contract("admission webhooks", {}, (it) => {
  it.effect("a refusal: the webhook's Status with its field causes, the message naming the webhook; a default filled in on create and on patch", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const label = unique("wh")
      const path = `/api/v1/namespaces/${ns}/configmaps`
      const definition = definitionFor(label)
      yield* install(definition, (dryRun) =>
        Effect.flatMap(
          backend.send({ method: "POST", path: `${path}${dryRun ? "?dryRun=All" : ""}`, body: labelled(label, ns, "probe", { size: "1" }) }),
          (a) => (a.status === 201 && a.body.data.tier === "small" ? Effect.void : Effect.fail("not yet"))
        ))

      const refused = yield* backend.send({ method: "POST", path, body: labelled(label, ns, "bad", { size: "11" }) })
      assert.strictEqual(refused.status, 422)
      assert.deepStrictEqual(refused.body, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `admission webhook "validate.configmaps.${label}.core" denied the request: ConfigMap "bad" is invalid: data[size]: Invalid value: "11": must be a number from 1 to 10`,
        reason: "Invalid",
        details: {
          name: "bad",
          kind: "ConfigMap",
          causes: [{ reason: "FieldValueInvalid", message: "Invalid value: \"11\": must be a number from 1 to 10", field: "data[size]" }]
        },
        code: 422
      })
      const missing = yield* backend.send({ method: "POST", path, body: labelled(label, ns, "none", {}) })
      assert.strictEqual(missing.body.message, `admission webhook "validate.configmaps.${label}.core" denied the request: ConfigMap "none" is invalid: data[size]: Required value`)

      const created = yield* backend.send({ method: "POST", path, body: labelled(label, ns, "good", { size: "3" }) })
      assert.strictEqual(created.status, 201)
      assert.deepStrictEqual(created.body.data, { size: "3", tier: "small" })
      const read = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "good" })
      assert.deepStrictEqual(read.data, { size: "3", tier: "small" })

      const patched = yield* backend.send({
        method: "PATCH",
        path: `${path}/good`,
        contentType: "application/merge-patch+json",
        body: { data: { size: "7" } }
      })
      assert.strictEqual(patched.status, 200)
      assert.deepStrictEqual(patched.body.data, { size: "7", tier: "large" })
      const refusedPatch = yield* backend.send({ method: "PATCH", path: `${path}/good`, contentType: "application/merge-patch+json", body: { data: { size: "x" } } })
      assert.strictEqual(refusedPatch.status, 422)
      assert.deepStrictEqual((yield* client.get(Kind.ConfigMap, { namespace: ns, name: "good" })).data, { size: "7", tier: "large" }, "nothing written")

      // objects the selector does not pick are not sent
      const other = yield* backend.send({ method: "POST", path, body: { metadata: { name: "other", namespace: ns }, data: { size: "99" } } })
      assert.strictEqual(other.status, 201)
      assert.deepStrictEqual(other.body.data, { size: "99" })
    }).pipe(Effect.scoped))

  it.effect("a check that cannot run: Fail refuses the write with an internal error naming the webhook, Ignore admits it", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const ns = yield* freshNamespace()
      const path = `/api/v1/namespaces/${ns}/configmaps`
      for (const policy of ["Fail", "Ignore"] as const) {
        const label = unique(`wh-${policy.toLowerCase()}`)
        yield* install(definitionFor(label, policy), (dryRun) =>
          Effect.flatMap(
            backend.send({ method: "POST", path: `${path}${dryRun ? "?dryRun=All" : ""}`, body: labelled(label, ns, "probe", { size: "1" }) }),
            (a) => (a.status === 201 && a.body.data.tier === "small" ? Effect.void : Effect.fail("not yet"))
          ))
        const answer = yield* backend.send({ method: "POST", path, body: labelled(label, ns, `broken-${policy.toLowerCase()}`, { size: "1", broken: "yes" }) })
        if (policy === "Fail") {
          assert.strictEqual(answer.status, 500)
          assert.strictEqual(answer.body.reason, "InternalError")
          assert.match(answer.body.message, new RegExp(`^Internal error occurred: failed calling webhook "validate\\.configmaps\\.${label}\\.core": `))
        } else {
          assert.strictEqual(answer.status, 201)
          assert.deepStrictEqual(answer.body.data, { size: "1", broken: "yes", tier: "small" }, "the mutating webhook still answered")
        }
      }
    }).pipe(Effect.scoped))

  it.effect("a conversion webhook: a v2 write with storage v1 is stored as v1 and reads back unchanged as v2; a v1 object reads as v2", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const group = `${unique("conv")}.contract.operatorkit.dev`
      const V1 = Kind.custom({ group, version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
      const V2 = Kind.custom({ group, version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
      const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
      const definition = Webhooks.makeUnsafe({
        name: unique("conv"),
        conversions: [Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, {
          decode: (t) => ({ ...t, spec: { owners: [t.spec.owner] } }),
          encode: (t) => ({ ...t, spec: { owner: t.spec.owners[0] ?? "" } })
        })])]
      })
      yield* client.create(Kind.CustomResourceDefinition, TeamCrd.manifest as never)
      yield* eventually(Effect.result(client.create(V1, { metadata: { name: "old", namespace: ns }, spec: { owner: "erin" } })), (r) => r._tag === "Success")
      const path = (version: string) => `/apis/${group}/${version}/namespaces/${ns}/teams`
      yield* install(definition, () =>
        Effect.flatMap(
          backend.send({ method: "GET", path: `${path("v2")}/old` }),
          (a) => (a.status === 200 && JSON.stringify(a.body.spec) === JSON.stringify({ owners: ["erin"] }) ? Effect.void : Effect.fail("not yet"))
        ))

      const created = yield* backend.send({
        method: "POST",
        path: path("v2"),
        body: { apiVersion: `${group}/v2`, kind: "Team", metadata: { name: "a" }, spec: { owners: ["ann", "bob"] } }
      })
      assert.strictEqual(created.status, 201)
      assert.strictEqual(created.body.apiVersion, `${group}/v2`)
      assert.deepStrictEqual(created.body.spec, { owners: ["ann", "bob"] })
      const asV1 = yield* backend.send({ method: "GET", path: `${path("v1")}/a` })
      assert.strictEqual(asV1.body.apiVersion, `${group}/v1`)
      assert.deepStrictEqual(asV1.body.spec, { owner: "ann" })
      const asV2 = yield* backend.send({ method: "GET", path: `${path("v2")}/a` })
      assert.deepStrictEqual([asV2.body.apiVersion, asV2.body.spec], [`${group}/v2`, { owners: ["ann", "bob"] }])
      const listed = yield* backend.send({ method: "GET", path: path("v2") })
      assert.strictEqual(listed.body.apiVersion, `${group}/v2`)
      assert.deepStrictEqual(
        listed.body.items.map((t: { apiVersion: string; metadata: { name: string }; spec: unknown }) => [t.apiVersion, t.metadata.name, t.spec]),
        [[`${group}/v2`, "a", { owners: ["ann", "bob"] }], [`${group}/v2`, "old", { owners: ["erin"] }]]
      )
    }).pipe(Effect.scoped))
})
