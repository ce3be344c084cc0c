import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Client from "../../src/Client.ts"
import { makeReconciliation, runResources } from "../../src/internal/controller/reconciliation.ts"
import * as Kind from "../../src/Kind.ts"
import * as Owned from "../../src/Owned.ts"
import { withServer } from "../../src/testing/helpers.ts"

const ns = "default"

describe("Owned", () => {
  it.effect("applies with an owner reference; deletes only an object that carries it (by uid)", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const owner = yield* client.create(Kind.ConfigMap, { metadata: { name: "owner", namespace: ns } })
      const copy = Owned.configMap(Kind.ConfigMap, "copy", (o) => ({ metadata: { name: `${o.metadata.name}-copy`, namespace: ns }, data: { from: o.metadata.name } }))
      const run = (mode: "create" | "delete") =>
        runResources([copy], owner, makeReconciliation({ controller: "copier", key: `${ns}/owner`, mode }))
      yield* run("create")
      const created = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "owner-copy" })
      assert.deepStrictEqual(created.metadata.ownerReferences?.map((r) => r.uid), [owner.metadata.uid])
      assert.deepStrictEqual(created.data, { from: "owner" })

      // a namesake that is not ours (another owner) survives ensureDeleted
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "owner-copy" })
      yield* client.create(Kind.ConfigMap, {
        metadata: {
          name: "owner-copy",
          namespace: ns,
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "someone", uid: "not-the-owner" }]
        }
      })
      yield* run("delete")
      assert.isTrue(Option.isSome(yield* client.get(Kind.ConfigMap, { namespace: ns, name: "owner-copy" }).pipe(Effect.option)))

      // ours is deleted; a missing one is fine
      yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "owner-copy" })
      yield* run("create")
      yield* run("delete")
      assert.isTrue(Option.isNone(yield* client.get(Kind.ConfigMap, { namespace: ns, name: "owner-copy" }).pipe(Effect.option)))
      yield* run("delete")
    }).pipe(withServer))
})
