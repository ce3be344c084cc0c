import { assert, describe, it } from "@effect/vitest"
import * as KubeError from "../../src/KubeError.ts"

const request = { verb: "get", path: "/api/v1/namespaces/a/configmaps/b", kind: "ConfigMap", namespace: "a", name: "b" }

describe("KubeError.fromStatus", () => {
  it("maps each Status to its own tag", () => {
    const cases: Array<[number, string, string]> = [
      [404, "NotFound", "NotFound"],
      [409, "AlreadyExists", "AlreadyExists"],
      [409, "Conflict", "Conflict"],
      [422, "Invalid", "Invalid"],
      [403, "Forbidden", "Forbidden"],
      [401, "Unauthorized", "Unauthorized"],
      [410, "Expired", "Gone"],
      [410, "Gone", "Gone"],
      [429, "TooManyRequests", "TooManyRequests"],
      [500, "InternalError", "ServerError"],
      [503, "ServiceUnavailable", "ServerError"],
      [504, "Timeout", "ServerError"],
      [400, "BadRequest", "ApiError"],
      [415, "UnsupportedMediaType", "ApiError"]
    ]
    for (const [code, reason, tag] of cases) {
      const e = KubeError.fromStatus(code, { kind: "Status", code, reason, message: "m" }, request)
      assert.strictEqual(e._tag, tag, `${code} ${reason}`)
      assert.isTrue(KubeError.isKubeError(e))
    }
  })

  it("keeps the field causes of a 422", () => {
    const e = KubeError.fromStatus(422, {
      code: 422,
      reason: "Invalid",
      message: "Widget.example.com \"w\" is invalid: spec.replicas: Invalid value: 200",
      details: { causes: [{ reason: "FieldValueInvalid", message: "Invalid value: 200", field: "spec.replicas" }] }
    }, request)
    assert.strictEqual(e._tag, "Invalid")
    if (e._tag === "Invalid") {
      assert.deepStrictEqual(e.causes, [{ reason: "FieldValueInvalid", message: "Invalid value: 200", field: "spec.replicas" }])
      assert.include(e.message, "spec.replicas: Invalid value: 200")
    }
  })

  it("reads what RBAC refused out of a 403", () => {
    const e = KubeError.fromStatus(403, {
      code: 403,
      reason: "Forbidden",
      message: 'leases.coordination.k8s.io "x" is forbidden: User "u" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "ops"',
      details: { name: "x", group: "coordination.k8s.io", kind: "leases" }
    }, request)
    assert.strictEqual(e._tag, "Forbidden")
    if (e._tag === "Forbidden") {
      assert.strictEqual(e.verb, "update")
      assert.strictEqual(e.resource, "leases.coordination.k8s.io")
      assert.strictEqual(e.namespace, "ops")
    }
  })

  it("carries Retry-After on 429 and uses the body text when there is no Status", () => {
    const e = KubeError.fromStatus(429, "slow down", request, 7)
    assert.strictEqual(e._tag, "TooManyRequests")
    if (e._tag === "TooManyRequests") {
      assert.strictEqual(e.retryAfterSeconds, 7)
      assert.strictEqual(e.detail, "slow down")
    }
    assert.isTrue(KubeError.isRetryable(e))
    assert.isFalse(KubeError.isRetryable(KubeError.fromStatus(409, { reason: "Conflict" }, request)))
  })
})
