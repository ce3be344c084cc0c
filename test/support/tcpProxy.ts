/**
 * A loopback TCP proxy to put between a client and the API server: counts connections, and can
 * stall (stop forwarding, keep sockets open), cut (destroy every connection), or black-hole new
 * connections (accept and never answer).
 */
import * as Net from "node:net"
import { Effect } from "effect"

export interface TcpProxy {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Connections closed so far (by either side). */
  readonly closed: () => number
  readonly open: () => number
  /** Stop forwarding bytes in both directions, on open and new connections; sockets stay open. */
  readonly stall: () => void
  /** Stop forwarding on the connections open now only; new connections work. */
  readonly stallOpen: () => void
  readonly resume: () => void
  /** Destroy every open connection. */
  readonly cut: () => void
  /** Accept new connections but never forward or answer them. */
  readonly blackHole: (on: boolean) => void
  /** Point the proxy at another target (e.g. after a restart on other ports). */
  readonly retarget: (port: number) => void
  /** Resolves when the next connection closes. */
  readonly nextClose: () => Promise<void>
}

export const make = (targetPort: number, targetHost = "127.0.0.1") =>
  Effect.acquireRelease(
    Effect.callback<TcpProxy & { readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const pairs = new Set<{ client: Net.Socket; upstream: Net.Socket; stalled: boolean }>()
      let accepted = 0
      let closed = 0
      let stalled = false
      let blackHoled = false
      let target = targetPort
      let closeWaiters: Array<() => void> = []
      const onClose = () => {
        closed++
        const waiters = closeWaiters
        closeWaiters = []
        for (const w of waiters) w()
      }
      const server = Net.createServer((client) => {
        accepted++
        sockets.add(client)
        client.once("close", () => {
          sockets.delete(client)
          onClose()
        })
        client.on("error", () => {})
        if (blackHoled) return
        const upstream = Net.connect({ host: targetHost, port: target })
        sockets.add(upstream)
        const pair = { client, upstream, stalled: false }
        pairs.add(pair)
        upstream.on("error", () => client.destroy())
        upstream.once("close", () => {
          sockets.delete(upstream)
          pairs.delete(pair)
          client.destroy()
        })
        client.once("close", () => upstream.destroy())
        const forward = (from: Net.Socket, to: Net.Socket) =>
          from.on("data", (chunk) => {
            if (!stalled && !pair.stalled) to.write(chunk)
          })
        forward(client, upstream)
        forward(upstream, client)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(Effect.succeed({
          server,
          sockets,
          port: address.port,
          accepted: () => accepted,
          closed: () => closed,
          open: () => accepted - closed,
          stall: () => (stalled = true),
          stallOpen: () => {
            for (const p of pairs) p.stalled = true
          },
          resume: () => {
            stalled = false
            for (const p of pairs) p.stalled = false
          },
          cut: () => {
            for (const s of sockets) s.destroy()
          },
          blackHole: (on) => (blackHoled = on),
          retarget: (port) => (target = port),
          nextClose: () => new Promise<void>((r) => closeWaiters.push(r))
        }))
      })
    }),
    (proxy) =>
      Effect.callback<void>((resume) => {
        for (const s of proxy.sockets) s.destroy()
        proxy.server.close(() => resume(Effect.void))
      })
  )
