/**
 * The `Client` service: every Kubernetes API call as a typed Effect (or a Stream for list pages and
 * watches). Objects are decoded with their kind's Schema; failures are the typed errors of
 * `KubeError`. One keep-alive connection pool per cluster; each call has a deadline, a span, and
 * aborts its HTTP request when interrupted.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

import { decodeObject, encodeObject, isDecodeError, rawMeta } from "./internal/codec.ts"
import { whenTraced } from "./internal/tracing.ts"
import {
  type ApiRequest,
  type ApiResponse,
  BAD_LIST_BODY,
  BAD_WATCH_EVENT as BAD_EVENT,
  type Method,
  makeHttp,
  RESPONSE_TOO_LARGE as TOO_LARGE,
  type Transport
} from "./internal/http/transport.ts"
import * as Kind from "./Kind.ts"
import { KubeConfig, type KubeConfigError, type KubeConfigService } from "./KubeConfig.ts"
import * as KubeError from "./KubeError.ts"
import * as Patch from "./Patch.ts"

/**
 * Which object: its name, and its namespace for namespaced kinds.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectRef {
  readonly name: string
  readonly namespace?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Deadline for the whole call (default: the Client's, 30 seconds). */
  readonly timeout?: Duration.Input
}

/**
 * @since 0.1.0
 * @category models
 */
export interface GetOptions extends CallOptions {
  /** "0" lets the server answer from its cache. */
  readonly resourceVersion?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListOptions extends CallOptions {
  /** Omit for every namespace (or for cluster-scoped kinds). */
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Page size (default 500). */
  readonly limit?: number
  /** "0" lets the server answer from its watch cache (it may then ignore `limit`). */
  readonly resourceVersion?: string
  readonly resourceVersionMatch?: "Exact" | "NotOlderThan"
  /**
   * Leaves out of the pages, undecoded, the items this recognises from their metadata (an informer
   * relisting skips what its cache holds at the same uid and resourceVersion). Over HTTP such
   * items are not even parsed, so a list costs memory and time for what it keeps. It may be called
   * more than once for an item.
   */
  readonly skip?: ((meta: RawMeta) => boolean) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions extends CallOptions {
  /** Validate and answer, but persist nothing (`dryRun=All`). */
  readonly dryRun?: boolean
  readonly fieldManager?: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeleteOptions extends CallOptions {
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan"
  readonly gracePeriodSeconds?: number
  /** Delete only if the object still has this uid / resourceVersion (else 409 Conflict). */
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string }
  readonly dryRun?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Start after this version; omit to get the current objects as ADDED first. */
  readonly resourceVersion?: string
  /** Ask for BOOKMARK events (default true). */
  readonly allowBookmarks?: boolean
  /** Let the server end the watch after this many seconds. */
  readonly timeoutSeconds?: number
  /** Deadline for the server to start answering (default: the Client's). */
  readonly timeout?: Duration.Input
}

/**
 * A list of objects and the resourceVersion to watch from.
 *
 * @since 0.1.0
 * @category models
 */
export interface ObjectList<A> {
  readonly items: ReadonlyArray<A>
  readonly resourceVersion: string
}

/**
 * Identity of an object that did not decode, so a cache can still track it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawMeta {
  readonly name: string | undefined
  readonly namespace: string | undefined
  readonly uid: string | undefined
  readonly resourceVersion: string | undefined
}

/**
 * One page of a list. Objects that do not decode are reported in `invalid`, not dropped silently.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListPage<A> {
  readonly items: ReadonlyArray<A>
  readonly invalid: ReadonlyArray<{ readonly error: KubeError.DecodeError; readonly meta: RawMeta }>
  readonly resourceVersion: string
  readonly continue: string | undefined
}

/**
 * One watch event. ERROR events end the stream with their typed error (410 → `Gone`); an object
 * that does not decode arrives as `INVALID`, and the watch goes on. A line that is no event at all
 * (not JSON, not UTF-8, not an object, no `type`, an ERROR without a Status) ends the stream with a
 * `TransportError` whose code is `"BAD_WATCH_EVENT"` and whose detail says what came (never the
 * content): resume from the last resourceVersion seen.
 *
 * @since 0.1.0
 * @category models
 */
export type WatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }
  | {
    readonly type: "INVALID"
    readonly eventType: "ADDED" | "MODIFIED" | "DELETED"
    readonly error: KubeError.DecodeError
    readonly meta: RawMeta
  }

/**
 * A raw request, for API paths no typed method covers.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawRequest extends CallOptions {
  readonly method: Method
  readonly path: string
  readonly body?: unknown
  readonly contentType?: string
}

/**
 * The Client's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientService {
  readonly get: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    ref: ObjectRef,
    options?: GetOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  /** Every page, collected. Fails on the first object that does not decode. */
  readonly list: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    options?: ListOptions
  ) => Effect.Effect<ObjectList<A>, KubeError.KubeError>
  /** The pages of a list, fetched as the stream is read. */
  readonly listPages: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    options?: ListOptions
  ) => Stream.Stream<ListPage<A>, KubeError.KubeError>
  readonly create: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    object: NoInfer<A>,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  /** PUT; the object's `metadata.resourceVersion`, when set, is a precondition (409 Conflict if stale). */
  readonly replace: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    object: NoInfer<A>,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  readonly patch: <A extends Kind.KubeObject, B extends boolean>(
    kind: Kind.Kind<A, B>,
    ref: ObjectRef,
    patch: Patch.For<B>,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  /** `Some(object)` while the object still exists (finalizers or graceful deletion pending), `None` once gone. */
  readonly delete: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    ref: ObjectRef,
    options?: DeleteOptions
  ) => Effect.Effect<Option.Option<A>, KubeError.KubeError>
  readonly getStatus: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    ref: ObjectRef,
    options?: CallOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  readonly replaceStatus: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    object: NoInfer<A>,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  readonly patchStatus: <A extends Kind.KubeObject, B extends boolean>(
    kind: Kind.Kind<A, B>,
    ref: ObjectRef,
    patch: Patch.For<B>,
    options?: WriteOptions
  ) => Effect.Effect<A, KubeError.KubeError>
  readonly watch: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    options?: WatchOptions
  ) => Stream.Stream<WatchEvent<A>, KubeError.KubeError>
  /** Any request; the parsed JSON answer. */
  readonly raw: (request: RawRequest) => Effect.Effect<unknown, KubeError.KubeError>
}

