/**
 * Reading answers: a list body's shape, and one parsed watch line as a typed event (or the error
 * that ends the watch). What a value is gets said without quoting it (a line may carry a Secret).
 * @internal
 */
import type { WatchEvent } from "../../Client.ts"
import * as KubeError from "../../KubeError.ts"
import { isDecodeError, rawMeta } from "../codec.ts"
import { BAD_WATCH_EVENT } from "./transport.ts"

export interface ListBody {
  readonly items?: ReadonlyArray<unknown> | null
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string }
}

/** The annotation of the BOOKMARK that ends a watch-list's initial events. */
export const INITIAL_EVENTS_END = "k8s.io/initial-events-end"

export const isListBody = (u: unknown): u is ListBody =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  ((u as { items?: unknown }).items == null || Array.isArray((u as { items?: unknown }).items))

/** What a JSON value is, for messages that must not quote it (a watch line may carry a Secret). */
export const shapeOf = (u: unknown) =>
  u === null ? "null" : Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : `a ${typeof u}`

export const badEvent = (info: KubeError.RequestInfo, what: string) =>
  new KubeError.TransportError({ request: info, code: BAD_WATCH_EVENT, detail: `the server sent ${what}` })

export const isStatus = (u: unknown): u is { readonly code?: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  ((u as { kind?: unknown }).kind === "Status" || typeof (u as { code?: unknown }).code === "number")

/**
 * One parsed watch line as an event. A line that is no event at all (not an object, no or an
 * unknown `type`, an ERROR without a Status) is a typed error that ends the watch, so the caller
 * resumes from the last good resourceVersion; an event whose object does not decode is INVALID.
 * `decode`: the kind's `objectDecoder`, resolved once per watch.
 */
export const toEvent = <A>(
  decode: (raw: unknown) => A | KubeError.DecodeError,
  raw: unknown,
  info: KubeError.RequestInfo
): WatchEvent<A> | KubeError.KubeError => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return badEvent(info, `a watch line that is not an event but ${shapeOf(raw)}`)
  }
  const e = raw as { type?: unknown; object?: unknown }
  switch (e.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED": {
      const out = decode(e.object)
      return isDecodeError(out)
        ? { type: "INVALID", eventType: e.type, error: out, meta: rawMeta(e.object) }
        : { type: e.type, object: out }
    }
    case "BOOKMARK": {
      const resourceVersion = rawMeta(e.object).resourceVersion ?? ""
      // the end of a watch-list's initial events (KEP-3157)
      const annotations = (e.object as { metadata?: { annotations?: Record<string, unknown> } } | undefined)?.metadata?.annotations
      return annotations?.[INITIAL_EVENTS_END] === "true"
        ? { type: "BOOKMARK", resourceVersion, initialEventsEnd: true }
        : { type: "BOOKMARK", resourceVersion }
    }
    case "ERROR": {
      if (!isStatus(e.object)) return badEvent(info, `an ERROR event whose object is not a Status but ${shapeOf(e.object)}`)
      const status = e.object
      return KubeError.fromStatus(typeof status.code === "number" ? status.code : 500, status, info)
    }
    case undefined:
      return badEvent(info, "a watch event without a type")
    default:
      return badEvent(info, `a watch event of unknown type ${typeof e.type === "string" ? JSON.stringify(e.type.slice(0, 40)) : shapeOf(e.type)}`)
  }
}
