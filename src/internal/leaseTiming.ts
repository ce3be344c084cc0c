/**
 * The timing rules of a Lease-based election (LeaderElection's electors, Sharding's shard Leases):
 * what is wrong with a set of durations, as client-go checks them.
 */
import type * as Duration from "effect/Duration"
import { millis } from "./options.ts"

/**
 * What is wrong with a set of durations, or undefined when they give a safe election: each
 * positive, `renewDeadline` shorter than `leaseDuration` and longer than 1.2 retry periods.
 */
export const checkTiming = (timing: {
  readonly leaseDuration: Duration.Input
  readonly renewDeadline: Duration.Input
  readonly retryPeriod: Duration.Input
}): string | undefined => {
  const leaseMs = millis(timing.leaseDuration)
  const renewMs = millis(timing.renewDeadline)
  const retryMs = millis(timing.retryPeriod)
  if (!(leaseMs > 0 && renewMs > 0 && retryMs > 0)) return "leaseDuration, renewDeadline and retryPeriod must be positive"
  if (renewMs >= leaseMs) return `renewDeadline (${renewMs} ms) must be shorter than leaseDuration (${leaseMs} ms)`
  if (renewMs <= 1.2 * retryMs) return `renewDeadline (${renewMs} ms) must be longer than 1.2 × retryPeriod (${retryMs} ms)`
  return undefined
}
