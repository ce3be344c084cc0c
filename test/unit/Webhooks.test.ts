import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs/promises"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect, Schema, Tracer } from "effect"
import * as Admission from "../../src/Admission.ts"
import * as CrdDefinition from "../../src/CrdDefinition.ts"
import * as Client from "../../src/Client.ts"
import * as Conversion from "../../src/Conversion.ts"
import * as Authority from "../../src/internal/webhook/authority.ts"
import * as Certs from "../../src/internal/webhook/certificates.ts"
import * as Kind from "../../src/Kind.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as TestServer from "../../src/testing/TestServer.ts"
import * as Webhooks from "../../src/Webhooks.ts"
import { widgetKind } from "../support/widget.ts"

const group = "unit.webhooks.test"

const Widget = widgetKind(group)
type Widget = Kind.Type<typeof Widget>

const definition = Webhooks.makeUnsafe({
  name: "widget-operator",
  clientConfig: { service: { namespace: "ops", name: "widget-webhooks" } },
  admissions: [Admission.make(Widget, {
    validate: (w, request) =>
      Effect.gen(function*() {
        if (w.spec.size > 5) yield* Admission.warn("spec.size above 5 costs extra")
        return request.operation === "UPDATE" && request.oldObject?.spec.owner !== w.spec.owner
          ? [Admission.forbidden("spec.owner", "may not change")]
          : []
      }),
    default: (w) => Effect.succeed<Widget>({ ...w, metadata: { ...w.metadata, labels: { ...w.metadata.labels, color: w.spec.color } } }),
    failurePolicy: "Ignore",
    timeoutSeconds: 5,
    namespaceSelector: { matchExpressions: [{ key: "team", operator: "Exists" }] }
  })]
})

const review = (request: Record<string, unknown>) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: { uid: "uid-1", kind: { group, version: "v1", kind: "Widget" }, operation: "CREATE", userInfo: { username: "ann" }, ...request }
})

const object = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: `${group}/v1`,
  kind: "Widget",
  metadata: { name: "w", namespace: "ns" },
  spec,
  ...extra
})

const answer = (path: string, body: unknown) => Effect.map(Webhooks.handle(definition, path, body), (a) => a as { status: number; body: any })
const validate = "/validate-unit-webhooks-test-v1-widget"
const mutate = "/mutate-unit-webhooks-test-v1-widget"

