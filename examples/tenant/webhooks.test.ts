/**
 * The Tenant webhooks on the in-memory API server (which calls the admission handlers as
 * kube-apiserver would) and the v1alpha1 ↔ v1beta1 conversion.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { Client, Conversion, Crd } from "operatorkit"
import { TestServer, withServer } from "operatorkit/testing"
import { Tenant, TenantCrd } from "./Tenant.ts"
import { TenantConversion, TenantWebhooks } from "./webhooks.ts"

const tenant = (name: string, displayName: string) => ({
  metadata: { name },
  spec: { owner: "alice", displayName, quota: { pods: 10, cpu: "4", memory: "8Gi" } }
})

describe("Tenant webhooks", () => {
  it.effect("a second Tenant with a display name already taken is refused, naming the field", () =>
    withServer(Effect.gen(function*() {
      yield* (yield* Crd.Crd).ensureCreated(TenantCrd)
      const server = yield* TestServer.TestServer
      yield* server.webhooks(TenantWebhooks)
      const client = yield* Client.Client
      yield* client.create(Tenant, tenant("blue", "Blue team"))
      const refused = yield* Effect.flip(client.create(Tenant, tenant("azure", "Blue team")))
      assert.strictEqual(refused._tag, "Invalid")
      assert.include((refused as { detail: string }).detail, `admission webhook "validate.tenants.tenancy.example.com" denied the request`)
      assert.deepStrictEqual((refused as { causes: ReadonlyArray<{ field?: string; message: string }> }).causes.map((c) => [c.field, c.message]), [
        ["spec.displayName", "Duplicate value: \"Blue team\": Tenant blue has it"]
      ])
      // its own update keeps the name
      const blue = yield* client.get(Tenant, { name: "blue" })
      yield* client.replace(Tenant, { ...blue, spec: { ...blue.spec, owner: "bob" } })
    }).pipe(Effect.scoped, Effect.provide(Crd.layer, { local: true }))))

  it("v1beta1 owners convert to v1alpha1's owner and back, the others kept in an annotation", () => {
    const v1beta1 = {
      apiVersion: "tenancy.example.com/v1beta1",
      kind: "Tenant",
      metadata: { name: "green" },
      spec: { owners: ["carol", "dave"], quota: { pods: 5, cpu: "2", memory: "4Gi" } }
    }
    const stored = Result.getOrThrow(Conversion.convert(TenantConversion, v1beta1, "v1alpha1"))
    assert.deepStrictEqual(stored["spec"], { owner: "carol", quota: { pods: 5, cpu: "2", memory: "4Gi" } })
    assert.deepStrictEqual(Result.getOrThrow(Conversion.convert(TenantConversion, stored, "v1beta1")), v1beta1)
  })
})
