/**
 * The Client's calls over a transport (the HTTP pool of `transport.ts`, or the in-memory server of
 * `operatorkit/testing`): deadlines, 429 retries within them, Status answers as KubeErrors, objects
 * decoded with their kind's Schema, list pages and watch events, spans when traced. `Client.ts`
 * declares the service; this is its one implementation.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type {
  CallOptions,
  ClientOptions,
  ClientService,
  DeleteOptions,
  ListOptions,
  ListPage,
  Method,
  ObjectRef,
  RawMeta,
  WatchEvent,
  WatchOptions,
  WriteOptions
} from "../../Client.ts"
import * as Kind from "../../Kind.ts"
import type { KubeConfigError } from "../../KubeConfig.ts"
import * as KubeError from "../../KubeError.ts"
import * as Patch from "../../Patch.ts"
import { decodeObject, isDecodeError, objectDecoder, rawMeta } from "../codec.ts"
import { millis } from "../options.ts"
import { whenTraced } from "../tracing.ts"
import { isListBody, shapeOf, toEvent } from "./events.ts"
import { acceptOf, encode, infoOf, queryString, scopeOf, writeQuery } from "./request.ts"
import { type ApiRequest, type ApiResponse, BAD_LIST_BODY, type Transport } from "./transport.ts"

// a stack trace per call costs more than the call itself; span names say where they come from
const noStackTrace = { captureStackTrace: false } as const

/** A transport failure as the KubeError the caller gets. */
export const fromTransport = (e: KubeError.RequestTimeout | KubeError.TransportError | KubeConfigError, info: KubeError.RequestInfo) =>
  e._tag === "KubeConfigError"
    ? new KubeError.TransportError({ request: info, detail: e.message, code: "KUBECONFIG" })
    : e

/**
 * Sends a request; 429 is retried honouring Retry-After (a 401 is retried by the transport, once,
 * with credentials reloaded from their source). The request's deadline spans every attempt and
 * every wait: a Retry-After that would pass it ends the call at once with the 429's
 * TooManyRequests.
 */
export const sender = (transport: Transport, retries429: number, maxRetryAfterMs: number) =>
(req: ApiRequest): Effect.Effect<ApiResponse, KubeError.KubeError> =>
  Effect.clockWith((clock) => {
    const deadline = clock.currentTimeMillisUnsafe() + req.timeoutMs
    const attempt = (left429: number, first: boolean): Effect.Effect<ApiResponse, KubeError.KubeError> => {
      const remaining = deadline - clock.currentTimeMillisUnsafe()
      if (!first && remaining <= 0) return Effect.fail(new KubeError.RequestTimeout({ request: req.info, timeoutMillis: req.timeoutMs }))
      const sent = first ? transport.request(req) : transport.request({ ...req, timeoutMs: remaining })
      return Effect.flatMap(
        Effect.mapError(sent, (e) =>
          e._tag === "RequestTimeout" && !first
            ? new KubeError.RequestTimeout({ request: req.info, timeoutMillis: req.timeoutMs })
            : fromTransport(e, req.info)),
        (res) => {
          if (res.status === 429 && left429 > 0) {
            const waitMs = Math.min((res.retryAfter ?? 1) * 1000, maxRetryAfterMs)
            if (clock.currentTimeMillisUnsafe() + waitMs >= deadline) return Effect.succeed(res)
            return Effect.andThen(Effect.sleep(Duration.millis(waitMs)), Effect.suspend(() => attempt(left429 - 1, false)))
          }
          return Effect.succeed(res)
        }
      )
    }
    return attempt(retries429, true)
  })


