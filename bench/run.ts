/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name> [rounds]` runs one.
 * Each starts a fresh Envtest control plane, measures operatorkit and its references in the same
 * run, alternating them over several rounds, writes bench/results/<name>.json and prints a table.
 */
import * as Path from "node:path"

const benches = ["client", "informer", "reconcile", "decode", "sharding", "webhooks", "metadata"] as const
// diagnostics, run only by name
const diagnostics = ["reconcile-latency"] as const
const [name, roundsArg] = process.argv.slice(2)
const selected = name === undefined ? benches : [...benches, ...diagnostics].filter((b) => b === name)
if (selected.length === 0) {
  process.stderr.write(`unknown benchmark "${name}"; choose one of: ${[...benches, ...diagnostics].join(", ")}\n`)
  process.exitCode = 2
} else {
  for (const bench of selected) {
    const mod = await import(Path.join(import.meta.dirname, `${bench}.ts`)) as { main: (rounds?: number) => Promise<void> }
    await mod.main(roundsArg !== undefined ? Number(roundsArg) : undefined)
  }
}
