/**
 * The one retry-on-conflict (src/internal/retryOnConflict.ts): lost races run the attempt again up
 * to the limit, the last failure is the caller's, other failures are not retried. Its users (the
 * finalizer writes, Status.update, Crd, CrdMigration, Webhooks) are tested through their behaviour.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { retryOnConflict } from "../../src/internal/retryOnConflict.ts"

class Conflict {
  readonly _tag = "Conflict"
}
class Other {
  readonly _tag = "Other"
}

describe("retryOnConflict", () => {
  it.effect("a lost race is tried again, with a fresh attempt number, until it wins", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const conflicts: Array<number> = []
      const result = yield* retryOnConflict(
        (n) => Effect.suspend(() => (seen.push(n), n < 2 ? Effect.fail(new Conflict()) : Effect.succeed("won"))),
        { onConflict: (_, n) => Effect.sync(() => conflicts.push(n)) }
      )
      assert.strictEqual(result, "won")
      assert.deepStrictEqual(seen, [0, 1, 2])
      assert.deepStrictEqual(conflicts, [0, 1])
    }))

  it.effect("after `attempts` lost races the last Conflict is the caller's (default 5 attempts)", () =>
    Effect.gen(function*() {
      let calls = 0
      const error = yield* Effect.flip(retryOnConflict(() => Effect.suspend(() => (calls++, Effect.fail(new Conflict())))))
      assert.strictEqual(error._tag, "Conflict")
      assert.strictEqual(calls, 5)
      calls = 0
      yield* Effect.flip(retryOnConflict(() => Effect.suspend(() => (calls++, Effect.fail(new Conflict()))), { attempts: 2 }))
      assert.strictEqual(calls, 2)
    }))

  it.effect("other failures end it at once; isConflict says what a lost race is", () =>
    Effect.gen(function*() {
      let calls = 0
      const other = yield* Effect.flip(retryOnConflict((): Effect.Effect<never, Conflict | Other> => Effect.suspend(() => (calls++, Effect.fail(new Other())))))
      assert.strictEqual(other._tag, "Other")
      assert.strictEqual(calls, 1)
      calls = 0
      const result = yield* retryOnConflict(
        (n): Effect.Effect<string, Conflict | Other> => Effect.suspend(() => (calls++, n === 0 ? Effect.fail(new Other()) : Effect.succeed("ok"))),
        { isConflict: (e) => e._tag === "Other" }
      )
      assert.strictEqual(result, "ok")
      assert.strictEqual(calls, 2)
    }))
})
