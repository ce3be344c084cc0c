/**
 * A differential test of the in-memory server against kube-apiserver 1.20.2: fast-check generates
 * sequences of requests (creates with labels, data, finalizers, immutability and generated names;
 * gets; PUTs with a current, stale or no resourceVersion and with the object's or another uid;
 * merge, JSON, strategic merge and apply patches; deletes with preconditions, dry runs and
 * propagation policies; lists with label and field selectors, limits, continue tokens and
 * resourceVersion=0) on ConfigMaps and Secrets, sends each sequence to both servers (a fresh
 * namespace on each) and compares, step by step, what matters: the status code and reason, the
 * distinct causes of a 422, and of the objects answered their name, labels, data, finalizers,
 * deletion, type and immutability, and whether the resourceVersion moved; of lists the names, in
 * order, and whether more pages follow.
 *
 * `npm test` runs a few hundred sequences; `npm run test:differential` runs
 * `DIFFERENTIAL_RUNS` (default 3000). `DIFFERENTIAL_SEED` replays a run. Differences kube-apiserver
 * has for reasons the in-memory server does not model are listed in `known` below, each with why.
 */
import { assert, layer } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { Effect } from "effect"
import * as fc from "fast-check"
import type { Method } from "../../src/Client.ts"
import { makeHttp } from "../../src/internal/http/transport.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import { cluster } from "../support/cluster.ts"
import { transportOf } from "../../src/testing/fake/transport.ts"

const runs = Number(process.env["DIFFERENTIAL_RUNS"] ?? 250)
const seed = process.env["DIFFERENTIAL_SEED"] !== undefined ? Number(process.env["DIFFERENTIAL_SEED"]) : undefined

type Send = (request: { readonly method: Method; readonly path: string; readonly body?: unknown; readonly contentType?: string }) => Promise<{
  readonly status: number
  readonly body: any
}>

// ---------------------------------------------------------------------------------------------
// commands

type KindName = "configmaps" | "secrets"
type Labels = Record<string, string>

type Command =
  | { readonly op: "create"; readonly kind: KindName; readonly name: string; readonly generate: boolean; readonly labels: Labels; readonly data: Labels; readonly finalizer: boolean; readonly immutable: boolean }
  | { readonly op: "get"; readonly kind: KindName; readonly name: string }
  | {
    readonly op: "replace"
    readonly kind: KindName
    readonly name: string
    readonly rv: "current" | "stale" | "none"
    readonly uid: "keep" | "other" | "none"
    readonly labels: Labels
    readonly data: Labels
    readonly finalizer: boolean
    readonly immutable: boolean | null
  }
  | {
    readonly op: "patch"
    readonly kind: KindName
    readonly name: string
    readonly type: "merge" | "json" | "strategic" | "apply"
    readonly labels: Labels | null
    readonly data: Labels | null
    readonly finalizers: "add" | "remove" | "keep"
    readonly testRv: "current" | "stale" | "none"
    readonly force: boolean
  }
  | {
    readonly op: "delete"
    readonly kind: KindName
    readonly name: string
    readonly precondition: "none" | "uid" | "wronguid" | "rv" | "stalerv"
    readonly dryRun: boolean
    readonly policy: "none" | "Background" | "Foreground" | "Orphan" | "Sideways"
  }
  | {
    readonly op: "list"
    readonly kind: KindName
    readonly labelSelector: string
    readonly fieldSelector: string
    readonly limit: number
    readonly rv0: boolean
    readonly follow: boolean
  }

