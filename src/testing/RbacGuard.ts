/**
 * A guard for an operator's declared RBAC, for tests: a `Client` that records every call, and
 * refuses one that no permission of an `Rbac.Declaration` allows, as the API server would refuse it
 * once the operator runs with its generated roles: a `KubeError.Forbidden` whose detail names the
 * missing rule. Run the operator's tests (on the in-memory server or Envtest) through it and
 * under-declaring shows up there, not as a 403 in production on the code path the tests missed.
 *
 * ```ts
 * const guard = yield* RbacGuard.make(rbac)            // the Client in context, guarded
 * yield* runOperator.pipe(Effect.provideService(Client.Client, guard.client))
 * assert.deepStrictEqual(yield* guard.undeclared, [])   // every call was declared
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Context from "effect/Context"
import * as Stream from "effect/Stream"
import * as Client from "../Client.ts"
import * as Kind from "../Kind.ts"
import * as KubeError from "../KubeError.ts"
import * as Patch from "../Patch.ts"
import * as Rbac from "../Rbac.ts"

/**
 * One call the guard saw: what it asked of RBAC, whether the declaration allows it, and how it
 * ended (`"ok"`, an error's tag, or `"stream"` for a list or watch stream once started).
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly requests: ReadonlyArray<Rbac.Request>
  readonly allowed: boolean
  outcome: string | undefined
  /** The error it failed with (the guard's own Forbidden, or the API server's answer). */
  error: KubeError.KubeError | undefined
}

/**
 * The guarded Client and what it saw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Guard {
  /** The guarded Client: provide it as `Client.Client` to the code under test. */
  readonly client: Client.ClientService
  /**
   * The guarded Client of the operator running in another namespace than the declaration's (a
   * test's own): `Rbac.operatorNamespace` stands for that one. Calls are recorded with the others.
   */
  readonly inNamespace: (namespace: string) => Client.ClientService
  readonly declaration: Rbac.Declaration
  /** Every call so far, in order. */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  /** The distinct requests no declared permission allows (each refused with a Forbidden). */
  readonly undeclared: Effect.Effect<ReadonlyArray<Rbac.Request>>
  /** The rules to add for them, described (empty when the declaration covers every call). */
  readonly missingRules: Effect.Effect<ReadonlyArray<string>>
  /** Calls the API server itself refused (403): the cluster's RBAC is narrower than the declaration. */
  readonly forbidden: Effect.Effect<ReadonlyArray<Call>>
}

/**
 * The guard in context (see {@link layer}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RbacGuard } from "operatorkit/testing"
 *
 * const missing = Effect.flatMap(RbacGuard.RbacGuard, (guard) => guard.missingRules)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class RbacGuard extends Context.Service<RbacGuard, Guard>()("operatorkit/testing/RbacGuard") {}

/** The HTTP form of each typed call, so one derivation (the API server's) covers all of them. */
interface Http {
  readonly method: string
  readonly path: string
  readonly contentType?: string | undefined
  readonly body?: unknown
}

const refOf = (kind: Kind.Any, ref: Client.ObjectRef) => (kind.namespaced ? ref.namespace : undefined)

