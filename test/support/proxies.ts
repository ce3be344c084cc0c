/**
 * Forward proxies on loopback for tests: an HTTP proxy (CONNECT tunnels and absolute-form requests)
 * and a SOCKS5 proxy, each recording what it was asked for. `resolve` maps the host names clients ask
 * for to where the proxy really connects (so a test can name a server that only the proxy knows).
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { Effect } from "effect"

export interface Proxy {
  readonly port: number
  readonly url: string
  /** `host:port` of every tunnel or request, in order. */
  readonly targets: Array<string>
  /** The Proxy-Authorization (HTTP) or username:password (SOCKS5) each one came with. */
  readonly credentials: Array<string | undefined>
}

interface Options {
  /** Where a host name asked for really is (default: itself). */
  readonly resolve?: (host: string) => string
}

const pipe = (a: Net.Socket, b: Net.Socket) => {
  a.on("error", () => b.destroy())
  b.on("error", () => a.destroy())
  a.pipe(b)
  b.pipe(a)
}

const serve = (server: Net.Server, sockets: Set<Net.Socket>, make: (port: number) => Proxy) =>
  Effect.acquireRelease(
    Effect.callback<Proxy>((resume) => {
      server.on("connection", (s: Net.Socket) => {
        sockets.add(s)
        s.on("error", () => {})
        s.once("close", () => sockets.delete(s))
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(make((server.address() as Net.AddressInfo).port))))
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** An HTTP forward proxy: CONNECT for tunnels, absolute-form requests for plain http. */
export const http = (options: Options = {}) => {
  const targets: Array<string> = []
  const credentials: Array<string | undefined> = []
  const sockets = new Set<Net.Socket>()
  const resolve = options.resolve ?? ((h: string) => h)
  const server = Http.createServer((req, res) => {
    // absolute form: GET http://host:port/path
    const target = new URL(req.url ?? "")
    targets.push(target.host)
    credentials.push(req.headers["proxy-authorization"])
    const upstream = Http.request({
      host: resolve(target.hostname),
      port: target.port || 80,
      method: req.method,
      path: target.pathname + target.search,
      headers: req.headers
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on("error", () => res.destroy())
    req.pipe(upstream)
  })
  server.on("connect", (req: Http.IncomingMessage, client: Net.Socket, head: Buffer) => {
    targets.push(req.url ?? "")
    credentials.push(req.headers["proxy-authorization"])
    const [host, port] = splitHostPort(req.url ?? "")
    const upstream = Net.connect({ host: resolve(host), port: Number(port) }, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n")
      if (head.length > 0) upstream.write(head)
      pipe(client, upstream)
    })
    upstream.on("error", () => {
      client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n")
    })
    sockets.add(upstream)
    upstream.once("close", () => sockets.delete(upstream))
  })
  return serve(server, sockets, (port) => ({ port, url: `http://127.0.0.1:${port}`, targets, credentials }))
}

const splitHostPort = (hostPort: string): [string, string] => {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(hostPort) ?? /^([^:]+):(\d+)$/.exec(hostPort)
  return m !== null ? [m[1]!, m[2]!] : [hostPort, "443"]
}

/** A SOCKS5 proxy (no authentication, or username/password when the client offers it). */
export const socks5 = (options: Options = {}) => {
  const targets: Array<string> = []
  const credentials: Array<string | undefined> = []
  const sockets = new Set<Net.Socket>()
  const resolve = options.resolve ?? ((h: string) => h)
  const server = Net.createServer((client) => {
    let buf = Buffer.alloc(0)
    let stage: "greeting" | "auth" | "request" = "greeting"
    let user: string | undefined
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      for (;;) {
        if (stage === "greeting") {
          if (buf.length < 2 || buf.length < 2 + buf[1]!) return
          const methods = [...buf.subarray(2, 2 + buf[1]!)]
          buf = buf.subarray(2 + buf[1]!)
          const method = methods.includes(2) ? 2 : 0
          client.write(Buffer.from([5, method]))
          stage = method === 2 ? "auth" : "request"
        } else if (stage === "auth") {
          if (buf.length < 2) return
          const ulen = buf[1]!
          if (buf.length < 3 + ulen) return
          const plen = buf[2 + ulen]!
          if (buf.length < 3 + ulen + plen) return
          user = `${buf.subarray(2, 2 + ulen).toString()}:${buf.subarray(3 + ulen, 3 + ulen + plen).toString()}`
          buf = buf.subarray(3 + ulen + plen)
          client.write(Buffer.from([1, 0]))
          stage = "request"
        } else {
          if (buf.length < 5) return
          const type = buf[3]
          const len = type === 1 ? 4 : type === 4 ? 16 : 1 + buf[4]!
          if (buf.length < 6 + len) return
          const host = type === 1
            ? [...buf.subarray(4, 8)].join(".")
            : type === 3
            ? buf.subarray(5, 5 + buf[4]!).toString()
            : buf.subarray(4, 20).toString("hex").replace(/(.{4})(?!$)/g, "$1:")
          const port = buf.readUInt16BE(4 + len)
          const rest = buf.subarray(6 + len)
          client.off("data", onData)
          targets.push(`${host}:${port}`)
          credentials.push(user)
          const upstream = Net.connect({ host: resolve(host), port }, () => {
            client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]))
            if (rest.length > 0) upstream.write(rest)
            pipe(client, upstream)
          })
          upstream.on("error", () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])))
          sockets.add(upstream)
          upstream.once("close", () => sockets.delete(upstream))
          return
        }
      }
    }
    client.on("data", onData)
  })
  return serve(server, sockets, (port) => ({ port, url: `socks5://127.0.0.1:${port}`, targets, credentials }))
}
