/**
 * operatorkit/testing: what tests of an operator need, kept out of the production entry points
 * (`operatorkit` and its modules never load it).
 *
 * - `TestServer`: the in-memory API server behind the same `Client` (`TestServer.layer()`, and the
 *   `TestServer.TestServer` handle for fault injection), held to kube-apiserver's behaviour by a
 *   contract suite.
 * - `Envtest`: a real control plane (etcd, kube-apiserver, optionally kube-controller-manager) of
 *   any Kubernetes from 1.20 to 1.37, scoped.
 * - `eventually`, `settle`, `withServer`: waiting in virtual or real time, and a fresh in-memory
 *   server per test.
 * - `Simulation`: an operator's replicas against the in-memory server under a seeded storm of
 *   faults, in simulated time, with invariants checked, failures shrunk and replayed by seed.
 *
 * @since 0.1.0
 */

/**
 * A real control plane for tests: etcd, kube-apiserver and, optionally, kube-controller-manager.
 *
 * @since 0.1.0
 */
export * as Envtest from "./Envtest.ts"

/**
 * The in-memory API server: `TestServer.layer()` provides a `Client` backed by it and the
 * `TestServer.TestServer` handle that injects faults, cuts watches and counts calls.
 *
 * @since 0.1.0
 */
export * as TestServer from "./TestServer.ts"

/**
 * A Client that refuses calls outside an operator's declared RBAC (`Rbac.Declaration`), naming
 * the missing rule, and records every call.
 *
 * @since 0.1.0
 */
export * as RbacGuard from "./RbacGuard.ts"

/**
 * Deterministic simulation: seeded workloads and faults, invariants, shrinking and replay.
 *
 * @since 0.1.0
 */
export * as Simulation from "./Simulation.ts"

/**
 * Waiting in tests and a fresh in-memory server per test.
 *
 * @since 0.1.0
 */
export { eventually, type EventuallyOptions, settle, withServer } from "./helpers.ts"