/**
 * Guards a Client with a declaration.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Kind, Rbac } from "operatorkit"
 * import { RbacGuard, TestServer } from "operatorkit/testing"
 *
 * const rbac = Rbac.make({ name: "op", namespace: "ops", permissions: [Rbac.allow(Kind.ConfigMap, ["get"])] })
 * const program = Effect.gen(function*() {
 *   const guard = RbacGuard.guard(yield* Client.Client, rbac)
 *   const denied = yield* Effect.flip(guard.client.list(Kind.ConfigMap, { namespace: "default" }))
 *   denied._tag // => "Forbidden"
 *   return yield* guard.missingRules
 * }).pipe(Effect.provide(TestServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const guard = (client: Client.ClientService, declaration: Rbac.Declaration): Guard => {
  const calls: Array<Call> = []
  const undeclared = new Map<string, Rbac.Request>()
  const guarded = guardedClient(client, calls, undeclared)
  return {
    client: guarded(declaration),
    inNamespace: (namespace) => guarded(Rbac.make({ name: declaration.name, namespace, permissions: declaration.permissions })),
    declaration,
    calls: Effect.sync(() => [...calls]),
    undeclared: Effect.sync(() => [...undeclared.values()]),
    missingRules: Effect.sync(() => [...undeclared.values()].map((r) => Rbac.describePermission(Rbac.ruleFor(r), declaration.namespace))),
    forbidden: Effect.sync(() => calls.filter((c) => c.allowed && c.outcome === "Forbidden"))
  }
}

const guardedClient = (client: Client.ClientService, calls: Array<Call>, undeclared: Map<string, Rbac.Request>) =>
(declaration: Rbac.Declaration): Client.ClientService => {
  /** Records the call; a Forbidden naming the missing rule when the declaration does not allow it. */
  const check = (http: Http, info: KubeError.RequestInfo): { readonly call: Call; readonly refused: KubeError.Forbidden | undefined } => {
    const requests = Rbac.requestsOf(http)
    const missing = requests.filter((r) => !Rbac.allows(declaration, r))
    const call: Call = { requests, allowed: missing.length === 0, outcome: undefined, error: undefined }
    calls.push(call)
    if (missing.length === 0) return { call, refused: undefined }
    for (const r of missing) undeclared.set(JSON.stringify(r), r)
    const first = missing[0]!
    const rules = missing.map((r) => Rbac.describePermission(Rbac.ruleFor(r), declaration.namespace))
    call.outcome = "Forbidden"
    call.error = new KubeError.Forbidden({
        request: info,
        detail: `not declared (operatorkit's RBAC guard): ${missing.map(Rbac.describeRequest).join("; ")}; ` +
          `the declaration ${declaration.name} lacks ${rules.join(" and ")}`,
        causes: [],
        verb: first.verb,
        resource: first._tag === "ResourceRequest"
          ? `${first.resource}${first.subresource !== undefined ? `/${first.subresource}` : ""}${first.group !== "" ? `.${first.group}` : ""}`
          : first.url,
        ...(first._tag === "ResourceRequest" && first.namespace !== undefined ? { namespace: first.namespace } : {})
    })
    return { call, refused: call.error as KubeError.Forbidden }
  }

  const guarded = <A>(http: Http, info: KubeError.RequestInfo, run: () => Effect.Effect<A, KubeError.KubeError>) =>
    Effect.suspend(() => {
      const { call, refused } = check(http, info)
      if (refused !== undefined) return Effect.fail(refused)
      return run().pipe(
        Effect.tap(() => Effect.sync(() => void (call.outcome = "ok"))),
        Effect.tapError((e) => Effect.sync(() => {
          call.outcome = e._tag
          call.error = e
        }))
      )
    })

  const guardedStream = <A>(http: Http, info: KubeError.RequestInfo, run: () => Stream.Stream<A, KubeError.KubeError>) =>
    Stream.unwrap(Effect.sync(() => {
      const { call, refused } = check(http, info)
      if (refused !== undefined) return Stream.fail(refused)
      call.outcome = "stream"
      return run().pipe(Stream.tapError((e) =>
        Effect.sync(() => {
          call.outcome = e._tag
          call.error = e
        })
      ))
    }))

  const infoOf = (verb: string, kind: Kind.Any, path: string, namespace?: string, name?: string): KubeError.RequestInfo => ({
    verb,
    path,
    kind: kind.kind,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {})
  })

  const one = (method: string, verb: string, kind: Kind.Any, ref: Client.ObjectRef, subresource?: string, contentType?: string, body?: unknown) => {
    const path = Kind.objectPath(kind, refOf(kind, ref), ref.name, subresource)
    return [{ method, path, contentType, body }, infoOf(verb, kind, path, refOf(kind, ref), ref.name)] as const
  }
  const collection = (method: string, verb: string, kind: Kind.Any, namespace: string | undefined, query = "", body?: unknown) => {
    const ns = kind.namespaced ? namespace : undefined
    const path = Kind.collectionPath(kind, ns)
    return [{ method, path: `${path}${query}`, body }, infoOf(verb, kind, path, ns)] as const
  }
  const bodyOf = (patch: Patch.Patch) => (patch._tag === "ApplyPatch" ? patch.object : patch._tag === "JsonPatch" ? undefined : patch.patch)
  const objectRef = (object: Kind.KubeObject): Client.ObjectRef => ({ name: object.metadata.name, namespace: object.metadata.namespace })

  return {
    get: (kind, ref, options) => guarded(...one("GET", "get", kind, ref), () => client.get(kind, ref, options)),
    list: (kind, options) => guarded(...collection("GET", "list", kind, options?.namespace), () => client.list(kind, options)),
    listPages: (kind, options) => guardedStream(...collection("GET", "list", kind, options?.namespace), () => client.listPages(kind, options)),
    create: (kind, object, options) =>
      guarded(...collection("POST", "create", kind, object.metadata.namespace, "", object), () => client.create(kind, object, options)),
    replace: (kind, object, options) => guarded(...one("PUT", "update", kind, objectRef(object), undefined, undefined, object), () => client.replace(kind, object, options)),
    patch: (kind, ref, patch, options) =>
      guarded(...one("PATCH", "patch", kind, ref, undefined, Patch.contentType(patch), bodyOf(patch)), () => client.patch(kind, ref, patch, options)),
    delete: (kind, ref, options) => guarded(...one("DELETE", "delete", kind, ref), () => client.delete(kind, ref, options)),
    getStatus: (kind, ref, options) => guarded(...one("GET", "get", kind, ref, "status"), () => client.getStatus(kind, ref, options)),
    replaceStatus: (kind, object, options) =>
      guarded(...one("PUT", "update", kind, objectRef(object), "status"), () => client.replaceStatus(kind, object, options)),
    patchStatus: (kind, ref, patch, options) =>
      guarded(...one("PATCH", "patch", kind, ref, "status", Patch.contentType(patch)), () => client.patchStatus(kind, ref, patch, options)),
    watch: (kind, options) =>
      guardedStream(...collection("GET", "watch", kind, options?.namespace, "?watch=true"), () => client.watch(kind, options)),
    raw: (request) =>
      guarded(
        { method: request.method, path: request.path, contentType: request.contentType, body: request.body },
        { verb: request.method.toLowerCase(), path: request.path },
        () => client.raw(request)
      )
  }

}