const names = fc.constantFrom("a", "b", "c")
const kinds = fc.constantFrom<KindName>("configmaps", "configmaps", "secrets")
const labels = fc.dictionary(
  fc.constantFrom("app", "tier", "example.com/team", "-bad"),
  fc.constantFrom("web", "db", "", "x".repeat(63), "x".repeat(64), "-x"),
  { maxKeys: 2 }
)
const data = fc.dictionary(fc.constantFrom("k", "v.txt", "a b"), fc.constantFrom("dg==", "eA==", "not base64!"), { maxKeys: 2 })

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant("create" as const), kind: kinds, name: names, generate: fc.boolean(), labels, data, finalizer: fc.boolean(), immutable: fc.boolean() }),
  fc.record({ op: fc.constant("get" as const), kind: kinds, name: names }),
  fc.record({
    op: fc.constant("replace" as const),
    kind: kinds,
    name: names,
    rv: fc.constantFrom("current" as const, "stale" as const, "none" as const),
    uid: fc.constantFrom("keep" as const, "keep" as const, "other" as const, "none" as const),
    labels,
    data,
    finalizer: fc.boolean(),
    immutable: fc.constantFrom(true, false, null)
  }),
  fc.record({
    op: fc.constant("patch" as const),
    kind: kinds,
    name: names,
    type: fc.constantFrom("merge" as const, "json" as const, "strategic" as const, "apply" as const),
    labels: fc.option(labels, { nil: null }),
    data: fc.option(data, { nil: null }),
    finalizers: fc.constantFrom("add" as const, "remove" as const, "keep" as const),
    testRv: fc.constantFrom("current" as const, "stale" as const, "none" as const),
    force: fc.boolean()
  }),
  fc.record({
    op: fc.constant("delete" as const),
    kind: kinds,
    name: names,
    precondition: fc.constantFrom("none" as const, "uid" as const, "wronguid" as const, "rv" as const, "stalerv" as const),
    dryRun: fc.boolean(),
    policy: fc.constantFrom("none" as const, "Background" as const, "Foreground" as const, "Orphan" as const, "Sideways" as const)
  }),
  fc.record({
    op: fc.constant("list" as const),
    kind: kinds,
    labelSelector: fc.constantFrom("", "app=web", "app!=web,tier", "!app", "app in (web,db)", "a===b"),
    fieldSelector: fc.constantFrom("", "metadata.name=a", "metadata.name!=b", "spec.x=1"),
    limit: fc.constantFrom(0, 1, 2),
    rv0: fc.boolean(),
    follow: fc.boolean()
  })
)

// ---------------------------------------------------------------------------------------------
// running a sequence on one server

const FINALIZER = "example.com/hold"
const OTHER_UID = "00000000-0000-0000-0000-000000000000"

interface Known {
  readonly uid: string | undefined
  readonly rv: string | undefined
  readonly stale: string | undefined
  readonly object: any
}

interface Step {
  readonly request: string
  readonly status: number
  readonly reason?: string
  readonly causes?: ReadonlyArray<string>
  readonly object?: unknown
  readonly list?: unknown
}

const sorted = (record: unknown) =>
  record !== null && typeof record === "object" ? Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))) : record

/** The parts of an object that matter, and whether its resourceVersion moved since last seen. */
const project = (o: any, before: Known | undefined) => ({
  kind: o?.kind === "Status" ? "Status" : "object",
  ...(o?.kind === "Status"
    ? { status: o.status }
    : {
      name: o?.metadata?.generateName !== undefined ? `${o.metadata.generateName}*` : o?.metadata?.name,
      labels: sorted(o?.metadata?.labels ?? {}),
      data: sorted(o?.data ?? {}),
      finalizers: o?.metadata?.finalizers ?? [],
      deleting: o?.metadata?.deletionTimestamp !== undefined,
      type: o?.type,
      immutable: o?.immutable,
      rvMoved: before?.rv === undefined ? "new" : o?.metadata?.resourceVersion !== before.rv
    })
})

