import { assert, layer } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { Clock, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Crd from "../../src/Crd.ts"
import * as CrdMigration from "../../src/CrdMigration.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { cluster, freshNamespace } from "../support/cluster.ts"

const SpecV1 = Schema.Struct({ size: Schema.Int, counter: Schema.optionalKey(Schema.Int) })
const SpecV2 = Schema.Struct({
  size: Schema.Int,
  counter: Schema.optionalKey(Schema.Int),
  color: Schema.Literals(["red", "blue"]).pipe(CrdDefinition.withDefault("red"))
})

/** v1 and v2 of a Gizmo in a group of its own; `storage` says which version the CRD stores. */
const gizmo = (group: string) => {
  const common = { group, kind: "Gizmo", namespaced: true, subresources: { status: true } } as const
  const v1 = Kind.custom({ ...common, version: "v1", spec: SpecV1 })
  const v2 = Kind.custom({ ...common, version: "v2", spec: SpecV2 })
  const storedIn = (storage: "v1" | "v2") =>
    CrdDefinition.makeUnsafe({ versions: [{ kind: v1, storage: storage === "v1" }, { kind: v2, storage: storage === "v2" }] })
  return { v1, v2, storedIn }
}

const uniqueGroup = () => `m${Crypto.randomBytes(3).toString("hex")}.operatorkit.test`

/** The apiVersion each object of the group is stored with, read from etcd itself (keyed `namespace/name`). */
const storedApiVersions = (group: string, plural: string) =>
  Effect.gen(function*() {
    const env = yield* Envtest.Envtest
    const prefix = `/registry/${group}/${plural}/`
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    const b64 = (s: string) => Buffer.from(s).toString("base64")
    const body = yield* Effect.promise(() =>
      fetch(`${env.etcdEndpoint}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: b64(prefix), range_end: b64(end) })
      }).then((r) => r.json() as Promise<{ kvs?: Array<{ key: string; value: string }> }>)
    )
    const out = new Map<string, string>()
    for (const kv of body.kvs ?? []) {
      const key = Buffer.from(kv.key, "base64").toString().slice(prefix.length)
      out.set(key, (JSON.parse(Buffer.from(kv.value, "base64").toString()) as { apiVersion: string }).apiVersion)
    }
    return out
  })

const countBy = (m: Map<string, string>) => {
  const counts: Record<string, number> = {}
  for (const v of m.values()) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

/** `count` objects spread over four namespaces, created as v1; their keys in the API server's list order. */
const populate = (kind: ReturnType<typeof gizmo>["v1"], count: number) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const namespaces = yield* Effect.all([1, 2, 3, 4].map(() => freshNamespace("mig")))
    const refs = Array.from({ length: count }, (_, i) => ({
      namespace: namespaces[i % namespaces.length]!,
      name: `gizmo-${String(i).padStart(4, "0")}`
    }))
    yield* Effect.forEach(refs, (ref) => client.create(kind, { metadata: ref, spec: { size: 1 } }), {
      concurrency: 16,
      discard: true
    })
    return refs.map((r) => `${r.namespace}/${r.name}`).sort()
  })

const refOf = (key: string) => {
  const [namespace, name] = key.split("/") as [string, string]
  return { namespace, name }
}

/** Another writer: merge-patches random objects through v2 until stopped; remembers the last counter it set. */
const startWriter = (kind: Kind.Kind<any, false>, keys: ReadonlyArray<string>, modified: Map<string, number>) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    let stop = false
    let seed = 42
    let counter = 0
    const fiber = yield* Effect.gen(function*() {
      while (!stop) {
        seed = (seed * 1103515245 + 12345) % 2147483648
        const key = keys[seed % keys.length]!
        const value = ++counter
        const ok = yield* client.patch(kind, refOf(key), Patch.merge({ spec: { counter: value } })).pipe(
          Effect.as(true),
          Effect.catchTag("NotFound", () => Effect.succeed(false))
        )
        if (ok) modified.set(key, value)
      }
    }).pipe(Effect.forkChild)
    return Effect.gen(function*() {
      stop = true
      yield* Fiber.join(fiber)
    })
  })

const MigrationLive = Crd.layer.pipe(Layer.provideMerge(cluster()))

/**
 * 1,000 objects written, listed and rewritten take a few seconds on a quiet machine and many times
 * that on a loaded one: the tests wait for the work to finish, not for a quiet machine's time.
 */
const MIGRATION_TIMEOUT = 600_000

layer(MigrationLive, { excludeTestServices: true, timeout: "300 seconds" })("Crd.migrate (real API server)", (it) => {
  it.effect("an unchanged PUT re-encodes an object in the current storage version (checked in etcd)", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const group = uniqueGroup()
      const { v1, v2, storedIn } = gizmo(group)
      yield* crds.ensureCreated(storedIn("v1"))
      const namespace = yield* freshNamespace("mig")
      const created = yield* client.create(v1, { metadata: { name: "a", namespace }, spec: { size: 1 } })
      assert.deepStrictEqual(countBy(yield* storedApiVersions(group, "gizmos")), { [`${group}/v1`]: 1 })

      yield* crds.ensureCreated(storedIn("v2"))
      // moving the storage version rewrites nothing
      const read = yield* client.get(v2, { namespace, name: "a" })
      assert.strictEqual(read.metadata.resourceVersion, created.metadata.resourceVersion)
      assert.strictEqual(read.spec.color, "red", "v2's default is applied when v1 data is read as v2")
      assert.deepStrictEqual(countBy(yield* storedApiVersions(group, "gizmos")), { [`${group}/v1`]: 1 })

      const raw: any = yield* client.raw({ method: "GET", path: Kind.objectPath(v2, namespace, "a") })
      const put: any = yield* client.raw({ method: "PUT", path: Kind.objectPath(v2, namespace, "a"), body: raw })
      assert.notStrictEqual(put.metadata.resourceVersion, raw.metadata.resourceVersion, "the unchanged PUT was written")
      assert.deepStrictEqual(countBy(yield* storedApiVersions(group, "gizmos")), { [`${group}/v2`]: 1 })

      const again: any = yield* client.raw({ method: "PUT", path: Kind.objectPath(v2, namespace, "a"), body: put })
      assert.strictEqual(again.metadata.resourceVersion, put.metadata.resourceVersion, "a second unchanged PUT writes nothing")
    }))

  it.effect("migrates 1,000 objects from v1 to v2 while another writer changes some of them", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const group = uniqueGroup()
      const { v1, v2, storedIn } = gizmo(group)
      yield* crds.ensureCreated(storedIn("v1"))
      const keys = yield* populate(v1, 1000)
      const v2Crd = storedIn("v2")
      yield* crds.ensureCreated(v2Crd)
      const crd = yield* client.get(Kind.CustomResourceDefinition, { name: v2Crd.name })
      assert.deepStrictEqual(crd.status?.storedVersions, ["v1", "v2"])
      assert.deepStrictEqual(countBy(yield* storedApiVersions(group, "gizmos")), { [`${group}/v1`]: 1000 })

      const modified = new Map<string, number>()
      const deleted = new Set<string>()
      const stopWriter = yield* startWriter(v2, keys, modified)
      const progress: Array<CrdMigration.Progress> = []
      const start = yield* Clock.currentTimeMillis
      const report = yield* crds.migrate(v2Crd, {
        pageSize: 100,
        onProgress: (p) =>
          Effect.gen(function*() {
            progress.push(p)
            if (p.phase !== "listed") return
            // between the list of a page and its writes: change five of its objects, delete two
            const page = keys.slice((p.pages - 1) * 100, p.pages * 100)
            if (p.pages === 2) {
              for (const key of page.slice(0, 5)) {
                yield* client.patch(v2, refOf(key), Patch.merge({ spec: { counter: 1_000_000 } }))
                modified.set(key, 1_000_000)
              }
            }
            if (p.pages === 3) {
              for (const key of page.slice(0, 2)) {
                yield* client.delete(v2, refOf(key))
                deleted.add(key)
              }
            }
          })
      })
      const elapsed = (yield* Clock.currentTimeMillis) - start
      yield* stopWriter
      yield* Effect.logInfo(
        `migrated ${report.rewritten} objects in ${elapsed} ms (${report.conflicts} conflicts retried, ` +
          `${report.gone} gone, ${modified.size} objects changed by the other writer)`
      )

      assert.deepStrictEqual(report.storedVersionsBefore, ["v1", "v2"])
      assert.deepStrictEqual(report.storedVersionsAfter, ["v2"])
      assert.strictEqual(report.listed, 1000)
      assert.strictEqual(report.rewritten, 998)
      assert.strictEqual(report.gone, 2)
      assert.isAtLeast(report.conflicts, 5)
      assert.isFalse(report.alreadyMigrated)
      assert.strictEqual(progress.filter((p) => p.phase === "rewritten").length, 10)
      assert.isTrue(progress.at(-1)!.done)

      const stored = yield* storedApiVersions(group, "gizmos")
      assert.deepStrictEqual(countBy(stored), { [`${group}/v2`]: 998 })
      const after = yield* client.get(Kind.CustomResourceDefinition, { name: v2Crd.name })
      assert.deepStrictEqual(after.status?.storedVersions, ["v2"])
      assert.isUndefined(after.metadata.annotations?.[CrdMigration.checkpointAnnotation(group)])

      // nothing the other writer did was lost
      const objects = yield* client.list(v2)
      assert.strictEqual(objects.items.length, 998)
      for (const object of objects.items) {
        const key = `${object.metadata.namespace}/${object.metadata.name}`
        assert.strictEqual(object.spec.counter, modified.get(key), key)
      }

      // idempotent: a second run has nothing to do
      const second = yield* crds.migrate(v2Crd)
      assert.isTrue(second.alreadyMigrated)
      assert.strictEqual(second.rewritten, 0)
      // now v1 can go
      const { v2: only } = gizmo(group)
      assert.strictEqual((yield* crds.ensureCreated(CrdDefinition.makeUnsafe(only))).action, "updated")
    }), MIGRATION_TIMEOUT)

  it.effect("a migration interrupted halfway finishes when run again, skipping what was done", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const client = yield* Client.Client
      const group = uniqueGroup()
      const { v1, v2, storedIn } = gizmo(group)
      yield* crds.ensureCreated(storedIn("v1"))
      const keys = yield* populate(v1, 1000)
      const v2Crd = storedIn("v2")
      yield* crds.ensureCreated(v2Crd)

      const modified = new Map<string, number>()
      const stopWriter = yield* startWriter(v2, keys, modified)
      const halfway = yield* Deferred.make<void>()
      const fiber = yield* crds.migrate(v2Crd, {
        pageSize: 100,
        onProgress: (p) => (p.phase === "rewritten" && p.rewritten >= 500 ? Deferred.succeed(halfway, undefined) : Effect.void)
      }).pipe(Effect.forkChild)
      yield* Deferred.await(halfway)
      yield* Fiber.interrupt(fiber)

      const interrupted = yield* client.get(Kind.CustomResourceDefinition, { name: v2Crd.name })
      assert.deepStrictEqual(interrupted.status?.storedVersions, ["v1", "v2"], "storedVersions untouched by the interrupted run")
      const checkpoint = JSON.parse(interrupted.metadata.annotations?.[CrdMigration.checkpointAnnotation(group)] ?? "null")
      assert.strictEqual(checkpoint.storageVersion, "v2")
      const done = keys.indexOf(checkpoint.after) + 1
      assert.isAtLeast(done, 500)
      const midway = countBy(yield* storedApiVersions(group, "gizmos"))
      assert.isAtLeast(midway[`${group}/v1`] ?? 0, 1, "objects still stored as v1")
      assert.isAtLeast(midway[`${group}/v2`] ?? 0, done)

      const report = yield* crds.migrate(v2Crd, { pageSize: 100 })
      yield* stopWriter
      assert.isTrue(report.resumed)
      assert.strictEqual(report.skipped, done)
      assert.strictEqual(report.rewritten, 1000 - done)
      assert.deepStrictEqual(report.storedVersionsAfter, ["v2"])
      assert.deepStrictEqual(countBy(yield* storedApiVersions(group, "gizmos")), { [`${group}/v2`]: 1000 })
      const after = yield* client.get(Kind.CustomResourceDefinition, { name: v2Crd.name })
      assert.deepStrictEqual(after.status?.storedVersions, ["v2"])
      assert.isUndefined(after.metadata.annotations?.[CrdMigration.checkpointAnnotation(group)])
    }), MIGRATION_TIMEOUT)

  it.effect("refuses to migrate before the definition's storage version is applied", () =>
    Effect.gen(function*() {
      const crds = yield* Crd.Crd
      const { storedIn } = gizmo(uniqueGroup())
      yield* crds.ensureCreated(storedIn("v1"))
      const error = yield* Effect.flip(crds.migrate(storedIn("v2")))
      assert.strictEqual(error._tag, "CrdMigrationError")
      if (error._tag !== "CrdMigrationError") return
      assert.strictEqual(error.reason, "StorageVersionMismatch")
      assert.include(error.message, "stores v1")
    }))
})
