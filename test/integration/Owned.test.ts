import { assert, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Watch from "../../src/Watch.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as Owned from "../../src/Owned.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"
import { eventually } from "../../src/testing/helpers.ts"

const getCm = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    return yield* client.get(Kind.ConfigMap, { namespace, name }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeedNone)
    )
  })

layer(cluster(), { excludeTestServices: true })("Owned objects on kube-apiserver 1.20.2", (it) => {
  it.effect("an owned ConfigMap follows its owner: applied with an owner reference, recreated when deleted, deleted with the owner", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const copy = Owned.configMap(Kind.ConfigMap, "copy", (source) => ({
        metadata: { name: `${source.metadata.name}-copy`, namespace: source.metadata.namespace!, labels: { role: "copy" } },
        data: source.data ?? {}
      }))
      const steps: Array<string> = []
      const audit = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({
        name: "audit",
        ensureCreated: (cm) => Effect.sync(() => void steps.push(`created ${cm.metadata.name}`)),
        ensureDeleted: (cm) => Effect.sync(() => void steps.push(`deleted ${cm.metadata.name}`))
      })
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "copier",
        kind: Kind.ConfigMap,
        namespace: ns,
        labelSelector: "role=source",
        resources: [Framework.sequence("both", [copy, audit]).pipe(Framework.timeout("10 seconds"), Framework.withMetrics)],
        watches: [Watch.owns(Kind.ConfigMap, { namespace: ns, labelSelector: "role=copy" })]
      })
      const source = yield* client.create(Kind.ConfigMap, { metadata: { name: "src", namespace: ns, labels: { role: "source" } }, data: { a: "1" } })
      const first = yield* eventually(Effect.map(getCm(ns, "src-copy"), Option.getOrThrow))
      assert.deepStrictEqual(first.data, { a: "1" })
      assert.deepStrictEqual(first.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]), [
        ["ConfigMap", "src", source.metadata.uid, true]
      ])
      assert.isTrue((first.metadata.managedFields as Array<{ manager: string }>).some((m) => m.manager === "copier"))

      // the owner changes: the copy follows
      const current = Option.getOrThrow(yield* getCm(ns, "src"))
      yield* client.replace(Kind.ConfigMap, { ...current, data: { a: "2", b: "3" } })
      yield* eventually(Effect.gen(function*() {
        assert.deepStrictEqual(Option.getOrThrow(yield* getCm(ns, "src-copy")).data, { a: "2", b: "3" })
      }))

      // someone deletes the copy: the owns() watch brings the owner back, which recreates it
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "src-copy" })
      yield* eventually(Effect.gen(function*() {
        const again = Option.getOrThrow(yield* getCm(ns, "src-copy"))
        assert.notStrictEqual(again.metadata.uid, first.metadata.uid)
      }))

      // the owner is deleted: ensureDeleted removes the copy, then the finalizer goes
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "src" })
      yield* eventually(Effect.gen(function*() {
        assert.isTrue(Option.isNone(yield* getCm(ns, "src")))
        assert.isTrue(Option.isNone(yield* getCm(ns, "src-copy")))
      }))
      assert.strictEqual(steps.at(-1), "deleted src")
    }))
})
