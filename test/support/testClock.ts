/** Helpers for tests on the in-memory API server with TestClock. */
import { type Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Testing from "../../src/Testing.ts"

/** A new in-memory server for this effect (Effect 4 otherwise memoises layers across provides). */
export const withServer = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, Testing.layer, { local: true })

/** Lets fibers run, moving the clock in small steps. */
export const settle = (steps = 40, step: Duration.Input = "5 millis") =>
  Effect.gen(function*() {
    for (let i = 0; i < steps; i++) {
      yield* Effect.yieldNow
      yield* TestClock.adjust(step)
    }
  })