/** A Client over a transport. */
export const make = (transport: Transport, options: ClientOptions = {}): ClientService => {
  const defaultTimeoutMs = millis(options.timeout, "30 seconds")
  const retries429 = options.retries429 ?? 3
  const maxRetryAfterMs = millis(options.maxRetryAfter, "10 seconds")
  const timeoutOf = (o: CallOptions | undefined) => (o?.timeout !== undefined ? millis(o.timeout, 0) : defaultTimeoutMs)

  const send = sender(transport, retries429, maxRetryAfterMs)

  const isOk = (res: ApiResponse) => res.status >= 200 && res.status < 300
  const statusError = (res: ApiResponse, info: KubeError.RequestInfo) =>
    Effect.fail(KubeError.fromStatus(res.status, res.body, info, res.retryAfter))

  const check = (res: ApiResponse, info: KubeError.RequestInfo): Effect.Effect<unknown, KubeError.KubeError> =>
    isOk(res) ? Effect.succeed(res.body) : statusError(res, info)

  const decoded = <A>(kind: Kind.Any, body: unknown): Effect.Effect<A, KubeError.DecodeError> => {
    const out = decodeObject<A>(kind, body)
    return isDecodeError(out) ? Effect.fail(out) : Effect.succeed(out)
  }

  /** {@link check} then {@link decoded}, in one step (every object call's hot path). */
  const checkDecoded = <A>(res: ApiResponse, info: KubeError.RequestInfo, kind: Kind.Any): Effect.Effect<A, KubeError.KubeError> =>
    isOk(res) ? decoded<A>(kind, res.body) : statusError(res, info)

  const span = (verb: string, kind: Kind.Any, namespace: string | undefined, name: string | undefined) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    whenTraced(self, (self) =>
      Effect.withSpan(self, `Client.${verb}`, {
        kind: "client",
        attributes: {
          "k8s.api_version": kind.apiVersion,
          "k8s.kind": kind.kind,
          ...(namespace !== undefined ? { "k8s.namespace": namespace } : {}),
          ...(name !== undefined ? { "k8s.name": name } : {})
        },
        ...noStackTrace
      }))

  const objectCall = <A>(
    verb: string,
    method: Method,
    kind: Kind.Any,
    ref: ObjectRef,
    opts: {
      readonly subresource?: string
      readonly query?: string
      readonly body?: unknown
      readonly contentType?: string
      readonly timeoutMs: number
    }
  ): Effect.Effect<A, KubeError.KubeError> => {
    const scope = scopeOf(verb, kind, ref.namespace, ref.name)
    if (Result.isFailure(scope)) return Effect.fail(scope.failure)
    const namespace = scope.success
    if (ref.name === "") {
      return Effect.fail(
        new KubeError.InvalidRequest({ request: infoOf(verb, kind, Kind.collectionPath(kind, namespace)), detail: "the name is empty" })
      )
    }
    const path = Kind.objectPath(kind, namespace, ref.name, opts.subresource) + (opts.query ?? "")
    const info = infoOf(verb, kind, path, namespace, ref.name)
    return send({
      method,
      path,
      accept: acceptOf(kind),
      body: opts.body,
      ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}),
      timeoutMs: opts.timeoutMs,
      info
    }).pipe(
      Effect.flatMap((res) => checkDecoded<A>(res, info, kind)),
      // only status calls pay for this
      opts.subresource === "status" ? Effect.catchTag("NotFound", (e) => explainStatusNotFound(e, path)) : (self) => self,
      span(verb, kind, namespace, ref.name)
    )
  }

  // A custom resource whose CRD has no status subresource answers /status with the object's own
  // "not found": when the object itself is there, say what is missing
  const explainStatusNotFound = (e: KubeError.NotFound, statusPath: string): Effect.Effect<never, KubeError.NotFound> =>
    e.missing !== "object"
      ? Effect.fail(e)
      : send({ method: "GET", path: statusPath.replace(/\/status(\?.*)?$/, ""), timeoutMs: 30_000, info: e.request }).pipe(
        Effect.matchEffect({
          onFailure: () => Effect.fail(e),
          onSuccess: (res) => Effect.fail(res.status === 200 ? new KubeError.NotFound({ ...e, missing: "statusSubresource" }) : e)
        })
      )

  const get: ClientService["get"] = (kind, ref, options) =>
    objectCall("get", "GET", kind, ref, {
      query: queryString({ resourceVersion: options?.resourceVersion }),
      timeoutMs: timeoutOf(options)
    })

  const fetchPage = <A>(
    kind: Kind.Any,
    options: ListOptions | undefined,
    continueToken: string | undefined
  ): Effect.Effect<ListPage<A>, KubeError.KubeError> => {
    const namespace = kind.namespaced ? options?.namespace : undefined
    const path = Kind.collectionPath(kind, namespace) + queryString({
      labelSelector: options?.labelSelector,
      fieldSelector: options?.fieldSelector,
      limit: options?.limit ?? 500,
      continue: continueToken,
      resourceVersion: continueToken === undefined ? options?.resourceVersion : undefined,
      resourceVersionMatch: continueToken === undefined ? options?.resourceVersionMatch : undefined
    })
    const info = infoOf("list", kind, path, namespace)
    const skip = options?.skip
    // the HTTP transport parses the items as they arrive, leaving out (unparsed) those `skip`
    // recognises; a transport that does not (the in-memory server) is filtered here
    return send({ method: "GET", path, accept: acceptOf(kind, true), timeoutMs: timeoutOf(options), info, list: { skip } }).pipe(
      Effect.flatMap((res) => check(res, info)),
      Effect.filterOrFail(isListBody, (body) =>
        new KubeError.TransportError({
          request: info,
          code: BAD_LIST_BODY,
          detail: `the server answered the list with ${shapeOf(body)} that is not a list`
        })),
      Effect.map((list) => {
        const items: Array<A> = []
        const invalid: Array<{ error: KubeError.DecodeError; meta: RawMeta }> = []
        const decode = objectDecoder<A>(kind)
        for (const raw of list.items ?? []) {
          if (skip !== undefined && skip(rawMeta(raw))) continue
          const out = decode(raw)
          if (isDecodeError(out)) invalid.push({ error: out, meta: rawMeta(raw) })
          else items.push(out)
        }
        const next = list.metadata?.continue
        return {
          items,
          invalid,
          resourceVersion: list.metadata?.resourceVersion ?? "",
          continue: next !== undefined && next !== "" ? next : undefined
        }
      }),
      span("list", kind, namespace, undefined)
    )
  }

  const listPages: ClientService["listPages"] = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options?: ListOptions) =>
    Stream.paginate(undefined as string | undefined, (token) =>
      Effect.map(fetchPage<A>(kind, options, token), (page) =>
        [[page], page.continue !== undefined ? Option.some(page.continue) : Option.none()] as const))

  const list: ClientService["list"] = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options?: ListOptions) =>
    Effect.gen(function*() {
      const items: Array<A> = []
      let resourceVersion: string | undefined
      let token: string | undefined
      do {
        const page: ListPage<A> = yield* fetchPage<A>(kind, options, token)
        if (page.invalid.length > 0) return yield* page.invalid[0]!.error
        resourceVersion ??= page.resourceVersion
        for (const item of page.items) items.push(item)
        token = page.continue
      } while (token !== undefined)
      return { items, resourceVersion: resourceVersion ?? "" }
    })

  const create: ClientService["create"] = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, object: NoInfer<A>, options?: WriteOptions) => {
    const scope = scopeOf("create", kind, object.metadata?.namespace, object.metadata?.name)
    if (Result.isFailure(scope)) return Effect.fail(scope.failure)
    const body = encode("create", kind, object)
    if (Result.isFailure(body)) return Effect.fail(body.failure)
    const namespace = scope.success
    const meta = body.success.metadata
    // a generated name: the server picks it from generateName when the name is empty
    if (meta["name"] === "" && typeof meta["generateName"] === "string") {
      const { name: _, ...rest } = meta
      body.success.metadata = rest
    }
    const path = Kind.collectionPath(kind, namespace) + writeQuery(options)
    const info = infoOf("create", kind, path, namespace, object.metadata?.name)
    return send({ method: "POST", path, accept: acceptOf(kind), body: body.success, timeoutMs: timeoutOf(options), info }).pipe(
      Effect.flatMap((res) => checkDecoded<A>(res, info, kind)),
      span("create", kind, namespace, object.metadata?.name)
    )
  }

  const replaceAt = (subresource: string | undefined, verb: string): ClientService["replace"] =>
  <A extends Kind.KubeObject>(kind: Kind.Kind<A>, object: NoInfer<A>, options?: WriteOptions) => {
    const body = encode(verb, kind, object)
    if (Result.isFailure(body)) return Effect.fail(body.failure)
    return objectCall<A>(verb, "PUT", kind, object.metadata, {
      ...(subresource !== undefined ? { subresource } : {}),
      query: writeQuery(options),
      body: body.success,
      timeoutMs: timeoutOf(options)
    })
  }

  const patchAt = (subresource: string | undefined, verb: string) =>
  <A extends Kind.KubeObject, B extends boolean>(
    kind: Kind.Kind<A, B>,
    ref: ObjectRef,
    patch: Patch.For<B>,
    options?: WriteOptions
  ): Effect.Effect<A, KubeError.KubeError> => {
    const p = patch as Patch.Patch
    const refuse = (detail: string) =>
      Effect.fail(
        new KubeError.InvalidRequest({
          request: infoOf(verb, kind, Kind.objectPath(kind, ref.namespace, ref.name, subresource), ref.namespace, ref.name),
          detail
        })
      )
    if (p._tag === "StrategicMergePatch" && !kind.builtin) {
      return refuse(`strategic merge patches work on built-in kinds only; ${kind.kind} is a custom resource (use a merge, JSON or apply patch)`)
    }
    if (p._tag === "ApplyPatch" && (typeof p.fieldManager !== "string" || p.fieldManager === "")) {
      return refuse("server-side apply needs a field manager")
    }
    let body: unknown
    let query: string
    if (p._tag === "ApplyPatch") {
      const object = p.object as Record<string, unknown>
      body = { apiVersion: kind.apiVersion, kind: kind.kind, ...object }
      query = writeQuery({ ...options, fieldManager: p.fieldManager }, { force: p.force ? true : undefined })
    } else {
      body = p._tag === "JsonPatch" ? p.operations : p.patch
      query = writeQuery(options)
    }
    return objectCall(verb, "PATCH", kind, ref, {
      ...(subresource !== undefined ? { subresource } : {}),
      query,
      body,
      contentType: Patch.contentType(p),
      timeoutMs: timeoutOf(options)
    })
  }

  const delete_: ClientService["delete"] = <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    ref: ObjectRef,
    options?: DeleteOptions
  ) => {
    const scope = scopeOf("delete", kind, ref.namespace, ref.name)
    if (Result.isFailure(scope)) return Effect.fail(scope.failure)
    const namespace = scope.success
    const path = Kind.objectPath(kind, namespace, ref.name) + queryString({ dryRun: options?.dryRun === true ? "All" : undefined })
    const info = infoOf("delete", kind, path, namespace, ref.name)
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      ...(options?.propagationPolicy !== undefined ? { propagationPolicy: options.propagationPolicy } : {}),
      ...(options?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: options.gracePeriodSeconds } : {}),
      ...(options?.preconditions !== undefined ? { preconditions: options.preconditions } : {}),
      // with a body, the API server reads every option from it and ignores the query's dryRun
      ...(options?.dryRun === true ? { dryRun: ["All"] } : {})
    }
    return send({ method: "DELETE", path, accept: acceptOf(kind), body, timeoutMs: timeoutOf(options), info }).pipe(
      Effect.flatMap((res) => check(res, info)),
      Effect.flatMap((b): Effect.Effect<Option.Option<A>, KubeError.KubeError> => {
        const o = b as { kind?: string; metadata?: { finalizers?: Array<string>; deletionTimestamp?: string; deletionGracePeriodSeconds?: number } }
        if (o === undefined || o.kind === "Status") return Effect.succeedNone
        const pending = (o.metadata?.finalizers?.length ?? 0) > 0 ||
          (o.metadata?.deletionTimestamp !== undefined && (o.metadata.deletionGracePeriodSeconds ?? 0) > 0)
        if (!pending) return Effect.succeedNone
        return Effect.map(decoded<A>(kind, b), Option.some)
      }),
      span("delete", kind, namespace, ref.name)
    )
  }

  const watch: ClientService["watch"] = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, options?: WatchOptions) => {
    const namespace = kind.namespaced ? options?.namespace : undefined
    const path = Kind.collectionPath(kind, namespace) + queryString({
      watch: "1",
      allowWatchBookmarks: options?.allowBookmarks === false ? undefined : "true",
      labelSelector: options?.labelSelector,
      fieldSelector: options?.fieldSelector,
      resourceVersion: options?.resourceVersion,
      // watch-list (KEP-3157): the server requires NotOlderThan with it
      sendInitialEvents: options?.sendInitialEvents === true ? "true" : undefined,
      resourceVersionMatch: options?.sendInitialEvents === true ? "NotOlderThan" : undefined,
      timeoutSeconds: options?.timeoutSeconds
    })
    const info = infoOf("watch", kind, path, namespace)
    const raw = transport.watch({ method: "GET", path, accept: acceptOf(kind), timeoutMs: timeoutOf(options), info }).pipe(
      Stream.mapError((e): KubeError.KubeError =>
        e._tag === "HttpStatus"
          ? KubeError.fromStatus(e.response.status, e.response.body, info, e.response.retryAfter)
          : fromTransport(e, info)
      )
    )
    const events = Stream.transformPull(raw, (pull) =>
      Effect.sync(() => {
        // an ERROR event fails the stream, but only after the events before it were emitted
        let pending: KubeError.KubeError | undefined
        const decode = objectDecoder<A>(kind)
        const next: Pull.Pull<readonly [WatchEvent<A>, ...Array<WatchEvent<A>>], KubeError.KubeError> = Effect.suspend(() => {
          if (pending !== undefined) return Effect.fail(pending)
          return Effect.flatMap(pull, (chunk) => {
            const out: Array<WatchEvent<A>> = []
            for (const raw of chunk) {
              const event = toEvent<A>(decode, raw, info)
              if (event instanceof Error) {
                pending = event
                break
              }
              out.push(event)
            }
            if (out.length > 0) return Effect.succeed(out as unknown as readonly [WatchEvent<A>, ...Array<WatchEvent<A>>])
            return pending !== undefined ? Effect.fail(pending) : next
          })
        })
        return next
      }))
    // The span lives as long as the stream and ends with its exit. It is made in the stream's scope
    // rather than by Stream.withSpan, which provides it to every pull: a context update per event.
    // Nothing below opens spans, so nothing needs it as parent.
    return Stream.unwrap(Effect.as(
      Effect.makeSpanScoped("Client.watch", {
        kind: "client",
        attributes: { "k8s.api_version": kind.apiVersion, "k8s.kind": kind.kind, ...(namespace !== undefined ? { "k8s.namespace": namespace } : {}) }
      }),
      events
    ))
  }

  const raw: ClientService["raw"] = (request) => {
    const info: KubeError.RequestInfo = { verb: request.method.toLowerCase(), path: request.path }
    return send({
      method: request.method,
      path: request.path,
      body: request.body,
      ...(request.contentType !== undefined ? { contentType: request.contentType } : {}),
      timeoutMs: timeoutOf(request),
      info
    }).pipe(Effect.flatMap((res) => check(res, info)))
  }

  return {
    get,
    list,
    listPages,
    create,
    replace: replaceAt(undefined, "replace"),
    patch: patchAt(undefined, "patch"),
    delete: delete_,
    getStatus: (kind, ref, options) =>
      objectCall("get", "GET", kind, ref, { subresource: "status", timeoutMs: timeoutOf(options) }),
    replaceStatus: replaceAt("status", "replaceStatus"),
    patchStatus: patchAt("status", "patchStatus"),
    watch,
    raw
  }
}
