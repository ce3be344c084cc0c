/**
 * Causes as people read them. `causeMessage`: one line (an Event's message). `causeForLog`: how a
 * failure shows in the library's log lines. A typed failure (a KubeError, a ResourceTimeout, an
 * error of the program's own) is its message: its stack points into the library and says nothing
 * the message does not. A defect (a thrown exception, a bug) keeps the stack frames of the
 * program's own code and leaves out those of operatorkit and of effect. Every frame is still there
 * when asked for: `logFailure` follows with the whole Cause as a Debug line
 * (`Logger.minimumLogLevel("Debug")`).
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

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

// the folder holding operatorkit's modules (src/ or dist/), as stack frames print it
const libraryRoot = new URL("..", import.meta.url)
const libraryFrame = (line: string) =>
  line.includes(libraryRoot.href) || line.includes(decodeURIComponent(libraryRoot.pathname)) ||
  /[\\/]node_modules[\\/]effect[\\/]/.test(line) || line.includes("(node:internal/") || line.includes("at node:internal/")

const messageOf = (u: unknown): string => {
  if (typeof u === "object" && u !== null) {
    const e = u as { message?: unknown; _tag?: unknown; name?: unknown }
    const message = typeof e.message === "string" && e.message !== "" ? e.message : undefined
    const tag = typeof e._tag === "string" ? e._tag : typeof e.name === "string" ? e.name : undefined
    if (message !== undefined) return tag !== undefined && !message.startsWith(tag) ? `${tag}: ${message}` : message
    if (tag !== undefined) return tag
  }
  return String(u)
}

/** The program's own frames of a defect's stack (those outside operatorkit and effect). */
const ownFrames = (u: unknown): Array<string> => {
  const stack = typeof u === "object" && u !== null && typeof (u as { stack?: unknown }).stack === "string"
    ? (u as { stack: string }).stack
    : ""
  return stack.split("\n").filter((l) => /^\s+at /.test(l) && !libraryFrame(l))
}

/** One line per reason: messages for failures, messages and the program's own frames for defects. */
export const causeForLog = (cause: Cause.Cause<unknown>): string => {
  const lines: Array<string> = []
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) lines.push(messageOf(reason.error))
    else if (Cause.isDieReason(reason)) lines.push([`defect: ${messageOf(reason.defect)}`, ...ownFrames(reason.defect)].join("\n"))
  }
  return lines.length > 0 ? lines.join("\n") : Cause.hasInterruptsOnly(cause) ? "interrupted" : "unknown failure"
}

/** Logs `message` with the cause as {@link causeForLog} shows it, and the whole Cause at Debug level. */
export const logFailure = (level: "Error" | "Warning", message: string, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.andThen(
    level === "Error" ? Effect.logError(`${message}: ${causeForLog(cause)}`) : Effect.logWarning(`${message}: ${causeForLog(cause)}`),
    Effect.logDebug(`${message} (every stack frame)`, cause)
  )