const run = (send: Send, commands: ReadonlyArray<Command>) =>
  Effect.promise(async () => {
    const ns = `d-${Crypto.randomBytes(4).toString("hex")}`
    const made = await send({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: ns } } })
    if (made.status !== 201) throw new Error(`namespace: ${made.status} ${JSON.stringify(made.body)}`)
    const known = new Map<string, Known>()
    const steps: Array<Step> = []
    const base = (kind: KindName) => `/api/v1/namespaces/${ns}/${kind}`
    const remember = (kind: KindName, name: string, o: any) => {
      if (o?.metadata?.name === undefined || o.kind === "Status") return
      const before = known.get(`${kind}/${name}`)
      known.set(`${kind}/${name}`, {
        uid: o.metadata.uid,
        rv: o.metadata.resourceVersion,
        stale: before?.rv !== o.metadata.resourceVersion ? before?.rv ?? before?.stale : before?.stale,
        object: o
      })
    }
    const record = (request: string, kind: KindName, name: string | undefined, answer: { status: number; body: any }, list?: unknown) => {
      const key = `${kind}/${name}`
      const before = name !== undefined ? known.get(key) : undefined
      const body = answer.body
      const ok = answer.status >= 200 && answer.status < 300
      const step: Step = {
        request,
        status: answer.status,
        ...(!ok && typeof body === "object" && body !== null ? { reason: body.reason } : {}),
        ...(!ok && Array.isArray(body?.details?.causes)
          ? { causes: Array.from(new Set<string>(body.details.causes.map((c: any) => `${c.reason} ${c.field}`))).sort() }
          : {}),
        ...(ok && list === undefined && name !== undefined ? { object: project(body, before) } : {}),
        ...(list !== undefined ? { list } : {})
      }
      steps.push(step)
      if (ok && name !== undefined && list === undefined) remember(kind, name, body)
    }
    const typed = (kind: KindName) => (kind === "configmaps" ? { apiVersion: "v1", kind: "ConfigMap" } : { apiVersion: "v1", kind: "Secret" })
    for (const c of commands) {
      const path = `${base(c.kind)}/${"name" in c ? c.name : ""}`
      const last = "name" in c ? known.get(`${c.kind}/${c.name}`) : undefined
      switch (c.op) {
        case "create": {
          const metadata = c.generate ? { generateName: `${c.name}-` } : { name: c.name }
          const answer = await send({
            method: "POST",
            path: base(c.kind),
            body: { metadata: { ...metadata, labels: c.labels, ...(c.finalizer ? { finalizers: [FINALIZER] } : {}) }, data: c.data, ...(c.immutable ? { immutable: true } : {}) }
          })
          record(`create ${c.kind} ${c.generate ? `${c.name}-*` : c.name}`, c.kind, c.generate ? undefined : c.name, answer)
          break
        }
        case "get":
          record(`get ${c.kind} ${c.name}`, c.kind, c.name, await send({ method: "GET", path }))
          break
        case "replace": {
          const current = last?.object ?? { metadata: { name: c.name } }
          const { resourceVersion: _rv, uid: _uid, ...meta } = current.metadata
          const rv = c.rv === "current" ? last?.rv : c.rv === "stale" ? last?.stale ?? "1" : undefined
          const uid = c.uid === "keep" ? last?.uid : c.uid === "other" ? OTHER_UID : undefined
          const body = {
            ...current,
            metadata: {
              ...meta,
              labels: c.labels,
              finalizers: c.finalizer ? [FINALIZER] : [],
              ...(rv !== undefined ? { resourceVersion: rv } : {}),
              ...(uid !== undefined ? { uid } : {})
            },
            data: c.data,
            immutable: c.immutable
          }
          record(`replace ${c.kind} ${c.name} rv=${c.rv} uid=${c.uid}`, c.kind, c.name, await send({ method: "PUT", path, body }))
          break
        }
        case "patch": {
          const finalizers = c.finalizers === "add" ? [FINALIZER] : c.finalizers === "remove" ? [] : undefined
          const rv = c.testRv === "current" ? last?.rv : c.testRv === "stale" ? last?.stale ?? "1" : undefined
          let body: unknown
          let contentType: string
          let query = ""
          if (c.type === "json") {
            contentType = "application/json-patch+json"
            body = [
              ...(rv !== undefined ? [{ op: "test", path: "/metadata/resourceVersion", value: rv }] : []),
              ...(c.labels !== null ? [{ op: "add", path: "/metadata/labels", value: c.labels }] : []),
              ...(c.data !== null ? [{ op: "add", path: "/data", value: c.data }] : []),
              ...(finalizers !== undefined ? [{ op: "add", path: "/metadata/finalizers", value: finalizers }] : [])
            ]
          } else if (c.type === "apply") {
            contentType = "application/apply-patch+yaml"
            query = `?fieldManager=differential${c.force ? "&force=true" : ""}`
            body = {
              ...typed(c.kind),
              metadata: {
                name: c.name,
                ...(c.labels !== null ? { labels: c.labels } : {}),
                ...(finalizers !== undefined ? { finalizers } : {}),
                ...(rv !== undefined ? { resourceVersion: rv } : {})
              },
              ...(c.data !== null ? { data: c.data } : {})
            }
          } else {
            contentType = c.type === "merge" ? "application/merge-patch+json" : "application/strategic-merge-patch+json"
            body = {
              metadata: {
                ...(c.labels !== null ? { labels: c.labels } : {}),
                ...(finalizers !== undefined ? { finalizers } : {}),
                ...(rv !== undefined ? { resourceVersion: rv } : {})
              },
              ...(c.data !== null ? { data: c.data } : {})
            }
          }
          record(`patch ${c.type} ${c.kind} ${c.name} rv=${c.testRv}`, c.kind, c.name, await send({ method: "PATCH", path: path + query, body, contentType }))
          break
        }
        case "delete": {
          const preconditions = c.precondition === "uid"
            ? { uid: last?.uid ?? OTHER_UID }
            : c.precondition === "wronguid"
            ? { uid: OTHER_UID }
            : c.precondition === "rv"
            ? { resourceVersion: last?.rv ?? "1" }
            : c.precondition === "stalerv"
            ? { resourceVersion: last?.stale ?? "1" }
            : undefined
          const body = {
            apiVersion: "v1",
            kind: "DeleteOptions",
            ...(preconditions !== undefined ? { preconditions } : {}),
            ...(c.dryRun ? { dryRun: ["All"] } : {}),
            ...(c.policy !== "none" ? { propagationPolicy: c.policy } : {})
          }
          record(
            `delete ${c.kind} ${c.name} ${c.precondition}${c.dryRun ? " dry" : ""} ${c.policy}`,
            c.kind,
            c.name,
            await send({ method: "DELETE", path, body })
          )
          break
        }
        case "list": {
          const query = (token?: string) =>
            "?" + [
              c.labelSelector !== "" ? `labelSelector=${encodeURIComponent(c.labelSelector)}` : "",
              c.fieldSelector !== "" ? `fieldSelector=${encodeURIComponent(c.fieldSelector)}` : "",
              c.limit > 0 ? `limit=${c.limit}` : "",
              c.rv0 && token === undefined ? "resourceVersion=0" : "",
              token !== undefined ? `continue=${encodeURIComponent(token)}` : ""
            ].filter((q) => q !== "").join("&")
          const pages: Array<unknown> = []
          let token: string | undefined
          let answer = await send({ method: "GET", path: base(c.kind) + query() })
          for (let page = 0; page < 5; page++) {
            if (answer.status !== 200) break
            const more = answer.body?.metadata?.continue !== undefined && answer.body.metadata.continue !== ""
            // generated names differ between the servers: only their prefix is compared
            pages.push({ names: (answer.body.items ?? []).map((i: any) => String(i.metadata.name).replace(/^([abc]-)[bcdfghjklmnpqrstvwxz2456789]{5}$/, "$1*")), more })
            token = answer.body.metadata.continue
            if (!c.follow || !more) break
            answer = await send({ method: "GET", path: base(c.kind) + query(token) })
          }
          record(
            `list ${c.kind} ${JSON.stringify(c.labelSelector)} ${JSON.stringify(c.fieldSelector)} limit=${c.limit}${c.rv0 ? " rv=0" : ""}${c.follow ? " all" : ""}`,
            c.kind,
            undefined,
            answer,
            answer.status === 200 ? pages : undefined
          )
          break
        }
      }
    }
    return steps
  })

