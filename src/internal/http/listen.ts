/**
 * Starting a Node server listening, as an Effect: the webhook server and the health server.
 * @internal
 */
import type * as Net from "node:net"
import * as Effect from "effect/Effect"

/** Starts `server` listening on `port` (and `host`); fails with `onError`'s error when it cannot (a port taken, a bad host). */
export const listening = <S extends Net.Server, E>(
  server: S,
  port: number,
  host: string | undefined,
  onError: (error: Error) => E
): Effect.Effect<S, E> =>
  Effect.callback<S, E>((resume) => {
    const fail = (error: Error) => resume(Effect.fail(onError(error)))
    server.once("error", fail)
    server.listen({ port, ...(host !== undefined ? { host } : {}) }, () => {
      server.off("error", fail)
      resume(Effect.succeed(server))
    })
  })
