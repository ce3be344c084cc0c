/**
 * Watch-list (KEP-3157, `sendInitialEvents`): kube-apiserver 1.20 has none and refuses the request,
 * and so does the in-memory server by default. Its watch-list (`TestServer` with `watchList: true`,
 * test/unit/WatchList.test.ts) follows the KEP and is NOT checked against a real server here: 1.20
 * cannot serve it.
 */
import { assert } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract } from "./harness.ts"

contract("watch-list (sendInitialEvents)", {}, (it) => {
  it.effect("a watch-list is refused with 422 Invalid: resourceVersionMatch is forbidden for watch", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns } })
      const exit = yield* client.watch(Kind.ConfigMap, { namespace: ns, sendInitialEvents: true }).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.timeout("20 seconds"),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as { error?: any }).error : undefined
      assert.strictEqual(error?._tag, "Invalid")
      assert.strictEqual(
        error.detail,
        `ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided]`
      )
      assert.deepStrictEqual(error.causes.map((c: any) => [c.reason, c.field, c.message]), [
        ["FieldValueForbidden", "resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden for watch"],
        ["FieldValueForbidden", "resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"]
      ])
      // sendInitialEvents alone is an unknown parameter there: an ordinary watch
      const backend = yield* Backend
      const plain = yield* backend.watch({ path: `/api/v1/namespaces/${ns}/configmaps?watch=1&sendInitialEvents=true` }, 1)
      assert.deepStrictEqual(plain.map((e: any) => [e.type, e.object.metadata.name]), [["ADDED", "a"]])
    }))
})
