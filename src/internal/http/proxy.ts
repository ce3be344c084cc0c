/**
 * Proxies, as kubectl uses them: a cluster's `proxy-url` for every request (loopback included),
 * else the environment with Go's rules (`golang.org/x/net/http/httpproxy`, read once, as
 * `http.ProxyFromEnvironment` does):
 *
 * - `HTTPS_PROXY` (or `https_proxy`) for https servers, `HTTP_PROXY` (or `http_proxy`) for http ones,
 *   the upper-case name first; a value without a scheme is taken as `http://…`. `HTTP_PROXY` is
 *   ignored in a CGI environment (`REQUEST_METHOD` set).
 * - `localhost` and loopback addresses never go through the environment's proxy.
 * - `NO_PROXY` (or `no_proxy`): comma-separated; `*` for every host; an IP address or CIDR range;
 *   a domain, which matches itself and its subdomains (`.domain` and `*.domain` only subdomains);
 *   each with an optional `:port`.
 *
 * Tunnels: `http://` and `https://` proxies by CONNECT (basic credentials from the proxy URL's user
 * info), `socks5://` and `socks5h://` by a SOCKS5 CONNECT (the host name resolved by the proxy,
 * username/password authentication from the URL). A plain-http server behind an http proxy is
 * asked through it in absolute form, as Go's transport does.
 * @internal
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as Url from "node:url"

export interface ProxyEnv {
  readonly [name: string]: string | undefined
}

const PORTS: Readonly<Record<string, string>> = { "http:": "80", "https:": "443", "socks5:": "1080", "socks5h:": "1080" }

const envAny = (env: ProxyEnv, ...names: ReadonlyArray<string>) => {
  for (const n of names) {
    const v = env[n]
    if (v !== undefined && v !== "") return v
  }
  return undefined
}

/** Go's parseProxy: a value without a scheme (or host) is tried as `http://value`. */
export const parseProxyUrl = (value: string): URL | undefined => {
  if (value === "") return undefined
  try {
    const u = new URL(value)
    if (u.host !== "" && /^[a-z][a-z0-9+.-]*:$/.test(u.protocol)) return u
  } catch {
    // fall through
  }
  try {
    return new URL(`http://${value}`)
  } catch {
    return undefined
  }
}

type Matcher = (host: string, port: string, ip: string | undefined) => boolean

const ipFamily = (ip: string) => (Net.isIPv4(ip) ? "ipv4" : "ipv6")

const isLoopback = (ip: string) => {
  if (Net.isIPv4(ip)) return ip.startsWith("127.")
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (v4 !== null) return v4[1]!.startsWith("127.")
  const list = new Net.BlockList()
  list.addAddress("::1", "ipv6")
  return list.check(ip, "ipv6")
}

const sameIp = (a: string, b: string) => {
  if (ipFamily(a) !== ipFamily(b)) return false
  const list = new Net.BlockList()
  list.addAddress(a, ipFamily(a))
  return list.check(b, ipFamily(b))
}

const splitHostPort = (p: string): { host: string; port: string } | undefined => {
  const bracketed = /^\[([^\]]*)\]:(\d*)$/.exec(p)
  if (bracketed !== null) return { host: bracketed[1]!, port: bracketed[2]! }
  const i = p.lastIndexOf(":")
  if (i === -1 || p.indexOf(":") !== i) return undefined
  return { host: p.slice(0, i), port: p.slice(i + 1) }
}

/** The NO_PROXY matchers, as Go's config.init builds them. */
const parseNoProxy = (noProxy: string): { ip: Array<Matcher>; domain: Array<Matcher> } | "all" => {
  const ip: Array<Matcher> = []
  const domain: Array<Matcher> = []
  for (const raw of noProxy.split(",")) {
    const p = raw.trim().toLowerCase()
    if (p === "") continue
    if (p === "*") return "all"
    const cidr = /^(.+)\/(\d{1,3})$/.exec(p)
    if (cidr !== null && Net.isIP(cidr[1]!) !== 0) {
      const family = ipFamily(cidr[1]!)
      const bits = Number(cidr[2])
      if (bits <= (family === "ipv4" ? 32 : 128)) {
        const list = new Net.BlockList()
        list.addSubnet(cidr[1]!, bits, family)
        ip.push((_h, _p, addr) => addr !== undefined && ipFamily(addr) === family && list.check(addr, family))
        continue
      }
    }
    let host = p
    let port = ""
    const split = splitHostPort(p)
    if (split !== undefined) {
      if (split.host === "") continue
      host = split.host.startsWith("[") && split.host.endsWith("]") ? split.host.slice(1, -1) : split.host
      port = split.port
    }
    if (Net.isIP(host) !== 0) {
      const literal = host
      ip.push((_h, p2, addr) => addr !== undefined && sameIp(literal, addr) && (port === "" || port === p2))
      continue
    }
    if (host === "") continue
    if (host.startsWith("*.")) host = host.slice(1)
    const matchHost = !host.startsWith(".")
    const dotted = matchHost ? `.${host}` : host
    // internationalised names compare in their ASCII form, as the URL's host is
    const ascii = Url.domainToASCII(dotted.slice(1))
    const suffix = ascii !== "" ? `.${ascii}` : dotted
    domain.push((h, p2) => (h.endsWith(suffix) || (matchHost && h === suffix.slice(1))) && (port === "" || port === p2))
  }
  return { ip, domain }
}

