/**
 * One replica of a sharded operator, as its own process, for test/integration/Sharding.test.ts
 * (and the on-demand stress run): `node shardReplica.ts <config JSON>`.
 *
 * It joins the ring `work` with the shard id it is given and runs a controller on the ConfigMaps
 * labelled `app=sharded` of a namespace. Each reconcile awaits an I/O step, then commits: it checks
 * the fence (the shard Lease is held at that instant) and prints `R <name> <start> <end>` (epoch
 * milliseconds, sub-millisecond precision) on stdout; a reconcile interrupted before its commit
 * prints `F <name>`. Logs go to stderr. SIGTERM stops it gracefully (reconciles in flight finish,
 * then the Lease is released).
 *
 * For bench/sharding.ts: `sharder: false` does not stand for the sharder role; `sharderOnly` runs
 * only the sharder (no shard, no controller). SIGUSR2 prints `H <bytes>`: the heap retained since
 * the start (after a GC, when run with --expose-gc), the baseline taken after the imports.
 */
import { Cause, Duration, Effect, Exit, Fiber, Layer, Logger } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import * as KubeConfig from "../../src/KubeConfig.ts"
import * as Sharding from "../../src/Sharding.ts"

export interface ReplicaConfig {
  readonly kubeconfig: string
  readonly namespace: string
  readonly id: string
  readonly leaseMillis: number
  readonly renewMillis: number
  readonly retryMillis: number
  readonly concurrency: number
  /** The I/O step of each reconcile. */
  readonly workMillis: number
  /** Stand for the sharder role (default true). */
  readonly sharder?: boolean
  /** Only the sharder: no shard Lease, no controller. */
  readonly sharderOnly?: boolean
  /** Re-dispatch every cached object this often (the bench keeps the workers busy without writes). */
  readonly resyncMillis?: number
}

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const config = JSON.parse(process.argv[2]!) as ReplicaConfig
const gc = (globalThis as { gc?: () => void }).gc
gc?.()
const baseline = process.memoryUsage().heapUsed
process.on("SIGUSR2", () => {
  gc?.()
  process.stdout.write(`H ${process.memoryUsage().heapUsed - baseline}\n`)
})
const now = () => performance.timeOrigin + performance.now()
const out = (line: string) => process.stdout.write(line + "\n")

const work = Framework.make<ConfigMap>()({
  name: "work",
  ensureCreated: (cm) =>
    Effect.suspend(() => {
      const start = now()
      return Effect.sleep(config.workMillis).pipe(
        Effect.andThen(Sharding.fence),
        Effect.andThen(Effect.sync(() => out(`R ${cm.metadata.name} ${start.toFixed(3)} ${now().toFixed(3)}`))),
        Effect.onInterrupt(() => Effect.sync(() => out(`F ${cm.metadata.name}`)))
      )
    }),
  ensureDeleted: () => Effect.void
})

const program = Effect.gen(function*() {
  const kubeconfig = yield* KubeConfig.fromFile(config.kubeconfig)
  const client = yield* Client.make(kubeconfig, { timeout: "10 seconds" })
  const options: Sharding.Options = {
    name: "work",
    namespace: config.namespace,
    group: "operatorkit.test",
    kinds: [{ kind: Kind.ConfigMap, namespace: config.namespace, labelSelector: "app=sharded" }],
    id: config.id,
    leaseDuration: Duration.millis(config.leaseMillis),
    renewDeadline: Duration.millis(config.renewMillis),
    retryPeriod: Duration.millis(config.retryMillis),
    sharder: config.sharder ?? true
  }
  if (config.sharderOnly === true) {
    yield* Layer.build(Sharding.layerSharder(options)).pipe(Effect.provideService(Client.Client, client))
    out("READY")
    return yield* Effect.never
  }
  const shard = yield* Sharding.make(options).pipe(Effect.provideService(Client.Client, client))
  yield* Controller.make({
    name: "work",
    kind: Kind.ConfigMap,
    namespace: config.namespace,
    labelSelector: "app=sharded",
    finalizerPrefix: "operatorkit.test",
    resources: [work],
    concurrency: config.concurrency,
    shutdownTimeout: "10 seconds",
    ...(config.resyncMillis !== undefined ? { resyncPeriod: Duration.millis(config.resyncMillis) } : {})
  }).pipe(Effect.provideService(Client.Client, client), Effect.provideService(Sharding.Shard, shard))
  out("READY")
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provideService(Logger.LogToStderr, true))

const fiber = Effect.runFork(program)
process.once("SIGTERM", () => {
  Effect.runPromise(Fiber.interrupt(fiber)).then(() => process.exit(0), () => process.exit(1))
})
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`replica ${config.id} failed: ${String(exit.cause)}\n`)
    process.exit(1)
  }
})
