/**
 * CPU of the startup benchmark's two phases on the in-memory server, in one process: a Controller
 * on 10,000 ConfigMaps (200 bytes of data, already carrying its finalizer, as bench/reconcile.ts
 * seeds them) with a no-op resource; CPU from start to `synced` (the list decoded into the Store)
 * and from `synced` to the last reconcile, per object.
 *
 *   npx node --conditions=@operatorkit/source --expose-gc bench/reconcile-profile.ts \
 *     [--concurrency 4] [--n 10000] [--rounds 5] [--src DIR]... [--profile FILE --phase reconcile|sync]
 *
 * - `--src DIR` (repeatable): the library sources to load (default `src`). Several alternate
 *   round by round in this process: an A/B of two versions, e.g. main's `src` exported with
 *   `git archive main src | tar -x -C /tmp/base` (with `ln -s $PWD/node_modules /tmp/base/`).
 * - `--profile FILE`: Inspector CPU profiles (100 µs sampling) of one phase of the first source's
 *   rounds: their self time by file and by function printed, the last round's profile written to
 *   FILE (open it in Chrome's DevTools). Profiling slows the phase down; its CPU figures are not
 *   the unprofiled ones.
 */
import * as Fs from "node:fs"
import * as Inspector from "node:inspector/promises"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { median } from "./lib.ts"

const { values } = parseArgs({
  options: {
    concurrency: { type: "string", default: "4" },
    n: { type: "string", default: "10000" },
    rounds: { type: "string", default: "5" },
    src: { type: "string", multiple: true },
    profile: { type: "string" },
    phase: { type: "string", default: "reconcile" }
  }
})
const N = Number(values.n)
const concurrency = Number(values.concurrency)
const rounds = Number(values.rounds)
const sources = (values.src ?? [Path.join(import.meta.dirname, "..", "src")]).map((s) => Path.resolve(s))
const namespace = "bench-startup"
const finalizer = "operatorkit.test/bench"

interface Library {
  readonly Effect: typeof import("effect/Effect")
  readonly Scope: typeof import("effect/Scope")
  readonly Exit: typeof import("effect/Exit")
  readonly Client: typeof import("../src/Client.ts")
  readonly Controller: typeof import("../src/Controller.ts")
  readonly Framework: typeof import("../src/Framework.ts")
  readonly Kind: typeof import("../src/Kind.ts")
  readonly TestServer: typeof import("../src/testing/TestServer.ts")
}

const load = async (src: string): Promise<Library> => ({
  Effect: await import("effect/Effect"),
  Scope: await import("effect/Scope"),
  Exit: await import("effect/Exit"),
  Client: await import(Path.join(src, "Client.ts")),
  Controller: await import(Path.join(src, "Controller.ts")),
  Framework: await import(Path.join(src, "Framework.ts")),
  Kind: await import(Path.join(src, "Kind.ts")),
  TestServer: await import(Path.join(src, "testing/TestServer.ts"))
})

