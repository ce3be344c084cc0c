/** Shared figures of the informer benchmark (the coordinator, its workers and the updater). */
/** ConfigMaps seeded (`OPERATORKIT_BENCH_N` overrides it for a quick smoke run). */
export const N = Number(process.env["OPERATORKIT_BENCH_N"] ?? 10_000)
export const NAMESPACE = "bench-informer"
/** Characters of each object's random payload: with metadata, about 1.5 KB of JSON per object. */
export const PAYLOAD_CHARS = 1252
/** Concurrent writes of the seeding and of the updater. */
export const WRITE_CONCURRENCY = 16
/** Updates per second while CPU per event is measured (`OPERATORKIT_BENCH_RATE` overrides it). */
export const UPDATE_RATE = Number(process.env["OPERATORKIT_BENCH_RATE"] ?? 500)
