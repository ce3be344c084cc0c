import { assert, describe } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, establishedWidgets, eventually, failureStatus, unique } from "./harness.ts"

contract("custom resources", {}, (it) => {
  describe("CustomResourceDefinitions", () => {
    it.effect("a new CRD answers without conditions, then becomes Established with its names accepted", () =>
      Effect.gen(function*() {
        const { created, crd, established } = yield* establishedWidgets
        assert.strictEqual(created.metadata.generation, 1)
        assert.deepStrictEqual(created.status?.acceptedNames, { plural: "", kind: "" })
        assert.deepStrictEqual(created.status?.storedVersions, ["v1"])
        assert.isTrue((created.status?.conditions ?? []).length === 0)
        assert.deepStrictEqual(created.spec.names, { plural: "widgets", kind: "Widget", singular: "widget", listKind: "WidgetList" })
        assert.deepStrictEqual(created.spec.conversion, { strategy: "None" })
        const conditions = (established.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason])
        assert.deepStrictEqual(conditions, [
          ["NamesAccepted", "True", "NoConflicts"],
          ["Established", "True", "InitialNamesAccepted"]
        ])
        assert.deepStrictEqual(established.status?.acceptedNames, { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" })
        assert.strictEqual(established.metadata.name, crd.metadata.name)
      }))

    it.effect("the kind is served in every served version; list items carry apiVersion and kind", () =>
      Effect.gen(function*() {
        const { kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        yield* client.create(kind, { metadata: { name: "w", namespace: ns }, spec: { size: 1 } })
        const beta = yield* backend.send({ method: "GET", path: `/apis/${kind.group}/v1beta1/namespaces/${ns}/widgets/w` })
        assert.strictEqual(beta.status, 200)
        assert.strictEqual(beta.body.apiVersion, `${kind.group}/v1beta1`)
        assert.deepStrictEqual(beta.body.spec, { size: 1 })
        const list = yield* backend.send({ method: "GET", path: `/apis/${kind.group}/v1/namespaces/${ns}/widgets` })
        assert.strictEqual(list.body.kind, "WidgetList")
        assert.strictEqual(list.body.apiVersion, `${kind.group}/v1`)
        assert.strictEqual(list.body.metadata.continue, "")
        assert.strictEqual(list.body.items[0].kind, "Widget")
        assert.strictEqual(list.body.items[0].apiVersion, `${kind.group}/v1`)
        const missing = yield* backend.send({ method: "GET", path: `/apis/${kind.group}/v2/namespaces/${ns}/widgets` })
        assert.strictEqual(missing.status, 404)
      }))

    it.effect("deleting a CRD deletes its objects, then the CRD, and the kind is no longer served", () =>
      Effect.gen(function*() {
        const { crd, kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        yield* client.create(kind, { metadata: { name: "w", namespace: ns }, spec: {} })
        const pending = yield* client.delete(Kind.CustomResourceDefinition, { name: crd.metadata.name })
        assert.isTrue(Option.isSome(pending))
        const deleting = Option.getOrThrow(pending)
        assert.isString(deleting.metadata.deletionTimestamp)
        assert.include(deleting.metadata.finalizers ?? [], "customresourcecleanup.apiextensions.k8s.io")
        yield* eventually(Effect.flip(client.get(Kind.CustomResourceDefinition, { name: crd.metadata.name })), (e) => e._tag === "NotFound")
        const gone = yield* eventually(Effect.flip(client.list(kind, { namespace: ns })), (e) => e._tag === "NotFound")
        assert.strictEqual(gone._tag, "NotFound")
      }))
  })

  describe("custom objects", () => {
    it.effect("generation moves on spec changes only; updates need a resourceVersion; strategic merge is 415", () =>
      Effect.gen(function*() {
        const { kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const created = yield* client.create(kind, { metadata: { name: "w", namespace: ns }, spec: { size: 1 } })
        assert.strictEqual(created.metadata.generation, 1)
        const labelled = yield* client.replace(kind, { ...created, metadata: { ...created.metadata, labels: { a: "b" } } })
        assert.strictEqual(labelled.metadata.generation, 1)
        const resized = yield* client.replace(kind, { ...labelled, spec: { size: 2 } })
        assert.strictEqual(resized.metadata.generation, 2)
        const path = `/apis/${kind.group}/v1/namespaces/${ns}/widgets/w`
        const { resourceVersion: _, ...unversioned } = resized.metadata
        const unconditional = yield* backend.send({ method: "PUT", path, body: { ...resized, metadata: unversioned } })
        assert.deepStrictEqual(unconditional, {
          status: 422,
          body: failureStatus(422, "Invalid", `widgets.${kind.group} "w" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`, {
            name: "w",
            group: kind.group,
            kind: "widgets",
            causes: [{ reason: "FieldValueInvalid", message: "Invalid value: 0x0: must be specified for an update", field: "metadata.resourceVersion" }]
          })
        })
        const strategic = yield* backend.send({ method: "PATCH", path, body: { spec: {} }, contentType: "application/strategic-merge-patch+json" })
        assert.deepStrictEqual(strategic, {
          status: 415,
          body: failureStatus(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        })
        assert.deepStrictEqual(yield* backend.send({ method: "GET", path: `${path}-nope` }), {
          status: 404,
          body: failureStatus(404, "NotFound", `widgets.${kind.group} "w-nope" not found`, { name: "w-nope", group: kind.group, kind: "widgets" })
        })
      }))

    it.effect("status subresource: the main resource ignores status, /status changes only status", () =>
      Effect.gen(function*() {
        const { kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: "w" }
        const created = yield* client.create(kind, { metadata: ref, spec: { size: 1 }, status: { phase: "Ignored" } })
        assert.isUndefined(created.status)
        const reported = yield* client.replaceStatus(kind, {
          ...created,
          metadata: { ...created.metadata, labels: { ignored: "yes" } },
          spec: { size: 99 },
          status: { phase: "Ready" }
        })
        assert.deepStrictEqual(reported.status, { phase: "Ready" })
        assert.deepStrictEqual(reported.spec, { size: 1 })
        assert.isUndefined(reported.metadata.labels)
        assert.strictEqual(reported.metadata.generation, 1)
        const main = yield* client.replace(kind, { ...reported, spec: { size: 2 }, status: { phase: "Overwritten" } })
        assert.deepStrictEqual(main.status, { phase: "Ready" })
        assert.strictEqual(main.metadata.generation, 2)
        const patched = yield* client.patchStatus(kind, ref, Patch.merge({ status: { observedGeneration: 2 }, spec: { size: 3 } }))
        assert.deepStrictEqual(patched.status, { phase: "Ready", observedGeneration: 2 })
        assert.deepStrictEqual(patched.spec, { size: 2 })
        const read = yield* client.getStatus(kind, ref)
        assert.deepStrictEqual(read, patched)
        const applied = yield* client.patchStatus(
          kind,
          ref,
          Patch.apply({ apiVersion: `${kind.group}/v1`, kind: "Widget", metadata: ref, status: { message: "hi" } }, { fieldManager: "status-writer" })
        )
        assert.strictEqual((applied.status as { message?: string } | undefined)?.message, "hi")
        assert.deepStrictEqual(applied.spec, { size: 2 })
      }))

    it.effect("deleting with a finalizer: deletionTimestamp, generation +1; preconditions name the kind", () =>
      Effect.gen(function*() {
        const { kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const created = yield* client.create(kind, { metadata: { name: "w", namespace: ns, finalizers: ["x.io/hold"] }, spec: {} })
        const path = `/apis/${kind.group}/v1/namespaces/${ns}/widgets/w`
        const refused = yield* backend.send({ method: "DELETE", path, body: { preconditions: { uid: "x" } } })
        assert.deepStrictEqual(refused.body, failureStatus(409, "Conflict", `Operation cannot be fulfilled on Widget.${kind.group} "w": the UID in the precondition (x) does not match the UID in record (${created.metadata.uid}). The object might have been deleted and then recreated`, { name: "w", group: kind.group, kind: "Widget" }))
        const pending = Option.getOrThrow(yield* client.delete(kind, { namespace: ns, name: "w" }))
        assert.strictEqual(pending.metadata.generation, 2)
        assert.strictEqual(pending.metadata.deletionGracePeriodSeconds, 0)
        yield* client.patch(kind, { namespace: ns, name: "w" }, Patch.merge({ metadata: { finalizers: null } }))
        assert.strictEqual((yield* Effect.flip(client.get(kind, { namespace: ns, name: "w" })))._tag, "NotFound")
        const plain = yield* client.create(kind, { metadata: { name: "p", namespace: ns }, spec: {} })
        const deleted = yield* backend.send({ method: "DELETE", path: `/apis/${kind.group}/v1/namespaces/${ns}/widgets/p` })
        assert.deepStrictEqual(deleted.body, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name: "p", group: kind.group, kind: "widgets", uid: plain.metadata.uid }
        })
      }))

    it.effect("server-side apply on a custom kind: create, conflict, force", () =>
      Effect.gen(function*() {
        const { kind } = yield* establishedWidgets
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const ref = { namespace: ns, name: unique("a") }
        const body = (size: number) => ({ apiVersion: `${kind.group}/v1`, kind: "Widget", metadata: ref, spec: { size } })
        const created = yield* client.patch(kind, ref, Patch.apply(body(1), { fieldManager: "one" }))
        assert.strictEqual(created.metadata.generation, 1)
        const conflict = yield* Effect.flip(client.patch(kind, ref, Patch.apply(body(2), { fieldManager: "two" })))
        assert.strictEqual(conflict._tag, "Conflict")
        if (conflict._tag === "Conflict") assert.deepStrictEqual(conflict.causes.map((c) => c.field), [".spec.size"])
        const forced = yield* client.patch(kind, ref, Patch.apply(body(2), { fieldManager: "two", force: true }))
        assert.deepStrictEqual(forced.spec, { size: 2 })
        assert.strictEqual(forced.metadata.generation, 2)
      }))
  })
})
