/**
 * Spans only where somebody records them.
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Tracer from "effect/Tracer"

/**
 * Whether the fiber runs under a tracer that records spans. Effect's native tracer records them
 * nowhere, and entering one costs more than a GET's decoding or a no-op reconcile.
 */
export const isTraced = (fiber: Fiber.Fiber<unknown, unknown>): boolean => fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

/** `traced(self)` when a tracer records spans, `self` otherwise. */
export const whenTraced = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  traced: (self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withFiber((fiber) => isTraced(fiber) ? traced(self) : self)
