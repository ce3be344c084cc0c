/**
 * Spans only where somebody records them.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * `traced(self)` when a tracer is installed, `self` under Effect's native tracer: its spans are
 * recorded nowhere, and entering one costs more than a GET's decoding or a no-op reconcile.
 */
export const whenTraced = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  traced: (self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer ? self : traced(self))

/** Whether a tracer other than Effect's native one is installed. */
export const isTraced: Effect.Effect<boolean> = Effect.withFiber((fiber) =>
  Effect.succeed(fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer)
)
