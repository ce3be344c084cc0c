import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { Yaml } from "effect/encoding"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Watch from "../../src/Watch.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Events from "../../src/Events.ts"
import * as Framework from "../../src/Framework.ts"
import { makeReconciliation, runResources } from "../../src/internal/controller/reconciliation.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as Owned from "../../src/Owned.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import * as Rbac from "../../src/Rbac.ts"
import * as RbacGuard from "../../src/testing/RbacGuard.ts"
import { withServer } from "../../src/testing/helpers.ts"

const Tenant = Kind.custom({
  group: "tenancy.example.com",
  version: "v1",
  kind: "Tenant",
  namespaced: false,
  spec: Schema.Struct({ owner: Schema.String }),
  subresources: { status: true }
})

const request = (r: Omit<Extract<Rbac.Request, { _tag: "ResourceRequest" }>, "_tag">): Rbac.Request => ({ _tag: "ResourceRequest", ...r })

describe("Rbac", () => {
  describe("requestsOf: the API server's derivation of verb and attributes", () => {
    const one = (method: string, path: string, contentType?: string) => Rbac.requestsOf({ method, path, contentType })
    it("collections, objects, subresources, watches", () => {
      assert.deepStrictEqual(one("GET", "/api/v1/namespaces/a/configmaps"), [
        request({ verb: "list", group: "", resource: "configmaps", subresource: undefined, namespace: "a", name: undefined })
      ])
      assert.deepStrictEqual(one("GET", "/api/v1/configmaps?watch=true&resourceVersion=5"), [
        request({ verb: "watch", group: "", resource: "configmaps", subresource: undefined, namespace: undefined, name: undefined })
      ])
      assert.deepStrictEqual(one("GET", "/apis/apps/v1/watch/namespaces/a/deployments/web"), [
        request({ verb: "watch", group: "apps", resource: "deployments", subresource: undefined, namespace: "a", name: "web" })
      ])
      assert.deepStrictEqual(one("PUT", "/apis/tenancy.example.com/v1/tenants/t/status"), [
        request({ verb: "update", group: "tenancy.example.com", resource: "tenants", subresource: "status", namespace: undefined, name: "t" })
      ])
      assert.deepStrictEqual(one("DELETE", "/api/v1/namespaces/a/pods"), [
        request({ verb: "deletecollection", group: "", resource: "pods", subresource: undefined, namespace: "a", name: undefined })
      ])
      assert.deepStrictEqual(one("POST", "/api/v1/namespaces/a/serviceaccounts/sa/token"), [
        request({ verb: "create", group: "", resource: "serviceaccounts", subresource: "token", namespace: "a", name: "sa" })
      ])
    })

    it("a namespace's own path, its status and finalize stay on the resource namespaces", () => {
      assert.deepStrictEqual(one("GET", "/api/v1/namespaces/team-a"), [
        request({ verb: "get", group: "", resource: "namespaces", subresource: undefined, namespace: undefined, name: "team-a" })
      ])
      assert.deepStrictEqual(one("PUT", "/api/v1/namespaces/team-a/finalize"), [
        request({ verb: "update", group: "", resource: "namespaces", subresource: "finalize", namespace: undefined, name: "team-a" })
      ])
    })

    it("a server-side apply asks for patch, and create for when the object is missing", () => {
      assert.deepStrictEqual(one("PATCH", "/api/v1/namespaces/a/configmaps/c", "application/apply-patch+yaml").map((r) => r._tag === "ResourceRequest" && [r.verb, r.name]), [
        ["patch", "c"],
        ["create", undefined]
      ])
      assert.strictEqual(one("PATCH", "/api/v1/namespaces/a/configmaps/c", "application/merge-patch+json").length, 1)
    })

    it("paths outside /api and /apis are non-resource URLs", () => {
      assert.deepStrictEqual(one("GET", "/metrics"), [{ _tag: "NonResourceRequest", verb: "get", url: "/metrics" }])
      assert.deepStrictEqual(one("GET", "/apis"), [{ _tag: "NonResourceRequest", verb: "get", url: "/apis" }])
    })
  })

  describe("matching", () => {
    const rbac = Rbac.make({
      name: "op",
      namespace: "ops",
      permissions: [
        Rbac.allow(Kind.Lease, ["get", "update"], { namespace: Rbac.operatorNamespace, names: ["op"] }),
        Rbac.allow(Kind.ConfigMap, ["list", "watch"]),
        Rbac.allow(Tenant, ["update"], { subresource: "status" }),
        Rbac.nonResource(["/metrics"], ["get"])
      ]
    })
    it("namespace, names, subresource and verb must all match", () => {
      const lease = (name: string, namespace: string, verb: Rbac.Verb = "get") =>
        request({ verb, group: "coordination.k8s.io", resource: "leases", namespace, name })
      assert.isTrue(Rbac.allows(rbac, lease("op", "ops")))
      assert.isFalse(Rbac.allows(rbac, lease("op", "default")), "another namespace")
      assert.isFalse(Rbac.allows(rbac, lease("other", "ops")), "another name")
      assert.isFalse(Rbac.allows(rbac, lease("op", "ops", "delete")), "another verb")
      assert.isTrue(Rbac.allows(rbac, request({ verb: "watch", group: "", resource: "configmaps", namespace: "x" })), "every namespace")
      assert.isTrue(Rbac.allows(rbac, request({ verb: "update", group: "tenancy.example.com", resource: "tenants", subresource: "status", name: "t" })))
      assert.isFalse(Rbac.allows(rbac, request({ verb: "update", group: "tenancy.example.com", resource: "tenants", name: "t" })), "the resource is not its status")
      assert.isTrue(Rbac.allows(rbac, { _tag: "NonResourceRequest", verb: "get", url: "/metrics" }))
      assert.isFalse(Rbac.allows(rbac, { _tag: "NonResourceRequest", verb: "get", url: "/healthz" }))
    })

    it("a namespace on a cluster-scoped kind is ignored", () => {
      assert.strictEqual(Rbac.allow(Kind.Namespace, ["get"], { namespace: "a" }).namespace, undefined)
    })
  })

  describe("rules: the least ClusterRole and Roles", () => {
    it("merges resources with the same verbs, leaves out what a wider grant covers, and grants collection verbs without names", () => {
      const rbac = Rbac.make({
        name: "op",
        namespace: "ops",
        permissions: [
          Rbac.allow(Kind.ConfigMap, ["list", "watch"], { reason: "informer on ConfigMaps" }),
          Rbac.allow(Kind.Secret, ["watch", "list"], { reason: "informer on Secrets" }),
          Rbac.allow(Kind.ConfigMap, ["list"], { namespace: "a", reason: "covered" }),
          Rbac.allow(Kind.ConfigMap, ["get"], { namespace: "a", names: ["x"] }),
          Rbac.allow(Kind.ConfigMap, ["get"], { namespace: "a" }),
          Rbac.allow(Kind.Lease, ["get", "update", "create"], { namespace: Rbac.operatorNamespace, names: ["op"], reason: "leader election" }),
          Rbac.nonResource(["/metrics"], ["get"], "scrape")
        ]
      })
      const { cluster, namespaces } = Rbac.rules(rbac)
      assert.deepStrictEqual(cluster.map((r) => r.rule), [
        { apiGroups: [""], resources: ["configmaps", "secrets"], verbs: ["list", "watch"] },
        { nonResourceURLs: ["/metrics"], verbs: ["get"] }
      ])
      assert.deepStrictEqual(cluster[0]!.reasons, ["informer on ConfigMaps", "informer on Secrets"])
      assert.deepStrictEqual(namespaces.map((n) => [n.namespace, n.rules.map((r) => r.rule)]), [
        ["ops", [
          { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
          { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["op"], verbs: ["get", "update"] }
        ]],
        ["a", [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }]]
      ])
    })

    it("manifests bind every role to the ServiceAccount; the YAML says who needs each rule", () => {
      const rbac = Rbac.make({
        name: "op",
        namespace: "ops",
        permissions: [
          Rbac.allow(Tenant, ["list", "watch"], { reason: "controller op: informer on Tenants" }),
          Rbac.allow(Kind.Event, ["create", "patch"], { namespace: "default", reason: "Events about Tenants" })
        ]
      })
      const objects = Rbac.manifests(rbac)
      assert.deepStrictEqual(objects.map((o) => [o.kind, o.metadata.name, o.metadata.namespace]), [
        ["ServiceAccount", "op", "ops"],
        ["ClusterRole", "op", undefined],
        ["ClusterRoleBinding", "op", undefined],
        ["Role", "op", "default"],
        ["RoleBinding", "op", "default"]
      ])
      for (const binding of objects.filter((o) => o.kind.endsWith("Binding"))) {
        assert.deepStrictEqual(binding["subjects"], [{ kind: "ServiceAccount", name: "op", namespace: "ops" }])
      }
      const yaml = Rbac.toYaml(rbac)
      assert.include(yaml, "rules:\n  # controller op: informer on Tenants\n  - apiGroups:\n    - tenancy.example.com\n")
      // the YAML parses back to the manifests
      const parsed = yaml.split(/^---$/m).map((d) => Yaml.parse(d))
      assert.deepStrictEqual(parsed, JSON.parse(JSON.stringify(objects)))
    })
  })

  describe("RbacGuard", () => {
    const rbac = Rbac.make({
      name: "op",
      namespace: "ops",
      permissions: [
        Rbac.allow(Kind.ConfigMap, ["get", "list", "watch"], { namespace: "default" }),
        Rbac.allow(Kind.ConfigMap, ["patch"], { namespace: "default" })
      ]
    })

    it.effect("refuses an undeclared call with a Forbidden naming the missing rule, and records every call", () =>
      withServer(Effect.gen(function*() {
        const admin = yield* Client.Client
        yield* admin.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
        const guard = RbacGuard.guard(admin, rbac)
        const client = guard.client
        yield* client.get(Kind.ConfigMap, { namespace: "default", name: "a" })
        yield* client.patch(Kind.ConfigMap, { namespace: "default", name: "a" }, Patch.merge({ data: { k: "v" } }))
        const denied = yield* Effect.flip(client.list(Kind.ConfigMap, { namespace: "kube-system" }))
        assert.strictEqual(denied._tag, "Forbidden")
        assert.include(denied.message, "configmaps")
        assert.include(denied.message, "kube-system")
        // a server-side apply may create: it needs create too
        const apply = yield* Effect.flip(client.patch(
          Kind.ConfigMap,
          { namespace: "default", name: "b" },
          Patch.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "b", namespace: "default" } }, { fieldManager: "op" })
        ))
        assert.strictEqual(apply._tag, "Forbidden")
        assert.strictEqual(apply._tag === "Forbidden" ? apply.verb : "", "create")
        assert.deepStrictEqual(yield* guard.missingRules, [
          `{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] } in a Role in namespace "kube-system"`,
          `{ apiGroups: [""], resources: ["configmaps"], verbs: ["create"] } in a Role in namespace "default"`
        ])
        const calls = yield* guard.calls
        assert.deepStrictEqual(calls.map((c) => [c.allowed, c.outcome]), [[true, "ok"], [true, "ok"], [false, "Forbidden"], [false, "Forbidden"]])
        // a stream is refused when it starts
        const watch = yield* Effect.flip(Effect.scoped(client.watch(Kind.Secret, { namespace: "default" }).pipe(Stream.take(1), Stream.runDrain)))
        assert.strictEqual(watch._tag, "Forbidden")
      })))
  })

  describe("what each part declares", () => {
    it("a controller: list and watch of its kind and of what it watches, get and patch for its finalizer, its resources' calls, its Events", () => {
      const copy = Owned.configMap(Kind.Secret, "copy", () => undefined)
      const needs = Controller.permissions({
        name: "copier",
        kind: Kind.Secret,
        namespace: "team-a",
        resources: [copy],
        watches: [Watch.owns(Kind.ConfigMap, { labelSelector: "a=b" })]
      } as never)
      const rbac = Rbac.make({ name: "copier", namespace: "ops", permissions: needs })
      assert.deepStrictEqual(Rbac.rules(rbac).cluster.map((r) => r.rule), [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "create", "patch", "delete"] }
      ])
      assert.deepStrictEqual(Rbac.rules(rbac).namespaces.map((n) => [n.namespace, n.rules.map((r) => r.rule)]), [
        ["team-a", [
          { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "patch"] }
        ]]
      ])
      assert.isEmpty(Controller.permissions({ name: "x", kind: Kind.Secret, resources: [] } as never, { recordsEvents: false })
        .filter((p) => p._tag === "ResourcePermission" && p.resource === "events"))
    })

    it("Events about a cluster-scoped kind are written in default; leader election's Lease by name in the operator's namespace", () => {
      assert.deepStrictEqual(Events.permissions({ about: [Kind.Namespace, Kind.ConfigMap], namespace: "a" }).map((p) => p.namespace), ["default", "a"])
      const rbac = Rbac.make({ name: "op", namespace: "ops", permissions: LeaderElection.permissions({ name: "op" }) })
      assert.isTrue(Rbac.allows(rbac, request({ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "ops", name: "op" })))
      assert.isTrue(Rbac.allows(rbac, request({ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "ops" })))
      assert.isFalse(Rbac.allows(rbac, request({ verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: "ops", name: "other" })))
    })

    it("withPermissions adds a resource's own calls and keeps them through wrappers", () => {
      const resource = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({ name: "r", ensureCreated: () => Effect.void, ensureDeleted: () => Effect.void })
        .pipe(Framework.withPermissions([Rbac.allow(Kind.Secret, ["get"])]), Framework.withMetrics)
      assert.deepStrictEqual(resource.permissions.map((p) => p.reason), ["resource r"])
    })

    it.effect("Owned: the calls of a create and a delete are the declared ones; with cleanup ownerReference none for the delete", () =>
      withServer(Effect.gen(function*() {
        const admin = yield* Client.Client
        const owner = yield* admin.create(Kind.ConfigMap, { metadata: { name: "owner", namespace: "default" } })
        for (const cleanup of ["delete", "ownerReference"] as const) {
          const copy = Owned.secret(Kind.ConfigMap, "copy", (o) => ({ metadata: { name: `${o.metadata.name}-copy`, namespace: "default" } }), { cleanup })
          const guard = RbacGuard.guard(admin, Rbac.make({ name: "op", namespace: "ops", permissions: copy.permissions }))
          const run = (mode: "create" | "delete") =>
            runResources([copy], owner, makeReconciliation({ controller: "c", key: "default/owner", mode })).pipe(
              Effect.provideService(Client.Client, guard.client)
            )
          yield* run("create")
          yield* run("delete")
          assert.deepStrictEqual(yield* guard.missingRules, [], cleanup)
          const verbs = (yield* guard.calls).flatMap((c) => c.requests.map((r) => r.verb))
          assert.deepStrictEqual(verbs, cleanup === "delete" ? ["patch", "create", "get", "delete"] : ["patch", "create"], cleanup)
        }
      })))

    it.effect("Crd: install, migration and removal make only the declared calls; without removal declared, the delete is refused", () =>
      withServer(Effect.gen(function*() {
        const Widget = Kind.custom({ group: "rbac.example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
        const definition = CrdDefinition.makeUnsafe(Widget)
        const admin = yield* Client.Client
        const run = <A, E>(permissions: ReadonlyArray<Rbac.Permission>, use: (crds: Crd.CrdService) => Effect.Effect<A, E>) =>
          Effect.gen(function*() {
            const guard = RbacGuard.guard(admin, Rbac.make({ name: "op", namespace: "ops", permissions }))
            const result = yield* Crd.Crd.use(use).pipe(Effect.provide(Crd.layer), Effect.provideService(Client.Client, guard.client), Effect.result)
            return { result, missing: yield* guard.missingRules }
          })
        const all = Crd.permissions([definition], { delete: true, migrate: true })
        const installed = yield* run(all, (crds) => crds.ensureCreated(definition))
        assert.deepStrictEqual(installed.missing, [])
        yield* admin.create(Widget, { metadata: { name: "w", namespace: "default" }, spec: { size: 1 } })
        const migrated = yield* run(all, (crds) => crds.migrate(definition))
        assert.deepStrictEqual(migrated.missing, [])
        assert.strictEqual(migrated.result._tag, "Success")
        const refused = yield* run(Crd.permissions([definition]), (crds) => crds.ensureDeleted(definition))
        assert.deepStrictEqual(refused.missing, [
          `{ apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], resourceNames: ["widgets.rbac.example.com"], verbs: ["delete"] } in a ClusterRole`
        ])
        const removed = yield* run(all, (crds) => crds.ensureDeleted(definition))
        assert.deepStrictEqual(removed.missing, [])
        assert.strictEqual(removed.result._tag, "Success")
      })))
  })
})
