import { assert, describe } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"
import { freshNamespace } from "../support/cluster.ts"
import { Backend, contract, eventually, failureStatus } from "./harness.ts"

const cm = (namespace: string, name: string, data: Record<string, string> = { k: "v" }) => ({
  metadata: { name, namespace },
  data
})

const SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

contract("objects", {}, (it) => {
  describe("create, read, replace", () => {
    it.effect("fills uid, creationTimestamp and resourceVersion; ConfigMaps have no generation", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "a"))
        assert.match(created.metadata.uid ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        assert.match(created.metadata.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        assert.isUndefined(created.metadata.generation)
        const read = yield* client.get(Kind.ConfigMap, { namespace: ns, name: "a" })
        assert.deepStrictEqual(read, created)
        const replaced = yield* client.replace(Kind.ConfigMap, { ...read, data: { k: "2" } })
        assert.isAbove(Number(replaced.metadata.resourceVersion), Number(created.metadata.resourceVersion))
        assert.strictEqual(replaced.metadata.uid, created.metadata.uid)
        assert.strictEqual(replaced.metadata.creationTimestamp, created.metadata.creationTimestamp)
        // ConfigMaps take updates without a resourceVersion
        const { resourceVersion: _, ...unconditional } = replaced.metadata
        const again = yield* client.replace(Kind.ConfigMap, { ...replaced, metadata: unconditional, data: { k: "3" } })
        assert.strictEqual(again.data?.["k"], "3")
      }))

    it.effect("an update that changes nothing keeps the resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "same"))
        const replaced = yield* client.replace(Kind.ConfigMap, created)
        assert.strictEqual(replaced.metadata.resourceVersion, created.metadata.resourceVersion)
      }))

    it.effect("namespaces get the kubernetes finalizer and phase Active", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const read = yield* client.get(Kind.Namespace, { name: ns })
        assert.deepStrictEqual(read.spec?.finalizers, ["kubernetes"])
        assert.strictEqual(read.status?.phase, "Active")
        for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
          assert.strictEqual((yield* client.get(Kind.Namespace, { name })).metadata.name, name)
        }
      }))

    it.effect("generateName picks a free name with a five-character suffix", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const a = yield* client.create(Kind.ConfigMap, { metadata: { name: "", generateName: "gen-", namespace: ns } })
        const b = yield* client.create(Kind.ConfigMap, { metadata: { name: "", generateName: "gen-", namespace: ns } })
        assert.match(a.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/)
        assert.notStrictEqual(a.metadata.name, b.metadata.name)
        assert.strictEqual(a.metadata.generateName, "gen-")
      }))

    it.effect("Deployments: generation 1, then +1 on spec or annotation changes, not on labels or status", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const deployment = {
          metadata: { name: "d", namespace: ns },
          spec: {
            selector: { matchLabels: { app: "d" } },
            template: { metadata: { labels: { app: "d" } }, spec: { containers: [{ name: "c", image: "busybox" }] } }
          }
        }
        const created = yield* client.create(Kind.Deployment, deployment)
        assert.strictEqual(created.metadata.generation, 1)
        const ref = { namespace: ns, name: "d" }
        const labelled = yield* client.patch(Kind.Deployment, ref, { _tag: "MergePatch", patch: { metadata: { labels: { x: "1" } } } })
        assert.strictEqual(labelled.metadata.generation, 1)
        const annotated = yield* client.patch(Kind.Deployment, ref, { _tag: "MergePatch", patch: { metadata: { annotations: { x: "1" } } } })
        assert.strictEqual(annotated.metadata.generation, 2)
        const scaled = yield* client.patch(Kind.Deployment, ref, { _tag: "MergePatch", patch: { spec: { replicas: 3 } } })
        assert.strictEqual(scaled.metadata.generation, 3)
        const reported = yield* client.patchStatus(Kind.Deployment, ref, { _tag: "MergePatch", patch: { status: { replicas: 3 } } })
        assert.strictEqual(reported.metadata.generation, 3)
        assert.strictEqual(reported.status?.replicas, 3)
        // the main resource keeps status as it is
        const ignored = yield* client.patch(Kind.Deployment, ref, { _tag: "MergePatch", patch: { status: { replicas: 9 } } })
        assert.strictEqual(ignored.status?.replicas, 3)
      }))
  })

  describe("errors, as Status objects", () => {
    it.effect("404 for an object, a namespace and a resource; the text 404 for an unknown group", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        assert.deepStrictEqual(
          yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps/nope` }),
          { status: 404, body: failureStatus(404, "NotFound", `configmaps "nope" not found`, { name: "nope", kind: "configmaps" }) }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "GET", path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/nope` }),
          {
            status: 404,
            body: failureStatus(404, "NotFound", `leases.coordination.k8s.io "nope" not found`, {
              name: "nope",
              group: "coordination.k8s.io",
              kind: "leases"
            })
          }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "POST", path: `/api/v1/namespaces/${ns}-missing/configmaps`, body: cm(`${ns}-missing`, "a") }),
          {
            status: 404,
            body: failureStatus(404, "NotFound", `namespaces "${ns}-missing" not found`, { name: `${ns}-missing`, kind: "namespaces" })
          }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/widgets` }),
          { status: 404, body: failureStatus(404, "NotFound", "the server could not find the requested resource", {}) }
        )
        const group = yield* backend.send({ method: "GET", path: "/apis/nope.example.com/v1/widgets" })
        assert.strictEqual(group.status, 404)
        assert.strictEqual(String(group.body).trim(), "404 page not found")
        assert.deepStrictEqual(
          yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps/a/status` }),
          { status: 404, body: failureStatus(404, "NotFound", "the server could not find the requested resource", {}) }
        )
      }))

    it.effect("409 AlreadyExists, 409 Conflict on a stale resourceVersion", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "a"))
        assert.deepStrictEqual(
          yield* backend.send({ method: "POST", path: `/api/v1/namespaces/${ns}/configmaps`, body: cm(ns, "a") }),
          { status: 409, body: failureStatus(409, "AlreadyExists", `configmaps "a" already exists`, { name: "a", kind: "configmaps" }) }
        )
        yield* client.replace(Kind.ConfigMap, { ...created, data: { k: "2" } })
        assert.deepStrictEqual(
          yield* backend.send({
            method: "PUT",
            path: `/api/v1/namespaces/${ns}/configmaps/a`,
            body: { ...created, data: { k: "3" } }
          }),
          {
            status: 409,
            body: failureStatus(
              409,
              "Conflict",
              `Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again`,
              { name: "a", kind: "configmaps" }
            )
          }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "PUT", path: `/api/v1/namespaces/${ns}/configmaps/missing`, body: cm(ns, "missing") }),
          { status: 404, body: failureStatus(404, "NotFound", `configmaps "missing" not found`, { name: "missing", kind: "configmaps" }) }
        )
        const typed = yield* Effect.flip(client.create(Kind.ConfigMap, cm(ns, "a")))
        assert.strictEqual(typed._tag, "AlreadyExists")
        const stale = yield* Effect.flip(client.replace(Kind.ConfigMap, { ...created, data: { k: "4" } }))
        assert.strictEqual(stale._tag, "Conflict")
      }))

    it.effect("422 Invalid names each field: a bad name, a missing name, a bad generateName", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const path = `/api/v1/namespaces/${ns}/configmaps`
        assert.deepStrictEqual(yield* backend.send({ method: "POST", path, body: cm(ns, "Not_Valid") }), {
          status: 422,
          body: failureStatus(422, "Invalid", `ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": ${SUBDOMAIN}`, {
            name: "Not_Valid",
            kind: "ConfigMap",
            causes: [{ reason: "FieldValueInvalid", message: `Invalid value: "Not_Valid": ${SUBDOMAIN}`, field: "metadata.name" }]
          })
        })
        assert.deepStrictEqual(yield* backend.send({ method: "POST", path, body: { metadata: {} } }), {
          status: 422,
          body: failureStatus(422, "Invalid", `ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required`, {
            kind: "ConfigMap",
            causes: [{ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" }]
          })
        })
        const generated = yield* backend.send({ method: "POST", path, body: { metadata: { generateName: "Gen_" } } })
        assert.strictEqual(generated.status, 422)
        assert.deepStrictEqual(generated.body.details.causes.map((c: any) => c.field), ["metadata.generateName", "metadata.name"])
        const namespace = yield* backend.send({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: "a.b" } } })
        assert.strictEqual(namespace.status, 422)
        assert.include(namespace.body.message, "a lowercase RFC 1123 label must consist of")
        const service = yield* backend.send({
          method: "POST",
          path: `/api/v1/namespaces/${ns}/services`,
          body: { metadata: { name: "1ab" }, spec: { ports: [{ port: 80 }] } }
        })
        assert.strictEqual(service.status, 422)
        assert.include(service.body.message, "a DNS-1035 label must consist of")
        const role = yield* backend.send({
          method: "POST",
          path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
          body: { metadata: { name: "a/b" } }
        })
        assert.deepStrictEqual(role.body.message, `Role.rbac.authorization.k8s.io "a/b" is invalid: metadata.name: Invalid value: "a/b": may not contain '/'`)
      }))

    it.effect("400 when the body's name or namespace disagrees with the URL", () =>
      Effect.gen(function*() {
        const backend = yield* Backend
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        yield* client.create(Kind.ConfigMap, cm(ns, "a"))
        assert.deepStrictEqual(
          yield* backend.send({ method: "PUT", path: `/api/v1/namespaces/${ns}/configmaps/a`, body: cm(ns, "b") }),
          { status: 400, body: failureStatus(400, "BadRequest", "the name of the object (b) does not match the name on the URL (a)") }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "POST", path: `/api/v1/namespaces/${ns}/configmaps`, body: cm("elsewhere", "c") }),
          { status: 400, body: failureStatus(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request") }
        )
      }))
  })

  describe("lists", () => {
    it.effect("label selectors: equality, inequality, set-based, exists", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const labels: Record<string, Record<string, string>> = {
          a: { tier: "web", env: "prod" },
          b: { tier: "web", env: "dev" },
          c: { tier: "db" },
          d: {}
        }
        for (const [name, l] of Object.entries(labels)) yield* client.create(Kind.ConfigMap, { metadata: { name, namespace: ns, labels: l } })
        const names = (labelSelector: string) =>
          client.list(Kind.ConfigMap, { namespace: ns, labelSelector }).pipe(Effect.map((l) => l.items.map((i) => i.metadata.name)))
        assert.deepStrictEqual(yield* names("tier=web"), ["a", "b"])
        assert.deepStrictEqual(yield* names("tier==web,env=prod"), ["a"])
        assert.deepStrictEqual(yield* names("tier!=web"), ["c", "d"])
        assert.deepStrictEqual(yield* names("env in (dev,test)"), ["b"])
        assert.deepStrictEqual(yield* names("env notin (dev)"), ["a", "c", "d"])
        assert.deepStrictEqual(yield* names("env"), ["a", "b"])
        assert.deepStrictEqual(yield* names("!env"), ["c", "d"])
        assert.deepStrictEqual(yield* names("tier in (web, db),!env"), ["c"])
        const backend = yield* Backend
        const raw = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent("a===b")}` })
        assert.strictEqual(raw.status, 400)
        assert.strictEqual(raw.body.reason, "BadRequest")
      }))

    it.effect("field selectors on metadata.name and metadata.namespace; others are refused", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const other = yield* freshNamespace()
        for (const name of ["x", "y"]) yield* client.create(Kind.ConfigMap, cm(ns, name))
        yield* client.create(Kind.ConfigMap, cm(other, "x"))
        const one = yield* client.list(Kind.ConfigMap, { namespace: ns, fieldSelector: "metadata.name=x" })
        assert.deepStrictEqual(one.items.map((i) => i.metadata.name), ["x"])
        const notX = yield* client.list(Kind.ConfigMap, { namespace: ns, fieldSelector: "metadata.name!=x" })
        assert.deepStrictEqual(notX.items.map((i) => i.metadata.name), ["y"])
        const everywhere = yield* client.list(Kind.ConfigMap, { fieldSelector: `metadata.name=x,metadata.namespace=${other}` })
        assert.deepStrictEqual(everywhere.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`), [`${other}/x`])
        assert.deepStrictEqual(
          yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?fieldSelector=spec.x%3D1` }),
          { status: 400, body: failureStatus(400, "BadRequest", `"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"`) }
        )
      }))

    it.effect("limit and continue page a consistent snapshot; remainingItemCount; list resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        let last = ""
        for (let i = 0; i < 12; i++) {
          last = (yield* client.create(Kind.ConfigMap, cm(ns, `s${String(i).padStart(2, "0")}`))).metadata.resourceVersion!
        }
        const first = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?limit=5` })
        assert.strictEqual(first.body.kind, "ConfigMapList")
        assert.strictEqual(first.body.apiVersion, "v1")
        assert.strictEqual(first.body.metadata.remainingItemCount, 7)
        assert.isAtLeast(Number(first.body.metadata.resourceVersion), Number(last))
        assert.isUndefined(first.body.items[0].kind, "built-in list items carry no kind")
        // written after the first page: not part of the paged list
        yield* client.create(Kind.ConfigMap, cm(ns, "s99"))
        yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "s11" })
        const pages = [first.body]
        let token: string | undefined = first.body.metadata.continue
        while (token !== undefined && token !== "") {
          const page = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?limit=5&continue=${encodeURIComponent(token)}` })
          assert.strictEqual(page.status, 200)
          pages.push(page.body)
          token = page.body.metadata.continue
        }
        assert.deepStrictEqual(pages.map((p) => p.items.length), [5, 5, 2])
        assert.deepStrictEqual(pages.map((p) => p.metadata.resourceVersion), Array(3).fill(first.body.metadata.resourceVersion))
        assert.deepStrictEqual(
          pages.flatMap((p) => p.items.map((i: any) => i.metadata.name)),
          Array.from({ length: 12 }, (_, i) => `s${String(i).padStart(2, "0")}`)
        )
        const viaClient = yield* Stream.runCollect(client.listPages(Kind.ConfigMap, { namespace: ns, limit: 5 }))
        assert.deepStrictEqual(viaClient.map((p) => p.items.length), [5, 5, 2])
        const filtered = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?limit=5&labelSelector=x!%3Dy` })
        assert.isUndefined(filtered.body.metadata.remainingItemCount, "no count when a selector filters")
      }))

    it.effect("resourceVersion=0 is answered whole from the watch cache, whatever its limit", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        for (let i = 0; i < 7; i++) yield* client.create(Kind.ConfigMap, cm(ns, `w${i}`))
        // the watch cache may lag a moment behind the writes
        const whole = yield* eventually(
          backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?resourceVersion=0&limit=3` }),
          (a) => a.status === 200 && a.body.items.length === 7
        )
        assert.include(["", undefined], whole.body.metadata.continue, "no further page")
        assert.isUndefined(whole.body.metadata.remainingItemCount)
        // without resourceVersion=0 the same limit pages
        const paged = yield* backend.send({ method: "GET", path: `/api/v1/namespaces/${ns}/configmaps?limit=3` })
        assert.strictEqual(paged.body.items.length, 3)
      }))
  })

  describe("deletion", () => {
    it.effect("finalizers hold the object; removing the last one deletes it", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        yield* client.create(Kind.ConfigMap, { metadata: { name: "f", namespace: ns, finalizers: ["example.com/hold"] } })
        const pending = yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "f" })
        assert.isTrue(Option.isSome(pending))
        const deleting = Option.getOrThrow(pending)
        assert.match(deleting.metadata.deletionTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        assert.strictEqual(deleting.metadata.deletionGracePeriodSeconds, 0)
        const again = yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "f" })
        assert.strictEqual(Option.getOrThrow(again).metadata.resourceVersion, deleting.metadata.resourceVersion, "a second delete changes nothing")
        const added = yield* backend.send({
          method: "PUT",
          path: `/api/v1/namespaces/${ns}/configmaps/f`,
          body: { ...deleting, metadata: { ...deleting.metadata, finalizers: ["example.com/hold", "example.com/more"] } }
        })
        assert.strictEqual(added.status, 422)
        assert.strictEqual(added.body.details.causes[0].field, "metadata.finalizers")
        assert.include(added.body.message, "no new finalizers can be added if the object is being deleted")
        const released = yield* client.replace(Kind.ConfigMap, { ...deleting, metadata: { ...deleting.metadata, finalizers: [] } })
        assert.strictEqual(released.metadata.resourceVersion, deleting.metadata.resourceVersion, "the answer carries the last stored version")
        assert.strictEqual((yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: ns, name: "f" })))._tag, "NotFound")
      }))

    it.effect("preconditions on uid and resourceVersion answer 409", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "p"))
        const path = `/api/v1/namespaces/${ns}/configmaps/p`
        assert.deepStrictEqual(
          yield* backend.send({ method: "DELETE", path, body: { preconditions: { uid: "not-the-uid" } } }),
          {
            status: 409,
            body: failureStatus(
              409,
              "Conflict",
              `Operation cannot be fulfilled on ConfigMap "p": the UID in the precondition (not-the-uid) does not match the UID in record (${created.metadata.uid}). The object might have been deleted and then recreated`,
              { name: "p", kind: "ConfigMap" }
            )
          }
        )
        assert.deepStrictEqual(
          yield* backend.send({ method: "DELETE", path, body: { preconditions: { resourceVersion: "1" } } }),
          {
            status: 409,
            body: failureStatus(
              409,
              "Conflict",
              `Operation cannot be fulfilled on ConfigMap "p": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${created.metadata.resourceVersion}). The object might have been modified`,
              { name: "p", kind: "ConfigMap" }
            )
          }
        )
        const gone = yield* client.delete(Kind.ConfigMap, { namespace: ns, name: "p" }, {
          preconditions: { uid: created.metadata.uid!, resourceVersion: created.metadata.resourceVersion! },
          propagationPolicy: "Background"
        })
        assert.isTrue(Option.isNone(gone))
      }))

    it.effect("a delete answers a Status for most kinds and the object for ServiceAccounts", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const created = yield* client.create(Kind.ConfigMap, cm(ns, "s"))
        assert.deepStrictEqual(yield* backend.send({ method: "DELETE", path: `/api/v1/namespaces/${ns}/configmaps/s` }), {
          status: 200,
          body: {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: { name: "s", kind: "configmaps", uid: created.metadata.uid }
          }
        })
        yield* client.create(Kind.ServiceAccount, { metadata: { name: "sa", namespace: ns } })
        const sa = yield* backend.send({ method: "DELETE", path: `/api/v1/namespaces/${ns}/serviceaccounts/sa` })
        assert.strictEqual(sa.body.kind, "ServiceAccount")
        assert.strictEqual(sa.body.metadata.name, "sa")
      }))

    it.effect("dry-run answers as if it wrote and persists nothing", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const backend = yield* Backend
        const ns = yield* freshNamespace()
        const dry = yield* backend.send({ method: "POST", path: `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, body: cm(ns, "dry") })
        assert.strictEqual(dry.status, 201)
        assert.isString(dry.body.metadata.uid)
        assert.isUndefined(dry.body.metadata.resourceVersion)
        assert.strictEqual((yield* Effect.flip(client.get(Kind.ConfigMap, { namespace: ns, name: "dry" })))._tag, "NotFound")

        const created = yield* client.create(Kind.ConfigMap, cm(ns, "real", { k: "1" }))
        const ref = { namespace: ns, name: "real" }
        const patched = yield* client.patch(Kind.ConfigMap, ref, { _tag: "MergePatch", patch: { data: { k: "2" } } }, { dryRun: true })
        assert.strictEqual(patched.data?.["k"], "2")
        assert.strictEqual(patched.metadata.resourceVersion, created.metadata.resourceVersion)
        const replaced = yield* client.replace(Kind.ConfigMap, { ...created, data: { k: "3" } }, { dryRun: true })
        assert.strictEqual(replaced.data?.["k"], "3")
        assert.isTrue(Option.isNone(yield* client.delete(Kind.ConfigMap, ref, { dryRun: true })))
        assert.deepStrictEqual(yield* client.get(Kind.ConfigMap, ref), created)
      }))
  })

  describe("watch", () => {
    it.effect("timeoutSeconds ends the watch; with bookmarks allowed, a BOOKMARK brings the latest resourceVersion", () =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        const ns = yield* freshNamespace()
        const start = yield* client.list(Kind.ConfigMap, { namespace: ns })
        const started = Date.now()
        const fiber = yield* client.watch(Kind.ConfigMap, {
          namespace: ns,
          resourceVersion: start.resourceVersion,
          labelSelector: "none=1",
          timeoutSeconds: 4
        }).pipe(Stream.runCollect, Effect.forkChild)
        yield* Effect.sleep("300 millis")
        const written = yield* client.create(Kind.ConfigMap, cm(ns, "unseen"))
        const events = yield* Fiber.join(fiber)
        const elapsed = Date.now() - started
        assert.isAtLeast(elapsed, 3500)
        // it ended (a watch the server kept open would hang the join); how soon after 4 s depends
        // on how busy the machine is
        assert.isBelow(elapsed, 60_000)
        assert.isAbove(events.length, 0)
        assert.isTrue(events.every((e) => e.type === "BOOKMARK"), "nothing matched the selector")
        const latest = Math.max(...events.map((e) => (e.type === "BOOKMARK" ? Number(e.resourceVersion) : 0)))
        assert.isAtLeast(latest, Number(written.metadata.resourceVersion))
      }))
  })
})