const session = new Inspector.Session()
session.connect()
const startProfile = async () => {
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly hitCount?: number
}
/** Samples by function and by file, over every profiled round. */
const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let samples = 0
const stopProfile = async (file: string) => {
  const { profile } = await session.post("Profiler.stop") as { profile: { nodes: Array<ProfileNode> } }
  Fs.writeFileSync(file, JSON.stringify(profile))
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0
    if (hits === 0) continue
    const { functionName, lineNumber, url } = node.callFrame
    const where = url === "" ? "" : url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, "$1")
    const name = `${functionName || "(anonymous)"}${where === "" ? "" : ` ${where}:${lineNumber + 1}`}`
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits)
    const group = where === "" ? functionName : where.startsWith("node:") ? "node internals" : where
    byFile.set(group, (byFile.get(group) ?? 0) + hits)
    samples += hits
  }
}
const printProfile = () => {
  const print = (title: string, table: Map<string, number>, n: number) => {
    process.stdout.write(`${title}\n`)
    for (const [name, hits] of [...table.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      process.stdout.write(`  ${((100 * hits) / samples).toFixed(1).padStart(5)} %  ${name}\n`)
    }
  }
  print(`profile (${values.phase}, ${samples} samples at 100 µs, last round in ${values.profile}): self time by file`, byFile, 25)
  print("self time by function", byFunction, 50)
}

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const cpuNow = () => {
  const { system, user } = process.cpuUsage()
  return (user + system) / 1000
}

/** A server seeded once per source; each round starts a fresh Controller on it. */
const prepare = async (lib: Library) => {
  const { Effect, Kind, TestServer } = lib
  const scope = Effect.runSync(lib.Scope.make())
  const server = await Effect.runPromise(lib.Scope.provide(TestServer.make({ bookmarkInterval: false }), scope))
  await Effect.runPromise(Effect.gen(function*() {
    yield* server.client.create(Kind.Namespace, { metadata: { name: namespace } })
    for (let i = 0; i < N; i++) {
      yield* server.client.create(Kind.ConfigMap, {
        metadata: { name: `cm-${i}`, namespace, finalizers: [finalizer] },
        data: { v: "x".repeat(200), stamp: "0" }
      })
    }
  }))
  return server
}

const measure = async (lib: Library, server: Awaited<ReturnType<typeof prepare>>, profile: "sync" | "reconcile" | undefined) => {
  const { Effect, Framework, Kind } = lib
  type ConfigMap = import("../src/Kind.ts").Type<typeof Kind.ConfigMap>
  const seen = new Set<string>()
  let done!: () => void
  const all = new Promise<void>((r) => (done = r))
  const noop = Framework.make<ConfigMap>()({
    name: "noop",
    ensureCreated: (cm) =>
      Effect.sync(() => {
        seen.add(cm.metadata.name)
        if (seen.size === N) done()
      }),
    ensureDeleted: () => Effect.void
  })
  gc()
  const scope = Effect.runSync(lib.Scope.make())
  if (profile === "sync") await startProfile()
  const t0 = performance.now()
  const c0 = cpuNow()
  const controller = await Effect.runPromise(
    lib.Scope.provide(
      Effect.provideService(
        lib.Controller.make({ name: "bench", finalizer, kind: Kind.ConfigMap, namespace, resources: [noop], concurrency }),
        lib.Client.Client,
        server.client
      ),
      scope
    )
  )
  await Effect.runPromise(controller.synced)
  const t1 = performance.now()
  const c1 = cpuNow()
  if (profile === "sync") await stopProfile(values.profile!)
  if (profile === "reconcile") await startProfile()
  const t2 = performance.now()
  const c2 = cpuNow()
  await all
  const t3 = performance.now()
  const c3 = cpuNow()
  if (profile === "reconcile") await stopProfile(values.profile!)
  await Effect.runPromise(lib.Scope.close(scope, lib.Exit.void))
  return {
    sync_ms: t1 - t0,
    sync_cpu_ms: c1 - c0,
    reconcile_ms: t3 - t2,
    reconcile_cpu_us_per_key: ((c3 - c2) * 1000) / N
  }
}

const libs = await Promise.all(sources.map(load))
const servers = []
for (const lib of libs) servers.push(await prepare(lib))
const results = sources.map(() => [] as Array<Awaited<ReturnType<typeof measure>>>)
// a warm-up round per source, not counted
for (const [i, lib] of libs.entries()) await measure(lib, servers[i]!, undefined)
for (let round = 0; round < rounds; round++) {
  for (let j = 0; j < libs.length; j++) {
    // alternate which source goes first
    const i = (j + round) % libs.length
    const profiled = values.profile !== undefined && i === 0 ? values.phase as "sync" | "reconcile" : undefined
    const r = await measure(libs[i]!, servers[i]!, profiled)
    results[i]!.push(r)
    process.stderr.write(`round ${round + 1} ${sources[i]}: ${JSON.stringify(r)}\n`)
  }
}
if (values.profile !== undefined) printProfile()
for (const [i, src] of sources.entries()) {
  const m = (f: (r: Awaited<ReturnType<typeof measure>>) => number) => median(results[i]!.map(f)).toFixed(1)
  process.stdout.write(
    `${src} (c=${concurrency}, ${N} objects, median of ${rounds}): sync ${m((r) => r.sync_ms)} ms, ` +
      `${m((r) => r.sync_cpu_ms)} ms CPU; reconciles ${m((r) => r.reconcile_ms)} ms, ${m((r) => r.reconcile_cpu_us_per_key)} µs CPU each\n`
  )
}
process.exit(0)
