import { assert, describe, it } from "@effect/vitest"
import { Effect, JsonPatch } from "effect"
import * as Admission from "../../src/Admission.ts"
import * as Kind from "../../src/Kind.ts"
import { widgetKind } from "../support/widget.ts"

const group = "unit.admission.test"

const Widget = widgetKind(group)
type Widget = Kind.Type<typeof Widget>

const widgets = Admission.make(Widget, {
  validate: (w, request) =>
    Effect.gen(function*() {
      if (w.spec.size > 5) yield* Admission.warn("spec.size above 5 costs extra")
      return request.operation === "UPDATE" && request.oldObject?.spec.owner !== w.spec.owner
        ? [Admission.forbidden("spec.owner", "may not change")]
        : []
    }),
  default: (w) => Effect.succeed<Widget>({ ...w, metadata: { ...w.metadata, labels: { ...w.metadata.labels, color: w.spec.color } } })
})

const review = (request: Record<string, unknown>) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: { uid: "uid-1", kind: { group, version: "v1", kind: "Widget" }, operation: "CREATE", userInfo: { username: "ann" }, ...request }
})

const object = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: `${group}/v1`,
  kind: "Widget",
  metadata: { name: "w", namespace: "ns" },
  spec,
  ...extra
})

const answer = (webhook: "validate" | "default", body: unknown, admission: Admission.Admission<never> = widgets) =>
  Effect.map(Admission.handle(admission, webhook, body), (a) => a as { status: number; body: any })

