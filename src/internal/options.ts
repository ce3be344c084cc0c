/**
 * Reading options: a duration option, or its default, in milliseconds. The one helper every module
 * with `Duration.Input` options uses.
 * @internal
 */
import * as Duration from "effect/Duration"

/** `input` (or `fallback` when it is undefined) in milliseconds. */
export const millis: {
  (input: Duration.Input): number
  (input: Duration.Input | undefined, fallback: Duration.Input): number
} = (input: Duration.Input | undefined, fallback?: Duration.Input): number =>
  Duration.toMillis(Duration.fromInputUnsafe((input ?? fallback)!))

/** Like {@link millis}, never below zero. */
export const nonNegativeMillis: {
  (input: Duration.Input): number
  (input: Duration.Input | undefined, fallback: Duration.Input): number
} = (input: Duration.Input | undefined, fallback?: Duration.Input): number => Math.max(0, millis(input, fallback!))
