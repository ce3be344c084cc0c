/**
 * operatorkit: Kubernetes operators as Effect programs.
 *
 * @since 0.1.0
 */

/**
 * A real control plane (etcd + kube-apiserver) for tests, benchmarks and demos.
 *
 * @since 0.1.0
 */
export * as Envtest from "./Envtest.ts"
