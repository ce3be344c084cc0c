/**
 * A small scripted HTTP server on loopback, for faults the in-memory server cannot produce because
 * they live in the bytes (malformed watch lines, huge bodies, Retry-After headers): each request is
 * recorded and handed to the test's handler. `client` is an operatorkit Client on it.
 */
import * as Http from "node:http"
import type * as Net from "node:net"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Http.IncomingHttpHeaders
  /** performance.now() when it arrived. */
  readonly at: number
}

export type Handler = (req: Http.IncomingMessage, res: Http.ServerResponse, recorded: Recorded) => void

export interface FakeApi {
  readonly url: string
  readonly requests: Array<Recorded>
  /** A kubeconfig (YAML) for this server, with a bearer token. */
  readonly kubeconfig: string
}

const WATCH_LIST_REFUSED = {
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message: `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch`,
  reason: "Invalid",
  details: { group: "meta.k8s.io", kind: "ListOptions", causes: [{ reason: "FieldValueForbidden", message: "Forbidden: resourceVersionMatch is forbidden for watch", field: "resourceVersionMatch" }] },
  code: 422
}

export const make = (handler: Handler) =>
  Effect.acquireRelease(
    Effect.callback<FakeApi & { readonly server: Http.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
      const requests: Array<Recorded> = []
      const sockets = new Set<Net.Socket>()
      const server = Http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://fake.invalid")
        // as kube-apiserver 1.20, it has no watch-list: refused (not recorded), the Watcher lists instead
        if (url.searchParams.get("watch") !== null && url.searchParams.has("sendInitialEvents")) {
          res.writeHead(422, { "content-type": "application/json" })
          res.end(JSON.stringify(WATCH_LIST_REFUSED))
          return
        }
        const recorded = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, at: performance.now() }
        requests.push(recorded)
        res.on("error", () => {})
        handler(req, res, recorded)
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.once("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const url = `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`
        resume(Effect.succeed({ server, sockets, url, requests, kubeconfig: kubeconfigFor(url) }))
      })
    }),
    (api) =>
      Effect.callback<void>((resume) => {
        for (const s of api.sockets) s.destroy()
        api.server.close(() => resume(Effect.void))
      })
  )

export const kubeconfigFor = (server: string, token = "fake-token") =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${server}`,
    "users:",
    "- name: u",
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: fake",
    "  context:",
    "    cluster: fake",
    "    user: u",
    "current-context: fake",
    ""
  ].join("\n")

/** A Client on a fake server, with its own connection pool. */
export const clientOf = (api: FakeApi, options: Client.ClientOptions = {}) =>
  Effect.gen(function*() {
    const config = yield* KubeConfig.fromString(api.kubeconfig)
    return yield* Client.make(config, options)
  }).pipe(Effect.orDie)

export const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Http.OutgoingHttpHeaders = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

export const configMap = (name: string, resourceVersion: string, data: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", uid: `uid-${name}`, resourceVersion },
  data
})

export const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code
})
