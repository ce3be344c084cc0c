/** Plain HTTPS calls against an Envtest, for tests that must not depend on the Client. */
import * as Https from "node:https"
import * as Effect from "effect/Effect"
import type { EnvtestService } from "../../src/testing/Envtest.ts"

export interface RawResponse {
  readonly status: number
  readonly body: any
}

export const call = (
  env: EnvtestService,
  method: string,
  path: string,
  options: { readonly token?: string; readonly body?: unknown } = {}
): Effect.Effect<RawResponse, Error> =>
  Effect.callback<RawResponse, Error>((resume) => {
    const url = new URL(env.server)
    const data = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = Https.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        ca: env.caData,
        headers: {
          authorization: `Bearer ${options.token ?? env.adminToken}`,
          ...(data !== undefined ? { "content-type": "application/json" } : {})
        }
      },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (text += c))
        res.on("end", () => {
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // not JSON
          }
          resume(Effect.succeed({ status: res.statusCode ?? 0, body }))
        })
      }
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(data)
  })
