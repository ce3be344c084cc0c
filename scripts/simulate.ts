/**
 * `npm run simulate` runs the library's own simulations (the Tenant example operator, the
 * two-controller finalizer scenario, a sharded controller) through many seeds, beyond what
 * `npm test` runs:
 *
 *   npm run simulate -- --seeds 10000                 both simulations, seeds 1 to 10000
 *   npm run simulate -- --sim tenant --from 5000 --seeds 500 --faults heavy
 *   npm run simulate -- --sim finalizers --seed 147   one seed: its trace, replayed twice
 *
 * Every failing seed is listed; the first of each simulation is shrunk and reported (seed, fault
 * schedule, shortest failing history, trace, how to replay it). A bug it finds becomes a fixed seed
 * in test/simulation/regressions.ts. Prints seeds per minute; exits 1 when a seed failed.
 */
import { Effect } from "effect"
import { simulation as tenant } from "../examples/tenant/simulation.ts"
import * as Simulation from "../src/testing/Simulation.ts"
import { simulation as finalizers } from "../test/simulation/finalizers.ts"
import { simulation as sharding } from "../test/simulation/sharding.ts"

const args = process.argv.slice(2)
const option = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const all = { tenant, finalizers, sharding } as const
const sim = option("sim")
const profile = option("faults")
const seeds = Number(option("seeds") ?? 1000)
const from = Number(option("from") ?? 1)
const single = option("seed")
const faults = profile === undefined ? undefined : Simulation.faults[profile as keyof typeof Simulation.faults]
if (sim !== undefined && !(sim in all) || profile !== undefined && faults === undefined || !(seeds >= 0) || !(from >= 0)) {
  process.stderr.write(`usage: npm run simulate -- [--sim ${Object.keys(all).join("|")}] [--seeds N] [--from S] [--seed S] [--faults ${Object.keys(Simulation.faults).join("|")}]\n`)
  process.exit(2)
}
const selected = Object.entries(all)
  .filter(([name]) => sim === undefined || name === sim)
  .map(([, s]) => faults === undefined ? s : Simulation.make({ ...s.options, faults }))

const one = (simulation: Simulation.Simulation, seed: number) =>
  Effect.gen(function*() {
    const first = yield* Simulation.run(simulation, seed)
    const again = yield* Simulation.run(simulation, seed)
    for (const line of first.trace) process.stdout.write(`${line}\n`)
    process.stdout.write(`\n${simulation.name} seed ${seed}: ${first.violation === undefined ? "ok" : `${first.violation.invariant}: ${first.violation.message}`}\n`)
    process.stdout.write(`replayed: ${again.digest === first.digest ? "the same trace" : "A DIFFERENT TRACE"} (${first.digest})\n`)
    return first.violation === undefined && again.digest === first.digest
  })

const many = (simulation: Simulation.Simulation) =>
  Effect.gen(function*() {
    const started = performance.now()
    const failed: Array<number> = []
    let simulated = 0
    let requests = 0
    for (let seed = from; seed < from + seeds; seed++) {
      const report = yield* Simulation.run(simulation, seed)
      simulated += report.simulatedMillis
      requests += report.requests
      if (report.violation !== undefined) {
        failed.push(seed)
        process.stdout.write(`${simulation.name} seed ${seed}: ${report.violation.invariant}\n`)
      }
      const done = seed - from + 1
      if (done % 100 === 0) process.stdout.write(`${simulation.name}: ${done} seeds, ${failed.length} failed\n`)
    }
    const minutes = (performance.now() - started) / 60_000
    process.stdout.write(
      `${simulation.name}: ${seeds} seeds (${from} to ${from + seeds - 1}), ${failed.length} failed${failed.length > 0 ? ` (${failed.slice(0, 20).join(", ")})` : ""}; ` +
        `${(seeds / minutes).toFixed(0)} seeds per minute, ${(simulated / 60_000 / minutes).toFixed(0)} simulated minutes per minute, ${requests} requests\n`
    )
    if (failed.length > 0) {
      const failure = yield* Effect.flip(Simulation.check(simulation, { seeds: 0, regressions: [failed[0]!] }))
      process.stdout.write(`\n${failure.message}\n\n`)
    }
    return failed.length === 0
  })

const ok = await Effect.runPromise(
  single !== undefined
    ? Effect.forEach(selected, (s) => one(s, Number(single)))
    : Effect.forEach(selected, many)
)
process.exitCode = ok.every(Boolean) ? 0 : 1
