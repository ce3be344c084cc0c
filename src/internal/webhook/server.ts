/**
 * The webhook server's HTTPS listener: POSTed JSON in, the handler's answer out. Its serving
 * certificate is swapped with `setSecureContext`, which applies to connections made afterwards:
 * requests in flight (and keep-alive connections) finish on the certificate they started with.
 * @internal
 */
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { listening } from "../http/listen.ts"

/** controller-runtime's limit on a review's size. */
export const maxBodyBytes = 7 * 1024 * 1024

export interface Answer {
  readonly status: number
  readonly body: unknown
}

export interface Listener {
  readonly port: number
  readonly setCertificate: (pair: { readonly cert: string; readonly key: string }) => void
}

export const listen = (options: {
  readonly host: string | undefined
  readonly port: number
  readonly certificate: { readonly cert: string; readonly key: string }
  readonly answer: (path: string, body: unknown) => Promise<Answer>
  readonly onError: (message: string) => Error
}): Effect.Effect<Listener, Error, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.suspend(() => {
        const server = Https.createServer({ cert: options.certificate.cert, key: options.certificate.key }, (req, res) => {
          const reply = (status: number, body: unknown) => {
            const text = JSON.stringify(body)
            res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
            res.end(text)
          }
          if (req.method !== "POST") return reply(405, { message: "webhooks answer POST requests" })
          const chunks: Array<Buffer> = []
          let size = 0
          let refused = false
          req.on("data", (chunk: Buffer) => {
            if (refused) return
            size += chunk.length
            if (size > maxBodyBytes) {
              refused = true
              reply(413, { message: `the request body is over ${maxBodyBytes} bytes` })
              req.destroy()
              return
            }
            chunks.push(chunk)
          })
          req.on("error", () => {
            refused = true
          })
          req.on("end", () => {
            if (refused) return
            let body: unknown
            try {
              body = JSON.parse(Buffer.concat(chunks, size).toString("utf8"))
            } catch (e) {
              return reply(400, { message: `the request body is not JSON: ${(e as Error).message}` })
            }
            const path = (req.url ?? "/").split("?")[0]!
            options.answer(path, body).then(
              (answer) => reply(answer.status, answer.body),
              (e) => reply(500, { message: `the webhook failed: ${e instanceof Error ? e.message : String(e)}` })
            )
          })
        })
        // a client that misbehaves on TLS must not take the server down
        server.on("tlsClientError", () => {})
        return listening(server, options.port, options.host, (error) => options.onError(error.message))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeIdleConnections()
        }).pipe(
          // requests in flight get a moment to finish, then every connection goes
          Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.sync(() => server.closeAllConnections()) })
        )
    ),
    (server): Listener => ({
      port: (server.address() as Net.AddressInfo).port,
      setCertificate: (pair) => server.setSecureContext({ cert: pair.cert, key: pair.key })
    })
  )
