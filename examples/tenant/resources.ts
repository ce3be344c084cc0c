/**
 * What the operator keeps for each Tenant: one `Framework.Resource` per part of the world, run in
 * this order by the controller (ensureCreated while the Tenant lives, ensureDeleted once it is
 * deleted; the finalizer guarantees the second).
 *
 * 1. `namespace`: the Namespace named after the Tenant. An existing namespace that is not the
 *    Tenant's is never taken over nor deleted (Ready=False, reason NamespaceConflict). Deleting a
 *    Tenant deletes its namespace and keeps the finalizer until the namespace is gone.
 * 2. `quota`, `ownerBinding`, `settings`: a ResourceQuota, a RoleBinding and a ConfigMap inside the
 *    namespace, server-side applied with an owner reference (`Owned`). They go with the namespace.
 * 3. `status`: Ready=True with the observed generation, and an Event when the Tenant becomes Ready.
 *
 * Each resource declares the API calls it makes (`permissions`, see `Rbac`); with the
 * controller's own they are the operator's RBAC (operator.ts), and the tests run the operator
 * through a Client that refuses anything undeclared (RbacGuard).
 */
import { Clock, DateTime, Effect, Metric, Option } from "effect"
import { Client, Events, Framework, Kind, Owned, Rbac, Status } from "operatorkit"
import { Tenant } from "./Tenant.ts"

/** The controller's name: its finalizer, its field manager and its Events' source. */
export const controllerName = "tenant-operator"

/** Every object the operator creates carries this label (its informers watch only those). */
export const managedBy = "app.kubernetes.io/managed-by=tenant-operator"

/** The cluster role the owner gets in the tenant's namespace (a default role of every cluster). */
export const ownerRole = "admin"

/** Namespaces the operator created, for `/metrics` (an Effect metric exposed by `Metrics.layer()`). */
export const namespacesCreated = Metric.counter("tenant_operator_namespaces_created_total", {
  description: "Namespaces the tenant operator created",
  incremental: true
})

const labelsOf = (tenant: Tenant) => ({
  "app.kubernetes.io/managed-by": controllerName,
  "tenancy.example.com/tenant": tenant.metadata.name
})

const ownedBy = (object: Kind.KubeObject, tenant: Tenant) =>
  object.metadata.ownerReferences?.some((ref) => ref.kind === Tenant.kind && ref.uid === tenant.metadata.uid) ?? false

const now = Effect.map(Clock.currentTimeMillis, (millis) => DateTime.formatIso(DateTime.makeUnsafe(millis)).replace(/\.\d{3}Z$/, "Z"))

/** Sets the Ready condition (and the namespace and observed generation) through `/status`. */
export const setReady = (tenant: Tenant, ready: Status.ConditionInput["status"], reason: string, message: string) =>
  Effect.gen(function*() {
    const at = yield* now
    return yield* Status.update(Tenant, tenant, (status) => ({
      ...status,
      namespace: tenant.metadata.name,
      ...(tenant.metadata.generation !== undefined ? { observedGeneration: tenant.metadata.generation } : {}),
      conditions: Status.setCondition(status?.conditions, { type: "Ready", status: ready, reason, message }, {
        observedGeneration: tenant.metadata.generation,
        now: at
      })
    }))
  })

