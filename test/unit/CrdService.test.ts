/**
 * The Crd service against a scripted in-file fake of the Client: deadlines with TestClock, and the
 * migration's retry, skip and resume paths made deterministic.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdMigration from "../../src/CrdMigration.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeError from "../../src/KubeError.ts"
import type * as Patch from "../../src/Patch.ts"

const group = "fake.operatorkit.test"
const v1 = Kind.custom({ group, version: "v1", kind: "Gizmo", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
const v2 = Kind.custom({ group, version: "v2", kind: "Gizmo", namespaced: true, spec: Schema.Struct({ size: Schema.Int }) })
const definition = CrdDefinition.makeUnsafe({ versions: [{ kind: v1 }, { kind: v2, storage: true }] })

const request = (verb: string, path = "/fake") => ({ verb, path })
const conflict = (verb: string) => new KubeError.Conflict({ request: request(verb), detail: "the object has been modified", causes: [] })
const notFound = (verb: string) => new KubeError.NotFound({ request: request(verb), detail: "not found", causes: [] })
const gone = () => new KubeError.Gone({ request: request("list"), detail: "continue token expired", causes: [] })

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> }; [k: string]: unknown }

const clone = <A>(a: A): A => structuredClone(a)

/** An API server of one CRD and its objects, with hooks to act between a list and a write. */
const makeFake = (options: {
  readonly crd: Obj | undefined
  readonly objects?: ReadonlyArray<Obj>
  /** Called before each object write; may change the stored objects. */
  readonly beforeWrite?: (key: string, store: Map<string, Obj>, attempt: number) => void
  /** Fail the listing once with 410 when this page (1-based) is asked for. */
  readonly goneAtPage?: number
  /** The CRD's status after each GET (e.g. to never become Established). */
  readonly statusOnGet?: (crd: Obj, gets: number) => unknown
}) => {
  let crd = options.crd !== undefined ? clone(options.crd) : undefined
  let rv = 100
  let gets = 0
  let goneDone = false
  const store = new Map<string, Obj>()
  const writes: Array<string> = []
  const attempts = new Map<string, number>()
  const key = (o: { namespace?: string | undefined; name: string }) => o.namespace !== undefined ? `${o.namespace}/${o.name}` : o.name
  for (const o of options.objects ?? []) store.set(key(o.metadata), { ...clone(o), metadata: { ...o.metadata, resourceVersion: String(++rv) } })

  const isCrd = (kind: Kind.Any) => kind.kind === "CustomResourceDefinition"
  const die = (what: string) => Effect.die(new Error(`the fake does not do ${what}`))

  const client: Client.ClientService = {
    get: ((kind: Kind.Any, ref: Client.ObjectRef) => {
      if (isCrd(kind)) {
        if (crd === undefined) return Effect.fail(notFound("get"))
        gets++
        if (options.statusOnGet !== undefined) crd = { ...crd, status: options.statusOnGet(crd, gets) }
        return Effect.succeed(clone(crd))
      }
      const o = store.get(key(ref))
      return o === undefined ? Effect.fail(notFound("get")) : Effect.succeed(clone(o))
    }) as any,
    create: ((kind: Kind.Any, object: Obj) => {
      if (!isCrd(kind)) return die("create of objects")
      crd = { ...clone(object), metadata: { ...object.metadata, resourceVersion: String(++rv) } }
      return Effect.succeed(clone(crd))
    }) as any,
    replace: ((kind: Kind.Any, object: Obj) => {
      if (isCrd(kind)) {
        crd = { ...clone(object), status: crd?.["status"], metadata: { ...object.metadata, resourceVersion: String(++rv) } }
        return Effect.succeed(clone(crd))
      }
      const k = key(object.metadata)
      const attempt = (attempts.get(k) ?? 0) + 1
      attempts.set(k, attempt)
      options.beforeWrite?.(k, store, attempt)
      const current = store.get(k)
      if (current === undefined) return Effect.fail(notFound("replace"))
      if (current.metadata.resourceVersion !== object.metadata.resourceVersion) return Effect.fail(conflict("replace"))
      writes.push(k)
      const next = { ...clone(object), metadata: { ...object.metadata, resourceVersion: String(++rv) } }
      store.set(k, next)
      return Effect.succeed(clone(next))
    }) as any,
    replaceStatus: ((kind: Kind.Any, object: Obj) => {
      if (!isCrd(kind) || crd === undefined) return die("replaceStatus")
      if (object.metadata.resourceVersion !== crd.metadata.resourceVersion) return Effect.fail(conflict("replaceStatus"))
      crd = { ...crd, status: clone(object["status"]), metadata: { ...crd.metadata, resourceVersion: String(++rv) } }
      return Effect.succeed(clone(crd))
    }) as any,
    patch: ((kind: Kind.Any, _ref: Client.ObjectRef, patch: Patch.Patch) => {
      if (!isCrd(kind) || crd === undefined || patch._tag !== "MergePatch") return die("this patch")
      const annotations = { ...crd.metadata.annotations }
      for (const [k, v] of Object.entries((patch.patch as any).metadata.annotations)) {
        if (v === null) delete annotations[k]
        else annotations[k] = v as string
      }
      crd = { ...crd, metadata: { ...crd.metadata, annotations, resourceVersion: String(++rv) } }
      return Effect.succeed(clone(crd))
    }) as any,
    delete: ((kind: Kind.Any) => {
      if (!isCrd(kind) || crd === undefined) return Effect.fail(notFound("delete"))
      return Effect.succeed(Option.some(clone(crd)))
    }) as any,
    listPages: ((_kind: Kind.Any, opts?: Client.ListOptions) => {
      const limit = opts?.limit ?? 500
      // like a continue token: the next page starts after the last key of the previous one
      return Stream.paginate({ page: 1, after: "" }, ({ page, after }) =>
        Effect.suspend(() => {
          if (options.goneAtPage === page && !goneDone) {
            goneDone = true
            return Effect.fail(gone())
          }
          const rest = [...store.keys()].sort().filter((k) => k > after)
          const keys = rest.slice(0, limit)
          const items = keys.map((k) => clone(store.get(k)!))
          const more = rest.length > limit
          return Effect.succeed([
            [{ items, invalid: [], resourceVersion: String(rv), continue: more ? "t" : undefined }],
            more ? Option.some({ page: page + 1, after: keys[keys.length - 1]! }) : Option.none()
          ] as const)
        }))
    }) as any,
    list: () => die("list"),
    getStatus: () => die("getStatus"),
    patchStatus: () => die("patchStatus"),
    watch: () => Stream.die(new Error("the fake does not watch")),
    raw: () => die("raw")
  }
  return {
    layer: Crd.layer.pipe(Layer.provide(Layer.succeed(Client.Client, client))),
    store,
    writes,
    crd: () => crd
  }
}

