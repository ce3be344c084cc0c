/** Metadata-only kinds through the Informer, the shared Informers and Controller watches (in-memory server, TestClock). */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Watch from "../../src/Watch.ts"
import * as Framework from "../../src/Framework.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { settle, withServer } from "../../src/testing/helpers.ts"

const ns = "default"
const PARTIAL = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1" }
// what the Informer caches by default: the metadata without managedFields
const cached = ({ managedFields: _, ...metadata }: Kind.ObjectMeta) => ({ ...PARTIAL, metadata })

describe("metadata-only kinds", () => {
  it("Kind.metadataOnly keeps where the objects live and decodes PartialObjectMetadata", () => {
    const meta = Kind.metadataOnly(Kind.Secret)
    assert.strictEqual(meta.metadataOnly, true)
    assert.deepStrictEqual(
      [meta.group, meta.version, meta.kind, meta.plural, meta.namespaced, meta.builtin],
      ["", "v1", "Secret", "secrets", true, true]
    )
    assert.strictEqual(Kind.collectionPath(meta, "a"), "/api/v1/namespaces/a/secrets")
    assert.strictEqual(Kind.metadataOnly(meta), meta)
    assert.strictEqual(String(meta), "Secret.v1 (metadata only)")
    assert.isUndefined(Kind.Secret.metadataOnly)
  })

  it.effect("an informer of a metadata-only kind holds each object's metadata only, and follows changes", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const full = yield* client.create(Kind.ConfigMap, {
        metadata: { name: "a", namespace: ns, labels: { app: "x" } },
        data: { payload: "y".repeat(1024) }
      })
      const informer = yield* Informer.make(Kind.metadataOnly(Kind.ConfigMap), { namespace: ns })
      yield* informer.synced
      const [held] = yield* informer.store.list()
      assert.deepStrictEqual(held, cached(full.metadata))
      const patched = yield* client.patch(Kind.ConfigMap, { namespace: ns, name: "a" }, Patch.merge({ data: { payload: "z" }, metadata: { labels: { app: "w" } } }))
      yield* settle(20)
      const [after] = yield* informer.store.list()
      assert.deepStrictEqual(after, cached(patched.metadata))
    }).pipe(withServer))

  it.effect("the shared Informers keep a metadata-only informer apart from the full one", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns }, data: { k: "v" } })
      const informers = yield* Informer.Informers
      const full = yield* informers.get(Kind.ConfigMap, { namespace: ns })
      const meta = yield* informers.get(Kind.metadataOnly(Kind.ConfigMap), { namespace: ns })
      yield* full.synced
      yield* meta.synced
      assert.notStrictEqual(full, meta)
      assert.deepStrictEqual((yield* full.store.list()).map((o) => o.data), [{ k: "v" }])
      assert.deepStrictEqual((yield* meta.store.list()).map((o) => [o.kind, (o as { data?: unknown }).data]), [["PartialObjectMetadata", undefined]])
    }).pipe(Effect.provide(Informer.layer), withServer))

  it.effect("controller watches of metadata-only kinds: owned Secrets and Pods by label enqueue their primary", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const runs: Array<string> = []
      const record = Framework.make<Kind.Type<typeof Kind.ConfigMap>>()({
        name: "record",
        ensureCreated: (cm) => Effect.sync(() => void runs.push(cm.metadata.name)),
        ensureDeleted: () => Effect.void
      })
      const owner = yield* client.create(Kind.ConfigMap, { metadata: { name: "owner", namespace: ns } })
      const seen: Array<string> = []
      yield* Controller.make({
        finalizerPrefix: "operatorkit.test",
        name: "meta",
        kind: Kind.ConfigMap,
        namespace: ns,
        resources: [record],
        watches: [
          Watch.owns(Kind.metadataOnly(Kind.Secret), { namespace: ns }),
          Watch.watches(Kind.metadataOnly(Kind.Pod), (pod) => {
            seen.push(`${pod.kind}/${pod.metadata.name}`)
            return [`${ns}/${pod.metadata.labels?.["owner"]}`]
          }, { namespace: ns, labelSelector: "owner" })
        ]
      })
      yield* settle(50)
      const count = () => runs.filter((r) => r === "owner").length
      assert.strictEqual(count(), 1)
      yield* client.create(Kind.Secret, {
        metadata: {
          name: "s",
          namespace: ns,
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid!, controller: true }]
        },
        data: { key: "c2VjcmV0" }
      })
      yield* settle(50)
      assert.strictEqual(count(), 2)
      yield* client.create(Kind.Pod, {
        metadata: { name: "p", namespace: ns, labels: { owner: "owner" } },
        spec: { containers: [{ name: "c", image: "busybox" }] }
      })
      yield* client.create(Kind.Pod, { metadata: { name: "unlabelled", namespace: ns }, spec: { containers: [{ name: "c", image: "busybox" }] } })
      yield* settle(50)
      assert.strictEqual(count(), 3)
      // the Pod watch's objects are metadata, and only the labelled Pod was seen
      assert.deepStrictEqual(seen, ["PartialObjectMetadata/p"])
    }).pipe(withServer))
})