const getNamespace = (name: string) =>
  Client.Client.use((client) =>
    client.get(Kind.Namespace, { name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
  )

const applyNamespace = Owned.make(Tenant, Kind.Namespace, "namespace", (tenant) => ({
  metadata: { name: tenant.metadata.name, labels: labelsOf(tenant) }
}))

/** The tenant's Namespace. */
export const namespace = Framework.make<Tenant>()({
  name: "namespace",
  // read (is it ours?), server-side applied (created when missing), deleted with the Tenant; and
  // the Tenant's status (Ready=False while it is in conflict or going)
  permissions: [
    Rbac.allow(Kind.Namespace, ["get", "create", "patch", "delete"], { reason: "resource namespace: the tenant's namespace, read, server-side applied, deleted with the Tenant" }),
    ...Status.permissions(Tenant)
  ],
  ensureCreated: (tenant) =>
    Effect.gen(function*() {
      const name = tenant.metadata.name
      const existing = yield* getNamespace(name)
      if (Option.isSome(existing) && !ownedBy(existing.value, tenant)) {
        const message = `namespace ${name} already exists and does not belong to this tenant; it is left alone`
        yield* setReady(tenant, "False", "NamespaceConflict", message)
        yield* Events.recordIfPresent(tenant, { type: "Warning", reason: "NamespaceConflict", message })
        // skip the other resources; a change of that namespace brings the Tenant back (see operator.ts)
        return yield* Framework.cancelReconciliation
      }
      if (Option.isSome(existing) && existing.value.metadata.deletionTimestamp !== undefined) {
        // someone deleted it: nothing can be created in it until it is gone, then it is created again
        yield* setReady(tenant, "False", "NamespaceTerminating", `namespace ${name} is being deleted; it is created again once gone`)
        yield* Framework.requeueAfter("2 seconds")
        return yield* Framework.cancelReconciliation
      }
      yield* applyNamespace.ensureCreated(tenant)
      if (Option.isNone(existing)) {
        yield* Metric.update(namespacesCreated, 1)
        yield* Events.recordIfPresent(tenant, { type: "Normal", reason: "NamespaceCreated", message: `created namespace ${name}` })
      }
    }),
  ensureDeleted: (tenant) =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const name = tenant.metadata.name
      const existing = yield* getNamespace(name)
      // gone, or never ours: nothing to clean up
      if (Option.isNone(existing) || !ownedBy(existing.value, tenant)) return
      if (existing.value.metadata.deletionTimestamp === undefined) {
        yield* client.delete(Kind.Namespace, { name }).pipe(Effect.catchTag("NotFound", () => Effect.succeedNone))
        yield* Events.recordIfPresent(tenant, { type: "Normal", reason: "NamespaceDeleting", message: `deleting namespace ${name}` })
      }
      // The namespace controller deletes what it holds, then the namespace itself. Keep the
      // finalizer until then: the Tenant goes only once everything it owned is gone.
      yield* setReady(tenant, "False", "Deleting", `waiting for namespace ${name} to be deleted`)
      yield* Framework.keepFinalizers
      yield* Framework.requeueAfter("2 seconds")
    })
})

/** Objects inside the tenant's namespace go with it: their own ensureDeleted has nothing to do. */
const insideNamespace = { cleanup: "ownerReference" } as const

/** The namespace's ResourceQuota, from `spec.quota`. */
export const quota = Owned.make(Tenant, Kind.ResourceQuota, "quota", (tenant) => ({
  metadata: { name: "tenant-quota", namespace: tenant.metadata.name, labels: labelsOf(tenant) },
  spec: {
    hard: {
      pods: String(tenant.spec.quota.pods),
      "requests.cpu": tenant.spec.quota.cpu,
      "requests.memory": tenant.spec.quota.memory
    }
  }
}), insideNamespace)

/** `spec.owner` is admin of the namespace. */
export const ownerBinding = Owned.make(Tenant, Kind.RoleBinding, "owner-binding", (tenant) => ({
  metadata: { name: "tenant-owner", namespace: tenant.metadata.name, labels: labelsOf(tenant) },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: ownerRole },
  subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: tenant.spec.owner }]
}), insideNamespace).pipe(
  // binding someone to a ClusterRole takes either every right of that role, or the right to bind it
  Framework.withPermissions([Rbac.allow(Kind.ClusterRole, ["bind"], { names: [ownerRole], reason: `resource owner-binding: binds the owner to the ClusterRole ${ownerRole}` })])
)

/** `spec.settings` (and who owns the tenant) as a ConfigMap the tenant's workloads can mount. */
export const settings = Owned.configMap(Tenant, "settings", (tenant) => ({
  metadata: { name: "tenant-settings", namespace: tenant.metadata.name, labels: labelsOf(tenant) },
  data: {
    ...tenant.spec.settings,
    owner: tenant.spec.owner,
    ...(tenant.spec.displayName !== undefined ? { displayName: tenant.spec.displayName } : {})
  }
}), insideNamespace)

/** Ready=True once everything above is in place; an Event when the Tenant becomes Ready. */
export const status = Framework.make<Tenant>()({
  name: "status",
  permissions: Status.permissions(Tenant),
  ensureCreated: (tenant) =>
    Effect.gen(function*() {
      const wasReady = Status.isTrue(tenant.status?.conditions, "Ready")
      yield* setReady(tenant, "True", "Reconciled", `namespace ${tenant.metadata.name} with quota, owner binding and settings`)
      if (!wasReady) yield* Events.recordIfPresent(tenant, { type: "Normal", reason: "Ready", message: "the tenant is ready" })
    }),
  ensureDeleted: () => Effect.void
})

/** The resources in the order the controller runs them, each counted and traced. */
export const resources = [namespace, quota, ownerBinding, settings, status].map((resource) =>
  resource.pipe(Framework.timeout("30 seconds"), Framework.withMetrics, Framework.withTracing)
)
