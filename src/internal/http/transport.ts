/**
 * The Client's view of an API server: JSON requests and watch streams of parsed events.
 * Two implementations: HTTP(S) with one keep-alive pool (below) and the in-memory server
 * (src/testing/fake/transport.ts).
 * @internal
 */
import * as Http from "node:http"
import * as Https from "node:https"
import type { Duplex } from "node:stream"
import * as Tls from "node:tls"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Method } from "../../Client.ts"
import type { Auth, KubeConfigService } from "../../KubeConfig.ts"
import { RequestTimeout, type RequestInfo, TransportError } from "../../KubeError.ts"
import { KubeConfigError } from "../../KubeConfig.ts"
import { Handoff } from "../handoff.ts"
import { type ItemMeta, ListParser, splitList } from "./listBody.ts"
import { BadLine, MAX_STRING_BYTES, NdjsonDecoder } from "./ndjson.ts"
import { proxyAuthorization, tunnel } from "./proxy.ts"


export interface ApiRequest {
  readonly method: Method
  /** Path and query string, e.g. `/api/v1/namespaces/a/configmaps?limit=500`. */
  readonly path: string
  readonly body?: unknown
  readonly contentType?: string
  /** The Accept header; default `application/json`. */
  readonly accept?: string | undefined
  readonly timeoutMs: number
  readonly info: RequestInfo
  /**
   * A list whose items `skip` recognises are left out: a 2xx body is then parsed item by item from
   * its bytes (no string of the whole body), skipped items never. The answer's body has the same
   * shape as the whole body parsed. A transport without bytes (the in-memory server) may ignore it.
   */
  readonly list?: { readonly skip?: ((meta: ItemMeta) => boolean) | undefined }
}

export interface ApiResponse {
  readonly status: number
  /** Parsed JSON, or the text when it is not JSON, or undefined when empty. */
  readonly body: unknown
  /** Seconds, from a Retry-After header (delay-seconds or an HTTP-date). */
  readonly retryAfter?: number | undefined
}

/** A watch that the server refused (non-2xx before any event). */
export class HttpStatus extends Data.TaggedError("HttpStatus")<{ readonly response: ApiResponse }> {}

export type RequestFailure = RequestTimeout | TransportError | KubeConfigError

export interface Transport {
  readonly request: (req: ApiRequest) => Effect.Effect<ApiResponse, RequestFailure>
  /** Parsed events of a watch, until the server ends it. */
  readonly watch: (req: ApiRequest) => Stream.Stream<unknown, RequestFailure | HttpStatus>
}

/** The code of the TransportError a watch ends with on a line that is not an event. */
export const BAD_WATCH_EVENT = "BAD_WATCH_EVENT"

const USER_AGENT = "operatorkit/0.1.0"
/** Events buffered before the socket is paused (backpressure from a slow consumer). */
const HIGH_WATER = 4096

const parseBody = (buf: Buffer | undefined): unknown => {
  if (buf === undefined || buf.length === 0) return undefined
  const text = buf.toString("utf8")
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const HTTP_DATE = [
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  // obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
  /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/
]
// obsolete asctime, always UTC: Sun Nov  6 08:49:37 1994
const ASCTIME = /^[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}:\d{2}:\d{2}) (\d{4})$/

/**
 * Seconds to wait from a `Retry-After` header: delay-seconds, or an HTTP-date (RFC 9110, its three
 * forms) counted from `nowMillis` (0 when already past). Undefined when absent or unreadable.
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): number | undefined => {
  if (value === undefined) return undefined
  const v = value.trim()
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v)
  let at = NaN
  if (HTTP_DATE.some((re) => re.test(v))) {
    at = Date.parse(v)
  } else {
    const m = ASCTIME.exec(v)
    if (m !== null) at = Date.parse(`${m[2]} ${m[1]} ${m[4]} ${m[3]} GMT`)
  }
  return Number.isFinite(at) ? Math.max(0, (at - nowMillis) / 1000) : undefined
}

const retryAfterOf = (res: Http.IncomingMessage) => {
  const h = res.headers["retry-after"]
  return parseRetryAfter(typeof h === "string" ? h : undefined, Date.now())
}

const transportError = (info: RequestInfo, err: unknown) => {
  const e = err as NodeJS.ErrnoException
  return new TransportError({
    request: info,
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
    detail: e?.message ?? String(err)
  })
}

/**
 * HTTP(S) transport over one keep-alive agent. The TLS material is taken once from the kubeconfig;
 * auth headers are asked for per request (cheap for static credentials).
 */
