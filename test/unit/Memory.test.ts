/**
 * Memory in CI: 10,000 ConfigMaps on the in-memory server through an Informer, then through a
 * Controller (a no-op resource, every object reconciled once), the heap each retains per object after
 * a forced GC. The build fails when a figure grows more than 20 % over the one checked in beside this
 * file (test/unit/Memory.figures.json), so a regression shows in the commit that made it. Memory,
 * unlike time, is stable on a busy machine; speed targets stay in bench/.
 *
 * After a deliberate change, `MEMORY_FIGURES=write npx vitest run test/unit/Memory.test.ts` writes
 * the new figures; commit them with the change that explains them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Informer from "../../src/Informer.ts"
import * as Kind from "../../src/Kind.ts"
import * as Client from "../../src/Client.ts"
import * as TestServer from "../../src/testing/TestServer.ts"

const N = 10_000
const ns = "memory"
const TOLERANCE = 1.2
const FIGURES = Path.join(import.meta.dirname, "Memory.figures.json")

interface Figures {
  /** Heap retained per object by a synced Informer (bytes). */
  readonly informerBytesPerObject: number
  /** Heap retained per object by a Controller once every object was reconciled (bytes). */
  readonly controllerBytesPerObject: number
}

V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void
const heapAfterGc = Effect.sync(() => {
  // twice: the first run's finalizers free more for the second
  gc()
  gc()
  return process.memoryUsage().heapUsed
})

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

/** A payload different for each object, so no two share a string. */
const payload = (i: number) => `${i.toString(36)}-`.padEnd(200, "abcdefghijklmnopqrstuvwxyz0123456789".charAt(i % 36))

const seed = Effect.fnUntraced(function*(client: Client.ClientService) {
  yield* client.create(Kind.Namespace, { metadata: { name: ns } })
  for (let i = 0; i < N; i++) {
    yield* client.create(Kind.ConfigMap, {
      // the controller's finalizer is already there: the measurement is of the caches, not of writes
      metadata: { name: `cm-${i}`, namespace: ns, labels: { app: "memory" }, finalizers: ["operatorkit.test/memory"] },
      data: { payload: payload(i) }
    })
  }
})

const measure = Effect.gen(function*() {
  const server = yield* TestServer.make({ bookmarkInterval: false })
  yield* seed(server.client)
  const provide = Effect.provideService(Client.Client, server.client)

  // an Informer alone
  const informerScope = yield* Scope.make()
  const before = yield* heapAfterGc
  const informer = yield* Informer.make(Kind.ConfigMap, { namespace: ns }).pipe(provide, Scope.provide(informerScope))
  yield* informer.synced
  assert.strictEqual(yield* informer.store.size, N)
  const informerBytes = (yield* heapAfterGc) - before
  yield* Scope.close(informerScope, Exit.void)

  // a Controller: its informer, queue, finalizer and write bookkeeping, after every object was reconciled
  const controllerScope = yield* Scope.make()
  const seen = new Set<string>()
  const done = yield* Deferred.make<void>()
  const noop = Framework.make<ConfigMap>()({
    name: "noop",
    ensureCreated: (cm) =>
      Effect.suspend(() => {
        seen.add(cm.metadata.name)
        return seen.size === N ? Deferred.succeed(done, undefined) : Effect.void
      }),
    ensureDeleted: () => Effect.void
  })
  const start = yield* heapAfterGc
  yield* Controller.make({
    name: "memory",
    finalizer: "operatorkit.test/memory",
    kind: Kind.ConfigMap,
    namespace: ns,
    resources: [noop],
    concurrency: 4
  }).pipe(provide, Scope.provide(controllerScope))
  yield* Deferred.await(done).pipe(Effect.timeout("120 seconds"))
  seen.clear()
  const controllerBytes = (yield* heapAfterGc) - start
  yield* Scope.close(controllerScope, Exit.void)
  return {
    informerBytesPerObject: Math.round(informerBytes / N),
    controllerBytesPerObject: Math.round(controllerBytes / N)
  } satisfies Figures
})

describe("memory per object (in-memory server, 10,000 ConfigMaps)", () => {
  it.live("an Informer and a Controller retain no more than 20 % over the checked-in figures", () =>
    Effect.gen(function*() {
      const measured = yield* measure
      if (process.env["MEMORY_FIGURES"] === "write") {
        Fs.writeFileSync(FIGURES, JSON.stringify(measured, null, 2) + "\n")
        return
      }
      const checkedIn = JSON.parse(Fs.readFileSync(FIGURES, "utf8")) as Figures
      for (const key of ["informerBytesPerObject", "controllerBytesPerObject"] as const) {
        const ratio = measured[key] / checkedIn[key]
        assert.isAtMost(
          ratio,
          TOLERANCE,
          `${key}: ${measured[key]} bytes against ${checkedIn[key]} checked in (${ratio.toFixed(2)}×). ` +
            `If the growth is deliberate, write the new figures (see this file's header) and say why in the commit.`
        )
      }
    }), { timeout: 300_000 })
})