const established = { conditions: [{ type: "NamesAccepted", status: "True" }, { type: "Established", status: "True" }] }

const crdOnServer = (storedVersions: ReadonlyArray<string>, annotations?: Record<string, string>): Obj => ({
  ...clone(definition.manifest as unknown as Obj),
  metadata: { name: definition.name, ...(annotations !== undefined ? { annotations } : {}) },
  status: { ...established, storedVersions: [...storedVersions] }
})

const gizmos = (n: number): Array<Obj> =>
  Array.from({ length: n }, (_, i) => ({
    apiVersion: v2.apiVersion,
    kind: "Gizmo",
    metadata: { namespace: i % 2 === 0 ? "a" : "b", name: `g-${String(i).padStart(2, "0")}` },
    spec: { size: i }
  }))

describe("Crd.ensureCreated / ensureDeleted (deadlines with TestClock)", () => {
  it.effect("waits for Established by polling, and reports created", () =>
    Effect.gen(function*() {
      const fake = makeFake({
        crd: undefined,
        statusOnGet: (_, gets) => (gets < 5 ? { conditions: [{ type: "NamesAccepted", status: "True" }] } : established)
      })
      const fiber = yield* Crd.Crd.use((crds) => crds.ensureCreated(definition)).pipe(Effect.provide(fake.layer), Effect.forkChild)
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.action, "created")
      assert.deepStrictEqual((result.crd.status?.conditions ?? []).map((c) => c.type), ["NamesAccepted", "Established"])
    }))

  it.effect("a CRD that never becomes Established is a CrdTimeout carrying the last conditions, at the deadline", () =>
    Effect.gen(function*() {
      const installing = {
        conditions: [
          { type: "NamesAccepted", status: "True", reason: "NoConflicts" },
          { type: "Established", status: "False", reason: "Installing", message: "the initial names have not been accepted" }
        ]
      }
      const fake = makeFake({ crd: undefined, statusOnGet: () => installing })
      const fiber = yield* Crd.Crd.use((crds) => crds.ensureCreated(definition, { timeout: "30 seconds" })).pipe(
        Effect.provide(fake.layer),
        Effect.forkChild
      )
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting before the deadline")
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as any).error : undefined
      assert.strictEqual(error._tag, "CrdTimeout")
      assert.strictEqual(error.waitingFor, "Established")
      assert.strictEqual(error.timeoutMillis, 30_000)
      assert.deepStrictEqual(error.conditions, installing.conditions)
      assert.include(error.message, "Established=False (Installing: the initial names have not been accepted)")
    }))

  it.effect("NamesAccepted=False is a CrdNameConflict with the server's message, without waiting for the deadline", () =>
    Effect.gen(function*() {
      const fake = makeFake({
        crd: crdOnServer(["v2"]),
        statusOnGet: () => ({
          conditions: [
            { type: "NamesAccepted", status: "False", reason: "KindConflict", message: "\"Gizmo\" is already in use" },
            { type: "Established", status: "False", reason: "NotAccepted" }
          ]
        })
      })
      const error = yield* Effect.flip(Crd.Crd.use((crds) => crds.ensureCreated(definition)).pipe(Effect.provide(fake.layer)))
      assert.strictEqual(error._tag, "CrdNameConflict")
      if (error._tag !== "CrdNameConflict") return
      assert.strictEqual(error.reason, "KindConflict")
      assert.strictEqual(error.detail, "\"Gizmo\" is already in use")
    }))

  it.effect("ensureDeleted fails with CrdTimeout when the CRD stays", () =>
    Effect.gen(function*() {
      const terminating = { conditions: [{ type: "Terminating", status: "True", reason: "InstanceDeletionInProgress" }] }
      const fake = makeFake({ crd: crdOnServer(["v2"]), statusOnGet: () => terminating })
      const fiber = yield* Crd.Crd.use((crds) => crds.ensureDeleted(definition, { timeout: "10 seconds" })).pipe(
        Effect.provide(fake.layer),
        Effect.forkChild
      )
      yield* TestClock.adjust("10 seconds")
      const exit = yield* Fiber.await(fiber)
      const error = Exit.isFailure(exit) ? (exit.cause.reasons[0] as any).error : undefined
      assert.strictEqual(error?._tag, "CrdTimeout")
      assert.strictEqual(error.waitingFor, "Deleted")
      assert.deepStrictEqual(error.conditions, terminating.conditions)
    }))
})

