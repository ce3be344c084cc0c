import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Kind from "../../src/Kind.ts"

describe("Kind", () => {
  it("builds API paths from the descriptor", () => {
    assert.strictEqual(Kind.collectionPath(Kind.ConfigMap, "a"), "/api/v1/namespaces/a/configmaps")
    assert.strictEqual(Kind.collectionPath(Kind.ConfigMap), "/api/v1/configmaps")
    assert.strictEqual(Kind.objectPath(Kind.Deployment, "a", "web", "scale"), "/apis/apps/v1/namespaces/a/deployments/web/scale")
    assert.strictEqual(Kind.objectPath(Kind.ClusterRole, "ignored", "admin"), "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin")
    assert.strictEqual(Kind.collectionPath(Kind.Lease, "kube-system"), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")
  })

  it("derives plural and list kind names", () => {
    const policy = Kind.custom({ group: "x.io", version: "v1", kind: "Policy", namespaced: true, spec: Schema.Struct({}) })
    assert.strictEqual(policy.plural, "policies")
    assert.strictEqual(policy.listKind, "PolicyList")
    assert.strictEqual(policy.apiVersion, "x.io/v1")
    assert.strictEqual(Kind.custom({ group: "x.io", version: "v1", kind: "Class", namespaced: true, spec: Schema.Struct({}) }).plural, "classes")
    assert.strictEqual(Kind.custom({ group: "x.io", version: "v1", kind: "Day", namespaced: true, spec: Schema.Struct({}) }).plural, "days")
    assert.isFalse(policy.builtin)
    assert.isTrue(Kind.ConfigMap.builtin)
    assert.isTrue(Kind.isKind(policy))
  })

  it("object Schemas keep the fields they do not model, at every modelled level", () => {
    const raw = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: "b", managedFields: [{ manager: "m" }], futureField: { x: 1 } },
      data: { k: "v" },
      topLevelExtra: [1, 2]
    }
    const decoded = Schema.decodeUnknownSync(Kind.ConfigMap.schema)(raw)
    assert.deepStrictEqual(decoded, raw)
    assert.deepStrictEqual(Schema.encodeUnknownSync(Kind.ConfigMap.schema)(decoded), raw)
  })

  it("rejects objects that break the modelled fields", () => {
    assert.throws(() => Schema.decodeUnknownSync(Kind.ConfigMap.schema)({ metadata: { name: "a" }, data: { k: 1 } }))
    assert.throws(() => Schema.decodeUnknownSync(Kind.ConfigMap.schema)({ metadata: {} }))
  })
})