describe("Admission", () => {
  it("field errors print as the API server prints its own", () => {
    assert.strictEqual(Admission.formatFieldError(Admission.required("spec.owner")), "spec.owner: Required value")
    assert.strictEqual(Admission.formatFieldError(Admission.invalid("spec.size", 11, "must be at most 10")), "spec.size: Invalid value: 11: must be at most 10")
    assert.strictEqual(
      Admission.formatFieldError(Admission.notSupported("spec.tier", "bronze", ["gold", "silver"])),
      `spec.tier: Unsupported value: "bronze": supported values: "gold", "silver"`
    )
    assert.strictEqual(Admission.formatFieldError(Admission.forbidden("spec.owner", "may not change")), "spec.owner: Forbidden: may not change")
    assert.strictEqual(Admission.formatFieldError(Admission.duplicate("spec.owner", "alice")), `spec.owner: Duplicate value: "alice"`)
    assert.strictEqual(Admission.formatFieldError(Admission.notFound("spec.secretRef", "db")), `spec.secretRef: Not found: "db"`)
  })

  it.effect("a rejection lists every failing field as kube-apiserver's validation errors", () =>
    Effect.gen(function*() {
      const { status, body } = yield* answer("validate", review({ object: object({ size: 11, color: "green", tags: { a: "x" } }) }))
      assert.strictEqual(status, 200)
      assert.strictEqual(body.response.uid, "uid-1")
      assert.strictEqual(body.response.allowed, false)
      const s = body.response.status
      assert.strictEqual(s.code, 422)
      assert.strictEqual(s.reason, "Invalid")
      assert.deepStrictEqual(s.details.causes, [
        { reason: "FieldValueInvalid", message: "Invalid value: 11: Expected a value between 1 and 10", field: "spec.size" },
        { reason: "FieldValueNotSupported", message: "Unsupported value: \"green\": supported values: \"red\", \"blue\"", field: "spec.color" },
        { reason: "FieldValueRequired", message: "Required value", field: "spec.owner" },
        { reason: "FieldValueInvalid", message: "Invalid value: \"x\": Expected number", field: "spec.tags[a]" }
      ])
      assert.strictEqual(
        s.message,
        `Widget.${group} "w" is invalid: [spec.size: Invalid value: 11: Expected a value between 1 and 10, ` +
          `spec.color: Unsupported value: "green": supported values: "red", "blue", spec.owner: Required value, ` +
          `spec.tags[a]: Invalid value: "x": Expected number]`
      )
    }))

  it.effect("the user's check sees the old object; warnings for deprecated fields and from the check", () =>
    Effect.gen(function*() {
      const update = yield* answer("validate", review({
        operation: "UPDATE",
        object: object({ size: 7, owner: "bob", legacy: "x" }),
        oldObject: object({ size: 7, owner: "ann" })
      }))
      assert.strictEqual(update.body.response.allowed, false)
      assert.deepStrictEqual(update.body.response.status.details.causes, [{ reason: "FieldValueForbidden", message: "Forbidden: may not change", field: "spec.owner" }])
      assert.strictEqual(update.body.response.status.message, `Widget.${group} "w" is invalid: spec.owner: Forbidden: may not change`)
      assert.deepStrictEqual(update.body.response.warnings, ["spec.legacy: use spec.owner", "spec.size above 5 costs extra"])
      const create = yield* answer("validate", review({ object: object({ size: 2, owner: "ann" }) }))
      assert.deepStrictEqual(create.body.response, { uid: "uid-1", allowed: true })
    }))

  it.effect("defaulting answers the JSON Patch of exactly the difference: Schema defaults, the user's, nothing else", () =>
    Effect.gen(function*() {
      const original = object({ size: 2, owner: "ann", unknownField: { kept: true } }, { topLevel: { anything: 1 } })
      const { body } = yield* answer("default", review({ object: original }))
      assert.strictEqual(body.response.allowed, true)
      assert.strictEqual(body.response.patchType, "JSONPatch")
      const patch = JSON.parse(Buffer.from(body.response.patch, "base64").toString())
      assert.deepStrictEqual(patch, [
        { op: "add", path: "/metadata/labels", value: { color: "red" } },
        { op: "add", path: "/spec/color", value: "red" }
      ])
      const patched = JsonPatch.apply(patch, original as any) as any
      assert.deepStrictEqual(patched.spec, { size: 2, owner: "ann", unknownField: { kept: true }, color: "red" }, "a field the Schema does not know is not removed")
      assert.deepStrictEqual(patched.topLevel, { anything: 1 })
      // already defaulted: no patch at all
      const again = yield* answer("default", review({ object: patched }))
      assert.deepStrictEqual(again.body.response, { uid: "uid-1", allowed: true })
      // without `default` the mutating webhook changes nothing
      const plain = yield* answer("default", review({ object: original }), Admission.make(Widget, {}))
      assert.deepStrictEqual(plain.body.response, { uid: "uid-1", allowed: true })
      // `default: true`: the Schema's defaults alone
      const schemaOnly = yield* answer("default", review({ object: original }), Admission.make(Widget, { default: true }))
      assert.deepStrictEqual(JSON.parse(Buffer.from(schemaOnly.body.response.patch, "base64").toString()), [
        { op: "add", path: "/spec/color", value: "red" }
      ])
    }))

  it.effect("a check that cannot run answers 500 (the failure policy decides); a body that is no review answers 400", () =>
    Effect.gen(function*() {
      const failing = Admission.make(Widget, { validate: () => Effect.fail(new Error("the cluster is unreachable")) })
      const out = yield* answer("validate", review({ object: object({ size: 2, owner: "ann" }) }), failing)
      assert.strictEqual(out.status, 500)
      assert.match(out.body.message, /could not run: .*the cluster is unreachable/)
      const dying = Admission.make(Widget, { default: () => Effect.die("boom") })
      assert.strictEqual((yield* answer("default", review({ object: object({ size: 2, owner: "ann" }) }), dying)).status, 500)
      assert.strictEqual((yield* answer("validate", { kind: "Pod" })).status, 400)
      assert.strictEqual((yield* answer("validate", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} })).status, 400)
    }))

  it.effect("an object that no longer decodes may still be deleted", () =>
    Effect.gen(function*() {
      const deleting = Admission.make(Widget, { operations: ["DELETE"] })
      const out = yield* answer("validate", review({ operation: "DELETE", oldObject: object({ size: 99 }) }), deleting)
      assert.deepStrictEqual(out.body.response, { uid: "uid-1", allowed: true })
    }))

  it("call options default as controller-runtime's do; paths are controller-runtime's", () => {
    assert.deepStrictEqual(widgets.call, { operations: ["CREATE", "UPDATE"], failurePolicy: "Fail", sideEffects: "None", timeoutSeconds: 10 })
    assert.strictEqual(widgets.validatePath, "/validate-unit-admission-test-v1-widget")
    assert.strictEqual(widgets.mutatePath, "/mutate-unit-admission-test-v1-widget")
    assert.isTrue(widgets.mutating)
    assert.isFalse(Admission.make(Widget, {}).mutating)
    assert.isTrue(Admission.isAdmission(widgets))
  })
})
