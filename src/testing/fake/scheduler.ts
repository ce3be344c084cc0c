/**
 * The seeded scheduling of the in-memory server, for simulations: how long each request takes to
 * reach the server, how long its answer takes to come back, and how long watch events take to
 * reach their watcher. The in-memory server itself answers at once and tells watchers of a change
 * in the same step; these delays (of simulated time, on the Clock) are what lets the requests and
 * watch events of several replicas, and of several watches of one replica, interleave differently
 * from seed to seed, and always the same way for one seed.
 * @internal
 */
import type { Draw } from "../simulation/draw.ts"

export interface Latencies {
  /** Millis from sending a request to the server handling it. */
  readonly request: () => number
  /** Millis from the server's answer to the caller reading it. */
  readonly answer: () => number
  /** Millis the next events of a watch take to reach their watcher (a watch keeps its order). */
  readonly event: () => number
}

/** No delay anywhere: the in-memory server as tests use it. */
export const none: Latencies = { request: () => 0, answer: () => 0, event: () => 0 }

/**
 * Delays drawn from `draw`: half of the requests and answers go at once, the others take 1 to 4
 * ms; most watch events arrive at once, some take up to 30 ms (a watcher falling behind for a
 * moment). Zero delays cost nothing: the request is handled in the caller's step.
 */
export const seeded = (draw: Draw): Latencies => ({
  request: () => (draw.chance(0.5) ? 0 : draw.int(1, 4)),
  answer: () => (draw.chance(0.5) ? 0 : draw.int(1, 4)),
  event: () => (draw.chance(0.7) ? 0 : draw.int(1, 30))
})
