/**
 * The Tenant operator's test scenarios, written once and run twice: on the in-memory API server
 * (`TestServer.layer()`, virtual time with TestClock: tenant.test.ts) and on a real control plane
 * (`Envtest`, real time: tenant.envtest.test.ts). `eventually` from operatorkit/testing waits in
 * either: it steps the TestClock when there is one, and polls in real time otherwise.
 */
import * as Crypto from "node:crypto"
import { assert } from "@effect/vitest"
import { Effect, Exit, Option, Scope } from "effect"
import { Client, Crd, Kind, Patch } from "operatorkit"
import * as Testing from "operatorkit/testing"
import * as TenantOperator from "./operator.ts"
import { controllerName } from "./resources.ts"
import { Tenant, TenantCrd } from "./Tenant.ts"

/** Waits for the operator: stepping the TestClock on the in-memory server, polling on Envtest. */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) => Testing.eventually(check, { timeout: "40 seconds" })

const suffix = () => Crypto.randomBytes(3).toString("hex")

const finalizer = `${Tenant.group}/${controllerName}`

const getOption = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, ref: { readonly name: string; readonly namespace?: string }) =>
  Client.Client.use((client) =>
    client.get(kind, ref).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
  )

const must = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, ref: { readonly name: string; readonly namespace?: string }) =>
  Effect.map(getOption(kind, ref), (o) => {
    if (Option.isNone(o)) assert.fail(`${kind.kind} ${ref.namespace !== undefined ? `${ref.namespace}/` : ""}${ref.name} does not exist`)
    return o.value
  })

const gone = (kind: Kind.Any, ref: { readonly name: string; readonly namespace?: string }) =>
  Effect.map(getOption(kind, ref), (o) => assert.isTrue(Option.isNone(o), `${kind.kind} ${ref.name} still exists`))

const readyCondition = (tenant: Tenant) => tenant.status?.conditions?.find((c) => c.type === "Ready")

/** Events about a Tenant (cluster-scoped objects' Events live in `default`). */
const eventsOf = (tenant: string) =>
  Client.Client.use((client) =>
    Effect.map(client.list(Kind.Event, { namespace: "default" }), (list) =>
      list.items.filter((e) => e.involvedObject.kind === "Tenant" && e.involvedObject.name === tenant)
    )
  )

/** The operator's Client: guarded when an RbacGuard is in context, as if it ran in its Lease's namespace. */
const guarded = (guard: Option.Option<Testing.RbacGuard.Guard>, options: TenantOperator.Options) =>
<A, E, R>(start: Effect.Effect<A, E, R>) =>
  Option.isNone(guard)
    ? start
    : Effect.provideService(
      start,
      Client.Client,
      options.leaderElection === undefined ? guard.value.client : guard.value.inNamespace(options.leaderElection.namespace)
    )

/** A scenario's own world: the CRD installed, a label only its Tenants carry, and an operator on them. */
const setup = (options: TenantOperator.Options = {}) =>
  Effect.gen(function*() {
    const crds = yield* Crd.Crd
    yield* crds.ensureCreated(TenantCrd)
    const id = suffix()
    const labels = { "test-id": id }
    // with an RbacGuard in context, the operator runs through it: a call outside its declared RBAC
    // (operator.ts) is refused as a real API server would refuse it, and named
    const guard = yield* Effect.serviceOption(Testing.RbacGuard.RbacGuard)
    const running = yield* TenantOperator.start({ labelSelector: `test-id=${id}`, ...options }).pipe(guarded(guard, options))
    yield* running.controller.synced
    const create = (name: string, spec: Partial<Tenant["spec"]> = {}) =>
      Client.Client.use((client) =>
        client.create(Tenant, {
          metadata: { name, labels },
          spec: { owner: "alice", quota: { pods: 10, cpu: "4", memory: "8Gi" }, ...spec }
        })
      )
    return { id, labels, running, create }
  }).pipe(Effect.provide(Crd.layer, { local: true }))

/** Waits until a Tenant is Ready for its current generation; returns it. */
const ready = (name: string) =>
  eventually(Effect.gen(function*() {
    const tenant = yield* must(Tenant, { name })
    const condition = readyCondition(tenant)
    assert.strictEqual(condition?.status, "True", `Tenant ${name} not Ready: ${JSON.stringify(condition)}`)
    assert.strictEqual(condition?.observedGeneration, tenant.metadata.generation)
    assert.strictEqual(tenant.status?.observedGeneration, tenant.metadata.generation)
    return tenant
  }))