// ---------------------------------------------------------------------------------------------
// what kube-apiserver does that the in-memory server does not model, and why

/** Why a difference at this step is expected, if it is (each is in docs/testing.md). */
const known = (real: Step, memory: Step): string | undefined => {
  // a list with resourceVersion=0 comes from kube-apiserver's watch cache, which may not hold the
  // latest writes yet; the in-memory server is always current
  if (real.request.includes(" rv=0") && real.status === 200 && memory.status === 200) {
    const names = (s: Step) => (s.list as Array<{ names: Array<string> }>).flatMap((p) => p.names)
    const theirs = names(memory)
    if (names(real).every((n) => theirs.includes(n))) return "the watch cache lags"
  }
  // generated names sort at random: which of them a page holds, and whether more follow, differs
  if (real.request.startsWith("list") && !real.request.includes("limit=0") && real.status === 200 && memory.status === 200) {
    const generated = (s: Step) => JSON.stringify(s.list).includes("*")
    if (generated(real) || generated(memory)) return "generated names page at random"
  }
  return undefined
}

const realSend = Effect.gen(function*() {
  const transport = yield* makeHttp(yield* KubeConfig.KubeConfig)
  const send: Send = (r) =>
    Effect.runPromise(
      transport.request({ ...r, timeoutMs: 30_000, info: { verb: r.method.toLowerCase(), path: r.path } }).pipe(Effect.orDie)
    )
  return send
})

