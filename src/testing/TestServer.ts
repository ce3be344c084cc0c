/**
 * The in-memory Kubernetes API server behind the same `Client`, for testing controllers fast and
 * deterministically (with `TestClock`): its layer ({@link layer}), its
 * constructor ({@link make}) and the {@link TestServer} handle tests inject faults with. The
 * server itself is `src/testing/fake/` (see ARCHITECTURE.md).
 *
 * The server answers as kube-apiserver 1.20 does, Status objects included, so every Client code
 * path (decoding, typed errors, patch checks) runs unchanged. A contract suite
 * (`test/contract/`) runs the same tests against it and against a real kube-apiserver.
 *
 * What it implements:
 * - Paths `/api/v1/...` and `/apis/{group}/{version}/...`, the namespaces segment, the `/status`
 *   subresource, and the query parameters `labelSelector`, `fieldSelector`, `limit`, `continue`,
 *   `resourceVersion`, `resourceVersionMatch`, `watch`, `allowWatchBookmarks`, `timeoutSeconds`,
 *   `dryRun`, `fieldManager` and `force`. Unknown resources answer 404 as the real server does
 *   (plain text for an unknown group/version). Every answer is a deep copy.
 * - One global resourceVersion counter; `uid`, `creationTimestamp` (Effect's Clock), and
 *   `generation` for the kinds that have one (custom resources, CRDs, Deployments and the other
 *   apps/batch kinds), moved by the same rule as the real server (custom resources: anything but
 *   metadata and status; Deployments: spec or annotations). Updates that change nothing keep the
 *   resourceVersion and emit no event.
 * - Errors: 404 (object, namespace, resource), 409 AlreadyExists, 409 Conflict (stale
 *   resourceVersion, delete preconditions), 422 Invalid with `details.causes` (names of each kind's
 *   rule, generateName, missing resourceVersion on custom resources, finalizers added while
 *   deleting), 400 (name or namespace mismatch, bad selectors), 403 (namespace terminating), 405,
 *   410 Expired, 415.
 * - Lists: label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `>`, `<`), field
 *   selectors (`metadata.name`, `metadata.namespace` and each built-in kind's extra fields),
 *   `limit`/`continue` pages that stay consistent at the first page's resourceVersion (410 once
 *   compacted), `resourceVersionMatch=Exact`.
 * - Deletion: finalizers hold an object (deletionTimestamp, deletionGracePeriodSeconds 0, and the
 *   generation moves); removing the last finalizer deletes it; preconditions; dry-run (options
 *   come from the DeleteOptions body when there is one, as on the real server). Deleting a
 *   namespace runs the namespace controller: its objects are deleted (finalizers respected) and
 *   the namespace goes once empty.
 * - Patches: JSON patch (a failed `test` answers 422 Invalid, as the real server does), merge
 *   patch, strategic merge on built-in kinds (maps merge; the well-known lists merge by key:
 *   containers, env, volumes, ports, conditions, ownerReferences, finalizers…; the `$patch`,
 *   `$setElementOrder`, `$deleteFromPrimitiveList` and `$retainKeys` directives) and 415 for
 *   strategic merge on custom kinds.
 * - Server-side apply: `fieldManager` required (422 without); ownership per manager and operation
 *   in `metadata.managedFields` (FieldsV1); a field another manager owns with a different value is
 *   a 409 Conflict whose causes are `{ reason: "FieldManagerConflict", field: ".data.x" }` and whose
 *   message is the real server's; `force=true` takes the fields over; fields a manager stops
 *   applying are removed unless another manager owns them; non-apply writes record Update
 *   ownership of the fields they changed (manager from `fieldManager`, else `operatorkit`, as the
 *   real server derives it from the Client's User-Agent).
 * - The status subresource for kinds whose descriptor has `subresources.status`: writes to the
 *   main resource keep `.status`, writes to `/status` change only `.status`.
 * - CustomResourceDefinitions: creating one serves its kind in every served version (plural,
 *   scope, status subresource of the storage version) and then sets `NamesAccepted` and
 *   `Established` (a MODIFIED event, as the real controllers do), `acceptedNames` and
 *   `storedVersions`; deleting one deletes its objects, then the CRD, and stops serving the kind.
 * - Watches: without a resourceVersion (or "0") the current objects come first as ADDED; with one,
 *   every change after it; an object leaving the selectors is a DELETED, entering them an ADDED;
 *   an expired resourceVersion gets an in-stream ERROR (410 Expired); `timeoutSeconds` ends the
 *   stream (on the Clock). BOOKMARKs go to watches with `allowWatchBookmarks`: every
 *   `bookmarkInterval` of Clock time (default one minute, as the real server), on `bookmark`, and
 *   when `timeoutSeconds` ends the watch.
 * - Watch-list (`sendInitialEvents`, KEP-3157) with `watchList: true`, as Kubernetes 1.27+ with the
 *   WatchList feature: the current objects as ADDED, a BOOKMARK annotated
 *   `k8s.io/initial-events-end`, then the changes. Off by default, as on kube-apiserver 1.20, which
 *   refuses such a watch with 422 (`resourceVersionMatch` is forbidden for watch). The refusal is
 *   checked against 1.20 by the contract suite; the watch-list itself follows the KEP, unchecked.
 *
 * Where it stops (the real server does more):
 * - No defaulting beyond namespaces, Deployments' empty status and CRDs (a Pod gets no
 *   `dnsPolicy`, …); no `kubernetes` Service in `default`.
 * - No schema validation or pruning of custom resources; of CRDs only the name, scope and storage
 *   version are checked. No conversion between versions beyond `apiVersion`, unless a `Webhooks`
 *   definition that converts the CRD is registered with `webhooks`.
 * - No admission, RBAC or authentication: inject 401/403 with `failNext`.
 * - No garbage collector: `propagationPolicy` is accepted and changes nothing (the real server
 *   adds a `foregroundDeletion` or `orphan` finalizer that only kube-controller-manager removes).
 * - No graceful deletion: pods go at once.
 * - Server-side apply treats lists as one field (the real server tracks keyed items one by one,
 *   e.g. `.spec.containers[name="app"].image`, and set items like finalizers); the applied
 *   object's apiVersion and kind are not checked; Update ownership is recorded for leaf fields and
 *   created maps only.
 * - `resourceVersion` on get and list (other than `resourceVersionMatch=Exact`) is served from the
 *   latest state, also when it names a future version (the real server waits or answers 504).
 * - Watches without `timeoutSeconds` never end on their own (the real server ends them after
 *   30 to 60 minutes).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Client from "../Client.ts"
import { decodeObject, isDecodeError } from "../internal/codec.ts"
import * as Fake from "./fake/transport.ts"
import { builtinKinds, present, resourceKey, resourceOf } from "./fake/kinds.ts"
import * as S from "./fake/status.ts"
import type * as Kind from "../Kind.ts"
import type * as KubeError from "../KubeError.ts"
import * as HttpClient from "../internal/http/client.ts"
import { millis } from "../internal/options.ts"
import * as Webhooks from "../Webhooks.ts"

/**
 * An API verb, as faults and call counts name them. Reads and writes of `/status` count as
 * `get`, `update` and `patch`.
 *
 * @since 0.1.0
 * @category models
 */
