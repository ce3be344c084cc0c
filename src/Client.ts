/**
 * The `Client` service: every Kubernetes API call as a typed Effect (or a Stream for list pages and
 * watches). Objects are decoded with their kind's Schema; failures are the typed errors of
 * `KubeError`. One keep-alive connection pool per cluster; each call has a deadline, a span, and
 * aborts its HTTP request when interrupted.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"

import * as Http from "./internal/http/client.ts"
import { instrument, rateLimitOf } from "./internal/http/clientMetrics.ts"
import { BAD_WATCH_EVENT as BAD_EVENT, makeHttp, RESPONSE_TOO_LARGE as TOO_LARGE } from "./internal/http/transport.ts"
import type * as Kind from "./Kind.ts"
import { KubeConfig, type KubeConfigService } from "./KubeConfig.ts"
import type * as KubeError from "./KubeError.ts"
import type * as Patch from "./Patch.ts"

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
  /**
   * A watch-list (KEP-3157, `sendInitialEvents=true&resourceVersionMatch=NotOlderThan`): the
   * current objects as ADDED, then a BOOKMARK with `initialEventsEnd`, then the changes, on one
   * stream. Servers without it (Kubernetes before 1.27, or the WatchList feature off) refuse the
   * watch with 422 Invalid. Needs bookmarks; `resourceVersion` omitted means a consistent read.
   */
  readonly sendInitialEvents?: boolean
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
  /** `initialEventsEnd`: the initial events of a watch-list are over (see `sendInitialEvents`). */
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string; readonly initialEventsEnd?: true }
  | {
    readonly type: "INVALID"
    readonly eventType: "ADDED" | "MODIFIED" | "DELETED"
    readonly error: KubeError.DecodeError
    readonly meta: RawMeta
  }

/**
 * An HTTP method of a raw request.
 *
 * @since 0.1.0
 * @category models
 */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

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
 * }).pipe(Effect.provide(Client.layer().pipe(Layer.provide(KubeConfig.layer()))))
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
  /** Connections at once to the API server (default: no limit; one keep-alive pool). */
  readonly maxSockets?: number
  /**
   * A client-side rate limit, client-go's `QPS`: requests a second to the API server once `burst`
   * are spent. Every request waits for a token (each list page, each 429 retry; not watches, as in
   * client-go), and its wait is observed in `rest_client_rate_limiter_duration_seconds{verb, host}`,
   * zero waits included. Default: none (the API server's Priority and Fairness protects it;
   * client-go's own default is 5, burst 10). The in-memory server's Client does not limit.
   */
  readonly qps?: number
  /** Requests sent at once before `qps` applies, client-go's `Burst`. Default 10. */
  readonly burst?: number
}

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
 *   const client = yield* Client.make(config)
 *   return yield* client.list(Kind.Namespace)
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: KubeConfigService, options: ClientOptions = {}): Effect.Effect<ClientService, never, Scope.Scope> =>
  Effect.map(
    makeHttp(config, options.maxSockets !== undefined ? { maxSockets: options.maxSockets } : {}),
    // client-go's rest_client_* metrics, by the API server's host:port, and its rate limiter
    (transport) => Http.make(instrument(transport, new URL(config.server).host, rateLimitOf(options)), options)
  )

/**
 * The Client over the cluster of the KubeConfig in context, with one keep-alive connection pool;
 * options set the default deadline, 429 retries, connections and a rate limit.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, KubeConfig } from "operatorkit"
 *
 * const ClientLive = Client.layer().pipe(Layer.provide(KubeConfig.layer()))
 * const PatientClient = Client.layer({ timeout: "10 seconds", retries429: 5 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ClientOptions = {}): Layer.Layer<Client, never, KubeConfig> =>
  Layer.effect(
    Client,
    Effect.gen(function*() {
      return yield* make(yield* KubeConfig, options)
    })
  )
