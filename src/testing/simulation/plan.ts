/**
 * The plan of a simulation run: every user action and every fault, at its simulated time, drawn
 * from the run's seed before the run starts. Events are numbered in time order; shrinking keeps a
 * subset of the numbers, and a replay of that subset runs exactly those events at the same times.
 * @internal
 */
import type * as Simulation from "../Simulation.ts"
import type { Draw } from "./draw.ts"

/** A fault, as the plan holds it (replicas named by their index among those running then). */
export type FaultAction =
  | { readonly _tag: "WatchDrop"; readonly replica: number; readonly watch: number; readonly clean: boolean }
  | {
    readonly _tag: "Window"
    readonly fault: "conflict" | "throttle" | "error" | "slow"
    /** undefined: every replica */
    readonly replica: number | undefined
    readonly millis: number
    readonly rate: number
    /** conflict: how many writes at most; throttle: Retry-After seconds; slow: the longest extra delay each way, in millis */
    readonly severity: number
  }
  | { readonly _tag: "Compaction" }
  | { readonly _tag: "ApiServerRestart"; readonly downMillis: number }
  | { readonly _tag: "Crash"; readonly replica: number; readonly restartAfterMillis: number }
  | { readonly _tag: "LeaseLoss"; readonly millis: number; readonly hang: boolean }

export type PlannedAction = Simulation.Action | FaultAction

export interface PlannedEvent extends Simulation.Event {
  readonly action: PlannedAction
}

const seconds = (millis: number) => `${Number((millis / 1000).toFixed(1))} s`

/** Knuth's Poisson draw: how many times something with this mean happens. */
const poisson = (draw: Draw, mean: number): number => {
  if (mean <= 0) return 0
  const limit = Math.exp(-mean)
  let k = 0
  let p = 1
  do {
    k++
    p *= draw.next()
  } while (p > limit)
  return k - 1
}

const whom = (replica: number | undefined) => (replica === undefined ? "every replica" : `replica #${replica}`)

/** The faults of a run: each kind of the profile a Poisson number of times, at uniform times. */
export const faultSchedule = (
  profile: Simulation.FaultProfile,
  draw: Draw,
  context: { readonly duration: number; readonly maxReplicas: number }
): Array<Simulation.Step<FaultAction>> => {
  const minutes = context.duration / 60_000
  const out: Array<Simulation.Step<FaultAction>> = []
  const times = (perMinute: number | undefined, make: () => { description: string; action: FaultAction }) => {
    const n = poisson(draw, (perMinute ?? 0) * minutes)
    for (let i = 0; i < n; i++) out.push({ at: draw.int(0, context.duration - 1), ...make() })
  }
  const replica = () => draw.int(0, Math.max(0, context.maxReplicas - 1))
  const someReplicas = () => (draw.chance(0.5) ? undefined : replica())
  const window = (fault: "conflict" | "throttle" | "error" | "slow", severity: () => number, what: (severity: number) => string) => () => {
    const target = someReplicas()
    const millis = draw.int(1000, 8000)
    const rate = draw.int(3, 10) / 10
    const s = severity()
    return {
      description: `for ${seconds(millis)}, ${Math.round(rate * 100)}% of the calls of ${whom(target)} ${what(s)}`,
      action: { _tag: "Window", fault, replica: target, millis, rate, severity: s } as const
    }
  }
  times(profile.watchDrops, () => {
    const r = replica()
    return { description: `drop a watch of replica #${r} (connection reset)`, action: { _tag: "WatchDrop", replica: r, watch: draw.int(0, 1000), clean: false } }
  })
  times(profile.watchEnds, () => {
    const r = replica()
    return { description: `end a watch of replica #${r} cleanly, without an event`, action: { _tag: "WatchDrop", replica: r, watch: draw.int(0, 1000), clean: true } }
  })
  times(
    profile.conflicts,
    window("conflict", () => draw.int(1, 6), (s) => `that write an object meet a write of someone else first (409 or a failed test; ${s} at most)`)
  )
  times(profile.throttling, window("throttle", () => draw.int(1, 3), (s) => `answer 429 Too Many Requests (Retry-After ${s} s)`))
  times(profile.serverErrors, window("error", () => 0, () => "answer 500 (half of the writes after they were applied)"))
  times(profile.slowResponses, window("slow", () => draw.int(500, 8000), (s) => `are slow (up to ${seconds(s)} each way)`))
  times(profile.compactions, () => ({ description: "compact the server's history (older resourceVersions answer 410 Gone)", action: { _tag: "Compaction" } }))
  times(profile.apiServerRestarts, () => {
    const downMillis = draw.int(500, 8000)
    return {
      description: `restart the API server: down ${seconds(downMillis)}, every watch cut, its watch cache starting at the current revision`,
      action: { _tag: "ApiServerRestart", downMillis }
    }
  })
  times(profile.crashes, () => {
    const r = replica()
    const restartAfterMillis = draw.int(1000, 15_000)
    return {
      description: `crash replica #${r} (nothing it does after reaches the server: no Lease release, no drain), start a new one after ${seconds(restartAfterMillis)}`,
      action: { _tag: "Crash", replica: r, restartAfterMillis }
    }
  })
  times(profile.leaseLosses, () => {
    const millis = draw.int(5000, 25_000)
    const hang = draw.chance(0.5)
    return {
      description: `the leader's Lease calls ${hang ? "hang" : "answer 500"} for ${seconds(millis)}`,
      action: { _tag: "LeaseLoss", millis, hang }
    }
  })
  return out
}

/** Workload and faults in time order (the workload first at equal times), numbered from 0. */
export const plan = (
  workload: ReadonlyArray<Simulation.Step>,
  faults: ReadonlyArray<Simulation.Step<FaultAction>>
): ReadonlyArray<PlannedEvent> => {
  const all = [
    ...workload.map((step, i) => ({ step, source: "workload" as const, order: i })),
    ...faults.map((step, i) => ({ step, source: "faults" as const, order: workload.length + i }))
  ]
  all.sort((a, b) => a.step.at - b.step.at || a.order - b.order)
  return all.map(({ source, step }, id) => ({ id, at: Math.max(0, Math.round(step.at)), source, description: step.description, action: step.action }))
}