export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"

/**
 * A failure to inject into the next calls of a verb.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fault {
  readonly verb: Verb
  /** Only calls on this kind (default: any). */
  readonly kind?: Kind.Any
  /** How many calls fail (default 1). */
  readonly times?: number
  /**
   * HTTP code of the answer (default 500, or none with `delay`/`disconnect` alone: the call is then
   * answered normally after the delay). A watch fault with 410 is an in-stream ERROR event.
   */
  readonly code?: number
  /** Status reason (default: the API server's reason for the code). */
  readonly reason?: string
  readonly message?: string
  /** Seconds in `Retry-After` (429). */
  readonly retryAfterSeconds?: number
  /** Drop the connection instead of answering: the call fails with a TransportError. */
  readonly disconnect?: boolean
  /** Wait this long (Clock time) before answering; at or past the call's deadline it times out. */
  readonly delay?: Duration.Input
}

/**
 * Options of {@link make} and {@link layer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** Namespaces that exist from the start (default: default, kube-system, kube-public, kube-node-lease). */
  readonly namespaces?: ReadonlyArray<string>
  /** Kinds to serve besides the built-in kinds of `Kind` (custom kinds can also come from CRDs). */
  readonly kinds?: ReadonlyArray<Kind.Any>
  /** Period of BOOKMARK events on watches that ask for them (default one minute); `false` for none. */
  readonly bookmarkInterval?: Duration.Input | false
  /** Changes kept for watches from a resourceVersion and for list pages (default 10,000); older ones compact away. */
  readonly historyLimit?: number
  /** Offer watch-list (`sendInitialEvents`) as Kubernetes 1.27+ does (default false, as 1.20). */
  readonly watchList?: boolean
  /** Options of the Client over the server. */
  readonly client?: Client.ClientOptions
}

