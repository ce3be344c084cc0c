/** Fresh registries (Effect metrics, controllers, electors) and a fresh in-memory server per test. */
import { Effect, Metric } from "effect"
import * as Controller from "../../src/Controller.ts"
import * as LeaderElection from "../../src/LeaderElection.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

export const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.provide(TestServer.layer(), { local: true }),
    Effect.provideService(Metric.MetricRegistry, new Map()),
    Effect.provideService(Controller.Registry, new Set()),
    Effect.provideService(LeaderElection.Registry, new Set())
  )
