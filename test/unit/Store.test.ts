import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Store from "../../src/Store.ts"

interface Obj {
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly uid?: string }
  readonly owner?: string
}
const obj = (namespace: string | undefined, name: string, labels?: Record<string, string>, owner?: string): Obj => ({
  metadata: { name, ...(namespace !== undefined ? { namespace } : {}), ...(labels ? { labels } : {}) },
  ...(owner ? { owner } : {})
})

describe("Store", () => {
  it("keys", () => {
    assert.strictEqual(Store.keyOf(obj("a", "b")), "a/b")
    assert.strictEqual(Store.keyOf(obj(undefined, "n")), "n")
    assert.deepStrictEqual(Store.parseKey("a/b"), { namespace: "a", name: "b" })
  })

  it.effect("get, list, namespace, label and user indexes stay right through updates and deletes", () =>
    Effect.gen(function*() {
      const cache = Store.makeCache<Obj>({ labels: ["app"], indexers: { owner: (o) => (o.owner ? [o.owner] : []) } })
      cache.set(obj("a", "1", { app: "web" }, "x"))
      cache.set(obj("a", "2", { app: "db" }, "x"))
      cache.set(obj("b", "3", { app: "web", tier: "1" }, "y"))
      const { store } = cache
      assert.strictEqual(yield* store.size, 3)
      assert.deepStrictEqual((yield* store.list({ namespace: "a" })).map((o) => o.metadata.name).sort(), ["1", "2"])
      assert.deepStrictEqual((yield* store.byLabel("app", "web")).map((o) => o.metadata.name).sort(), ["1", "3"])
      assert.deepStrictEqual((yield* store.byLabel("tier", "1")).map((o) => o.metadata.name), ["3"], "unindexed label: scan")
      assert.deepStrictEqual((yield* store.byIndex("owner", "x")).map((o) => o.metadata.name).sort(), ["1", "2"])

      cache.set(obj("a", "1", { app: "db" }, "y")) // moves between index values
      assert.deepStrictEqual((yield* store.byLabel("app", "web")).map((o) => o.metadata.name), ["3"])
      assert.deepStrictEqual((yield* store.byIndex("owner", "y")).map((o) => o.metadata.name).sort(), ["1", "3"])
      cache.delete("b/3")
      assert.deepStrictEqual(yield* store.byLabel("app", "web"), [])
      assert.deepStrictEqual(yield* store.list({ namespace: "b" }), [])
      assert.isTrue(Option.isNone(yield* store.get("b/3")))
      assert.isTrue(Option.isSome(yield* store.get("a/1")))
    }))

  it.effect("a list is a snapshot: later changes do not alter it", () =>
    Effect.gen(function*() {
      const cache = Store.makeCache<Obj>()
      cache.set(obj("a", "1"))
      const snapshot = yield* cache.store.list()
      cache.set(obj("a", "2"))
      cache.delete("a/1")
      assert.deepStrictEqual(snapshot.map((o) => o.metadata.name), ["1"])
    }))
})
