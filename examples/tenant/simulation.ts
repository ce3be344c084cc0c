/**
 * The Tenant operator under simulation (operatorkit/testing's Simulation): two replicas with
 * leader election, users creating, changing and deleting Tenants, replicas scaled and killed, and
 * the standard storm of faults; every Tenant must end Ready with its namespace, quota, binding and
 * settings as its spec says. simulation.test.ts runs a few hundred seeds; `npm run simulate` more.
 */
import { Effect, Option } from "effect"
import { Client, Kind } from "operatorkit"
import { Simulation } from "operatorkit/testing"
import * as TenantOperator from "./operator.ts"
import { Tenant } from "./Tenant.ts"

const owners = ["alice", "bob", "carol"]

const getOption = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, ref: { readonly name: string; readonly namespace?: string }) =>
  Client.Client.use((client) => client.get(kind, ref).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeedNone)))

/** Ready for its current spec, with everything it owns as the spec says. */
const converged = (tenant: Tenant) =>
  Effect.gen(function*() {
    if (!TenantOperator.isReady(tenant)) return "not Ready for its generation"
    const name = tenant.metadata.name
    const ns = yield* getOption(Kind.Namespace, { name })
    if (Option.isNone(ns) || ns.value.metadata.deletionTimestamp !== undefined) return "no live namespace"
    const quota = yield* getOption(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" })
    if (Option.isNone(quota) || quota.value.spec?.hard?.["pods"] !== String(tenant.spec.quota.pods)) return "quota differs from the spec"
    const binding = yield* getOption(Kind.RoleBinding, { namespace: name, name: "tenant-owner" })
    if (Option.isNone(binding) || binding.value.subjects?.[0]?.name !== tenant.spec.owner) return "owner binding differs from the spec"
    const settings = yield* getOption(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
    if (Option.isNone(settings) || settings.value.data?.["owner"] !== tenant.spec.owner) return "settings differ from the spec"
    return true
  })

export const simulation = Simulation.make({
  name: "tenant",
  operator: TenantOperator.layer({ leaderElection: { namespace: "default" } }),
  kinds: [Tenant],
  replicas: 2,
  workload: Simulation.workload(
    Simulation.objects(Tenant, {
      create: (name, draw) => ({
        metadata: { name },
        spec: { owner: draw.pick(owners), quota: { pods: draw.int(1, 50), cpu: "4", memory: "8Gi" }, settings: { tier: draw.pick(["gold", "silver"]) } }
      }),
      update: (tenant, draw) => ({ ...tenant, spec: { ...tenant.spec, owner: draw.pick(owners), quota: { ...tenant.spec.quota, pods: draw.int(1, 50) } } })
    }),
    Simulation.replicaChurn()
  ),
  converged: [Simulation.converges(Tenant, converged)]
})
