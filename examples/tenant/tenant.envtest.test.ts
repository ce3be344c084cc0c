/**
 * The Tenant operator on a real control plane: etcd, kube-apiserver 1.20.2 and
 * kube-controller-manager (its namespace controller finishes namespace deletions) from Envtest,
 * in real time. The scenarios are those of tenant.test.ts.
 */
import { layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Envtest, KubeConfig } from "operatorkit"
import { realTime, scenarios } from "./scenarios.ts"

const Cluster = Client.layer.pipe(
  Layer.provideMerge(KubeConfig.layerEnvtest),
  Layer.provideMerge(Envtest.layer({ controllerManager: true })),
  Layer.orDie
)

// a real server needs the real clock (TestClock would freeze every sleep and retry)
layer(Cluster, { excludeTestServices: true })("Tenant operator on kube-apiserver 1.20.2", (it) => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () => scenario.run.pipe(Effect.provide(realTime)))
  }
})