describe("Crd.migrate (scripted)", () => {
  it.effect("retries a conflict after a fresh read, skips an object deleted meanwhile, then sets storedVersions", () =>
    Effect.gen(function*() {
      const fake = makeFake({
        crd: crdOnServer(["v1", "v2"]),
        objects: gizmos(10),
        beforeWrite: (key, store, attempt) => {
          const o = store.get(key)!
          // another writer changes a/g-02 between the list and the first two writes
          if (key === "a/g-02" && attempt <= 2) {
            store.set(key, { ...o, spec: { size: 100 + attempt }, metadata: { ...o.metadata, resourceVersion: `${o.metadata.resourceVersion}x` } })
          }
          if (key === "b/g-05") store.delete(key)
        }
      })
      const seen: Array<CrdMigration.Progress> = []
      const report = yield* Crd.Crd.use((crds) => crds.migrate(definition, { pageSize: 4, onProgress: (p) => Effect.sync(() => void seen.push(p)) }))
        .pipe(Effect.provide(fake.layer))
      assert.strictEqual(report.listed, 10)
      assert.strictEqual(report.rewritten, 9)
      assert.strictEqual(report.gone, 1)
      assert.strictEqual(report.conflicts, 2)
      assert.deepStrictEqual(report.storedVersionsAfter, ["v2"])
      assert.deepStrictEqual((fake.crd() as any).status.storedVersions, ["v2"])
      assert.isUndefined(fake.crd()!.metadata.annotations?.[CrdMigration.checkpointAnnotation(group)])
      // the other writer's change survived: the migration wrote what it read afresh
      assert.deepStrictEqual(fake.store.get("a/g-02")!["spec"], { size: 102 })
      assert.strictEqual(new Set(fake.writes).size, 9)
      assert.strictEqual(fake.writes.length, 9, "each object written once")
      assert.deepStrictEqual(seen.map((p) => p.phase), ["listed", "rewritten", "listed", "rewritten", "listed", "rewritten", "done"])
      assert.deepStrictEqual(seen.filter((p) => p.phase === "rewritten").map((p) => p.checkpoint), ["a/g-06", "b/g-05", "b/g-09"])
    }))

  it.effect("gives up with ConflictsExhausted on an object that changes under every write", () =>
    Effect.gen(function*() {
      const fake = makeFake({
        crd: crdOnServer(["v1", "v2"]),
        objects: gizmos(2),
        beforeWrite: (key, store) => {
          const o = store.get(key)!
          if (key === "a/g-00") store.set(key, { ...o, metadata: { ...o.metadata, resourceVersion: `${o.metadata.resourceVersion}x` } })
        }
      })
      const error = yield* Effect.flip(Crd.Crd.use((crds) => crds.migrate(definition, { conflictRetries: 3 })).pipe(Effect.provide(fake.layer)))
      assert.strictEqual(error._tag, "CrdMigrationError")
      if (error._tag !== "CrdMigrationError") return
      assert.strictEqual(error.reason, "ConflictsExhausted")
      assert.include(error.detail, "a/g-00 changed under each of 4 writes")
      assert.deepStrictEqual((fake.crd() as any).status.storedVersions, ["v1", "v2"], "storedVersions untouched")
    }))

  it.effect("resumes after the checkpoint of an earlier run for the same storage version, and ignores one for another", () =>
    Effect.gen(function*() {
      const resume = makeFake({
        crd: crdOnServer(["v1", "v2"], { [CrdMigration.checkpointAnnotation(group)]: JSON.stringify({ storageVersion: "v2", after: "a/g-08" }) }),
        objects: gizmos(10)
      })
      const report = yield* Crd.Crd.use((crds) => crds.migrate(definition, { pageSize: 3 })).pipe(Effect.provide(resume.layer))
      assert.isTrue(report.resumed)
      assert.strictEqual(report.skipped, 5)
      assert.strictEqual(report.rewritten, 5)
      assert.deepStrictEqual(resume.writes, ["b/g-01", "b/g-03", "b/g-05", "b/g-07", "b/g-09"])

      const stale = makeFake({
        crd: crdOnServer(["v1", "v2"], { [CrdMigration.checkpointAnnotation(group)]: JSON.stringify({ storageVersion: "v3", after: "a/g-08" }) }),
        objects: gizmos(10)
      })
      const fresh = yield* Crd.Crd.use((crds) => crds.migrate(definition)).pipe(Effect.provide(stale.layer))
      assert.isFalse(fresh.resumed)
      assert.strictEqual(fresh.rewritten, 10)
    }))

  it.effect("a checkpoint that operatorkit 0.1 recorded (operatorkit.giantswarm.io/storage-migration) is resumed from, then removed", () =>
    Effect.gen(function*() {
      const legacy = "operatorkit.giantswarm.io/storage-migration"
      const fake = makeFake({
        crd: crdOnServer(["v1", "v2"], { [legacy]: JSON.stringify({ storageVersion: "v2", after: "a/g-08" }) }),
        objects: gizmos(10)
      })
      const report = yield* Crd.Crd.use((crds) => crds.migrate(definition, { pageSize: 3 })).pipe(Effect.provide(fake.layer))
      assert.isTrue(report.resumed)
      assert.strictEqual(report.rewritten, 5)
      assert.strictEqual(CrdMigration.checkpointAnnotation(group), `${group}/storage-migration`)
      assert.deepStrictEqual(Object.keys(fake.crd()!.metadata.annotations ?? {}).filter((k) => k.endsWith("/storage-migration")), [])
    }))

  it.effect("an expired continue token (410) restarts the listing after the checkpoint", () =>
    Effect.gen(function*() {
      const fake = makeFake({ crd: crdOnServer(["v1", "v2"]), objects: gizmos(10), goneAtPage: 3 })
      const report = yield* Crd.Crd.use((crds) => crds.migrate(definition, { pageSize: 3 })).pipe(Effect.provide(fake.layer))
      assert.strictEqual(report.rewritten, 10)
      assert.strictEqual(report.skipped, 6, "the two pages done before the 410 are listed again but not written")
      assert.strictEqual(fake.writes.length, 10)
      assert.deepStrictEqual(report.storedVersionsAfter, ["v2"])
    }))

  it.effect("does nothing when only the storage version is stored", () =>
    Effect.gen(function*() {
      const fake = makeFake({ crd: crdOnServer(["v2"]), objects: gizmos(3) })
      const report = yield* Crd.Crd.use((crds) => crds.migrate(definition)).pipe(Effect.provide(fake.layer))
      assert.isTrue(report.alreadyMigrated)
      assert.deepStrictEqual(fake.writes, [])
    }))
})
