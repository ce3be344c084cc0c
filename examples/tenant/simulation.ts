/**
 * The Tenant operator under simulation (operatorkit/testing's Simulation): two replicas with
 * leader election, serving the operator's webhooks (webhooks.ts: the display-name admission, the
 * v1alpha1 ↔ v1beta1 conversion) and held to its declared RBAC (operator.ts's `rbac`); users
 * creating, changing and deleting Tenants in both versions (some writes the webhooks refuse: a
 * taken display name, a quota past its bounds, no owner), replicas scaled and killed, and the
 * standard storm of faults; every Tenant must end Ready with its namespace, quota, binding and
 * settings as its spec says. simulation.test.ts runs a few hundred seeds; `npm run simulate` more.
 */
import { Effect, Option } from "effect"
import { Client, Kind } from "operatorkit"
import { Simulation } from "operatorkit/testing"
import * as TenantOperator from "./operator.ts"
import { Tenant } from "./Tenant.ts"
import { TenantV1beta1, TenantWebhooks } from "./webhooks.ts"

const owners = ["alice", "bob", "carol"]
/** Display names, few enough to collide: the admission refuses a taken one. */
const displayNames = ["Red team", "Blue team"]

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

const displayName = (draw: Simulation.Draw) => (draw.chance(0.3) ? { displayName: draw.pick(displayNames) } : {})

/** Tenants the Schema refuses, as kubectl sends them (the typed Client would not): the webhooks refuse them. */
const invalid = [
  { version: "v1alpha1", spec: { owner: "", quota: { pods: 5 } } },
  { version: "v1alpha1", spec: { owner: "alice", quota: { pods: 5000 } } },
  { version: "v1beta1", spec: { owners: [], quota: { pods: 5 } } }
]
const refused: Simulation.Workload = {
  plan: (draw, context) =>
    Array.from({ length: 3 }, (_, i): Simulation.Step => {
      const { spec, version } = draw.pick(invalid)
      const body = { apiVersion: `${Tenant.group}/${version}`, kind: "Tenant", metadata: { name: `invalid-${i}` }, spec }
      return {
        at: draw.int(0, context.duration - 1),
        description: `kubectl create Tenant invalid-${i} (${version}) with spec ${JSON.stringify(spec)}`,
        action: {
          _tag: "Call",
          run: () =>
            Client.Client.use((client) => client.raw({ method: "POST", path: `/apis/${Tenant.group}/${version}/tenants`, body })).pipe(
              Effect.as("created"),
              Effect.catch((e) => Effect.succeed(`refused: ${e._tag}`))
            )
        }
      }
    })
}

export const simulation = Simulation.make({
  name: "tenant",
  // elected in the namespace the operator runs in, as its RBAC declares
  operator: TenantOperator.layer({ leaderElection: { namespace: TenantOperator.rbac.namespace } }),
  kinds: [Tenant],
  webhooks: TenantWebhooks,
  rbac: TenantOperator.rbac,
  replicas: 2,
  workload: Simulation.workload(
    Simulation.objects(Tenant, {
      create: (name, draw) => ({
        metadata: { name },
        spec: {
          owner: draw.pick(owners),
          ...displayName(draw),
          quota: { pods: draw.int(1, 50), cpu: "4", memory: "8Gi" },
          settings: { tier: draw.pick(["gold", "silver"]) }
        }
      }),
      update: (tenant, draw) => ({
        ...tenant,
        spec: { ...tenant.spec, owner: draw.pick(owners), ...displayName(draw), quota: { ...tenant.spec.quota, pods: draw.int(1, 50) } }
      })
    }),
    Simulation.replicaChurn(),
    // users of v1beta1 (several owners) on the same Tenants, converted to and from the stored
    // v1alpha1 by the conversion webhook
    Simulation.objects(TenantV1beta1, {
      names: ["tenant-0", "tenant-1", "tenant-2"],
      actions: 8,
      create: (name, draw) => ({
        metadata: { name },
        spec: { owners: draw.chance(0.5) ? [draw.pick(owners)] : [draw.pick(owners), draw.pick(owners)], quota: { pods: draw.int(1, 50), cpu: "2", memory: "4Gi" } }
      }),
      update: (tenant, draw) => ({ ...tenant, spec: { ...tenant.spec, owners: [draw.pick(owners), ...tenant.spec.owners.slice(1)] } })
    }),
    refused
  ),
  converged: [Simulation.converges(Tenant, converged)]
})
