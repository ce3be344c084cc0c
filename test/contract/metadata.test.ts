import { assert } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import * as Patch from "../../src/Patch.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract } from "./harness.ts"

const META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
const META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

/** Two labelled ConfigMaps with data in a fresh namespace, as the server stored them. */
const seed = Effect.gen(function*() {
  const client = yield* Client.Client
  const ns = yield* freshNamespace()
  const a = yield* client.create(Kind.ConfigMap, {
    metadata: { name: "a", namespace: ns, labels: { app: "x" }, annotations: { note: "kept" }, finalizers: ["example.com/keep"] },
    data: { payload: "y".repeat(1024) }
  })
  const b = yield* client.create(Kind.ConfigMap, { metadata: { name: "b", namespace: ns }, data: { payload: "z" } })
  return { client, ns, a, b }
})

const release = (ns: string) =>
  Effect.flatMap(Client.Client, (client) =>
    Effect.ignore(client.patch(Kind.ConfigMap, { namespace: ns, name: "a" }, Patch.merge({ metadata: { finalizers: null } }))))

contract("metadata only (PartialObjectMetadata)", {}, (it) => {
  it.effect("a list asked for PartialObjectMetadataList: each item's whole metadata, nothing else; pages keep their token", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const { a, b, ns } = yield* seed
      const path = `/api/v1/namespaces/${ns}/configmaps`
      const list = yield* backend.send({ method: "GET", path, accept: META_LIST })
      assert.strictEqual(list.status, 200)
      assert.strictEqual(list.body.kind, "PartialObjectMetadataList")
      assert.strictEqual(list.body.apiVersion, "meta.k8s.io/v1")
      assert.isString(list.body.metadata.resourceVersion)
      assert.deepStrictEqual(list.body.items, [
        { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: a.metadata },
        { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: b.metadata }
      ])
      const page = yield* backend.send({ method: "GET", path: `${path}?limit=1`, accept: META_LIST })
      assert.strictEqual(page.body.items.length, 1)
      assert.isString(page.body.metadata.continue)
      const rest = yield* backend.send({
        method: "GET",
        path: `${path}?limit=1&continue=${encodeURIComponent(page.body.metadata.continue)}`,
        accept: META_LIST
      })
      assert.deepStrictEqual(rest.body.items.map((i: any) => i.metadata.name), ["b"])
      yield* release(ns)
    }))

  it.effect("a get asked for PartialObjectMetadata; the wrong one of the pair is 406 Not Acceptable; failures stay Status", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const { a, ns } = yield* seed
      const path = `/api/v1/namespaces/${ns}/configmaps`
      const got = yield* backend.send({ method: "GET", path: `${path}/a`, accept: META })
      assert.strictEqual(got.status, 200)
      assert.deepStrictEqual(got.body, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: a.metadata })
      const objectAsList = yield* backend.send({ method: "GET", path: `${path}/a`, accept: META_LIST })
      assert.strictEqual(objectAsList.status, 406)
      assert.strictEqual(objectAsList.body.reason, "NotAcceptable")
      assert.strictEqual(objectAsList.body.message, "you requested PartialObjectMetadataList, but the requested object is not a list (*core.ConfigMap)")
      const listAsObject = yield* backend.send({ method: "GET", path, accept: META })
      assert.strictEqual(listAsObject.status, 406)
      assert.strictEqual(listAsObject.body.reason, "NotAcceptable")
      assert.strictEqual(listAsObject.body.message, "you requested PartialObjectMetadata, but the requested object is a list (*core.ConfigMapList)")
      const missing = yield* backend.send({ method: "GET", path: `${path}/nope`, accept: META })
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body.kind, "Status")
      // a clause it cannot satisfy is passed over; JSON after it is answered in full
      const fallback = yield* backend.send({
        method: "GET",
        path: `${path}/a`,
        accept: "application/json;as=Table;g=example.com;v=v1, application/json"
      })
      assert.strictEqual(fallback.status, 200)
      assert.strictEqual(fallback.body.kind, "ConfigMap")
      yield* release(ns)
    }))

  it.effect("a watch asked for PartialObjectMetadata: every event's object is its metadata", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const client = yield* Client.Client
      const { a, b, ns } = yield* seed
      const path = `/api/v1/namespaces/${ns}/configmaps?watch=1`
      const fiber = yield* Effect.forkChild(backend.watch({ path, accept: META }, 3))
      yield* Effect.sleep("300 millis")
      const c = yield* client.create(Kind.ConfigMap, { metadata: { name: "c", namespace: ns }, data: { payload: "q" } })
      const events = yield* Fiber.join(fiber).pipe(Effect.timeout("20 seconds"))
      const partial = (metadata: unknown) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata })
      // the current objects come first, in no promised order (the watch cache's)
      const byName = (e: any) => e.object.metadata.name
      assert.deepStrictEqual([...events.slice(0, 2)].sort((x, y) => byName(x).localeCompare(byName(y))), [
        { type: "ADDED", object: partial(a.metadata) },
        { type: "ADDED", object: partial(b.metadata) }
      ])
      assert.deepStrictEqual(events[2], { type: "ADDED", object: partial(c.metadata) })
      yield* release(ns)
    }))

  it.effect("a watch asked for PartialObjectMetadataList ends at its first event, sending nothing (no object is a list)", () =>
    Effect.gen(function*() {
      const backend = yield* Backend
      const client = yield* Client.Client
      const ns = yield* freshNamespace()
      const path = `/api/v1/namespaces/${ns}/configmaps?watch=1`
      const fiber = yield* Effect.forkChild(backend.watch({ path, accept: META_LIST }, 1))
      yield* Effect.sleep("300 millis")
      yield* client.create(Kind.ConfigMap, { metadata: { name: "c", namespace: ns } })
      const events = yield* Fiber.join(fiber).pipe(Effect.timeout("20 seconds"))
      assert.deepStrictEqual(events, [])
    }))

  it.effect("the Client with a metadata-only kind: get, list, watch, patch and delete read PartialObjectMetadata", () =>
    Effect.gen(function*() {
      const { a, client, ns } = yield* seed
      const CM = Kind.metadataOnly(Kind.ConfigMap)
      const got = yield* client.get(CM, { namespace: ns, name: "a" })
      assert.deepStrictEqual(got, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: a.metadata })
      const list = yield* client.list(CM, { namespace: ns })
      assert.deepStrictEqual(list.items.map((o) => [o.kind, o.metadata.name, (o as any).data]), [
        ["PartialObjectMetadata", "a", undefined],
        ["PartialObjectMetadata", "b", undefined]
      ])
      const watched = yield* client.watch(CM, { namespace: ns, resourceVersion: list.resourceVersion }).pipe(
        Stream.filter((e) => e.type !== "BOOKMARK"),
        Stream.take(1),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Effect.sleep("300 millis")
      const patched = yield* client.patch(CM, { namespace: ns, name: "a" }, Patch.merge({ metadata: { labels: { app: "y" } } }))
      assert.strictEqual(patched.kind, "PartialObjectMetadata")
      assert.deepStrictEqual(patched.metadata.labels, { app: "y" })
      const [event] = yield* Fiber.join(watched).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(event?.type, "MODIFIED")
      if (event?.type === "MODIFIED") {
        assert.deepStrictEqual(event.object, patched)
      }
      // the full object is untouched
      const full = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "a" })
      assert.strictEqual(full.data?.["payload"], "y".repeat(1024))
      const deleting = yield* client.delete(CM, { namespace: ns, name: "a" })
      assert.isTrue(Option.isSome(deleting))
      assert.strictEqual(Option.getOrThrow(deleting).kind, "PartialObjectMetadata")
      assert.isString(Option.getOrThrow(deleting).metadata.deletionTimestamp)
      yield* release(ns)
    }))
})