/**
 * The proxy Go's `http.ProxyFromEnvironment` picks for `target`, from `env`; undefined for a direct
 * connection.
 */
export const proxyFromEnvironment = (target: URL, env: ProxyEnv): URL | undefined => {
  let value: string | undefined
  if (target.protocol === "https:") value = envAny(env, "HTTPS_PROXY", "https_proxy")
  else if (target.protocol === "http:") {
    value = envAny(env, "HTTP_PROXY", "http_proxy")
    // golang.org/s/cgihttpproxy
    if (value !== undefined && envAny(env, "REQUEST_METHOD") !== undefined) return undefined
  }
  const proxy = value !== undefined ? parseProxyUrl(value) : undefined
  if (proxy === undefined) return undefined
  const host = target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname
  const port = target.port !== "" ? target.port : PORTS[target.protocol] ?? ""
  if (host === "localhost") return undefined
  const ip = Net.isIP(host) !== 0 ? host : undefined
  if (ip !== undefined && isLoopback(ip)) return undefined
  const noProxy = parseNoProxy(envAny(env, "NO_PROXY", "no_proxy") ?? "")
  if (noProxy === "all") return undefined
  const name = host.trim().toLowerCase()
  if (ip !== undefined && noProxy.ip.some((m) => m(name, port, ip))) return undefined
  if (noProxy.domain.some((m) => m(name, port, ip))) return undefined
  return proxy
}

/** The proxy for a cluster: its `proxy-url` when set, else the environment's. */
export const proxyFor = (server: URL, proxyUrl: string | undefined, env: ProxyEnv): URL | undefined =>
  proxyUrl !== undefined && proxyUrl !== "" ? parseProxyUrl(proxyUrl) : proxyFromEnvironment(server, env)

export const SUPPORTED_PROXY_SCHEMES = ["http:", "https:", "socks5:", "socks5h:"]

const basicAuth = (proxy: URL) =>
  proxy.username !== "" || proxy.password !== ""
    ? `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}`
    : undefined

/** The `Proxy-Authorization` header for an http proxy asked in absolute form. */
export const proxyAuthorization = basicAuth

/** A connection to the proxy itself (TLS for an https:// proxy). */
const connectProxy = (proxy: URL, timeoutMs: number): Net.Socket => {
  const port = Number(proxy.port !== "" ? proxy.port : PORTS[proxy.protocol] ?? "80")
  const host = proxy.hostname.startsWith("[") ? proxy.hostname.slice(1, -1) : proxy.hostname
  const socket = proxy.protocol === "https:"
    ? Tls.connect({ host, port, servername: Net.isIP(host) === 0 ? host : undefined })
    : Net.connect({ host, port })
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`proxy ${proxy.host} did not answer within ${timeoutMs} ms`)))
  return socket
}

/** Reads from a socket until `done` says the answer is complete; the rest is put back. */
const readUntil = (socket: Net.Socket, done: (buf: Buffer) => number | undefined, cb: (err: Error | null, head?: Buffer) => void) => {
  let buf = Buffer.alloc(0)
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    const end = done(buf)
    if (end === undefined) {
      if (buf.length > 64 * 1024) finish(new Error("the proxy's answer is too long"))
      return
    }
    socket.pause()
    if (end < buf.length) socket.unshift(buf.subarray(end))
    finish(null, buf.subarray(0, end))
  }
  const onError = (e: Error) => finish(e)
  const onClose = () => finish(new Error("the proxy closed the connection"))
  const finish = (err: Error | null, head?: Buffer) => {
    socket.off("data", onData)
    socket.off("error", onError)
    socket.off("close", onClose)
    cb(err, head)
  }
  socket.on("data", onData)
  socket.once("error", onError)
  socket.once("close", onClose)
  // paused by the previous step of the handshake
  socket.resume()
}

