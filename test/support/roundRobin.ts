/** A loopback TCP load balancer: each new connection goes to the next of several ports, as a Service spreads them over pods. */
import * as Net from "node:net"
import { Effect } from "effect"

export interface RoundRobin {
  readonly port: number
  /** Connections forwarded to each target port so far. */
  readonly forwarded: () => ReadonlyMap<number, number>
}

export const make = (targets: ReadonlyArray<number>) =>
  Effect.acquireRelease(
    Effect.callback<RoundRobin & { readonly server: Net.Server; readonly sockets: Set<Net.Socket> }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const forwarded = new Map<number, number>()
      let next = 0
      const server = Net.createServer((client) => {
        const port = targets[next++ % targets.length]!
        forwarded.set(port, (forwarded.get(port) ?? 0) + 1)
        const upstream = Net.connect({ host: "127.0.0.1", port })
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on("error", () => {})
          s.once("close", () => {
            sockets.delete(s)
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream)
        upstream.pipe(client)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          server,
          sockets,
          port: (server.address() as Net.AddressInfo).port,
          forwarded: () => forwarded
        })))
    }),
    (p) =>
      Effect.callback<void>((resume) => {
        for (const s of p.sockets) s.destroy()
        p.server.close(() => resume(Effect.void))
      })
  )
