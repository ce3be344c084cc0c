/**
 * The in-memory API server as a `Transport`, with what tests control: injected faults, call
 * counts, cut watches, compaction and bookmarks. Time (timestamps, watch timeouts, bookmark
 * periods, injected delays) comes from Effect's Clock, so TestClock drives it.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import { RequestTimeout, TransportError } from "../../KubeError.ts"
import { resourceKey } from "./kinds.ts"
import { type Attempt, type Context, parsePath, type Request, type Verb, verbOf } from "./request.ts"
import { Server } from "./server.ts"
import * as S from "./status.ts"
import { clone, type JsonObject } from "./status.ts"
import { negotiate, represent, representEvent } from "./metadata.ts"
import { Store, type Watcher } from "./store.ts"
import * as Admission from "./webhooks.ts"
import { type ApiRequest, type ApiResponse, HttpStatus, type RequestFailure, type Transport } from "../../internal/http/transport.ts"

export interface FaultSpec {
  readonly verb: Verb
  /** `group/plural`, or every resource. */
  readonly resource: string | undefined
  remaining: number
  /** undefined: after the delay, the call is answered normally. */
  readonly code: number | undefined
  readonly reason: string
  readonly message: string
  readonly retryAfter: number | undefined
  readonly disconnect: boolean
  readonly delayMillis: number
}

export interface FakeOptions {
  readonly historyLimit: number
  /** Period of BOOKMARK events on watches that asked for them; undefined for none. */
  readonly bookmarkMillis: number | undefined
}

export interface Fake {
  readonly store: Store
  readonly server: Server
  readonly transport: Transport
  readonly faults: Array<FaultSpec>
  readonly calls: Map<string, number>
  readonly handle: (request: Request) => Effect.Effect<ApiResponse>
  /** Sends a BOOKMARK to every open watch that asked for bookmarks; how many got one. */
  readonly bookmark: () => number
  /** Drops every open watch connection; how many were open. */
  readonly cutWatches: () => number
  /** Calls these webhooks on writes from now on; the function given back stops it. */
  readonly registerWebhooks: (registered: Admission.Registered) => () => void
}

/**
 * The transport of each in-memory server (`TestServer.make` registers it), for tests that send
 * requests past the Client's checks; not part of the public handle.
 */
export const transports = new WeakMap<object, Transport>()

/** The transport of an in-memory server's handle. */
export const transportOf = (server: object): Transport => {
  const transport = transports.get(server)
  if (transport === undefined) throw new Error("not the handle of an in-memory server made by TestServer.make")
  return transport
}

export const callKey = (verb: Verb, resource: string | undefined) => `${verb} ${resource ?? ""}`

interface WatchSink {
  readonly watcher: Watcher
  readonly send: (event: JsonObject) => void
}

