/**
 * The Tenant operator on the in-memory API server, in virtual time (TestClock): fast and
 * deterministic. tenant.envtest.test.ts runs the same scenarios on a real control plane.
 *
 * The operator runs through an RbacGuard: every call it makes must be allowed by the RBAC it
 * declares (operator.ts), or the call is refused with a Forbidden naming the missing rule and the
 * test fails listing it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Client, Crd, Rbac } from "operatorkit"
import { eventually, RbacGuard, withServer } from "operatorkit/testing"
import * as TenantOperator from "./operator.ts"
import { rbac } from "./operator.ts"
import { samples } from "./samples.ts"
import { scenarios } from "./scenarios.ts"
import { Tenant, TenantCrd } from "./Tenant.ts"

describe("Tenant operator on the in-memory API server", () => {
  for (const scenario of scenarios) {
    // a fresh server for each test (layers are otherwise shared across provides)
    it.effect(scenario.name, () =>
      withServer(Effect.gen(function*() {
        const guard = yield* RbacGuard.make(rbac)
        yield* scenario.run.pipe(Effect.provideService(RbacGuard.RbacGuard, guard))
        assert.deepStrictEqual(yield* guard.missingRules, [], "the operator made calls its RBAC does not declare")
        assert.isNotEmpty((yield* guard.calls).filter((c) => c.allowed), "the operator ran through the guard")
      })))
  }

  it.effect("without one declared rule, the operator's call is refused and the guard names the rule", () =>
    withServer(Effect.gen(function*() {
      yield* (yield* Crd.Crd).ensureCreated(TenantCrd)
      // the owner binding's right to bind the ClusterRole admin, left out
      const noBind = Rbac.without(rbac, (p) => p._tag === "ResourcePermission" && p.resource === "clusterroles")
      const guard = yield* RbacGuard.make(noBind)
      const running = yield* TenantOperator.start().pipe(Effect.provideService(Client.Client, guard.client))
      yield* running.controller.synced
      yield* (yield* Client.Client).create(Tenant, samples[0]!)
      const missing = yield* eventually(Effect.gen(function*() {
        const rules = yield* guard.missingRules
        assert.isNotEmpty(rules)
        return rules
      }))
      assert.deepStrictEqual(missing, [
        // the API server checks bind on the ClusterRole in the binding's namespace (the Tenant's)
        `{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], resourceNames: ["admin"], verbs: ["bind"] } in a Role in namespace "${samples[0]!.metadata.name}"`
      ])
    }).pipe(Effect.provide(Crd.layer, { local: true }))))
})