export const makeHttp = (
  config: KubeConfigService,
  options: { readonly maxSockets?: number } = {}
): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.gen(function*() {
    const url = new URL(config.server)
    const secure = url.protocol === "https:"
    const targetPort = Number(url.port !== "" ? url.port : secure ? 443 : 80)
    const proxy = config.proxy
    // a plain-http server behind an http(s) proxy is asked through it in absolute form (Go's
    // transport); everything else goes through a tunnel the agent opens per connection
    const absoluteForm = proxy !== undefined && !secure && (proxy.protocol === "http:" || proxy.protocol === "https:")
    const lib = absoluteForm ? (proxy.protocol === "https:" ? Https : Http) : secure ? Https : Http
    const proxyAuth = proxy !== undefined ? proxyAuthorization(proxy) : undefined
    const credentials = config.credentials
    const first = yield* Effect.orDie(credentials.current)

    const makeAgent = (cert: Buffer | undefined, key: Buffer | undefined): Http.Agent => {
      const base = { keepAlive: true, maxSockets: options.maxSockets ?? Infinity, scheduling: "lifo" as const }
      const tlsOptions = {
        ca: config.tls.ca,
        cert,
        key,
        rejectUnauthorized: config.tls.rejectUnauthorized,
        ...(config.tls.servername !== undefined ? { servername: config.tls.servername } : {})
      }
      if (absoluteForm) return proxy.protocol === "https:" ? new Https.Agent(base) : new Http.Agent(base)
      if (proxy === undefined) return secure ? new Https.Agent({ ...base, ...tlsOptions }) : new Http.Agent(base)
      return tunnelingAgent(proxy, url.hostname.replace(/^\[|\]$/g, ""), targetPort, secure, { ...base, ...(secure ? tlsOptions : {}) })
    }
    // The pool follows the client certificate: when it changes (files rewritten, an exec plugin's
    // new one), new connections use the new one and the old pool's close as their requests end
    // (client-go closes them all at once).
    let pool = { agent: makeAgent(first.cert, first.key), cert: first.cert, key: first.key }
    const retired: Array<Http.Agent> = []
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        pool.agent.destroy()
        for (const a of retired) a.destroy()
      })
    )
    const agentFor = (auth: Auth): Http.Agent => {
      if (sameBuffer(auth.cert, pool.cert) && sameBuffer(auth.key, pool.key)) return pool.agent
      const old = pool.agent
      // released sockets of a pool without keep-alive are closed (Node's Agent checks it on release)
      ;(old as unknown as { keepAlive: boolean }).keepAlive = false
      for (const sockets of Object.values(old.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
      retired.push(old)
      pool = { agent: makeAgent(auth.cert, auth.key), cert: auth.cert, key: auth.key }
      return pool.agent
    }
    const basePath = url.pathname.replace(/\/+$/, "")

    const options_ = (req: ApiRequest, auth: Auth, body: string | undefined) => ({
      agent: agentFor(auth),
      ...(absoluteForm
        ? {
          protocol: proxy.protocol,
          hostname: proxy.hostname.replace(/^\[|\]$/g, ""),
          port: proxy.port !== "" ? proxy.port : proxy.protocol === "https:" ? "443" : "80",
          path: `${url.protocol}//${url.host}${basePath}${req.path}`
        }
        : { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ""), port: url.port, path: basePath + req.path }),
      method: req.method,
      headers: {
        ...auth.headers,
        ...(absoluteForm && proxyAuth !== undefined ? { "proxy-authorization": proxyAuth } : {}),
        ...(absoluteForm ? { host: url.host } : {}),
        accept: req.accept ?? "application/json",
        "user-agent": USER_AGENT,
        ...(body !== undefined
          ? { "content-type": req.contentType ?? "application/json", "content-length": Buffer.byteLength(body) }
          : {})
      }
    })

    const serialize = (body: unknown) =>
      body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body)

    /**
     * A 401 reloads the credentials from their source and, when that changed them, sends once more
     * (watches too): a rotated token or certificate works at once, not when a cache expires.
     */
    const withReauth = <A, R>(
      send: (auth: Auth) => Effect.Effect<A, RequestFailure, R>,
      unauthorized: (a: A) => boolean,
      discard: (a: A) => void = () => {}
    ): Effect.Effect<A, RequestFailure, R> =>
      Effect.flatMap(credentials.current, (auth) =>
        Effect.flatMap(send(auth), (out) =>
          !unauthorized(out) || !credentials.reloadable
            ? Effect.succeed(out)
            : Effect.flatMap(credentials.refresh(auth), (fresh) =>
              fresh.version === auth.version
                ? Effect.succeed(out)
                : Effect.andThen(Effect.sync(() => discard(out)), send(fresh)))))

    const request = (req: ApiRequest): Effect.Effect<ApiResponse, RequestFailure> =>
      withReauth((auth) => sendOnce(req, auth), (res) => res.status === 401)

    const sendOnce = (req: ApiRequest, auth: Auth, again = false): Effect.Effect<ApiResponse, RequestFailure> =>
        Effect.callback<ApiResponse, RequestFailure>((resume) => {
          const body = serialize(req.body)
          let answered = false
          let settled = false
          const settle = (effect: Effect.Effect<ApiResponse, RequestFailure>) => {
            if (settled) return
            settled = true
            deadline.clear()
            resume(effect)
          }
          const r = lib.request(options_(req, auth, body), (res) => {
            answered = true
            const reader = new BodyReader(req, res)
            const unreadable = reader.unreadable()
            if (unreadable !== undefined) {
              r.destroy()
              return settle(Effect.fail(unreadable))
            }
            // nothing thrown in these callbacks may escape: it would be an uncaught exception
            res.on("data", (c: Buffer) => {
              let stop: RequestFailure | undefined
              try {
                stop = reader.push(c)
              } catch (error) {
                // the caller's skip threw
                r.destroy()
                return settle(Effect.die(error))
              }
              if (stop !== undefined) {
                r.destroy()
                settle(Effect.fail(stop))
              }
            })
            res.once("end", () => {
              let answer: Effect.Effect<ApiResponse, RequestFailure>
              try {
                answer = reader.end()
              } catch (error) {
                answer = Effect.die(error)
              }
              // Node returns a keep-alive socket to the pool on the next tick after "end"; resuming
              // after that lets the caller's next request reuse it instead of opening another
              deadline.clear()
              process.nextTick(() => settle(answer))
            })
            res.once("error", (e) => settle(Effect.fail(deadline.failure(e))))
          })
          r.once("error", (e: NodeJS.ErrnoException) => {
            // A pooled connection the server closed meanwhile: a GET is sent again on a fresh one,
            // as Go's transport retries a replayable request (Node's docs advise the same)
            if (!again && !answered && r.reusedSocket && req.method === "GET" && (e.code === "ECONNRESET" || e.code === "EPIPE")) {
              return settle(sendOnce(req, auth, true))
            }
            settle(Effect.fail(deadline.failure(e)))
          })
          const deadline = withDeadline(r, req)
          r.end(body)
          return Effect.sync(() => {
            settled = true
            deadline.clear()
            r.destroy()
          })
        })

    /** Destroys a request at its deadline; a failure after that is reported as the timeout. */
    const withDeadline = (r: Http.ClientRequest, req: ApiRequest) => {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        r.destroy(new Error("timeout"))
      }, req.timeoutMs)
      return {
        clear: () => clearTimeout(timer),
        failure: (e: unknown): RequestFailure =>
          timedOut ? new RequestTimeout({ request: req.info, timeoutMillis: req.timeoutMs }) : transportError(req.info, e)
      }
    }

    interface Open {
      readonly req: Http.ClientRequest
      readonly res: Http.IncomingMessage
    }

    /** Sends the watch request; the deadline covers the response headers only. */
    const open = (req: ApiRequest, auth: Auth) =>
      Effect.callback<Open, RequestFailure>((resume) => {
        const r = lib.request(options_(req, auth, undefined), (res) => {
          deadline.clear()
          resume(Effect.succeed({ req: r, res }))
        })
        r.once("error", (e) => {
          deadline.clear()
          resume(Effect.fail(deadline.failure(e)))
        })
        const deadline = withDeadline(r, req)
        r.end()
        return Effect.sync(() => {
          deadline.clear()
          r.destroy()
        })
      })

    const readAll = (res: Http.IncomingMessage) =>
      Effect.callback<Buffer>((resume) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.once("end", () => resume(Effect.succeed(Buffer.concat(chunks))))
        res.once("error", () => resume(Effect.succeed(Buffer.concat(chunks))))
      })

    const watch = (req: ApiRequest): Stream.Stream<unknown, RequestFailure | HttpStatus> =>
      Stream.unwrap(Effect.gen(function*() {
        const opened = (auth: Auth) => Effect.acquireRelease(open(req, auth), ({ req }) => Effect.sync(() => req.destroy()))
        const { req: r, res } = yield* withReauth(opened, ({ res }) => res.statusCode === 401, ({ req }) => req.destroy())
        if (res.statusCode !== 200) {
          const body = yield* readAll(res)
          return yield* new HttpStatus({
            response: { status: res.statusCode ?? 0, body: parseBody(body), retryAfter: retryAfterOf(res) }
          })
        }
        return Stream.fromPull(Effect.succeed(eventPull(req, r, res)))
      }))

    return { request, watch } satisfies Transport
  })