/**
 * Guards the `Client` in context: the returned guard's `client` is the one to run the code under
 * test with.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Rbac } from "operatorkit"
 * import { RbacGuard } from "operatorkit/testing"
 *
 * declare const rbac: Rbac.Declaration
 * declare const operator: Effect.Effect<void, never, Client.Client>
 * const checked = Effect.gen(function*() {
 *   const guard = yield* RbacGuard.make(rbac)
 *   yield* operator.pipe(Effect.provideService(Client.Client, guard.client))
 *   return yield* guard.missingRules // => []
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (declaration: Rbac.Declaration): Effect.Effect<Guard, never, Client.Client> =>
  Effect.map(Client.Client, (client) => guard(client, declaration))

/**
 * Replaces the `Client` in context by its guarded form and provides the guard.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Rbac } from "operatorkit"
 * import { RbacGuard, TestServer } from "operatorkit/testing"
 *
 * declare const rbac: Rbac.Declaration
 * const Guarded = RbacGuard.layer(rbac).pipe(Layer.provide(TestServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (declaration: Rbac.Declaration): Layer.Layer<Client.Client | RbacGuard, never, Client.Client> =>
  Layer.effectContext(Effect.map(make(declaration), (g) => Context.make(RbacGuard, g).pipe(Context.add(Client.Client, g.client))))