describe("Webhooks.handle", () => {
  it.effect("routes a review by path to its admission's webhook; a check that cannot run answers 500; no review 400; an unknown path 404", () =>
    Effect.gen(function*() {
      const invalid = yield* answer(validate, review({ object: object({ size: 11, owner: "ann" }) }))
      assert.strictEqual(invalid.body.response.allowed, false)
      assert.deepStrictEqual(invalid.body.response.status.details.causes.map((c: any) => c.field), ["spec.size"])
      const defaulted = yield* answer(mutate, review({ object: object({ size: 2, owner: "ann" }) }))
      assert.strictEqual(defaulted.body.response.patchType, "JSONPatch")
      const failing = Webhooks.makeUnsafe({
        name: "failing",
        admissions: [Admission.make(Widget, { validate: () => Effect.fail(new Error("the cluster is unreachable")) })]
      })
      const out = yield* Webhooks.handle(failing, validate, review({ object: object({ size: 2, owner: "ann" }) }))
      assert.strictEqual(out.status, 500)
      assert.match((out.body as any).message, /could not run: .*the cluster is unreachable/)
      assert.strictEqual((yield* Webhooks.handle(definition, validate, { kind: "Pod" })).status, 400)
      assert.strictEqual((yield* Webhooks.handle(definition, "/nowhere", {})).status, 404)
    }))

  it.effect("a server span per review, named after the webhook's type", () =>
    Effect.gen(function*() {
      const spans: Array<{ name: string; kind: string }> = []
      const tracer = Tracer.make({
        span(options) {
          spans.push({ name: options.name, kind: options.kind })
          return Tracer.nativeTracer.span(options)
        }
      })
      yield* answer(validate, review({ object: object({ size: 2, owner: "ann" }) })).pipe(Effect.withTracer(tracer))
      yield* answer(mutate, review({ object: object({ size: 2, owner: "ann" }) })).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(spans, [{ name: "Webhooks.validate", kind: "server" }, { name: "Webhooks.default", kind: "server" }])
    }))

  it.effect("metrics under controller-runtime's names, by path and code", () =>
    Effect.gen(function*() {
      const metrics = yield* Metrics.Metrics
      const count = (text: string) => Number(new RegExp(`^controller_runtime_webhook_requests_total\\{webhook="${mutate}",code="200"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0)
      const before = count((yield* metrics.scrape).body)
      yield* answer(mutate, review({ object: object({ size: 2, owner: "ann" }) }))
      const after = (yield* metrics.scrape).body
      assert.strictEqual(count(after), before + 1)
      assert.match(after, new RegExp(`^controller_runtime_webhook_latency_seconds_count\\{webhook="${mutate}"\\} \\d+$`, "m"))
      assert.match(after, new RegExp(`^controller_runtime_webhook_requests_in_flight\\{webhook="${mutate}"\\} 0$`, "m"))
    }).pipe(Effect.provide(Metrics.layer())))
})

describe("Webhooks configurations", () => {
  it("rules, failure policy, side effects, timeouts and selectors come from the admissions", () => {
    const { validating, mutating } = Webhooks.configurations(definition, { caBundle: "PEM" })
    assert.deepStrictEqual(validating?.metadata, { name: "widget-operator" })
    assert.deepStrictEqual(validating?.webhooks, [{
      name: `validate.widgets.${group}`,
      admissionReviewVersions: ["v1"],
      clientConfig: {
        service: { namespace: "ops", name: "widget-webhooks", port: 443, path: validate },
        caBundle: Buffer.from("PEM").toString("base64")
      },
      rules: [{ apiGroups: [group], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["widgets"], scope: "Namespaced" }],
      failurePolicy: "Ignore",
      matchPolicy: "Equivalent",
      sideEffects: "None",
      timeoutSeconds: 5,
      namespaceSelector: { matchExpressions: [{ key: "team", operator: "Exists" }] },
      objectSelector: {}
    }] as any)
    assert.strictEqual(mutating?.webhooks?.[0]?.name, `default.widgets.${group}`)
    assert.strictEqual((mutating?.webhooks?.[0]?.clientConfig as any).service.path, mutate)
    assert.strictEqual(mutating?.webhooks?.[0]?.reinvocationPolicy, "Never")
    const yaml = Webhooks.toYaml(definition)
    assert.match(yaml, /^apiVersion: admissionregistration\.k8s\.io\/v1\nkind: ValidatingWebhookConfiguration\n/)
    assert.match(yaml, /\n---\napiVersion: admissionregistration\.k8s\.io\/v1\nkind: MutatingWebhookConfiguration\n/)
  })

  it("a converted CRD gets conversion: Webhook at /convert; the conversion path is served", () => {
    const V1 = Kind.custom({ group, version: "v1", kind: "Team", namespaced: true, spec: Schema.Struct({ owner: Schema.String }) })
    const V2 = Kind.custom({ group, version: "v2", kind: "Team", namespaced: true, spec: Schema.Struct({ owners: Schema.Array(Schema.String) }) })
    const TeamCrd = CrdDefinition.makeUnsafe({ versions: [{ kind: V1, storage: true }, { kind: V2 }] })
    const teams = Webhooks.makeUnsafe({
      name: "team-operator",
      clientConfig: { url: "https://127.0.0.1:9443/" },
      conversions: [Conversion.makeUnsafe(TeamCrd, [Conversion.step(V1, V2, {
        decode: (t) => ({ ...t, spec: { owners: [t.spec.owner] } }),
        encode: (t) => ({ ...t, spec: { owner: t.spec.owners[0] ?? "" } })
      })])]
    })
    assert.deepStrictEqual(Webhooks.crd(teams, TeamCrd, { caBundle: "PEM" }).manifest.spec.conversion, {
      strategy: "Webhook",
      webhook: {
        conversionReviewVersions: ["v1"],
        clientConfig: { url: "https://127.0.0.1:9443/convert", caBundle: Buffer.from("PEM").toString("base64") }
      }
    })
    assert.deepStrictEqual([...teams.handlers.keys()], ["/convert"])
    const yaml = Webhooks.toYaml(teams)
    assert.match(yaml, /^apiVersion: apiextensions\.k8s\.io\/v1\nkind: CustomResourceDefinition\n/)
    assert.match(yaml, /strategy: Webhook/)
    assert.throws(() => Webhooks.crd(teams, CrdDefinition.makeUnsafe(Widget)), /do not convert widgets/)
  })

  it("definition problems are reported together", () => {
    const result = Webhooks.make({
      name: "bad",
      admissions: [Admission.make(Widget, {}), Admission.make(Widget, { timeoutSeconds: 40 })]
    })
    assert.strictEqual(result._tag, "Failure")
    assert.deepStrictEqual((result as any).failure.issues, [
      `Widget.${group}/v1 has two admissions: give one with both validate and default`,
      `Widget.${group}/v1: timeoutSeconds must be between 1 and 30 (is 40)`
    ])
  })
})

/** The certificate a TLS server presents to a new connection. */
const presented = (port: number, ca: string) =>
  Effect.promise(() =>
    new Promise<string>((resolve, reject) => {
      const req = Https.request({ host: "127.0.0.1", port, method: "POST", path: "/nowhere", ca, agent: false }, (res) => {
        const cert = (res.socket as unknown as { getPeerX509Certificate(): { fingerprint256: string } }).getPeerX509Certificate()
        res.resume()
        res.on("end", () => resolve(cert.fingerprint256))
      })
      req.on("error", reject)
      req.end("{}")
    })
  )

describe("Webhooks certificates", () => {
  it.live("certificate files are served, and served anew when they change", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "webhook-certs-")))
      const ca = yield* Certs.makeCa({ commonName: "test-ca", notBefore: Date.now() - 60_000, notAfter: Date.now() + 3_600_000 })
      const issue = Certs.issue(ca, { commonName: "server", hosts: ["127.0.0.1"], notBefore: Date.now() - 60_000, notAfter: Date.now() + 3_600_000 })
      const write = (pair: Certs.KeyPair) =>
        Effect.promise(async () => {
          await Fs.writeFile(Path.join(dir, "tls.crt"), pair.cert)
          await Fs.writeFile(Path.join(dir, "tls.key"), pair.key)
        })
      const first = yield* issue
      yield* write(first)
      const server = yield* Webhooks.serve(definition, {
        host: "127.0.0.1",
        port: 0,
        ensure: false,
        certificates: Webhooks.files({ certFile: Path.join(dir, "tls.crt"), keyFile: Path.join(dir, "tls.key"), reloadInterval: "1 hour" })
      })
      assert.strictEqual(yield* presented(server.port, ca.cert), Certs.info(first.cert).fingerprint)
      const second = yield* issue
      yield* write(second)
      yield* server.sync
      assert.strictEqual(yield* presented(server.port, ca.cert), Certs.info(second.cert).fingerprint)
      yield* Effect.promise(() => Fs.rm(dir, { recursive: true }))
    }).pipe(Effect.provide(TestServer.layer())))

  it.live("a CA and a serving certificate made in-process: the certificate is the CA's, for the server's host", () =>
    Effect.gen(function*() {
      const ca = yield* Certs.makeCa({ commonName: "ca", notBefore: Date.now() - 1000, notAfter: Date.now() + 60_000 })
      const leaf = yield* Certs.issue(ca, { commonName: "leaf", hosts: ["127.0.0.1", "webhooks.ops.svc", "::1"], notBefore: Date.now() - 1000, notAfter: Date.now() + 3_600_000 })
      assert.isTrue(Certs.signedBy(leaf.cert, ca.cert))
      const x = new (yield* Effect.promise(() => import("node:crypto"))).X509Certificate(leaf.cert)
      assert.strictEqual(x.subjectAltName, "IP Address:127.0.0.1, DNS:webhooks.ops.svc, IP Address:0:0:0:0:0:0:0:1")
      assert.isAtMost(Certs.info(leaf.cert).notAfter, Certs.info(ca.cert).notAfter, "never outlives its CA")
      const other = yield* Certs.makeCa({ commonName: "ca", notBefore: Date.now() - 1000, notAfter: Date.now() + 60_000 })
      assert.isFalse(Certs.signedBy(leaf.cert, other.cert))
    }))
})

describe("Webhooks shared CA", () => {
  const settings: Authority.Settings = {
    namespace: "default",
    name: "webhook-ca",
    commonName: "unit",
    caValidityMillis: 3_600_000,
    servingValidityMillis: 600_000,
    propagationMillis: 10_000,
    graceMillis: 60_000,
    labels: undefined
  }
  const t0 = Date.UTC(2026, 0, 1)

  it.live("two replicas starting together share one CA: the first creates the Secret, the other reads it", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      const inputs = { now: t0, rotate: false, propagated: () => Effect.succeed(true) }
      const [a, b] = yield* Effect.all([Authority.sync(client, settings, inputs), Authority.sync(client, settings, inputs)], { concurrency: 2 })
      assert.strictEqual(a.ca.cert, b.ca.cert)
      assert.strictEqual(a.generation, 1)
      const secret = yield* client.get(Kind.Secret, { namespace: "default", name: "webhook-ca" })
      assert.strictEqual(Buffer.from(secret.data!["ca.crt"]!, "base64").toString(), a.ca.cert)
    }).pipe(Effect.provide(TestServer.layer())))

  it.live("a rotation: the new CA joins the bundle, signs only once every configuration trusts it, the old one leaves after its certificates expired", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      let trusted = false
      const sync = (now: number, rotate = false) =>
        Authority.sync(client, settings, { now, rotate, propagated: () => Effect.succeed(trusted) })
      const first = yield* sync(t0)
      // 1. asked to rotate: a next CA, in the bundle beside the signing one
      const joined = yield* sync(t0 + 1000, true)
      assert.strictEqual(joined.ca.cert, first.ca.cert, "the old CA still signs")
      assert.isDefined(joined.next)
      assert.deepStrictEqual(Certs.splitBundle(Authority.bundleOf(joined)), [first.ca.cert, joined.next!.cert])
      assert.strictEqual(joined.generation, 2)
      // 2. not before the propagation delay, and not before the configurations carry the bundle
      assert.strictEqual((yield* sync(t0 + 5000)).ca.cert, first.ca.cert)
      assert.strictEqual((yield* sync(t0 + 20_000)).ca.cert, first.ca.cert, "no configuration trusts the next CA yet")
      trusted = true
      const switched = yield* sync(t0 + 20_000)
      assert.strictEqual(switched.ca.cert, joined.next!.cert)
      assert.isUndefined(switched.next)
      assert.deepStrictEqual(Certs.splitBundle(Authority.bundleOf(switched)), [first.ca.cert, joined.next!.cert], "the old CA stays trusted")
      assert.strictEqual(switched.generation, 3)
      // 3. once every certificate the old CA signed has expired (serving validity + grace), it leaves
      const late = t0 + 20_000 + settings.servingValidityMillis + settings.graceMillis + 1
      assert.deepStrictEqual(Certs.splitBundle(Authority.bundleOf(yield* sync(late - 2))), [first.ca.cert, joined.next!.cert])
      const done = yield* sync(late)
      assert.deepStrictEqual(Certs.splitBundle(Authority.bundleOf(done)), [joined.next!.cert])
      assert.strictEqual(done.generation, 4)
      // a CA is rotated on its own at two thirds of its life
      const aged = yield* sync(t0 + 20_000 + settings.caValidityMillis * 2 / 3 + 1000)
      assert.isDefined(aged.next)
    }).pipe(Effect.provide(TestServer.layer())))

  it.live("a Secret that holds no CA is an error naming it, not overwritten", () =>
    Effect.gen(function*() {
      const client = yield* Client.Client
      yield* client.create(Kind.Secret, { apiVersion: "v1", kind: "Secret", metadata: { namespace: "default", name: "webhook-ca" }, data: { other: "eA==" } })
      const error = yield* Effect.flip(Authority.sync(client, settings, { now: t0, rotate: false, propagated: () => Effect.succeed(true) }))
      assert.match(String((error as Error).message), /default\/webhook-ca does not hold a webhook CA: it has no ca\.crt and ca\.key/)
    }).pipe(Effect.provide(TestServer.layer())))
})