/**
 * The `code` of the `TransportError` of an answer too large for one string (over about 512 MiB)
 * that could not be read item by item either; its detail names the size and what to do.
 *
 * @example
 * ```ts
 * import { Client, KubeError } from "operatorkit"
 *
 * const tooLarge = (e: KubeError.KubeError) => e._tag === "TransportError" && e.code === Client.RESPONSE_TOO_LARGE
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const RESPONSE_TOO_LARGE = TOO_LARGE

/**
 * The `code` of the `TransportError` that ends a watch on a line that is no event (not JSON, not
 * UTF-8, not an object, no type, an ERROR without a Status).
 *
 * @example
 * ```ts
 * import { Client, KubeError } from "operatorkit"
 *
 * const garbled = (e: KubeError.KubeError) => e._tag === "TransportError" && e.code === Client.BAD_WATCH_EVENT
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const BAD_WATCH_EVENT = BAD_EVENT

/**
 * The Client service.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Client, Kind, KubeConfig } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   const cm = yield* client.get(Kind.ConfigMap, { namespace: "default", name: "settings" })
 *   return cm.data?.["mode"]
 * }).pipe(Effect.provide(Client.layer.pipe(Layer.provide(KubeConfig.layerDefault))))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Client extends Context.Service<Client, ClientService>()("operatorkit/Client") {}

/**
 * Options of a Client.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  /** Deadline of each call unless the call says otherwise. Default 30 seconds. */
  readonly timeout?: Duration.Input
  /**
   * How many times a 429 is retried, honouring Retry-After (seconds or an HTTP date), within the
   * call's deadline. Default 3.
   */
  readonly retries429?: number
  /** The longest Retry-After wait honoured. Default 10 seconds. */
  readonly maxRetryAfter?: Duration.Input
}

// a stack trace per call costs more than the call itself; span names say where they come from
const noStackTrace = { captureStackTrace: false } as const

const queryString = (params: Record<string, string | number | boolean | undefined>) => {
  let q = ""
  for (const key in params) {
    const v = params[key]
    if (v === undefined || v === "") continue
    q += `${q === "" ? "?" : "&"}${key}=${encodeURIComponent(String(v))}`
  }
  return q
}