/**
 * The handle of an in-memory API server: its Client and the controls tests use.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestServerService {
  /** A Client over this server. */
  readonly client: Client.ClientService
  /** Serve a kind without a CRD (a no-op for a kind already served in that version). */
  readonly registerKind: (kind: Kind.Any) => Effect.Effect<void>
  /** Fail the next calls of a verb. Faults queue up; the first matching one is used. */
  readonly failNext: (fault: Fault) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Drop every open watch: each stream fails with a TransportError (ECONNRESET). How many were open. */
  readonly cutWatches: Effect.Effect<number>
  /** Forget the history: older resourceVersions answer 410 Expired. Returns the oldest one still valid. */
  readonly compact: Effect.Effect<string>
  /** Send a BOOKMARK to every open watch that asked for bookmarks; how many got one. */
  readonly bookmark: Effect.Effect<number>
  /** How many calls of a verb reached the server (faulted ones included), for one kind or all. */
  readonly calls: (verb: Verb, kind?: Kind.Any) => Effect.Effect<number>
  readonly resetCalls: Effect.Effect<void>
  /** The current objects of a kind (optionally in one namespace), in key order. */
  readonly objects: <A extends Kind.KubeObject>(
    kind: Kind.Kind<A>,
    options?: { readonly namespace?: string }
  ) => Effect.Effect<ReadonlyArray<A>, KubeError.DecodeError>
  /** The latest resourceVersion. */
  readonly resourceVersion: Effect.Effect<string>
  /** How many watches are open. */
  readonly openWatches: Effect.Effect<number>
  /**
   * Calls the admission webhooks of a `Webhooks` definition on creates and updates, as
   * kube-apiserver calls a webhook server (mutating first, then validating; selectors, failure
   * policy, the denial's message), until the scope closes. Their Effects run with this Effect's
   * context (a Client of this server, say). The CRDs the definition converts are converted by its
   * `/convert` handler as with `conversion: Webhook`: writes in another version than the storage
   * one are stored converted, reads (get, list, watch) in another version are converted to it.
   */
  readonly webhooks: <R>(definition: Webhooks.Definition<R>) => Effect.Effect<void, never, R | Scope.Scope>
}

