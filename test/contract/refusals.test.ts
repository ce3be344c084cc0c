/**
 * What kube-apiserver refuses, refused alike by the in-memory server: a PUT whose uid is not the
 * object's, writes to immutable ConfigMaps and Secrets, labels and annotations that are not valid,
 * ConfigMap keys that are not. Causes are compared as a set: kube-apiserver repeats some of them
 * (a PATCH validates metadata more than once).
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, type RawAnswer } from "./harness.ts"

const OTHER_UID = "00000000-0000-0000-0000-000000000000"
const IMMUTABLE = "field is immutable when `immutable` is set"
const LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
const NAME_PART =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
const CONFIG_KEY =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

/** Status code, reason, message and the distinct causes of an answer. */
const refusal = (answer: RawAnswer) => ({
  status: answer.status,
  reason: answer.body?.reason,
  message: answer.body?.message,
  causes: Array.from(new Set<string>((answer.body?.details?.causes ?? []).map((c: { reason: string; field: string; message: string }) => `${c.reason} ${c.field}: ${c.message}`)))
})

const invalid = (kind: string, name: string, causes: ReadonlyArray<readonly [reason: string, field: string, message: string]>) => ({
  status: 422,
  reason: "Invalid",
  message: `${kind} "${name}" is invalid: ${
    causes.length === 1 ? `${causes[0]![1]}: ${causes[0]![2]}` : `[${causes.map(([, f, m]) => `${f}: ${m}`).join(", ")}]`
  }`,
  causes: causes.map(([r, f, m]) => `${r} ${f}: ${m}`)
})

