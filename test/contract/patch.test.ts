import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, failureStatus } from "./harness.ts"

const rejected = failureStatus(422, "Invalid", "the server rejected our request due to an error in our request", {})

const deployment = (namespace: string) => ({
  metadata: { name: "d", namespace },
  spec: {
    selector: { matchLabels: { app: "d" } },
    template: {
      metadata: { labels: { app: "d" } },
      spec: {
        containers: [
          { name: "a", image: "a:1", env: [{ name: "X", value: "1" }] },
          { name: "b", image: "b:1" }
        ]
      }
    }
  }
})

const containers = (d: Kind.Type<typeof Kind.Deployment>) =>
  ((d.spec?.template?.spec as { containers?: Array<{ name: string; image: string }> } | undefined)?.containers ?? [])
    .map((c) => `${c.name}=${c.image}`)

type Entry = { manager: string; operation: string; apiVersion: string; fieldsV1: unknown }

const managed = (o: Kind.KubeObject) =>
  ((o.metadata.managedFields ?? []) as Array<Entry>).map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    fieldsV1: e.fieldsV1
  }))

contract("patches", {}, (it) => {
  describe("JSON and merge patches", () => {
    it.effect("merge patch: null removes a key, objects merge", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "m" }
        yield* client.create(Kind.ConfigMap, { metadata: { ...ref, labels: { keep: "1", drop: "1" } }, data: { a: "1", b: "2" } })
        const merged = yield* client.patch(Kind.ConfigMap, ref, Patch.merge({ metadata: { labels: { drop: null } }, data: { b: null, c: "3" } }))
        assert.deepStrictEqual(merged.data, { a: "1", c: "3" })
        assert.deepStrictEqual(merged.metadata.labels, { keep: "1" })
      }))

    it.effect("JSON patch: add, replace, remove, move, copy; a test guards the resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "j" }
        const created = yield* client.create(Kind.ConfigMap, { metadata: ref, data: { a: "1", b: "2" } })
        const patched = yield* client.patch(Kind.ConfigMap, ref, Patch.json([
          { op: "test", path: "/metadata/resourceVersion", value: created.metadata.resourceVersion },
          { op: "add", path: "/data/c", value: "3" },
          { op: "replace", path: "/data/a", value: "one" },
          { op: "remove", path: "/data/b" },
          { op: "copy", from: "/data/c", path: "/data/d" },
          { op: "move", from: "/data/c", path: "/data/e" },
          { op: "add", path: "/metadata/finalizers", value: ["x.io/a"] },
          { op: "add", path: "/metadata/finalizers/-", value: "x.io/b" },
          { op: "add", path: "/metadata/finalizers/0", value: "x.io/first" }
        ]))
        assert.deepStrictEqual(patched.data, { a: "one", d: "3", e: "3" })
        assert.deepStrictEqual(patched.metadata.finalizers, ["x.io/first", "x.io/a", "x.io/b"])
        const stale = yield* Effect.flip(client.patch(Kind.ConfigMap, ref, Patch.json([
          { op: "test", path: "/metadata/resourceVersion", value: created.metadata.resourceVersion },
          { op: "add", path: "/data/f", value: "4" }
        ])))
        assert.strictEqual(stale._tag, "Invalid")
        yield* client.patch(Kind.ConfigMap, ref, Patch.json([{ op: "replace", path: "/metadata/finalizers", value: [] }]))
      }))

    it.effect("a JSON patch that cannot apply answers 422 with the API server's generic Status", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        yield* client.create(Kind.ConfigMap, { metadata: { name: "j", namespace: ns }, data: { a: "1" } })
        const send = (operations: unknown) =>
          backend.send({
            method: "PATCH",
            path: `/api/v1/namespaces/${ns}/configmaps/j`,
            body: operations,
            contentType: "application/json-patch+json"
          })
        assert.deepStrictEqual(yield* send([{ op: "test", path: "/data/a", value: "2" }]), { status: 422, body: rejected })
        assert.deepStrictEqual(yield* send([{ op: "remove", path: "/data/missing" }]), { status: 422, body: rejected })
        assert.deepStrictEqual(yield* send([{ op: "add", path: "/nope/deeper", value: 1 }]), { status: 422, body: rejected })
        assert.deepStrictEqual(yield* send([{ op: "bogus", path: "/data/a" }]), { status: 422, body: rejected })
        const missing = yield* backend.send({
          method: "PATCH",
          path: `/api/v1/namespaces/${ns}/configmaps/nope`,
          body: { data: {} },
          contentType: "application/merge-patch+json"
        })
        assert.strictEqual(missing.status, 404)
        const unknownType = yield* backend.send({
          method: "PATCH",
          path: `/api/v1/namespaces/${ns}/configmaps/j`,
          body: { data: {} },
          contentType: "application/bogus"
        })
        assert.deepStrictEqual(unknownType, {
          status: 415,
          body: failureStatus(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        })
      }))
  })

  describe("strategic merge", () => {
    it.effect("maps merge; containers merge by name; $patch: delete; $setElementOrder", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "d" }
        yield* client.create(Kind.Deployment, deployment(ns))
        const merged = yield* client.patch(Kind.Deployment, ref, Patch.strategic({
          spec: { template: { spec: { containers: [{ name: "b", image: "b:2" }, { name: "c", image: "c:1" }] } } }
        }))
        assert.deepStrictEqual(containers(merged), ["a=a:1", "b=b:2", "c=c:1"])
        const env = (merged.spec?.template?.spec as any).containers[0].env
        assert.deepStrictEqual(env.map((e: any) => [e.name, e.value]), [["X", "1"]], "untouched containers keep their fields")
        const deleted = yield* client.patch(Kind.Deployment, ref, Patch.strategic({
          spec: { template: { spec: { containers: [{ name: "a", $patch: "delete" }] } } }
        }))
        assert.deepStrictEqual(containers(deleted), ["b=b:2", "c=c:1"])
        const ordered = yield* client.patch(Kind.Deployment, ref, Patch.strategic({
          spec: { template: { spec: { "$setElementOrder/containers": [{ name: "c" }, { name: "b" }], containers: [{ name: "b", image: "b:3" }] } } }
        }))
        assert.deepStrictEqual(containers(ordered), ["c=c:1", "b=b:3"])
        const env2 = yield* client.patch(Kind.Deployment, ref, Patch.strategic({
          spec: { template: { spec: { containers: [{ name: "b", env: [{ name: "Y", value: "2" }] }] } } }
        }))
        assert.deepStrictEqual((env2.spec?.template?.spec as any).containers[1].env.map((e: any) => e.name), ["Y"])
        assert.strictEqual((env2.spec?.template?.spec as any).containers[1].image, "b:3")
      }))

    it.effect("finalizers merge as a set; $deleteFromPrimitiveList removes; ConfigMap data merges", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "f" }
        yield* client.create(Kind.ConfigMap, { metadata: { ...ref, finalizers: ["x.io/a"] }, data: { a: "1" } })
        const added = yield* client.patch(Kind.ConfigMap, ref, Patch.strategic({ metadata: { finalizers: ["x.io/b"] }, data: { b: "2" } }))
        assert.deepStrictEqual(added.metadata.finalizers, ["x.io/b", "x.io/a"])
        assert.deepStrictEqual(added.data, { a: "1", b: "2" })
        const again = yield* client.patch(Kind.ConfigMap, ref, Patch.strategic({ metadata: { finalizers: ["x.io/a"] } }))
        assert.deepStrictEqual(again.metadata.finalizers, ["x.io/b", "x.io/a"], "no duplicates")
        const removed = yield* client.patch(Kind.ConfigMap, ref, Patch.strategic({ metadata: { "$deleteFromPrimitiveList/finalizers": ["x.io/a", "x.io/b"] } }))
        assert.isUndefined(removed.metadata.finalizers?.length ? removed.metadata.finalizers : undefined)
      }))
  })

  describe("server-side apply", () => {
    it.effect("creates the object; a second manager's different values conflict per field; force takes them", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "s" }
        const body = (data: Record<string, string>, labels?: Record<string, string>) => ({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { ...ref, ...(labels !== undefined ? { labels } : {}) },
          data
        })
        const created = yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({ x: "1", y: "1" }, { l: "1" }), { fieldManager: "alpha" }))
        assert.deepStrictEqual(created.data, { x: "1", y: "1" })
        assert.deepStrictEqual(managed(created), [
          { manager: "alpha", operation: "Apply", apiVersion: "v1", fieldsV1: { "f:data": { "f:x": {}, "f:y": {} }, "f:metadata": { "f:labels": { "f:l": {} } } } }
        ])
        const path = `/api/v1/namespaces/${ns}/configmaps/s?fieldManager=beta`
        const conflict = yield* backend.send({
          method: "PATCH",
          path,
          body: body({ x: "2", y: "1", z: "1" }, { l: "2" }),
          contentType: "application/apply-patch+yaml"
        })
        assert.deepStrictEqual(conflict, {
          status: 409,
          body: failureStatus(409, "Conflict", "Apply failed with 2 conflicts: conflicts with \"alpha\":\n- .data.x\n- .metadata.labels.l", {
            causes: [
              { reason: "FieldManagerConflict", message: "conflict with \"alpha\"", field: ".data.x" },
              { reason: "FieldManagerConflict", message: "conflict with \"alpha\"", field: ".metadata.labels.l" }
            ]
          })
        })
        // the same value is no conflict: both own it
        const shared = yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({ y: "1", z: "1" }), { fieldManager: "beta" }))
        assert.deepStrictEqual(shared.data, { x: "1", y: "1", z: "1" })
        const typed = yield* Effect.flip(client.patch(Kind.ConfigMap, ref, Patch.apply(body({ x: "3" }), { fieldManager: "gamma" })))
        assert.strictEqual(typed._tag, "Conflict")
        if (typed._tag === "Conflict") {
          assert.deepStrictEqual(typed.causes, [{ reason: "FieldManagerConflict", message: "conflict with \"alpha\"", field: ".data.x" }])
          assert.strictEqual(typed.detail, "Apply failed with 1 conflict: conflict with \"alpha\": .data.x")
        }
        const forced = yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({ x: "3" }), { fieldManager: "gamma", force: true }))
        assert.strictEqual(forced.data?.["x"], "3")
        assert.deepStrictEqual(managed(forced), [
          { manager: "alpha", operation: "Apply", apiVersion: "v1", fieldsV1: { "f:data": { "f:y": {} }, "f:metadata": { "f:labels": { "f:l": {} } } } },
          { manager: "beta", operation: "Apply", apiVersion: "v1", fieldsV1: { "f:data": { "f:y": {}, "f:z": {} } } },
          { manager: "gamma", operation: "Apply", apiVersion: "v1", fieldsV1: { "f:data": { "f:x": {} } } }
        ])
      }))

    it.effect("updates record ownership; an applier conflicts with them (\"using v1\"); fields an applier drops go unless shared", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "u" }
        const body = (data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: ref, data })
        const created = yield* client.create(Kind.ConfigMap, { metadata: ref, data: { k: "1" } }, { fieldManager: "editor" })
        assert.deepStrictEqual(managed(created), [
          { manager: "editor", operation: "Update", apiVersion: "v1", fieldsV1: { "f:data": { ".": {}, "f:k": {} } } }
        ])
        const conflict = yield* Effect.flip(client.patch(Kind.ConfigMap, ref, Patch.apply(body({ k: "2", a: "1", b: "1" }), { fieldManager: "applier" })))
        assert.strictEqual(conflict._tag, "Conflict")
        if (conflict._tag === "Conflict") {
          assert.strictEqual(conflict.detail, "Apply failed with 1 conflict: conflict with \"editor\" using v1: .data.k")
        }
        yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({ a: "1", b: "1" }), { fieldManager: "applier" }))
        // another manager sets b to the value it has: it owns nothing new (no change)
        const same = yield* client.patch(Kind.ConfigMap, ref, Patch.merge({ data: { b: "1", c: "1" } }), { fieldManager: "other" })
        assert.deepStrictEqual(
          managed(same).find((e) => e.manager === "other")?.fieldsV1,
          { "f:data": { "f:c": {} } }
        )
        yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({ b: "1" }), { fieldManager: "sharer" }))
        const dropped = yield* client.patch(Kind.ConfigMap, ref, Patch.apply(body({}), { fieldManager: "applier" }))
        assert.deepStrictEqual(dropped.data, { k: "1", b: "1", c: "1" }, "a is gone; b stays: sharer applies it too")
      }))

    it.effect("apply needs a field manager (422); dry-run persists nothing", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const noManager = yield* backend.send({
          method: "PATCH",
          path: `/api/v1/namespaces/${ns}/configmaps/x`,
          body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: {} },
          contentType: "application/apply-patch+yaml"
        })
        assert.deepStrictEqual(noManager, {
          status: 422,
          body: failureStatus(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch", {
            group: "meta.k8s.io",
            kind: "PatchOptions",
            causes: [{ reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" }]
          })
        })
        const ref = { namespace: ns, name: "dry" }
        const dry = yield* client.patch(
          Kind.ConfigMap,
          ref,
          Patch.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: ref, data: { a: "1" } }, { fieldManager: "m" }),
          { dryRun: true }
        )
        assert.deepStrictEqual(dry.data, { a: "1" })
        assert.strictEqual((yield* Effect.flip(client.get(Kind.ConfigMap, ref)))._tag, "NotFound")
      }))
  })
})
