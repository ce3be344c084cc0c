/**
 * Secure metrics on kube-apiserver 1.20.2: `/metrics` over HTTPS answers only a caller whose token
 * passes a TokenReview and whose user may get `/metrics` (a SubjectAccessReview), asked by an
 * operator holding only the RBAC that secure metrics declare; the probes stay plain. The scrape
 * shows client-go's REST client metrics of the operator's own calls to the API server.
 */
import * as Https from "node:https"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/Client.ts"
import * as Health from "../../src/Health.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Manifests from "../../src/Manifests.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Rbac from "../../src/Rbac.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import { eventually } from "../../src/testing/helpers.ts"
import { cluster } from "../support/cluster.ts"
import { parse } from "../support/promText.ts"

/** GET over HTTPS, trusting the operator's self-signed certificate. */
const get = (url: string, token: string | undefined) =>
  Effect.callback<{ readonly status: number; readonly body: string }, Error>((resume) => {
    const req = Https.request(url, { rejectUnauthorized: false, headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body })))
    })
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end()
  })

const plain = (url: string) => Effect.promise(() => fetch(url).then(async (r) => ({ status: r.status, body: await r.text() })))

/** A ClusterRole with these rules, bound to a user. */
const grant = (user: string, rules: ReadonlyArray<Rbac.PolicyRule>) =>
  Effect.gen(function*() {
    const admin = yield* Client.Client
    yield* admin.create(Kind.ClusterRole, { metadata: { name: user }, rules: rules as never })
    yield* admin.create(Kind.ClusterRoleBinding, {
      metadata: { name: user },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: user },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }]
    })
  })

layer(cluster(), { excludeTestServices: true })("secure metrics on kube-apiserver 1.20.2", (it) => {
  it.effect("a token without get on /metrics gets 403, none or a bad one 401, one with it the metrics; probes stay plain", () =>
    Effect.gen(function*() {
      const env = yield* Envtest.Envtest
      const [operator, scraper, nobody] = [yield* env.user, yield* env.user, yield* env.user]
      // the operator holds exactly what secure metrics declare; the scraper the metrics-reader rule
      const declared = Rbac.rules(Rbac.make({ name: "op", namespace: "default", permissions: Manifests.secureMetricsPermissions }))
      yield* grant(operator.name, declared.cluster.map((r) => r.rule))
      yield* grant(scraper.name, [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }])

      const operatorClient = yield* Client.make(yield* KubeConfig.fromString(operator.kubeconfig))
      const server = yield* Health.make({ port: 0, host: "127.0.0.1", secureMetrics: { port: 0 } }).pipe(
        Effect.provideService(Client.Client, operatorClient)
      )
      const url = server.metricsUrl!
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/)

      // the bindings reach the API server's authorizer through its own informer: wait for them
      const allowed = yield* eventually(Effect.gen(function*() {
        const answer = yield* get(url, scraper.token)
        assert.strictEqual(answer.status, 200, answer.body)
        return answer
      }))
      const families = parse(allowed.body)
      // the operator's own reviews, under client-go's names, with the API server's host
      const requests = families.get("rest_client_requests_total")!
      const host = new URL(env.server).host
      assert.isAtLeast(requests.samples.find((s) => s.labels["code"] === "201" && s.labels["method"] === "POST" && s.labels["host"] === host)?.value ?? 0, 2)
      assert.isTrue(families.has("rest_client_request_duration_seconds"))

      const refused = yield* get(url, nobody.token)
      assert.strictEqual(refused.status, 403)
      assert.include(refused.body, `${nobody.name} may not get /metrics`)
      const anonymous = yield* get(url, undefined)
      assert.strictEqual(anonymous.status, 401)
      const bad = yield* get(url, "not-a-token")
      assert.strictEqual(bad.status, 401)

      // the probes: plain HTTP, no token; /metrics is not served there
      assert.strictEqual((yield* plain(`${server.url}/healthz`)).status, 200)
      const plainMetrics = yield* plain(`${server.url}/metrics`)
      assert.strictEqual(plainMetrics.status, 404)
      assert.include(plainMetrics.body, "HTTPS")
    }).pipe(Effect.scoped, Effect.provide(Metrics.layer(), { local: true })))
})
