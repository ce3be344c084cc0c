import * as Cause from "effect/Cause"

/** A one-line message for a cause: the first error's message, without stack traces. */
export const causeMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  const text = typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" && error.message !== ""
    ? error.message
    : typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : String(error)
  return Cause.hasInterruptsOnly(cause) ? "interrupted" : text
}
