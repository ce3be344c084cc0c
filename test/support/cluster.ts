/** One real control plane per test file, with a Client on it, and per-test namespaces. */
import * as Crypto from "node:crypto"
import { Effect, Layer } from "effect"
import * as Client from "../../src/Client.ts"
import * as Envtest from "../../src/testing/Envtest.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"

/**
 * Envtest + KubeConfig + Client. Use with `layer(cluster(), { excludeTestServices: true })` from
 * @effect/vitest: a real server needs the real clock (TestClock would freeze every sleep and retry).
 */
export const cluster = (options: Envtest.EnvtestOptions = {}) =>
  Envtest.layerClient(options).pipe(Layer.orDie)

/** A new namespace with a random name, so tests sharing a control plane do not see each other. */
export const freshNamespace = (prefix = "t") =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const name = `${prefix}-${Crypto.randomBytes(4).toString("hex")}`
    yield* client.create(Kind.Namespace, { metadata: { name } })
    return name
  }).pipe(Effect.orDie)

/** A Client for a restricted Envtest user (only what RBAC grants it). */
export const restrictedClient = Effect.gen(function*() {
  const env = yield* Envtest.Envtest
  const user = yield* env.user
  const config = yield* KubeConfig.fromString(user.kubeconfig)
  const client = yield* Client.make(config)
  return { user, client }
}).pipe(Effect.orDie)
