/**
 * The Tenant operator on a real control plane: etcd, kube-apiserver 1.20.2 and
 * kube-controller-manager (its namespace controller finishes namespace deletions) from Envtest,
 * in real time. The scenarios are those of tenant.test.ts.
 */
import { layer } from "@effect/vitest"
import { Layer } from "effect"
import { Envtest } from "operatorkit/testing"
import { scenarios } from "./scenarios.ts"

const Cluster = Envtest.layerClient({ controllerManager: true }).pipe(Layer.orDie)

// a real server needs the real clock (TestClock would freeze every sleep and retry)
layer(Cluster, { excludeTestServices: true, timeout: "60 seconds" })("Tenant operator on a real API server", (it) => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () => scenario.run)
  }
})
