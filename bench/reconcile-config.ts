export const N = 10_000
export const STARTUP_NAMESPACE = "bench-startup"
export const LATENCY_NAMESPACE = "bench-latency"
export const LATENCY_OBJECTS = 100
export const FINALIZER = "operatorkit.test/bench"
export const LATENCY_SECONDS = 10
export const WRITES_PER_SECOND = 200