contract("refusals", {}, (it) => {
  describe("preconditions", () => {
    it.effect("a PUT whose metadata.uid is not the object's is a 409 Conflict (a uid precondition), with or without a resourceVersion", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: ns }, data: { k: "v" } })
        const path = `/api/v1/namespaces/${ns}/configmaps/a`
        for (const metadata of [{ ...created.metadata, uid: OTHER_UID }, { name: "a", namespace: ns, uid: OTHER_UID }]) {
          const answer = yield* backend.send({ method: "PUT", path, body: { ...created, metadata, data: { k: "w" } } })
          assert.strictEqual(answer.status, 409)
          assert.strictEqual(answer.body.reason, "Conflict")
          assert.deepStrictEqual(answer.body.details, { name: "a", kind: "configmaps" })
          assert.strictEqual(
            answer.body.message,
            `Operation cannot be fulfilled on configmaps "a": StorageError: invalid object, Code: 4, Key: /registry/configmaps/${ns}/a, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${OTHER_UID}, UID in object meta: ${created.metadata.uid}`
          )
        }
        // its own uid is fine; a PATCH that changes the uid is refused as a change of an immutable field
        const same = yield* backend.send({ method: "PUT", path, body: { ...created, data: { k: "x" } } })
        assert.strictEqual(same.status, 200)
        const patched = yield* backend.send({ method: "PATCH", path, contentType: "application/merge-patch+json", body: { metadata: { uid: OTHER_UID } } })
        assert.deepStrictEqual(refusal(patched), invalid("ConfigMap", "a", [["FieldValueInvalid", "metadata.uid", `Invalid value: "${OTHER_UID}": field is immutable`]]))
        assert.strictEqual((yield* client.get(Kind.ConfigMap, { namespace: ns, name: "a" })).data?.["k"], "x")
      }))
  })

  describe("immutable ConfigMaps and Secrets", () => {
    it.effect("an immutable ConfigMap refuses changes of data, binaryData and immutable itself; metadata may change", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const created = yield* backend.send({
          method: "POST",
          path: `/api/v1/namespaces/${ns}/configmaps`,
          body: { metadata: { name: "frozen" }, data: { k: "v" }, immutable: true }
        })
        assert.strictEqual(created.status, 201)
        const path = `/api/v1/namespaces/${ns}/configmaps/frozen`
        const patch = (body: unknown) => backend.send({ method: "PATCH", path, contentType: "application/merge-patch+json", body })
        assert.deepStrictEqual(refusal(yield* patch({ data: { k: "w" } })), invalid("ConfigMap", "frozen", [["FieldValueForbidden", "data", `Forbidden: ${IMMUTABLE}`]]))
        assert.deepStrictEqual(
          refusal(yield* patch({ binaryData: { b: "eA==" } })),
          invalid("ConfigMap", "frozen", [["FieldValueForbidden", "binaryData", `Forbidden: ${IMMUTABLE}`]])
        )
        assert.deepStrictEqual(
          refusal(yield* patch({ immutable: false })),
          invalid("ConfigMap", "frozen", [["FieldValueForbidden", "immutable", `Forbidden: ${IMMUTABLE}`]])
        )
        const put = yield* backend.send({ method: "PUT", path, body: { ...created.body, data: { k: "w" }, immutable: null } })
        assert.deepStrictEqual(
          refusal(put),
          invalid("ConfigMap", "frozen", [
            ["FieldValueForbidden", "immutable", `Forbidden: ${IMMUTABLE}`],
            ["FieldValueForbidden", "data", `Forbidden: ${IMMUTABLE}`]
          ])
        )
        const labelled = yield* patch({ metadata: { labels: { a: "b" } } })
        assert.strictEqual(labelled.status, 200)
        assert.deepStrictEqual(labelled.body.data, { k: "v" })
      }))

    it.effect("an immutable Secret refuses changes of data (stringData too); a Secret's type never changes", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const create = (name: string, immutable: boolean) =>
          backend.send({
            method: "POST",
            path: `/api/v1/namespaces/${ns}/secrets`,
            body: { metadata: { name }, data: { k: "dg==" }, ...(immutable ? { immutable: true } : {}) }
          })
        assert.strictEqual((yield* create("frozen", true)).status, 201)
        assert.strictEqual((yield* create("open", false)).status, 201)
        const patch = (name: string, body: unknown) =>
          backend.send({ method: "PATCH", path: `/api/v1/namespaces/${ns}/secrets/${name}`, contentType: "application/merge-patch+json", body })
        for (const body of [{ data: { k: "dw==" } }, { stringData: { k: "x" } }]) {
          assert.deepStrictEqual(refusal(yield* patch("frozen", body)), invalid("Secret", "frozen", [["FieldValueForbidden", "data", `Forbidden: ${IMMUTABLE}`]]))
        }
        for (const name of ["frozen", "open"]) {
          assert.deepStrictEqual(
            refusal(yield* patch(name, { type: "example.com/other" })),
            invalid("Secret", name, [["FieldValueInvalid", "type", `Invalid value: "example.com/other": field is immutable`]])
          )
        }
        assert.strictEqual((yield* patch("open", { data: { k: "dw==" } })).status, 200)
      }))
  })

  describe("labels, annotations, keys", () => {
    it.effect("label values longer than 63 characters or badly formed, label and annotation keys badly formed: 422 on create and update", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/configmaps`
        const long = "x".repeat(64)
        const create = (name: string, metadata: object) => backend.send({ method: "POST", path, body: { metadata: { name, ...metadata } } })
        assert.deepStrictEqual(
          refusal(yield* create("l1", { labels: { a: long } })),
          invalid("ConfigMap", "l1", [["FieldValueInvalid", "metadata.labels", `Invalid value: "${long}": must be no more than 63 characters`]])
        )
        assert.deepStrictEqual(
          refusal(yield* create("l2", { labels: { a: "-x" } })),
          invalid("ConfigMap", "l2", [["FieldValueInvalid", "metadata.labels", `Invalid value: "-x": ${LABEL_VALUE}`]])
        )
        assert.deepStrictEqual(
          refusal(yield* create("l3", { labels: { "-a": "x" } })),
          invalid("ConfigMap", "l3", [["FieldValueInvalid", "metadata.labels", `Invalid value: "-a": ${NAME_PART}`]])
        )
        assert.deepStrictEqual(
          refusal(yield* create("l4", { annotations: { "-a": "x" } })),
          invalid("ConfigMap", "l4", [["FieldValueInvalid", "metadata.annotations", `Invalid value: "-a": ${NAME_PART}`]])
        )
        // a value of exactly 63 characters, an empty one, a prefixed key: fine
        assert.strictEqual((yield* create("ok", { labels: { a: "x".repeat(63), b: "", "example.com/c": "d" } })).status, 201)
        // on update too
        yield* client.create(Kind.ConfigMap, { metadata: { name: "u", namespace: ns } })
        const updated = yield* backend.send({
          method: "PATCH",
          path: `${path}/u`,
          contentType: "application/merge-patch+json",
          body: { metadata: { labels: { a: long } } }
        })
        assert.deepStrictEqual(
          refusal(updated),
          invalid("ConfigMap", "u", [["FieldValueInvalid", "metadata.labels", `Invalid value: "${long}": must be no more than 63 characters`]])
        )
      }))

    it.effect("ConfigMap data keys must be config keys", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const answer = yield* backend.send({ method: "POST", path: `/api/v1/namespaces/${ns}/configmaps`, body: { metadata: { name: "d" }, data: { "a b": "x" } } })
        assert.deepStrictEqual(refusal(answer), invalid("ConfigMap", "d", [["FieldValueInvalid", "data[a b]", `Invalid value: "a b": ${CONFIG_KEY}`]]))
      }))
  })

  describe("found by the differential test", () => {
    it.effect("Secret data must be strict base64: 400 on POST and PUT, 422 on a merge patch; Secrets default to type Opaque and merge stringData into data", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/secrets`
        const bad = yield* backend.send({ method: "POST", path, body: { metadata: { name: "s" }, data: { k: "not base64!" } } })
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(bad.body.reason, "BadRequest")
        assert.include(bad.body.message, `Secret in version "v1" cannot be handled as a Secret: v1.Secret.Data: decode base64: illegal base64 data at input byte 3`)
        const made = yield* backend.send({ method: "POST", path, body: { metadata: { name: "s" }, stringData: { k: "v" } } })
        assert.strictEqual(made.status, 201)
        assert.deepStrictEqual({ data: made.body.data, type: made.body.type, stringData: made.body.stringData }, { data: { k: "dg==" }, type: "Opaque", stringData: undefined })
        const put = yield* backend.send({ method: "PUT", path: `${path}/s`, body: { ...made.body, data: { k: "dg" } } })
        assert.deepStrictEqual([put.status, put.body.reason], [400, "BadRequest"])
        const patched = yield* backend.send({ method: "PATCH", path: `${path}/s`, contentType: "application/merge-patch+json", body: { data: { k: "!!" } } })
        assert.deepStrictEqual([patched.status, patched.body.reason, patched.body.details.causes[0].field], [422, "Invalid", "patch"])
      }))

    it.effect("a delete's options are checked before the object is looked up; Orphan and Foreground leave the garbage collector's finalizer, Background takes it away", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/configmaps`
        const unknown = yield* backend.send({ method: "DELETE", path: `${path}/missing`, body: { propagationPolicy: "Sideways" } })
        assert.deepStrictEqual(refusal(unknown), {
          status: 422,
          reason: "Invalid",
          message: `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"`,
          causes: [`FieldValueNotSupported propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"`]
        })
        yield* backend.send({ method: "POST", path, body: { metadata: { name: "a", finalizers: ["example.com/f"] } } })
        const orphaned = yield* backend.send({ method: "DELETE", path: `${path}/a`, body: { propagationPolicy: "Orphan" } })
        assert.deepStrictEqual(orphaned.body.metadata.finalizers, ["example.com/f", "orphan"])
        assert.isString(orphaned.body.metadata.deletionTimestamp)
        const foreground = yield* backend.send({ method: "DELETE", path: `${path}/a`, body: { propagationPolicy: "Foreground" } })
        assert.deepStrictEqual(foreground.body.metadata.finalizers, ["example.com/f", "foregroundDeletion"])
        const background = yield* backend.send({ method: "DELETE", path: `${path}/a`, body: { propagationPolicy: "Background" } })
        assert.deepStrictEqual(background.body.metadata.finalizers, ["example.com/f"])
        assert.isAbove(Number(background.body.metadata.resourceVersion), Number(orphaned.body.metadata.resourceVersion))
      }))

    it.effect("nulls and empty labels, finalizers or ConfigMap data are not stored: writing them changes nothing", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/configmaps`
        const created = yield* backend.send({ method: "POST", path, body: { metadata: { name: "a", labels: {}, finalizers: [], annotations: null }, data: {}, immutable: null } })
        assert.deepStrictEqual(Object.keys(created.body).sort(), ["apiVersion", "kind", "metadata"])
        assert.deepStrictEqual(Object.keys(created.body.metadata).filter((k) => k !== "managedFields").sort(), [
          "creationTimestamp",
          "name",
          "namespace",
          "resourceVersion",
          "uid"
        ])
        const put = yield* backend.send({ method: "PUT", path: `${path}/a`, body: { ...created.body, metadata: { ...created.body.metadata, labels: {} }, data: {} } })
        assert.strictEqual(put.body.metadata.resourceVersion, created.body.metadata.resourceVersion)
      }))

    it.effect("a full page says more when any object follows, matching the selectors or not; an exact metadata.name never pages", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/configmaps`
        yield* backend.send({ method: "POST", path, body: { metadata: { name: "a", labels: { app: "web" } } } })
        yield* backend.send({ method: "POST", path, body: { metadata: { name: "b" } } })
        const first = yield* backend.send({ method: "GET", path: `${path}?labelSelector=app%3Dweb&limit=1` })
        assert.deepStrictEqual(first.body.items.map((i: any) => i.metadata.name), ["a"])
        assert.isString(first.body.metadata.continue)
        assert.isUndefined(first.body.metadata.remainingItemCount)
        const rest = yield* backend.send({ method: "GET", path: `${path}?labelSelector=app%3Dweb&limit=1&continue=${encodeURIComponent(first.body.metadata.continue)}` })
        assert.deepStrictEqual(rest.body.items, [])
        assert.isUndefined(rest.body.metadata.continue)
        const named = yield* backend.send({ method: "GET", path: `${path}?fieldSelector=metadata.name%3Da&limit=1` })
        assert.deepStrictEqual(named.body.items.map((i: any) => i.metadata.name), ["a"])
        assert.isUndefined(named.body.metadata.continue)
      }))
  })
})
