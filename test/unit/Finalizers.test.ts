/**
 * Finalizers on their own (the Controller says when; test/integration/Finalizers.test.ts tests it
 * whole on kube-apiserver): the names, and the rules of one write on the in-memory server.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Finalizers from "../../src/Finalizers.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { withServer } from "../../src/testing/helpers.ts"

const ns = "default"
const names = Finalizers.names({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com" })
const ref = (name: string) => ({ namespace: ns, name })

const create = (name: string, finalizers?: ReadonlyArray<string>) =>
  Effect.flatMap(Client.Client, (client) =>
    client.create(Kind.ConfigMap, { metadata: { name, namespace: ns, ...(finalizers !== undefined ? { finalizers } : {}) } }))

describe("Finalizers", () => {
  it("names: the prefix is finalizerPrefix or a custom kind's group; operatorkit 0.1's are recognised", () => {
    assert.strictEqual(names.finalizer, "example.com/c")
    assert.strictEqual(names.legacyFinalizer, "operatorkit.giantswarm.io/c")
    assert.deepStrictEqual(names.pause, { annotation: "example.com/paused", value: "true" })
    assert.isTrue(Finalizers.isPaused(names, { "operatorkit.giantswarm.io/paused": "true" }))
    assert.isFalse(Finalizers.isPaused(names, { "example.com/paused": "false" }))
    const Widget = Kind.custom({ group: "w.example.com", version: "v1", kind: "Widget", namespaced: true, spec: Schema.Struct({}) })
    assert.strictEqual(Finalizers.finalizerName({ name: "w", kind: Widget }), "w.example.com/w")
    assert.throws(() => Finalizers.names({ name: "c", kind: Kind.ConfigMap } as any), /finalizerPrefix/)
  })

  it.effect("add: ours after the others', operatorkit 0.1's replaced in place; none for an object gone or being deleted", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const plain = yield* create("plain", ["other.example.com/x"])
      const added = yield* Finalizers.add(client, Kind.ConfigMap, names, plain)
      assert.deepStrictEqual(Option.getOrThrow(added).metadata.finalizers, ["other.example.com/x", "example.com/c"])
      const legacy = yield* create("legacy", ["operatorkit.giantswarm.io/c", "other.example.com/x"])
      const migrated = yield* Finalizers.add(client, Kind.ConfigMap, names, legacy)
      assert.deepStrictEqual(Option.getOrThrow(migrated).metadata.finalizers, ["example.com/c", "other.example.com/x"])
      // a stale copy: the fresh read is what gets the finalizer, its resourceVersion tested
      yield* client.patch(Kind.ConfigMap, ref("plain"), Patch.merge({ data: { a: "1" } }))
      const again = yield* Finalizers.add(client, Kind.ConfigMap, names, plain)
      assert.strictEqual(Option.getOrThrow(again).data?.["a"], "1")
      const deleting = yield* create("deleting", ["other.example.com/x"])
      yield* client.delete(Kind.ConfigMap, ref("deleting"))
      assert.isTrue(Option.isNone(yield* Finalizers.add(client, Kind.ConfigMap, names, deleting)))
      const gone = yield* create("gone")
      yield* client.delete(Kind.ConfigMap, ref("gone"))
      assert.isTrue(Option.isNone(yield* Finalizers.add(client, Kind.ConfigMap, names, gone)))
    }).pipe(withServer))

  it.effect("remove: ours under either name, others' kept; an object gone is done", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const both = yield* create("both", ["example.com/c", "other.example.com/x", "operatorkit.giantswarm.io/c"])
      yield* client.delete(Kind.ConfigMap, ref("both"))
      yield* Finalizers.remove(client, Kind.ConfigMap, names, both)
      const left = yield* client.get(Kind.ConfigMap, ref("both"))
      assert.deepStrictEqual(left.metadata.finalizers, ["other.example.com/x"])
      // the last finalizer removed: the object goes; removing again is done
      const last = yield* create("last", ["example.com/c"])
      yield* client.delete(Kind.ConfigMap, ref("last"))
      yield* Finalizers.remove(client, Kind.ConfigMap, names, last)
      assert.strictEqual((yield* Effect.flip(client.get(Kind.ConfigMap, ref("last"))))._tag, "NotFound")
      yield* Finalizers.remove(client, Kind.ConfigMap, names, last)
    }).pipe(withServer))
})
