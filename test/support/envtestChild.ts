// Starts an Envtest, prints its folder and pids, then waits to be killed.
import { Effect } from "effect"
import * as Envtest from "../../src/testing/Envtest.ts"

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const env = yield* Envtest.make()
  const pids = (yield* env.processes).map((p) => p.pid)
  process.stdout.write(JSON.stringify({ dir: env.dir, pids }) + "\n")
  yield* Effect.never
})))