const sameBuffer = (a: Buffer | undefined, b: Buffer | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.equals(b))

/** How long a proxy may take to open a tunnel. */
const TUNNEL_TIMEOUT_MS = 30_000

/** An agent whose every connection is a tunnel through the proxy (TLS to the server inside it). */
const tunnelingAgent = (
  proxy: URL,
  host: string,
  port: number,
  secure: boolean,
  options: Https.AgentOptions
): Http.Agent => {
  const Base = secure ? Https.Agent : Http.Agent
  class Tunneling extends Base {
    override createConnection(
      connectOptions: Http.ClientRequestArgs,
      callback?: (err: Error | null, stream: Duplex) => void
    ): undefined {
      // Node's Agent waits for the callback when this returns nothing
      tunnel(proxy, host, port, TUNNEL_TIMEOUT_MS, (err, socket) => {
        if (err !== null || socket === undefined) return callback?.(err ?? new Error("no tunnel"), undefined as never)
        if (!secure) return callback?.(null, socket)
        callback?.(null, Tls.connect({ ...connectOptions, socket } as Tls.ConnectionOptions))
      })
      return undefined
    }
  }
  return new Tunneling(options)
}

/** Above this size a list answer is read item by item as it arrives, not kept whole. */
const LIST_WHOLE_MAX_BYTES = 64 * 1024 * 1024