export const make = (options: FakeOptions): Fake => {
  const store = new Store(options.historyLimit)
  const server = new Server(store)
  const faults: Array<FaultSpec> = []
  const calls = new Map<string, number>()
  const open = new Set<WatchSink>()

  const context = Effect.map(
    Effect.all([Clock.currentTimeMillis, Random.Random]),
    ([now, random]) => ({ now, random: () => random.nextDoubleUnsafe() })
  )

  /** Counts the call and takes the first fault that matches it. */
  const admit = (verb: Verb, path: string): FaultSpec | undefined => {
    const target = parsePath(path)
    const resource = target !== undefined ? resourceKey(target.group, target.plural) : undefined
    calls.set(callKey(verb, resource), (calls.get(callKey(verb, resource)) ?? 0) + 1)
    const fault = faults.find((f) => f.remaining > 0 && f.verb === verb && (f.resource === undefined || f.resource === resource))
    if (fault === undefined) return undefined
    fault.remaining--
    if (fault.remaining === 0) faults.splice(faults.indexOf(fault), 1)
    return fault
  }

  const faultAnswer = (fault: FaultSpec & { readonly code: number }): ApiResponse => {
    const answer = S.failure(fault.code, fault.reason, fault.message, {
      ...(fault.retryAfter !== undefined ? { retryAfterSeconds: fault.retryAfter } : {})
    })
    return { status: answer.status, body: answer.body, retryAfter: fault.retryAfter }
  }

  /** Waits out an injected delay; past the request's deadline the call times out as on a real socket. */
  const delay = (fault: FaultSpec, req: ApiRequest): Effect.Effect<void, RequestFailure> =>
    fault.delayMillis <= 0
      ? Effect.void
      : fault.delayMillis >= req.timeoutMs
      ? Effect.andThen(
        Effect.sleep(Duration.millis(req.timeoutMs)),
        Effect.fail(new RequestTimeout({ request: req.info, timeoutMillis: req.timeoutMs }))
      )
      : Effect.sleep(Duration.millis(fault.delayMillis))

  const disconnected = (req: ApiRequest, detail: string) => new TransportError({ request: req.info, code: "ECONNRESET", detail })

  /** The resource a path names, for the messages of metadata.ts. */
  const resourceAt = (path: string) => {
    const resolved = server.resolve(parsePath(path))
    return "resource" in resolved ? resolved.resource : undefined
  }

  const webhooks: Array<Admission.Registered> = []
  let reviews = 0
  const registerWebhooks = (registered: Admission.Registered) => {
    webhooks.push(registered)
    return () => {
      const i = webhooks.indexOf(registered)
      if (i >= 0) webhooks.splice(i, 1)
    }
  }

  /** The server's answer, with the admission webhooks of a write called in between (fake/webhooks.ts). */
  const serve = (request: Request, ctx: Context): Effect.Effect<S.Answer> => {
    const target = parsePath(request.path)
    const write = request.method === "POST" || request.method === "PUT" || request.method === "PATCH"
    if (!write || target === undefined || target.subresource !== undefined || !Admission.admits(webhooks, target.group, target.plural)) {
      return Effect.sync(() => server.handle(request, ctx))
    }
    return Effect.suspend(() => {
      // first pass: up to the point of admission, nothing committed; its random draws are kept
      const draws: Array<number> = []
      let attempt: Attempt | undefined
      const first = server.handle(request, {
        ...ctx,
        random: () => {
          const x = ctx.random()
          draws.push(x)
          return x
        },
        admit: (a) => {
          attempt = a
          return { refused: { status: 0, body: {} } }
        }
      })
      // refused before admission: the answer as it is
      if (attempt === undefined) return Effect.succeed(first)
      const seen = attempt
      return Effect.map(Admission.admit(webhooks, seen, store, () => `in-memory-review-${++reviews}`), (admitted) => {
        let i = 0
        return server.handle(request, {
          ...ctx,
          random: () => (i < draws.length ? draws[i++]! : ctx.random()),
          admit: (second) => Admission.rebase(seen.object, admitted, second.object)
        })
      })
    })
  }

  let conversions = 0
  const conversionUid = () => `in-memory-conversion-${++conversions}`

  /** The conversion a request in a non-storage version goes through (fake/webhooks.ts), if any. */
  const convertingAt = (path: string): Admission.Converting | undefined => {
    if (webhooks.length === 0) return undefined
    const target = parsePath(path)
    const resolved = server.resolve(target)
    return target !== undefined && "resource" in resolved ? Admission.converting(webhooks, resolved.resource, target.version, path) : undefined
  }

  /** `serve`, through the storage version when a registered conversion applies. */
  const serveConverted = (request: Request, ctx: Context): Effect.Effect<S.Answer> => {
    const c = convertingAt(request.path)
    if (c === undefined) return serve(request, ctx)
    return Effect.flatMap(Admission.convertBody(c, request.method, request.body, conversionUid), (converted) =>
      "refused" in converted
        ? Effect.succeed(converted.refused)
        : Effect.flatMap(
          serve({ ...request, path: c.path, body: converted.body }, ctx),
          (answer) => Admission.convertAnswer(c, answer, conversionUid)
        ))
  }

  const handle = (request: Request): Effect.Effect<ApiResponse> =>
    Effect.flatMap(context, (ctx) => {
      const representation = negotiate(request.accept)
      return Effect.map(
        "_tag" in representation ? serveConverted(request, ctx) : Effect.succeed(representation),
        (raw) => {
          const answer = "_tag" in representation ? represent(raw, representation, resourceAt(request.path)) : raw
          return { status: answer.status, body: clone(answer.body), retryAfter: answer.retryAfter }
        }
      )
    })

  const request = (req: ApiRequest): Effect.Effect<ApiResponse, RequestFailure> =>
    Effect.suspend(() => {
      const fault = admit(verbOf(req.method, parsePath(req.path)), req.path)
      if (fault === undefined) return handle(req)
      const code = fault.code
      return Effect.andThen(
        delay(fault, req),
        fault.disconnect
          ? Effect.fail(disconnected(req, "the server closed the connection (injected fault)"))
          : code === undefined
          ? handle(req)
          : Effect.succeed(faultAnswer({ ...fault, code }))
      )
    })

  /** A watch in a non-storage version of a converted CRD: the storage version's events, converted. */
  const watch = (req: ApiRequest): Stream.Stream<unknown, RequestFailure | HttpStatus> =>
    Stream.unwrap(Effect.sync(() => {
      const c = convertingAt(req.path)
      return c === undefined
        ? watchStored(req)
        : Stream.mapEffect(watchStored({ ...req, path: c.path }), (event) => Admission.convertEvent(c, event, conversionUid))
    }))

  const watchStored = (req: ApiRequest): Stream.Stream<unknown, RequestFailure | HttpStatus> =>
    Stream.callback<unknown, RequestFailure | HttpStatus>((queue) =>
      Effect.gen(function*() {
        const fault = admit("watch", req.path)
        if (fault !== undefined) {
          yield* delay(fault, req)
          if (fault.disconnect) return yield* disconnected(req, "the server closed the connection (injected fault)")
          const code = fault.code
          // an expired resourceVersion comes as an in-stream ERROR event, as from the real server
          if (code === 410) {
            Queue.offerUnsafe(queue, { type: "ERROR", object: faultAnswer({ ...fault, code }).body })
            return Queue.endUnsafe(queue)
          }
          if (code !== undefined) return yield* new HttpStatus({ response: faultAnswer({ ...fault, code }) })
        }
        const ctx = yield* context
        const representation = negotiate(req.accept)
        if (!("_tag" in representation)) {
          return yield* new HttpStatus({ response: { status: representation.status, body: representation.body } })
        }
        // the last resourceVersion this watch reported: automatic bookmarks only bring newer ones
        let seen = Number(new URL(req.path, "http://fake.invalid").searchParams.get("resourceVersion") || store.rv)
        const send = (event: JsonObject) => {
          const rv = Number((event["object"] as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion)
          if (Number.isFinite(rv)) seen = Math.max(seen, rv)
          const represented = representEvent(event, representation)
          // an object it cannot represent ends the watch, as kube-apiserver's encoder failing does
          if (represented === undefined) Queue.endUnsafe(queue)
          else Queue.offerUnsafe(queue, represented)
        }
        const autoBookmark = (watcher: Watcher) => {
          if (store.rv > seen) send(server.bookmark(watcher))
        }
        const opened = server.watch(req, ctx, {
          send,
          cut: () =>
            Queue.failCauseUnsafe(queue, Cause.fail(disconnected(req, "watch connection closed before the server ended it"))),
          end: () => Queue.endUnsafe(queue)
        })
        if (!("initial" in opened)) return yield* new HttpStatus({ response: { status: opened.status, body: opened.body } })
        for (const event of opened.initial) send(event)
        const watcher = opened.watcher
        if (watcher === undefined) return Queue.endUnsafe(queue)
        const registered: WatchSink = { watcher, send }
        open.add(registered)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            store.watchers.delete(watcher)
            open.delete(registered)
          })
        )
        const timeoutSeconds = Number(new URL(req.path, "http://fake.invalid").searchParams.get("timeoutSeconds") ?? "")
        if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) {
          yield* Effect.forkScoped(Effect.andThen(
            Effect.sleep(Duration.seconds(timeoutSeconds)),
            Effect.sync(() => {
              // the real server sends a bookmark as the deadline nears
              if (watcher.bookmarks) autoBookmark(watcher)
              store.watchers.delete(watcher)
              open.delete(registered)
              Queue.endUnsafe(queue)
            })
          ))
        }
        if (watcher.bookmarks && options.bookmarkMillis !== undefined) {
          const period = Duration.millis(options.bookmarkMillis)
          yield* Effect.forkScoped(Effect.forever(Effect.andThen(
            Effect.sleep(period),
            Effect.sync(() => autoBookmark(watcher))
          )))
        }
      })
    )

  const bookmark = () => {
    let n = 0
    for (const sink of open) {
      if (!sink.watcher.bookmarks) continue
      sink.send(server.bookmark(sink.watcher))
      n++
    }
    return n
  }

  const cutWatches = () => {
    const all = [...open]
    for (const sink of all) {
      store.watchers.delete(sink.watcher)
      open.delete(sink)
      sink.watcher.cut()
    }
    return all.length
  }

  return {
    store,
    server,
    faults,
    calls,
    handle,
    registerWebhooks,
    bookmark,
    cutWatches,
    transport: { request, watch }
  }
}
