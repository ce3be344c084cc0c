import { assert, describe, it } from "@effect/vitest"
import { apply, conflictMessage, leafFields, recordUpdate, toFieldsV1 } from "../../src/testing/fake/fields.ts"
import { applyJsonPatch, applyMergePatch, PatchError, strategicMerge } from "../../src/testing/fake/patch.ts"
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "../../src/internal/selector.ts"

const labels = (selector: string, l: Record<string, string> | undefined) => {
  const parsed = parseLabelSelector(selector)
  if (typeof parsed === "string") throw new Error(parsed)
  return matchesLabels(parsed, l)
}

describe("Testing internals", () => {
  describe("JSON patch (RFC 6902)", () => {
    it("applies the RFC's operations, with ~0 and ~1 escapes and array indexes", () => {
      const doc = { a: { "b/c": 1, "d~e": 2 }, list: [1, 2, 3] }
      const out = applyJsonPatch(doc, [
        { op: "replace", path: "/a/b~1c", value: 10 },
        { op: "remove", path: "/a/d~0e" },
        { op: "add", path: "/list/1", value: 9 },
        { op: "add", path: "/list/-", value: 4 },
        { op: "remove", path: "/list/0" },
        { op: "move", from: "/a/b~1c", path: "/moved" },
        { op: "copy", from: "/list", path: "/copied" },
        { op: "test", path: "/copied", value: [9, 2, 3, 4] }
      ])
      assert.deepStrictEqual(out, { a: {}, list: [9, 2, 3, 4], moved: 10, copied: [9, 2, 3, 4] })
      assert.deepStrictEqual(doc, { a: { "b/c": 1, "d~e": 2 }, list: [1, 2, 3] }, "the input is not changed")
    })

    it("refuses a failed test, a missing path, an index out of range, an unknown op", () => {
      for (const ops of [
        [{ op: "test", path: "/a", value: 2 }],
        [{ op: "remove", path: "/missing" }],
        [{ op: "replace", path: "/missing", value: 1 }],
        [{ op: "add", path: "/list/5", value: 1 }],
        [{ op: "add", path: "/x/y", value: 1 }],
        [{ op: "frobnicate", path: "/a" }],
        { not: "an array" }
      ]) {
        assert.throws(() => applyJsonPatch({ a: 1, list: [1] }, ops), PatchError)
      }
    })
  })

  describe("merge patch (RFC 7386)", () => {
    it("follows the RFC's examples", () => {
      assert.deepStrictEqual(applyMergePatch({ a: "b" }, { a: "c" }), { a: "c" })
      assert.deepStrictEqual(applyMergePatch({ a: "b" }, { b: "c" }), { a: "b", b: "c" })
      assert.deepStrictEqual(applyMergePatch({ a: "b" }, { a: null }), {})
      assert.deepStrictEqual(applyMergePatch({ a: [{ b: "c" }] }, { a: [1] }), { a: [1] })
      assert.deepStrictEqual(applyMergePatch({ e: null }, { a: 1 }), { e: null, a: 1 })
      assert.deepStrictEqual(applyMergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } })
    })
  })

  describe("strategic merge", () => {
    it("merges keyed lists, keeps server-only items in place, $patch: replace on a map and on a list", () => {
      const pod = { spec: { containers: [{ name: "a", image: "1", ports: [{ containerPort: 80, name: "http" }] }, { name: "b", image: "1" }], tolerations: [{ key: "x" }] } }
      const merged = strategicMerge(pod, {
        spec: { containers: [{ name: "a", ports: [{ containerPort: 81 }] }], tolerations: [{ key: "y" }] }
      }) as any
      assert.deepStrictEqual(merged.spec.containers.map((c: any) => c.name), ["a", "b"])
      // a new item goes before the server-only ones, as kube-apiserver orders them (finalizers alike)
      assert.deepStrictEqual(merged.spec.containers[0].ports, [{ containerPort: 81 }, { containerPort: 80, name: "http" }])
      assert.deepStrictEqual(merged.spec.tolerations, [{ key: "y" }], "lists without a merge key are replaced")
      const replaced = strategicMerge(pod, { spec: { $patch: "replace", containers: [] } }) as any
      assert.deepStrictEqual(replaced.spec, { containers: [] })
      const list = strategicMerge(pod, { spec: { containers: [{ $patch: "replace" }, { name: "z", image: "2" }] } }) as any
      assert.deepStrictEqual(list.spec.containers, [{ name: "z", image: "2" }])
      const service = strategicMerge({ spec: { ports: [{ port: 80, name: "a" }] } }, { spec: { ports: [{ port: 80, name: "b" }] } }) as any
      assert.deepStrictEqual(service.spec.ports, [{ port: 80, name: "b" }], "Service ports merge by port")
      assert.deepStrictEqual(strategicMerge({ a: { b: 1, c: 2 } }, { a: { $retainKeys: ["b"], b: 3 } }), { a: { b: 3 } })
    })
  })

  describe("selectors", () => {
    it("label selectors as the API server parses them", () => {
      assert.isTrue(labels("", undefined))
      assert.isTrue(labels("a=b,c", { a: "b", c: "" }))
      assert.isFalse(labels("a=b", {}))
      assert.isTrue(labels("a!=b", {}))
      assert.isTrue(labels("a notin (b, c)", { a: "d" }))
      assert.isTrue(labels("app.kubernetes.io/name in (web)", { "app.kubernetes.io/name": "web" }))
      assert.isTrue(labels("n>3,n<10", { n: "5" }))
      assert.isFalse(labels("n>3", { n: "x" }))
      for (const bad of ["a===b", "=b", "a in b", "a,,b", "-a=b", "a=b c"]) {
        assert.isString(parseLabelSelector(bad), bad)
      }
    })

    it("field selectors with escapes; unknown fields are refused", () => {
      const parsed = parseFieldSelector("metadata.name=a\\,b,metadata.namespace!=x", ["metadata.name", "metadata.namespace"])
      if (typeof parsed === "string") throw new Error(parsed)
      assert.isTrue(matchesFields(parsed, { metadata: { name: "a,b", namespace: "y" } }))
      assert.isFalse(matchesFields(parsed, { metadata: { name: "a,b", namespace: "x" } }))
      assert.strictEqual(
        parseFieldSelector("status.phase=Running", ["metadata.name"]),
        `"status.phase" is not a known field selector: only "metadata.name"`
      )
    })
  })

  describe("field ownership", () => {
    it("Update entries own changed leaves and the maps they created", () => {
      const created = recordUpdate(undefined, { metadata: { name: "a", labels: { x: "1" } }, data: { k: "v" } }, "m", "v1", "t")
      assert.deepStrictEqual((created["metadata"] as any).managedFields[0].fieldsV1, {
        "f:metadata": { "f:labels": { ".": {}, "f:x": {} } },
        "f:data": { ".": {}, "f:k": {} }
      })
      const updated = recordUpdate(created, { ...created, data: { k: "v", j: "w" } }, "other", "v1", "t2")
      assert.deepStrictEqual((updated["metadata"] as any).managedFields.map((e: any) => [e.manager, e.fieldsV1]), [
        ["m", { "f:metadata": { "f:labels": { ".": {}, "f:x": {} } }, "f:data": { ".": {}, "f:k": {} } }],
        ["other", { "f:data": { "f:j": {} } }]
      ])
      const removed = recordUpdate(updated, { ...updated, data: { j: "w" } }, "other", "v1", "t3")
      assert.deepStrictEqual((removed["metadata"] as any).managedFields[0].fieldsV1, {
        "f:metadata": { "f:labels": { ".": {}, "f:x": {} } },
        "f:data": { ".": {} }
      }, "a removed field leaves every manager")
    })

    it("apply: lists are one field; system metadata is never owned", () => {
      const fields = leafFields({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", namespace: "n", resourceVersion: "1", labels: { a: "b" } },
        spec: { containers: [{ name: "c" }] }
      })
      assert.deepStrictEqual(toFieldsV1(fields), { "f:metadata": { "f:labels": { "f:a": {} } }, "f:spec": { "f:containers": {} } })
      const first = apply({ current: undefined, applied: { spec: { list: [1, 2] } }, manager: "a", force: false, apiVersion: "v1", time: "t", skip: () => false })
      assert.strictEqual(first._tag, "Applied")
      if (first._tag !== "Applied") return
      const second = apply({ current: first.object, applied: { spec: { list: [1, 2, 3] } }, manager: "b", force: false, apiVersion: "v1", time: "t", skip: () => false })
      assert.strictEqual(second._tag, "Conflicts")
      if (second._tag === "Conflicts") {
        assert.strictEqual(conflictMessage(second.conflicts), `Apply failed with 1 conflict: conflict with "a": .spec.list`)
      }
    })
  })
})