/**
 * A Client over a transport (the HTTP pool, or the in-memory server of `operatorkit/testing`).
 *
 * @example
 * ```ts
 * declare const transport: Transport // src/internal/http/transport.ts
 * const client = Client.make(transport)
 * ```
 *
 * @since 0.1.0
 * @internal
 */
export const make = (transport: Transport, options: ClientOptions = {}): ClientService => {
  const defaultTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout ?? "30 seconds"))
  const retries429 = options.retries429 ?? 3
  const maxRetryAfterMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxRetryAfter ?? "10 seconds"))
  const timeoutOf = (o: CallOptions | undefined) =>
    o?.timeout !== undefined ? Duration.toMillis(Duration.fromInputUnsafe(o.timeout)) : defaultTimeoutMs

  const fromTransport = (e: KubeError.RequestTimeout | KubeError.TransportError | KubeConfigError, info: KubeError.RequestInfo) =>
    e._tag === "KubeConfigError"
      ? new KubeError.TransportError({ request: info, detail: e.message, code: "KUBECONFIG" })
      : e

  /**
   * Sends a request; 429 is retried honouring Retry-After (a 401 is retried by the transport, once,
   * with credentials reloaded from their source). The
   * request's deadline spans every attempt and every wait: a Retry-After that would pass it ends the
   * call at once with the 429's TooManyRequests.
   */
  const send = (req: ApiRequest): Effect.Effect<ApiResponse, KubeError.KubeError> =>
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

  const infoOf = (verb: string, kind: Kind.Any, path: string, namespace?: string, name?: string): KubeError.RequestInfo => ({
    verb,
    path,
    kind: kind.kind,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {})
  })

  /** Namespaced kinds need a namespace, cluster-scoped ones must not get one. */
  const scopeOf = (verb: string, kind: Kind.Any, namespace: string | undefined, name: string | undefined) => {
    if (kind.namespaced && (namespace === undefined || namespace === "")) {
      return Result.fail(
        new KubeError.InvalidRequest({
          request: infoOf(verb, kind, Kind.collectionPath(kind), undefined, name),
          detail: `${kind.kind} is namespaced: a namespace is required`
        })
      )
    }
    return Result.succeed(kind.namespaced ? namespace : undefined)
  }

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

  const encode = (verb: string, kind: Kind.Any, object: Kind.KubeObject) => {
    const encodedResult = encodeObject(kind, object)
    if (Result.isFailure(encodedResult)) {
      return Result.fail(
        new KubeError.InvalidRequest({
          request: infoOf(verb, kind, Kind.collectionPath(kind, object.metadata?.namespace), object.metadata?.namespace, object.metadata?.name),
          detail: `the object does not match the ${kind.kind} Schema:\n${encodedResult.failure}`
        })
      )
    }
    const body = encodedResult.success as Record<string, unknown>
    return Result.succeed({ apiVersion: kind.apiVersion, kind: kind.kind, ...body } as unknown as { metadata: Record<string, unknown> })
  }

  const writeQuery = (o: WriteOptions | undefined, extra: Record<string, string | boolean | undefined> = {}) =>
    queryString({ dryRun: o?.dryRun === true ? "All" : undefined, fieldManager: o?.fieldManager, ...extra })

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
    return send({ method: "GET", path, timeoutMs: timeoutOf(options), info, list: { skip } }).pipe(
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
        for (const raw of list.items ?? []) {
          if (skip !== undefined && skip(rawMeta(raw))) continue
          const out = decodeObject<A>(kind, raw)
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
    return send({ method: "POST", path, body: body.success, timeoutMs: timeoutOf(options), info }).pipe(
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
    return send({ method: "DELETE", path, body, timeoutMs: timeoutOf(options), info }).pipe(
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
      timeoutSeconds: options?.timeoutSeconds
    })
    const info = infoOf("watch", kind, path, namespace)
    const raw = transport.watch({ method: "GET", path, timeoutMs: timeoutOf(options), info }).pipe(
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
        const next: Pull.Pull<readonly [WatchEvent<A>, ...Array<WatchEvent<A>>], KubeError.KubeError> = Effect.suspend(() => {
          if (pending !== undefined) return Effect.fail(pending)
          return Effect.flatMap(pull, (chunk) => {
            const out: Array<WatchEvent<A>> = []
            for (const raw of chunk) {
              const event = toEvent<A>(kind, raw, info)
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

interface ListBody {
  readonly items?: ReadonlyArray<unknown> | null
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string }
}

const isListBody = (u: unknown): u is ListBody =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  ((u as { items?: unknown }).items == null || Array.isArray((u as { items?: unknown }).items))

/** What a JSON value is, for messages that must not quote it (a watch line may carry a Secret). */
const shapeOf = (u: unknown) =>
  u === null ? "null" : Array.isArray(u) ? "an array" : typeof u === "object" ? "an object" : `a ${typeof u}`

const badEvent = (info: KubeError.RequestInfo, what: string) =>
  new KubeError.TransportError({ request: info, code: BAD_EVENT, detail: `the server sent ${what}` })

const isStatus = (u: unknown): u is { readonly code?: unknown } =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  ((u as { kind?: unknown }).kind === "Status" || typeof (u as { code?: unknown }).code === "number")

/**
 * One parsed watch line as an event. A line that is no event at all (not an object, no or an
 * unknown `type`, an ERROR without a Status) is a typed error that ends the watch, so the caller
 * resumes from the last good resourceVersion; an event whose object does not decode is INVALID.
 */
const toEvent = <A>(kind: Kind.Any, raw: unknown, info: KubeError.RequestInfo): WatchEvent<A> | KubeError.KubeError => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return badEvent(info, `a watch line that is not an event but ${shapeOf(raw)}`)
  }
  const e = raw as { type?: unknown; object?: unknown }
  switch (e.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED": {
      const out = decodeObject<A>(kind, e.object)
      return isDecodeError(out)
        ? { type: "INVALID", eventType: e.type, error: out, meta: rawMeta(e.object) }
        : { type: e.type, object: out }
    }
    case "BOOKMARK":
      return { type: "BOOKMARK", resourceVersion: rawMeta(e.object).resourceVersion ?? "" }
    case "ERROR": {
      if (!isStatus(e.object)) return badEvent(info, `an ERROR event whose object is not a Status but ${shapeOf(e.object)}`)
      const status = e.object
      return KubeError.fromStatus(typeof status.code === "number" ? status.code : 500, status, info)
    }
    case undefined:
      return badEvent(info, "a watch event without a type")
    default:
      return badEvent(info, `a watch event of unknown type ${typeof e.type === "string" ? JSON.stringify(e.type.slice(0, 40)) : shapeOf(e.type)}`)
  }
}

/**
 * The Client over the cluster of the KubeConfig in context, with one keep-alive connection pool.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, KubeConfig } from "operatorkit"
 *
 * const ClientLive = Client.layer.pipe(Layer.provide(KubeConfig.layerDefault))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Client, never, KubeConfig> = Layer.effect(
  Client,
  Effect.gen(function*() {
    return yield* fromKubeConfig(yield* KubeConfig)
  })
)

/**
 * A Client on a given KubeConfig, with its own connection pool closed with the scope. For programs
 * that talk to several clusters or as several users; most use {@link layer}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind, KubeConfig } from "operatorkit"
 *
 * const asOtherUser = Effect.gen(function*() {
 *   const config = yield* KubeConfig.fromFile("./other-user.kubeconfig")
 *   const client = yield* Client.fromKubeConfig(config)
 *   return yield* client.list(Kind.Namespace)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromKubeConfig = (
  config: KubeConfigService,
  options: ClientOptions & { readonly maxSockets?: number } = {}
): Effect.Effect<ClientService, never, Scope.Scope> =>
  Effect.map(
    makeHttp(config, options.maxSockets !== undefined ? { maxSockets: options.maxSockets } : {}),
    (transport) => make(transport, options)
  )

/**
 * Like {@link layer}, with options (default deadline, 429 retries).
 *
 * @example
 * ```ts
 * import { Client } from "operatorkit"
 *
 * const ClientLive = Client.layerWith({ timeout: "10 seconds", retries429: 5 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: ClientOptions & { readonly maxSockets?: number }): Layer.Layer<Client, never, KubeConfig> =>
  Layer.effect(
    Client,
    Effect.gen(function*() {
      return yield* fromKubeConfig(yield* KubeConfig, options)
    })
  )



