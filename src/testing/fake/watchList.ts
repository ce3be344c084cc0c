/**
 * Watch-list in the in-memory server (KEP-3157: `sendInitialEvents=true` with
 * `resourceVersionMatch=NotOlderThan` and bookmarks: the current objects as ADDED, then a BOOKMARK
 * annotated `k8s.io/initial-events-end`, then the changes, on one watch), offered when the server is
 * made with `watchList: true`, as on Kubernetes 1.27+ with the WatchList feature. Without it the
 * server answers as kube-apiserver 1.20 does: its ListOptions validation forbids
 * `resourceVersionMatch` on a watch, so a watch-list request is refused with 422 Invalid.
 *
 * The refusal is checked against kube-apiserver 1.20.2 by test/contract/watchList.test.ts; the
 * watch-list itself is not checked against a real server here (1.20 has none): it follows the KEP.
 * @internal
 */
import * as S from "./status.ts"
import type { Answer, JsonObject } from "./status.ts"

export const INITIAL_EVENTS_END = "k8s.io/initial-events-end"

const forbidden = (field: string, detail: string): S.Cause => ({ reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field })

/** kube-apiserver's `ValidateListOptions` for a watch: the 422 of a request it does not take, or undefined. */
export const watchOptionsProblem = (query: URLSearchParams, watchList: boolean): Answer | undefined => {
  const match = query.get("resourceVersionMatch") ?? ""
  const resourceVersion = query.get("resourceVersion") ?? ""
  const sendInitialEvents = watchList ? query.get("sendInitialEvents") : null
  const causes: Array<S.Cause> = []
  if (sendInitialEvents !== null) {
    if (match !== "NotOlderThan") causes.push(forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
    if (query.get("allowWatchBookmarks") !== "true" && query.get("allowWatchBookmarks") !== "1") {
      causes.push(forbidden("allowWatchBookmarks", "allowWatchBookmarks must be set to true when sendInitialEvents is set"))
    }
  } else if (match !== "") {
    causes.push(forbidden("resourceVersionMatch", watchList ? "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided" : "resourceVersionMatch is forbidden for watch"))
    if (resourceVersion === "") causes.push(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
  }
  if (causes.length === 0) return undefined
  const list = causes.length === 1 ? `${causes[0]!.field}: ${causes[0]!.message}` : `[${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}]`
  return S.failure(422, "Invalid", `ListOptions.meta.k8s.io "" is invalid: ${list}`, { group: "meta.k8s.io", kind: "ListOptions", causes })
}

/**
 * Whether a watch starts with the current objects as ADDED: without a resourceVersion (or "0") as
 * always, and with `sendInitialEvents=true` at any resourceVersion (NotOlderThan: the in-memory
 * store is always current); never with `sendInitialEvents=false`.
 */
export const initialEvents = (query: URLSearchParams, watchList: boolean): "current" | "replay" | "none" => {
  const asked = query.get("resourceVersion")
  const send = watchList ? query.get("sendInitialEvents") : null
  if (send === "true") return "current"
  if (send === "false") return asked === null || asked === "" || asked === "0" ? "none" : "replay"
  return asked === null || asked === "" || asked === "0" ? "current" : "replay"
}

/** The BOOKMARK ending a watch-list's initial events, at the version they showed. */
export const initialEventsEnd = (bookmark: JsonObject): JsonObject => {
  const object = bookmark["object"] as JsonObject
  const metadata = object["metadata"] as JsonObject
  return { ...bookmark, object: { ...object, metadata: { ...metadata, annotations: { [INITIAL_EVENTS_END]: "true" } } } }
}
