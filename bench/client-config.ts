export const N = 2000
export const CONCURRENCY = 16
export const SEED_NAMESPACE = "bench-get"