export const scenarios: ReadonlyArray<{
  readonly name: string
  readonly run: Effect.Effect<void, unknown, Client.Client | Scope.Scope>
}> = [
  {
    name: "a new Tenant gets its namespace, quota, owner binding and settings, owned by the Tenant, and becomes Ready",
    run: Effect.gen(function*() {
      const { create } = yield* setup()
      const name = `a-${suffix()}`
      yield* create(name, { owner: "alice", displayName: "Team A", quota: { pods: 20, cpu: "8", memory: "16Gi" }, settings: { tier: "gold" } })
      const tenant = yield* ready(name)
      assert.strictEqual(tenant.status?.namespace, name)
      assert.include(tenant.metadata.finalizers ?? [], finalizer)

      const owner = (o: Kind.KubeObject) =>
        o.metadata.ownerReferences?.map((r) => [r.apiVersion, r.kind, r.name, r.uid, r.controller])
      const expectedOwner = [["tenancy.example.com/v1alpha1", "Tenant", name, tenant.metadata.uid, true]]
      const ns = yield* must(Kind.Namespace, { name })
      assert.deepStrictEqual(owner(ns), expectedOwner)
      assert.strictEqual(ns.metadata.labels?.["app.kubernetes.io/managed-by"], controllerName)
      const quota = yield* must(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" })
      assert.deepStrictEqual(quota.spec?.hard, { pods: "20", "requests.cpu": "8", "requests.memory": "16Gi" })
      assert.deepStrictEqual(owner(quota), expectedOwner)
      const binding = yield* must(Kind.RoleBinding, { namespace: name, name: "tenant-owner" })
      assert.deepStrictEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" })
      assert.deepStrictEqual(binding.subjects?.map((s) => [s.kind, s.name]), [["User", "alice"]])
      assert.deepStrictEqual(owner(binding), expectedOwner)
      const settings = yield* must(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      assert.deepStrictEqual(settings.data, { tier: "gold", owner: "alice", displayName: "Team A" })
      assert.deepStrictEqual(owner(settings), expectedOwner)

      // it explains itself in Events
      yield* eventually(Effect.gen(function*() {
        const reasons = (yield* eventsOf(name)).map((e) => `${e.type} ${e.reason}`)
        assert.includeMembers(reasons, ["Normal NamespaceCreated", "Normal Ready"])
      }))
    })
  },
  {
    name: "a spec change reaches the owned objects and moves the observed generation",
    run: Effect.gen(function*() {
      const client = yield* Client.Client
      const { create } = yield* setup()
      const name = `b-${suffix()}`
      yield* create(name, { owner: "bob", settings: { tier: "silver" } })
      const before = yield* ready(name)
      yield* client.replace(Tenant, {
        ...before,
        spec: { ...before.spec, owner: "dave", quota: { ...before.spec.quota, pods: 3 }, settings: { tier: "gold" } }
      })
      const after = yield* ready(name)
      assert.isAbove(after.metadata.generation!, before.metadata.generation!)
      const quota = yield* must(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" })
      assert.strictEqual(quota.spec?.hard?.["pods"], "3")
      const binding = yield* must(Kind.RoleBinding, { namespace: name, name: "tenant-owner" })
      assert.deepStrictEqual(binding.subjects?.map((s) => s.name), ["dave"])
      const settings = yield* must(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      assert.deepStrictEqual(settings.data, { tier: "gold", owner: "dave" })
    })
  },
  {
    name: "drift is repaired: a deleted ConfigMap comes back, a quota edited by hand is set back",
    run: Effect.gen(function*() {
      const client = yield* Client.Client
      const { create } = yield* setup()
      const name = `c-${suffix()}`
      yield* create(name, { quota: { pods: 7, cpu: "2", memory: "4Gi" } })
      yield* ready(name)
      const first = yield* must(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      yield* client.delete(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      yield* eventually(Effect.gen(function*() {
        const again = yield* must(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
        assert.notStrictEqual(again.metadata.uid, first.metadata.uid)
      }))
      yield* client.patch(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" }, Patch.merge({ spec: { hard: { pods: "999" } } }), {
        fieldManager: "kubectl-edit"
      })
      yield* eventually(Effect.gen(function*() {
        const quota = yield* must(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" })
        assert.strictEqual(quota.spec?.hard?.["pods"], "7")
      }))
    })
  },
  {
    name: "deleting a Tenant deletes its namespace with everything in it; the finalizer holds the Tenant until the namespace is gone",
    run: Effect.gen(function*() {
      const client = yield* Client.Client
      const { create } = yield* setup()
      const name = `d-${suffix()}`
      yield* create(name)
      yield* ready(name)
      yield* client.delete(Tenant, { name })
      yield* eventually(Effect.gen(function*() {
        yield* gone(Kind.Namespace, { name })
        yield* gone(Tenant, { name })
      }))
      yield* gone(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      yield* eventually(Effect.gen(function*() {
        const reasons = (yield* eventsOf(name)).map((e) => e.reason)
        assert.include(reasons, "NamespaceDeleting")
      }))
    })
  },
  {
    name: "a namespace that is not the Tenant's is neither taken over nor deleted; once it is gone the Tenant gets its own",
    run: Effect.gen(function*() {
      const client = yield* Client.Client
      const { create } = yield* setup()
      const name = `e-${suffix()}`
      yield* client.create(Kind.Namespace, { metadata: { name, labels: { team: "someone-else" } } })
      yield* client.create(Kind.ConfigMap, { metadata: { name: "tenant-settings", namespace: name }, data: { theirs: "yes" } })
      yield* create(name)
      yield* eventually(Effect.gen(function*() {
        const condition = readyCondition(yield* must(Tenant, { name }))
        assert.strictEqual(condition?.status, "False")
        assert.strictEqual(condition?.reason, "NamespaceConflict")
      }))
      yield* eventually(Effect.gen(function*() {
        assert.include((yield* eventsOf(name)).map((e) => `${e.type} ${e.reason}`), "Warning NamespaceConflict")
      }))
      const ns = yield* must(Kind.Namespace, { name })
      assert.isUndefined(ns.metadata.ownerReferences)
      assert.deepStrictEqual(ns.metadata.labels?.["team"], "someone-else")
      const theirs = yield* must(Kind.ConfigMap, { namespace: name, name: "tenant-settings" })
      assert.deepStrictEqual(theirs.data, { theirs: "yes" })
      yield* gone(Kind.ResourceQuota, { namespace: name, name: "tenant-quota" })

      // its owner deletes the foreign namespace: the Tenant gets a namespace of its own
      yield* client.delete(Kind.Namespace, { name })
      const tenant = yield* ready(name)
      const own = yield* must(Kind.Namespace, { name })
      assert.deepStrictEqual(own.metadata.ownerReferences?.map((r) => r.uid), [tenant.metadata.uid])

      // and a Tenant deleted while in conflict leaves the other namespace alone
      const other = `f-${suffix()}`
      yield* client.create(Kind.Namespace, { metadata: { name: other } })
      yield* create(other)
      yield* eventually(Effect.gen(function*() {
        assert.strictEqual(readyCondition(yield* must(Tenant, { name: other }))?.reason, "NamespaceConflict")
      }))
      yield* client.delete(Tenant, { name: other })
      yield* eventually(gone(Tenant, { name: other }))
      const left = yield* must(Kind.Namespace, { name: other })
      assert.isUndefined(left.metadata.deletionTimestamp)
    })
  },
  {
    name: "a Tenant that cannot be reconciled says why in its status and an Event, is retried, and does not hold up the others",
    run: Effect.gen(function*() {
      const { create } = yield* setup()
      // a valid Tenant name, but not a valid namespace name: the API server refuses the namespace
      const bad = `bad.${suffix()}`
      const good = `g-${suffix()}`
      yield* create(bad)
      yield* create(good)
      yield* ready(good)
      yield* eventually(Effect.gen(function*() {
        const condition = readyCondition(yield* must(Tenant, { name: bad }))
        assert.strictEqual(condition?.status, "False")
        assert.strictEqual(condition?.reason, "ReconcileError")
        assert.include(condition?.message ?? "", bad)
      }))
      yield* eventually(Effect.gen(function*() {
        assert.include((yield* eventsOf(bad)).map((e) => `${e.type} ${e.reason}`), "Warning ReconcileError")
      }))
    })
  },
  {
    name: "two replicas with leader election: one reconciles; when it stops, the other takes over",
    run: Effect.gen(function*() {
      const client = yield* Client.Client
      const leaseNamespace = `lease-${suffix()}`
      yield* client.create(Kind.Namespace, { metadata: { name: leaseNamespace } })
      const first = yield* Scope.make()
      const a = yield* setup({ leaderElection: { namespace: leaseNamespace, identity: "replica-a" } }).pipe(Scope.provide(first))
      // a must hold the Lease before b starts, or the two race for it
      yield* eventually(Effect.gen(function*() {
        assert.isTrue(yield* a.running.elector!.isLeader)
      }))
      const selector = `test-id=${a.id}`
      const bOptions = { labelSelector: selector, leaderElection: { namespace: leaseNamespace, identity: "replica-b" } }
      const b = yield* TenantOperator.start(bOptions).pipe(guarded(yield* Effect.serviceOption(Testing.RbacGuard.RbacGuard), bOptions))
      yield* a.create(`h-${suffix()}`).pipe(Effect.flatMap((t) => ready(t.metadata.name)))
      const lease = yield* must(Kind.Lease, { namespace: leaseNamespace, name: controllerName })
      assert.strictEqual(lease.spec?.holderIdentity, "replica-a")
      assert.isTrue(yield* a.running.elector!.isLeader)
      assert.isFalse(yield* b.elector!.isLeader)
      assert.strictEqual((yield* b.controller.stats).reconciles, 0)

      // replica a shuts down: it releases the Lease, b takes over and reconciles new Tenants
      yield* Scope.close(first, Exit.void)
      const next = `i-${suffix()}`
      yield* a.create(next)
      yield* ready(next)
      assert.isTrue(yield* b.elector!.isLeader)
      const taken = yield* must(Kind.Lease, { namespace: leaseNamespace, name: controllerName })
      assert.strictEqual(taken.spec?.holderIdentity, "replica-b")
      assert.isAbove((yield* b.controller.stats).reconciles, 0)
    })
  }
]
