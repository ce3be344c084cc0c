/**
 * The contract suite's harness: every test body runs twice, against a real kube-apiserver 1.20.2
 * (Envtest) and against the in-memory server of `operatorkit/testing` (`TestServer`), with the same expectations. Where they
 * differ, the in-memory server is wrong.
 *
 * `CONTRACT_BACKEND=in-memory` (or `kube-apiserver`) runs one side only, for quick iterations.
 */
import { layer, type Vitest } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { Context, Effect, Layer, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import type { Method } from "../../src/Client.ts"
import { makeHttp, type Transport } from "../../src/internal/http/transport.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Helpers from "../../src/testing/helpers.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { cluster } from "../support/cluster.ts"
import { openCrd, openKind } from "../support/crds.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"

export interface RawAnswer {
  readonly status: number
  readonly body: any
}

export interface BackendService {
  readonly name: "kube-apiserver" | "in-memory"
  /** A request past the Client's checks and decoding: the status and parsed body as sent. */
  readonly send: (request: {
    readonly method: Method
    readonly path: string
    readonly body?: unknown
    readonly contentType?: string
    readonly accept?: string
  }) => Effect.Effect<RawAnswer>
  /** A watch past the Client: its events as sent, until `take` of them arrived. */
  readonly watch: (request: { readonly path: string; readonly accept?: string }, take: number) => Effect.Effect<ReadonlyArray<any>>
  /** Makes every resourceVersion older than the latest expire (etcd compaction on the real server). */
  readonly compact: Effect.Effect<void>
}

const watchOf = (transport: Transport) => (r: { readonly path: string; readonly accept?: string }, take: number) =>
  transport.watch({ method: "GET", ...r, timeoutMs: 30_000, info: { verb: "watch", path: r.path } }).pipe(
    Stream.take(take),
    Stream.runCollect,
    Effect.orDie
  )

export class Backend extends Context.Service<Backend, BackendService>()("test/contract/Backend") {}

const realBackend = Layer.effect(
  Backend,
  Effect.gen(function*() {
    const env = yield* Envtest.Envtest
    const transport = yield* makeHttp(yield* KubeConfig.KubeConfig)
    return Backend.of({
      name: "kube-apiserver",
      send: (r) =>
        transport.request({ ...r, timeoutMs: 30_000, info: { verb: r.method.toLowerCase(), path: r.path } }).pipe(
          Effect.map(({ body, status }) => ({ status, body })),
          Effect.orDie
        ),
      watch: watchOf(transport),
      compact: Effect.orDie(Effect.asVoid(env.compactEtcd))
    })
  })
)

const memoryBackend = Layer.effect(
  Backend,
  Effect.gen(function*() {
    const server = yield* TestServer.TestServer
    return Backend.of({
      name: "in-memory",
      send: (r) =>
        transportOf(server).request({ ...r, timeoutMs: 30_000, info: { verb: r.method.toLowerCase(), path: r.path } }).pipe(
          Effect.map(({ body, status }) => ({ status, body })),
          Effect.orDie
        ),
      watch: watchOf(transportOf(server)),
      compact: Effect.asVoid(server.compact)
    })
  })
)

export type ContractIt = Vitest.MethodsNonLive<Client.Client | Backend>

/** Runs `tests` against both servers. Both get the live clock: the real server needs real time. */
export const contract = (
  name: string,
  options: Envtest.EnvtestOptions,
  tests: (it: ContractIt) => void
) => {
  const only = process.env["CONTRACT_BACKEND"]
  if (only === undefined || only === "kube-apiserver") {
    layer(realBackend.pipe(Layer.provideMerge(cluster(options)), Layer.orDie), { excludeTestServices: true })(
      `${name} [kube-apiserver 1.20.2]`,
      tests
    )
  }
  if (only === undefined || only === "in-memory") {
    layer(memoryBackend.pipe(Layer.provideMerge(TestServer.layer())), { excludeTestServices: true })(
      `${name} [in-memory server]`,
      tests
    )
  }
}

/** A name no other test uses. */
export const unique = (prefix: string) => `${prefix}-${Crypto.randomBytes(4).toString("hex")}`

/** Retries until `check` holds (the real server's controllers act a moment later): operatorkit/testing's eventually. */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>, check: (a: A) => boolean) =>
  Helpers.eventually(Effect.filterOrFail(effect, check, () => "not yet" as const), { timeout: "10 seconds", interval: "100 millis" }).pipe(Effect.orDie)

/** The `Status` body the API server answers a failed request with, written out for expectations. */
export const failureStatus = (code: number, reason: string | undefined, message: string, details?: object) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  ...(reason !== undefined ? { reason } : {}),
  ...(details !== undefined ? { details } : {}),
  code
})

/** A namespaced custom kind with the status subresource, in its own group, and its CRD. */
export const widgetKind = (group: string) => {
  const kind = openKind(group, "Widget")
  // the open v1 of test/support/crds.ts, plus a served v1beta1
  const open = openCrd(group, "Widget", "widgets")
  const crd = {
    ...open,
    spec: {
      ...open.spec,
      versions: [
        ...open.spec.versions,
        {
          name: "v1beta1",
          served: true,
          storage: false,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }
        }
      ]
    }
  }
  return { kind, crd }
}

const isEstablished = (crd: Kind.Type<typeof Kind.CustomResourceDefinition>) =>
  (crd.status?.conditions ?? []).some((c) => c.type === "Established" && c.status === "True")

/** Creates a Widget CRD in a fresh group and waits until it is Established and its kind is served. */
export const establishedWidgets = Effect.gen(function*() {
  const client = yield* Client.Client
  const { crd, kind } = widgetKind(`${unique("w")}.contract.operatorkit.dev`)
  const created = yield* client.create(Kind.CustomResourceDefinition, crd as never)
  const established = yield* eventually(client.get(Kind.CustomResourceDefinition, { name: crd.metadata.name }), isEstablished)
  // serving starts a moment after Established on the real server
  yield* eventually(Effect.result(client.list(kind, { namespace: "default" })), (r) => r._tag === "Success")
  return { kind, crd, created, established }
})