/**
 * The in-memory API server in context (provided with the Client by {@link layer}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 * import { TestServer } from "operatorkit/testing"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* TestServer.TestServer
 *   const client = yield* Client.Client
 *   yield* server.failNext({ verb: "get", kind: Kind.ConfigMap, code: 503 })
 *   const error = yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: "default", name: "x" }))
 *   return error._tag // "ServerError"
 * }).pipe(Effect.provide(TestServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class TestServer extends Context.Service<TestServer, TestServerService>()("operatorkit/testing/TestServer") {}

const DEFAULT_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]

const sum = (calls: ReadonlyMap<string, number>, verb: Verb, kind: Kind.Any | undefined) => {
  let n = 0
  const prefix = `${verb} `
  const wanted = kind !== undefined ? Fake.callKey(verb, resourceKey(kind.group, kind.plural)) : undefined
  for (const [key, count] of calls) {
    if (wanted !== undefined ? key === wanted : key.startsWith(prefix)) n += count
  }
  return n
}

/**
 * Starts an in-memory API server with the built-in kinds, the default namespaces, and the given
 * kinds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Kind } from "operatorkit"
 * import { TestServer } from "operatorkit/testing"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* TestServer.make()
 *   yield* server.client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" }, data: { k: "v" } })
 *   const lists = yield* server.calls("list", Kind.ConfigMap) // 0
 *   return (yield* server.objects(Kind.ConfigMap, { namespace: "default" })).length // 1
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: ServerOptions = {}) {
  const fake = Fake.make({
    historyLimit: options.historyLimit ?? 10_000,
    bookmarkMillis: options.bookmarkInterval === false
      ? undefined
      : millis(options.bookmarkInterval, "1 minute")
  })
  fake.server.watchList = options.watchList === true
  for (const kind of [...builtinKinds, ...(options.kinds ?? [])]) fake.store.register(resourceOf(kind))
  for (const name of options.namespaces ?? DEFAULT_NAMESPACES) {
    const created = yield* fake.handle({
      method: "POST",
      path: "/api/v1/namespaces?fieldManager=kube-apiserver",
      body: { metadata: { name } }
    })
    if (created.status !== 201) return yield* Effect.die(new Error(`namespace ${name}: ${JSON.stringify(created.body)}`))
  }

  const objects: TestServerService["objects"] = (kind, opts) =>
    Effect.suspend(() => {
      const key = resourceKey(kind.group, kind.plural)
      const resource = fake.store.resources.get(key)
      if (resource === undefined) return Effect.succeed([])
      const out = []
      for (const [, raw] of fake.store.list(key, kind.namespaced ? opts?.namespace : undefined)) {
        const decoded = decodeObject<Kind.Type<typeof kind>>(kind, present(resource, kind.version, raw))
        if (isDecodeError(decoded)) return Effect.fail(decoded)
        out.push(decoded)
      }
      return Effect.succeed(out)
    })

  const service: TestServerService = {
    client: HttpClient.make(fake.transport, options.client),
    registerKind: (kind) => Effect.sync(() => fake.store.register(resourceOf(kind))),
    failNext: (fault) =>
      Effect.sync(() => {
        // a delay or a dropped connection alone does not change the answer
        const code = fault.code ?? (fault.delay !== undefined || fault.disconnect === true ? undefined : 500)
        fake.faults.push({
          verb: fault.verb,
          resource: fault.kind !== undefined ? resourceKey(fault.kind.group, fault.kind.plural) : undefined,
          remaining: Math.max(1, fault.times ?? 1),
          code,
          reason: fault.reason ?? S.reasonOf(code ?? 500),
          message: fault.message ?? `injected fault: ${fault.verb} answered ${code ?? 500}`,
          retryAfter: fault.retryAfterSeconds,
          disconnect: fault.disconnect ?? false,
          delayMillis: fault.delay !== undefined ? millis(fault.delay) : 0
        })
      }),
    clearFaults: Effect.sync(() => {
      fake.faults.length = 0
    }),
    cutWatches: Effect.sync(fake.cutWatches),
    compact: Effect.sync(() => String(fake.store.compact())),
    bookmark: Effect.sync(fake.bookmark),
    calls: (verb, kind) => Effect.sync(() => sum(fake.calls, verb, kind)),
    resetCalls: Effect.sync(() => fake.calls.clear()),
    objects,
    resourceVersion: Effect.sync(() => String(fake.store.rv)),
    openWatches: Effect.sync(() => fake.store.watchers.size),
    webhooks: <R>(definition: Webhooks.Definition<R>) =>
      Effect.gen(function*() {
        const context = yield* Effect.context<R>()
        const unregister = fake.registerWebhooks({
          definition: definition as Webhooks.Definition<unknown>,
          run: (path, body) => Effect.provideContext(Webhooks.handle(definition, path, body), context)
        })
        yield* Effect.addFinalizer(() => Effect.sync(unregister))
      })
  }
  Fake.transports.set(service, fake.transport)
  return service
})

/**
 * The Client over a fresh in-memory API server, and the server's handle; options add kinds and
 * namespaces, set the bookmark interval, watch-list and the Client's options.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind } from "operatorkit"
 * import { TestServer } from "operatorkit/testing"
 *
 * const test = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
 *   const server = yield* TestServer.TestServer
 *   return yield* server.calls("create", Kind.ConfigMap) // 1
 * }).pipe(Effect.provide(TestServer.layer()))
 *
 * const Widget = Kind.custom({ group: "example.com", version: "v1", kind: "Widget", namespaced: true, spec: Kind.Open({}) })
 * const WithWidgets = TestServer.layer({ kinds: [Widget], bookmarkInterval: false })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServerOptions = {}): Layer.Layer<Client.Client | TestServer> =>
  Layer.effectContext(
    Effect.map(make(options), (server) =>
      Context.make(TestServer, server).pipe(Context.add(Client.Client, server.client)))
  )