const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(0)} MiB (${bytes} bytes)` : `${bytes} bytes`

/** The code of the TransportError for an answer no string could hold, that could not be read otherwise. */
export const RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"

/** The code of the TransportError for a 2xx list answer that is not a list. */
export const BAD_LIST_BODY = "BAD_LIST_BODY"

/**
 * Reads one answer's body. Small answers are kept whole and parsed once (one JSON.parse of the
 * whole body is faster than parsing during the transfer, as measured). A 2xx list answer is read
 * item by item, skipped items never parsed: once complete when it has items to skip, and as it
 * arrives once it grows past {@link LIST_WHOLE_MAX_BYTES}, so no string of the whole body is ever
 * made and lists beyond V8's string limit (about 512 MiB) are read too. An answer that cannot be
 * read either way stops the transfer with a typed error naming its size and what to do.
 */
class BodyReader {
  private chunks: Array<Buffer> = []
  private bytes = 0
  private parser: ListParser | undefined
  private readonly req: ApiRequest
  private readonly res: Http.IncomingMessage
  private readonly status: number
  private readonly list: boolean
  private readonly contentLength: number | undefined

  constructor(req: ApiRequest, res: Http.IncomingMessage) {
    this.req = req
    this.res = res
    this.status = res.statusCode ?? 0
    this.list = req.list !== undefined && this.status >= 200 && this.status < 300
    const length = Number(res.headers["content-length"])
    this.contentLength = Number.isSafeInteger(length) && length >= 0 ? length : undefined
  }

  /** A failure when the announced length alone says the answer cannot be read (not a list, too long for a string). */
  unreadable(): RequestFailure | undefined {
    return !this.list && this.contentLength !== undefined && this.contentLength > MAX_STRING_BYTES
      ? this.tooLarge("it is not a list")
      : undefined
  }

  /** Takes a chunk; a failure means: stop reading. */
  push(chunk: Buffer): RequestFailure | undefined {
    this.bytes += chunk.length
    if (this.parser !== undefined) {
      this.parser.push(chunk)
      return this.parser.failure !== undefined ? this.tooLarge(this.parser.failure) : undefined
    }
    this.chunks.push(chunk)
    if (this.list && this.bytes > LIST_WHOLE_MAX_BYTES) {
      this.parser = new ListParser(this.req.list?.skip)
      for (const c of this.chunks) this.parser.push(c)
      this.chunks = []
      return this.parser.failure !== undefined ? this.tooLarge(this.parser.failure) : undefined
    }
    if (this.bytes > MAX_STRING_BYTES) return this.tooLarge(this.list ? undefined : "it is not a list")
    return undefined
  }

  end(): Effect.Effect<ApiResponse, RequestFailure> {
    const answer = (body: unknown) => Effect.succeed({ status: this.status, body, retryAfter: retryAfterOf(this.res) })
    if (this.parser !== undefined) {
      const parsed = this.parser.end()
      return parsed !== undefined
        ? answer({ ...parsed.list, items: parsed.items })
        : Effect.fail(this.tooLarge(this.parser.failure ?? "not a list as expected"))
    }
    const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks = []
    const skip = this.req.list?.skip
    if (this.list && skip !== undefined && bytes !== undefined) {
      const parsed = splitList(bytes, skip)
      if (parsed !== undefined) return answer({ ...parsed.list, items: parsed.items })
    }
    return answer(parseBody(bytes))
  }

  private tooLarge(why: string | undefined): TransportError {
    const known = this.contentLength ?? this.bytes
    const size = this.contentLength !== undefined ? sizeText(this.contentLength) : `at least ${sizeText(this.bytes)}`
    if (known <= MAX_STRING_BYTES) {
      // not a size problem: the server's list answer is not a list
      return new TransportError({ request: this.req.info, code: BAD_LIST_BODY, detail: `the list answer (${size}) could not be read: ${why ?? "not a list"}` })
    }
    const fromCache = this.list && /[?&]resourceVersion=0(&|$)/.test(this.req.path)
    const remedy = !this.list
      ? "Ask for less (a list in pages with limit, a label or field selector)."
      : fromCache
      ? "A list with resourceVersion=0 is served whole from the API server's watch cache, whatever its limit: list in pages from etcd instead (resourceVersion unset; an informer does that after this error, or from the start with listFromCache: false)."
      : "List in smaller pages (limit), or narrow the list with a label or field selector."
    return new TransportError({
      request: this.req.info,
      code: RESPONSE_TOO_LARGE,
      detail: `the answer is ${size}, more than one string can hold (${sizeText(MAX_STRING_BYTES)})${
        why !== undefined ? `, and could not be read item by item: ${why}` : ""
      }. ${remedy}`
    })
  }
}

/** A pull over a watch body: batches of parsed events, pausing the socket when the consumer lags. */
const eventPull = (req: ApiRequest, r: Http.ClientRequest, res: Http.IncomingMessage) => {
  const decoder = new NdjsonDecoder()
  let paused = false
  // taking the buffer resumes a socket paused at the high-water mark
  const handoff = new Handoff<unknown, TransportError>(() => {
    if (paused) {
      paused = false
      res.resume()
    }
  })
  // the first end or failure wins (Handoff keeps it)
  const fail = (detail: string, code?: string) => {
    handoff.fail(new TransportError({ request: req.info, detail, ...(code !== undefined ? { code } : {}) }))
  }

  const badLine = (e: unknown) => {
    fail(e instanceof BadLine ? `the server sent ${e.message}` : `unreadable watch line: ${String(e)}`, BAD_WATCH_EVENT)
    r.destroy()
  }
  res.on("data", (chunk: Buffer) => {
    try {
      decoder.push(chunk, handoff.pending)
    } catch (e) {
      return badLine(e)
    }
    if (handoff.pending.length >= HIGH_WATER && !paused) {
      paused = true
      res.pause()
    }
    handoff.wake()
  })
  res.once("end", () => {
    try {
      decoder.end(handoff.pending)
    } catch (e) {
      return badLine(e)
    }
    handoff.end()
  })
  res.once("error", (e: NodeJS.ErrnoException) => fail(`watch connection failed: ${e.message}`, e.code))
  res.once("close", () => {
    if (!res.complete) fail("watch connection closed before the server ended it", "ECONNRESET")
  })

  return handoff.pull
}