const httpConnect = (proxy: URL, host: string, port: number, timeoutMs: number, cb: (err: Error | null, socket?: Net.Socket) => void) => {
  const socket = connectProxy(proxy, timeoutMs)
  const target = Net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`
  const auth = basicAuth(proxy)
  socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => {
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth !== undefined ? `Proxy-Authorization: ${auth}\r\n` : ""}\r\n`)
  })
  readUntil(socket, (buf) => {
    const i = buf.indexOf("\r\n\r\n")
    return i === -1 ? undefined : i + 4
  }, (err, head) => {
    if (err !== null) {
      socket.destroy()
      return cb(new Error(`proxy ${proxy.host}: ${err.message}`))
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head!.toString("latin1"))
    if (status === null || status[1] !== "200") {
      socket.destroy()
      const line = head!.toString("latin1").split("\r\n")[0]
      return cb(new Error(`proxy ${proxy.host} refused CONNECT ${target}: ${line}`))
    }
    socket.setTimeout(0)
    cb(null, socket)
  })
}

const SOCKS_REPLIES: Readonly<Record<number, string>> = {
  1: "general failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported"
}

const socksConnect = (proxy: URL, host: string, port: number, timeoutMs: number, cb: (err: Error | null, socket?: Net.Socket) => void) => {
  const socket = connectProxy(proxy, timeoutMs)
  const user = decodeURIComponent(proxy.username)
  const pass = decodeURIComponent(proxy.password)
  const withAuth = user !== "" || pass !== ""
  const failed = (why: string) => {
    socket.destroy()
    cb(new Error(`socks5 proxy ${proxy.host}: ${why}`))
  }
  const request = () => {
    let address: Buffer
    if (Net.isIPv4(host)) address = Buffer.from([1, ...host.split(".").map(Number)])
    else if (Net.isIPv6(host)) address = Buffer.concat([Buffer.from([4]), ipv6Bytes(host)])
    else {
      const name = Buffer.from(host)
      address = Buffer.concat([Buffer.from([3, name.length]), name])
    }
    socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, Buffer.from([port >> 8, port & 0xff])]))
    readUntil(socket, (buf) => {
      if (buf.length < 5) return undefined
      const len = buf[3] === 1 ? 4 : buf[3] === 4 ? 16 : buf[3] === 3 ? 1 + buf[4]! : 0
      return buf.length >= 6 + len ? 6 + len : undefined
    }, (err, head) => {
      if (err !== null) return failed(err.message)
      if (head![1] !== 0) return failed(`CONNECT ${host}:${port} refused: ${SOCKS_REPLIES[head![1]!] ?? `reply ${head![1]}`}`)
      socket.setTimeout(0)
      cb(null, socket)
    })
  }
  socket.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => {
    socket.write(Buffer.from(withAuth ? [5, 2, 0, 2] : [5, 1, 0]))
  })
  readUntil(socket, (buf) => (buf.length >= 2 ? 2 : undefined), (err, head) => {
    if (err !== null) return failed(err.message)
    if (head![0] !== 5) return failed("not a SOCKS5 proxy")
    if (head![1] === 0) return request()
    if (head![1] !== 2 || !withAuth) return failed("no acceptable authentication method")
    const u = Buffer.from(user)
    const p = Buffer.from(pass)
    socket.write(Buffer.concat([Buffer.from([1, u.length]), u, Buffer.from([p.length]), p]))
    readUntil(socket, (buf) => (buf.length >= 2 ? 2 : undefined), (err2, head2) => {
      if (err2 !== null) return failed(err2.message)
      if (head2![1] !== 0) return failed("username/password refused")
      request()
    })
  })
}

const ipv6Bytes = (address: string): Buffer => {
  const [headPart, tailPart] = address.includes("::") ? address.split("::") as [string, string] : [address, undefined]
  const head = headPart === "" ? [] : headPart.split(":")
  const tail = tailPart === undefined || tailPart === "" ? [] : tailPart.split(":")
  const groups = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

/** A raw TCP stream to `host:port` through the proxy. */
export const tunnel = (
  proxy: URL,
  host: string,
  port: number,
  timeoutMs: number,
  cb: (err: Error | null, socket?: Net.Socket) => void
): void => {
  if (proxy.protocol === "socks5:" || proxy.protocol === "socks5h:") return socksConnect(proxy, host, port, timeoutMs, cb)
  return httpConnect(proxy, host, port, timeoutMs, cb)
}