const memorySend = Effect.gen(function*() {
  const server = yield* TestServer.make()
  const send: Send = (r) =>
    Effect.runPromise(
      transportOf(server).request({ ...r, timeoutMs: 30_000, info: { verb: r.method.toLowerCase(), path: r.path } }).pipe(Effect.orDie)
    )
  return send
})

layer(cluster(), { excludeTestServices: true })("differential: in-memory server vs kube-apiserver 1.20.2", (it) => {
  it.effect(`${runs} generated request sequences answer alike on both servers`, () =>
    Effect.gen(function*() {
      const real = yield* realSend
      const memory = yield* memorySend
      const compare = (commands: ReadonlyArray<Command>) =>
        Effect.runPromise(Effect.gen(function*() {
          const a = yield* run(real, commands)
          const b = yield* run(memory, commands)
          for (let i = 0; i < a.length; i++) {
            const ra = a[i]!
            const rb = b[i]!
            if (JSON.stringify(ra) === JSON.stringify(rb) || known(ra, rb) !== undefined) continue
            return `step ${i + 1} of ${a.length}:\n  kube-apiserver: ${JSON.stringify(ra)}\n  in-memory:      ${JSON.stringify(rb)}\n  steps before: ${
              a.slice(0, i).map((s) => `${s.request} → ${s.status}`).join("; ")
            }`
          }
          return undefined
        }))
      const result = yield* Effect.promise(() =>
        fc.check(
          fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 10 }), async (commands) => (await compare(commands)) === undefined),
          { numRuns: runs, ...(seed !== undefined ? { seed } : {}), endOnFailure: false }
        )
      )
      if (result.failed) {
        const counterexample = result.counterexample?.[0] as ReadonlyArray<Command> | undefined
        const detail = counterexample !== undefined
          ? (yield* Effect.promise(() => compare(counterexample))) ?? "(the same sequence agreed when replayed: a race on kube-apiserver's side?)"
          : undefined
        assert.fail(`the servers differ (seed ${result.seed}, ${result.numShrinks} shrinks):\n${JSON.stringify(counterexample)}\n${detail}`)
      }
    }), { timeout: 600_000 })
})
