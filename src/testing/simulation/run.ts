/**
 * One simulation run: the in-memory server, the network (seeded latencies and faults), the
 * replicas of the operator, the planned events, and the invariants, all on one TestClock driven
 * here, with the library's randomness seeded (Effect's `Random`). The timeline:
 *
 * 1. the server starts; the simulation's `setup` runs; the replicas start;
 * 2. the planned events (workload and faults) happen at their times, for `duration`;
 * 3. the faults heal and at least one replica runs; the run must settle within `settleTimeout`:
 *    every cache equals the server, every object converged, no finalizer left behind, your quiet
 *    invariants hold, three seconds in a row; then ten quiet seconds with few requests (they start
 *    again after each sharding hand-off: objects moving between replicas is not quiet);
 * 4. every replica is crashed and shut down (the run's state is thrown away).
 *
 * Invariants checked as things happen stop the run at the next simulated second.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as Client from "../../Client.ts"
import * as HttpClient from "../../internal/http/client.ts"
import * as Controller from "../../Controller.ts"
import { decodeObject, isDecodeError } from "../../internal/codec.ts"
import { builtinKinds, present, resourceKey, resourceOf, resourceOfCrd } from "../fake/kinds.ts"
import { isObject, type JsonObject } from "../fake/status.ts"
import * as Fake from "../fake/transport.ts"
import { Probe, type ProbedInformer } from "../../internal/controller/probe.ts"
import * as Kind from "../../Kind.ts"
import * as LeaderElection from "../../LeaderElection.ts"
import * as Rbac from "../../Rbac.ts"
import * as Store from "../../Store.ts"
import * as Webhooks from "../../Webhooks.ts"
import * as RbacGuard from "../RbacGuard.ts"
import { type Endpoint, Network } from "../fake/faults.ts"
import * as Scheduler from "../fake/scheduler.ts"
import type * as Simulation from "../Simulation.ts"
import { FinalizerTracker, Invariants, OverlapTracker, RateTracker, type Violation } from "./checks.ts"
import * as Draw from "./draw.ts"
import { faultSchedule, plan, type PlannedEvent } from "./plan.ts"
import { webhookChecks } from "./webhooks.ts"
import { clock, Trace } from "./trace.ts"

const NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
const LEASES = resourceKey("coordination.k8s.io", "leases")
/** Simulated seconds everything must hold in a row to count as settled. */
const STABLE_CHECKS = 3
const QUIET_WINDOW_MILLIS = 10_000
/** How long crashed replicas get to wind down at the end before they are abandoned. */
const TEARDOWN_MILLIS = 120_000

interface ProbedController {
  readonly name: string
  readonly finalizer: string
  readonly informers: ReadonlyArray<ProbedInformer>
}

interface Replica {
  readonly name: string
  readonly index: number
  readonly endpoint: Endpoint
  /** Its Client: over its endpoint, guarded by the declared RBAC when there is one. */
  readonly client: Client.ClientService
  readonly guard: RbacGuard.Guard | undefined
  readonly scope: Scope.Closeable
  readonly controllers: Array<ProbedController>
  readonly electors: Set<LeaderElection.Elector>
  status: "starting" | "running" | "stopping" | "stopped" | "dead"
  build: Fiber.Fiber<void> | undefined
  closed: boolean
}

const describeCause = (cause: Cause.Cause<unknown>) => Cause.pretty(cause).split("\n").slice(0, 3).join(" | ")

const messageOf = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((m) => (typeof m === "string" ? m : Cause.isCause(m) ? describeCause(m) : JSON.stringify(m) ?? String(m))).join(" ")
}

export const runOnce = (simulation: Simulation.Simulation, seed: number, keep: ReadonlySet<number> | undefined): Effect.Effect<Simulation.Report> =>
  Effect.gen(function*() {
    const options = simulation.options
    const testClock = yield* TestClock.testClockWith(Effect.succeed)
    const now = () => testClock.currentTimeMillisUnsafe()
    const runScope = yield* Effect.scope
    const trace = new Trace()
    let violation: Violation | undefined
    const fail = (v: Violation) => {
      if (violation !== undefined) return
      violation = v
      trace.add(v.at, "check", `VIOLATION ${v.invariant}: ${v.message}`)
    }

    // the plan: workload and faults, drawn before anything runs
    const context = { duration: simulation.durationMillis, replicas: simulation.replicas, maxReplicas: simulation.maxReplicas }
    const planned = plan(
      options.workload.plan(yield* Draw.make(seed, "workload"), context),
      faultSchedule(simulation.faults, yield* Draw.make(seed, "faults"), context)
    )
    const events = keep === undefined ? planned : planned.filter((e) => keep.has(e.id))

    // the server
    const fake = Fake.make({ historyLimit: 10_000, bookmarkMillis: 60_000 })
    for (const kind of [...builtinKinds, ...(options.kinds ?? [])]) fake.store.register(resourceOf(kind))
    // the CRDs the webhooks convert, as installed: every version served, the storage one first
    for (const conversion of options.webhooks?.conversions ?? []) {
      const resource = resourceOfCrd(conversion.definition.name, conversion.definition.manifest.spec as unknown as JsonObject)
      if (resource === undefined) continue
      const key = resourceKey(resource.group, resource.plural)
      const known = fake.store.resources.get(key)?.versions ?? []
      fake.store.register(resource)
      fake.store.resources.set(key, { ...resource, versions: [...resource.versions, ...known.filter((v) => !resource.versions.includes(v))] })
    }
    const namespaces = options.rbac !== undefined && !NAMESPACES.includes(options.rbac.namespace) ? [...NAMESPACES, options.rbac.namespace] : NAMESPACES
    for (const name of namespaces) {
      yield* fake.handle({ method: "POST", path: "/api/v1/namespaces?fieldManager=kube-apiserver", body: { metadata: { name } } })
    }
    const observer = HttpClient.make(fake.transport, options.client)
    const objectsOf = <A extends Kind.KubeObject>(kind: Kind.Kind<A>, namespace?: string): ReadonlyArray<A> => {
      const resource = fake.store.resources.get(resourceKey(kind.group, kind.plural))
      if (resource === undefined) return []
      const out: Array<A> = []
      for (const [, raw] of fake.store.list(resourceKey(kind.group, kind.plural), kind.namespaced ? namespace : undefined)) {
        const decoded = decodeObject<A>(kind, present(resource, kind.version, raw))
        if (!isDecodeError(decoded)) out.push(decoded)
      }
      return out
    }

    // the invariants fed as things happen
    const overlap = new OverlapTracker()
    const finalizers = new FinalizerTracker()
    const rate = new RateTracker(options.maxRequestsPerSecond ?? 100)
    let requests = 0
    let reconciles = 0
    /** When each sharding hand-off write was made. */
    const handOffs: Array<number> = []
    const replicas: Array<Replica> = []
    const alive = () => replicas.filter((r) => r.status === "starting" || r.status === "running" || r.status === "stopping")
    const world: Simulation.World = {
      get now() {
        return now()
      },
      objects: (kind, o) => objectsOf(kind, o?.namespace),
      get replicas() {
        return alive().map((r) => r.name)
      }
    }
    const always = (options.invariants ?? []).filter((i) => (i.when ?? "always") === "always")
    const quiet = (options.invariants ?? []).filter((i) => i.when === "quiet")
    const webhookCheck = options.webhooks === undefined ? undefined : webhookChecks(options.webhooks as Webhooks.Definition<unknown>, fake.store)
    fake.store.observers.add((change) => {
      if (webhookCheck !== undefined && change.type !== "DELETED") {
        const resource = fake.store.resources.get(change.resource)
        const problem = resource === undefined ? undefined : webhookCheck(resource, change.object as JsonObject, now())
        if (problem !== undefined) fail(problem)
      }
      const v = finalizers.observe({
        kind: fake.store.resources.get(change.resource)?.kind ?? change.resource,
        previous: change.previous,
        object: change.type === "DELETED" ? undefined : change.object
      }, now())
      if (v !== undefined) fail(v)
      for (const invariant of always) {
        const problem = invariant.check(world)
        if (typeof problem === "string") fail({ invariant: invariant.name, at: now(), message: problem })
      }
    })

    // the network
    const network = new Network(fake, yield* Draw.make(seed, "network"), Scheduler.seeded(yield* Draw.make(seed, "latencies")), {
      now,
      sent: (endpoint, _verb) => {
        if (endpoint === "user") return true
        requests++
        const v = rate.record(endpoint, now())
        if (v !== undefined) fail(v)
        return violation === undefined
      },
      trace: (who, what) => trace.add(now(), who, what)
    }, runScope)
    const user = HttpClient.make(network.endpoint("user", { faults: false }).transport, options.client)

    // replicas
    let started = 0
    let desired = simulation.replicas
    let pendingRestarts = 0
    let lastStartFailure: string | undefined
    const loggerOf = (name: string) =>
      Logger.make((entry) => trace.add(now(), name, `${entry.logLevel.toUpperCase()} ${messageOf(entry.message)}`))

    const start: Effect.Effect<void> = Effect.gen(function*() {
      const index = started++
      const name = `replica-${index}`
      const scope = yield* Scope.make()
      const endpoint = network.endpoint(name, { faults: true })
      const base = HttpClient.make(endpoint.transport, options.client)
      const guard = options.rbac === undefined ? undefined : RbacGuard.guard(base, options.rbac)
      const replica: Replica = {
        name,
        index,
        endpoint,
        client: guard?.client ?? base,
        guard,
        scope,
        controllers: [],
        electors: new Set(),
        status: "starting",
        build: undefined,
        closed: false
      }
      replicas.push(replica)
      const live = () => replica.status !== "dead" && replica.status !== "stopped"
      const probe: Probe = {
        controllerStarted: (c) => {
          if (!live()) return
          replica.controllers.push(c)
          finalizers.register(c.name, c.finalizer)
        },
        reconcileStarted: (controller, key) => {
          if (!live()) return
          reconciles++
          trace.add(now(), name, `reconcile ${controller} ${key}`)
          const v = overlap.start(name, controller, key, now())
          if (v !== undefined) fail(v)
        },
        reconcileEnded: (controller, key) => {
          if (!live()) return
          trace.add(now(), name, `reconciled ${controller} ${key}`)
          overlap.end(name, controller, key)
        },
        cleanedUp: (controller, uid) => {
          if (!live()) return
          trace.add(now(), name, `cleaned up ${controller} uid ${uid}`)
          finalizers.cleanedUpBy(controller, uid)
        },
        handedOff: (ring, what) => {
          if (!live()) return
          trace.add(now(), name, `hand-off in ring ${ring}: ${what}`)
          handOffs.push(now())
        }
      }
      const services = Context.make(Client.Client, replica.client).pipe(
        Context.add(Probe, probe),
        Context.add(Controller.Registry, new Set()),
        Context.add(LeaderElection.Registry, replica.electors),
        Context.add(Logger.CurrentLoggers, new Set([loggerOf(name)]))
      )
      const layer = typeof options.operator === "function" ? options.operator({ name, index }) : options.operator
      trace.add(now(), name, "starting")
      replica.build = yield* Layer.buildWithMemoMap(layer, Layer.makeMemoMapUnsafe(), scope).pipe(
        Effect.provideContext(services),
        Effect.matchCauseEffect({
          onSuccess: () =>
            Effect.sync(() => {
              if (replica.status === "starting") replica.status = "running"
              trace.add(now(), name, "started")
            }),
          onFailure: (cause) =>
            Effect.suspend(() => {
              if (replica.status !== "starting") return Effect.void
              // as a pod whose program exits: it crashes, and is started again after a while
              lastStartFailure = `${name} failed to start: ${describeCause(cause)}`
              trace.add(now(), name, lastStartFailure)
              return crash(replica, 10_000)
            })
        }),
        Effect.forkIn(runScope)
      )
    })

    const close = (replica: Replica) =>
      Effect.forkIn(
        Effect.andThen(Scope.close(replica.scope, Exit.void), Effect.sync(() => void (replica.closed = true))),
        runScope
      )

    /** A crash: nothing the replica does reaches the server any more; a new one starts later. */
    const crash = (replica: Replica, restartAfterMillis: number | undefined): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (replica.status === "dead" || replica.status === "stopped") return
        const wasStarting = replica.status === "starting"
        replica.status = "dead"
        const cut = replica.endpoint.kill()
        overlap.abandon(replica.name)
        trace.add(now(), replica.name, `crashed (${cut} watches cut)`)
        if (wasStarting && replica.build !== undefined) yield* Effect.forkIn(Fiber.interrupt(replica.build), runScope)
        yield* close(replica)
        if (restartAfterMillis === undefined) return
        pendingRestarts++
        yield* Effect.forkIn(
          Effect.andThen(
            Effect.sleep(Duration.millis(restartAfterMillis)),
            Effect.suspend(() => {
              pendingRestarts--
              return ensureReplicas
            })
          ),
          runScope
        )
      })

    /** A graceful shutdown, as a scale-down does it: the replica's finalizers reach the server. */
    const stop = (replica: Replica): Effect.Effect<void> =>
      Effect.gen(function*() {
        replica.status = "stopping"
        trace.add(now(), replica.name, "stopping")
        yield* Effect.forkIn(
          Effect.gen(function*() {
            yield* Scope.close(replica.scope, Exit.void)
            replica.closed = true
            if (replica.status === "stopping") {
              replica.status = "stopped"
              replica.endpoint.kill()
              overlap.abandon(replica.name)
              trace.add(now(), replica.name, "stopped")
            }
          }),
          runScope
        )
      })

    const ensureReplicas: Effect.Effect<void> = Effect.gen(function*() {
      const up = () => replicas.filter((r) => r.status === "starting" || r.status === "running")
      while (up().length + pendingRestarts < desired) yield* start
      while (up().length > 0 && up().length + pendingRestarts > desired) yield* stop(up()[up().length - 1]!)
    })

    const pick = (index: number) => {
      const up = replicas.filter((r) => r.status === "starting" || r.status === "running")
      return up.length === 0 ? undefined : up[index % up.length]
    }

    const leader = Effect.gen(function*() {
      for (const replica of replicas) {
        if (replica.status !== "running") continue
        for (const elector of replica.electors) if (yield* elector.isLeader) return replica
      }
      return undefined
    })

    const execute = (event: PlannedEvent): Effect.Effect<void> =>
      Effect.gen(function*() {
        const action = event.action
        const log = (what: string) => trace.add(now(), event.source === "workload" ? "user" : "fault", `#${event.id} ${what}`)
        switch (action._tag) {
          case "Call": {
            log(event.description)
            const draw = yield* Draw.make(seed, `event/${event.id}`)
            yield* Effect.forkIn(
              action.run(draw).pipe(
                Effect.provideService(Client.Client, user),
                Effect.matchCause({
                  onSuccess: (result) => log(`${event.description}: ${typeof result === "string" ? result : "done"}`),
                  onFailure: (cause) => log(`${event.description}: failed: ${describeCause(cause)}`)
                })
              ),
              runScope
            )
            return
          }
          case "Scale":
            log(event.description)
            desired = Math.max(0, action.replicas)
            return yield* ensureReplicas
          case "Kill":
          case "Crash": {
            const target = pick(action.replica)
            log(`${event.description}: ${target?.name ?? "no replica is running"}`)
            if (target !== undefined) yield* crash(target, action.restartAfterMillis)
            return
          }
          case "WatchDrop": {
            const target = pick(action.replica)
            const dropped = target === undefined ? undefined : network.dropWatch(target.name, action.watch, action.clean)
            return log(`${event.description}: ${dropped === undefined ? "no open watch" : `${target!.name}'s ${dropped}`}`)
          }
          case "Window": {
            const target = action.replica === undefined ? undefined : pick(action.replica)
            if (action.replica !== undefined && target === undefined) return log(`${event.description}: no replica is running`)
            network.open({
              fault: action.fault,
              endpoint: target?.name,
              rate: action.rate,
              until: now() + action.millis,
              severity: action.severity
            })
            return log(`${event.description}${target !== undefined ? `: ${target.name}` : ""}`)
          }
          case "Compaction":
            return log(`${event.description}: oldest resourceVersion now ${fake.store.compact()}`)
          case "ApiServerRestart": {
            const cut = yield* network.restart(action.downMillis)
            return log(`${event.description}: ${cut} watches cut`)
          }
          case "LeaseLoss": {
            const target = yield* leader
            if (target === undefined) return log(`${event.description}: no replica leads`)
            network.open({
              fault: action.hang ? "slow" : "error",
              endpoint: target.name,
              resource: LEASES,
              rate: 1,
              until: now() + action.millis,
              severity: action.hang ? 120_000 : 0
            })
            return log(`${event.description}: ${target.name}`)
          }
        }
      })

    /** A call of a replica its declared RBAC does not allow (the guard refused it with a Forbidden). */
    const undeclared = Effect.gen(function*() {
      if (options.rbac === undefined || violation !== undefined) return
      for (const replica of replicas) {
        const missing = replica.guard === undefined ? [] : yield* replica.guard.undeclared
        if (missing.length === 0) continue
        const declaration = options.rbac
        fail({
          invariant: Invariants.rbac,
          at: now(),
          message: `${replica.name} made calls its RBAC ${declaration.name} does not declare (refused with a Forbidden): ` +
            missing.map((r) => `${Rbac.describeRequest(r)} needs ${Rbac.describePermission(Rbac.ruleFor(r), declaration.namespace)}`).join("; ")
        })
        return
      }
    })

    /** Moves the clock in steps until `done` or `millis` passed (or an invariant broke). */
    const drive = (millis: number, step: number, done: () => boolean = () => violation !== undefined) =>
      Effect.gen(function*() {
        const end = now() + millis
        while (now() < end && !done()) {
          yield* testClock.adjust(Duration.millis(Math.min(step, end - now())))
          yield* undeclared
        }
      })

    /** The operator's webhooks, served by a running replica (seeded choice), with its Client. */
    const serveWebhooks = (definition: Webhooks.Definition<Client.Client>) =>
      Effect.gen(function*() {
        const draw = yield* Draw.make(seed, "webhooks")
        const timeouts = new Map<string, number>()
        for (const a of definition.admissions) {
          timeouts.set(a.validatePath, a.call.timeoutSeconds)
          timeouts.set(a.mutatePath, a.call.timeoutSeconds)
        }
        fake.registerWebhooks({
          definition: definition as Webhooks.Definition<unknown>,
          run: (path, body) =>
            Effect.suspend(() => {
              const serving = replicas.filter((r) => r.status === "running")
              if (serving.length === 0) {
                trace.add(now(), "webhooks", `${path} → no replica runs to answer`)
                return Effect.succeed<Webhooks.Answer>({ status: 503, body: { message: "no replica of the operator runs to serve its webhooks (simulated: connection refused)" } })
              }
              const replica = draw.pick(serving)
              // kube-apiserver waits timeoutSeconds for an admission webhook, 30 s for a conversion
              const seconds = timeouts.get(path) ?? 30
              return Webhooks.handle(definition, path, body).pipe(
                Effect.provideService(Client.Client, replica.client),
                Effect.timeoutOrElse({
                  duration: Duration.seconds(seconds),
                  orElse: () => Effect.succeed<Webhooks.Answer>({ status: 504, body: { message: `the webhook did not answer within ${seconds} s` } })
                }),
                Effect.tap((answer) => Effect.sync(() => trace.add(now(), replica.name, `webhook ${path} → ${describeAnswer(answer)}`)))
              )
            })
        })
      })

    // 1. setup, then the replicas
    if (options.setup !== undefined) {
      const setup = yield* Effect.forkIn(Effect.exit(Effect.provideService(options.setup, Client.Client, user)), runScope)
      yield* drive(60_000, 100, () => setup.pollUnsafe() !== undefined || violation !== undefined)
      const exit = setup.pollUnsafe()
      if (exit === undefined || Exit.isFailure(exit) || Exit.isFailure(exit.value)) {
        const why = exit === undefined ? "it did not finish within a minute" : describeCause(Exit.isFailure(exit) ? exit.cause : (exit.value as Exit.Failure<unknown, unknown>).cause)
        fail({ invariant: Invariants.started, at: now(), message: `the simulation's setup failed: ${why}` })
      }
    }
    if (options.webhooks !== undefined) yield* serveWebhooks(options.webhooks)
    yield* ensureReplicas
    const t0 = now()

    // 2. the events at their times, for the duration
    yield* Effect.forkIn(
      Effect.forEach(events, (event) =>
        Effect.andThen(
          Effect.suspend(() => {
            const wait = t0 + event.at - now()
            return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
          }),
          execute(event)
        ), { discard: true }),
      runScope
    )
    yield* drive(simulation.durationMillis, 1000)

    // 3. heal, then settle
    if (violation === undefined) {
      network.heal()
      desired = Math.max(desired, 1)
      trace.add(now(), "check", "faults healed; settling")
      yield* ensureReplicas
    }
    let stable = 0
    let problems: Array<Violation> = []
    const settleEnd = now() + simulation.settleMillis
    while (violation === undefined && now() < settleEnd && stable < STABLE_CHECKS) {
      yield* testClock.adjust(Duration.seconds(1))
      yield* undeclared
      problems = yield* quietProblems()
      stable = problems.length === 0 ? stable + 1 : 0
    }
    if (violation === undefined && stable < STABLE_CHECKS) {
      const first = problems[0]!
      fail({
        invariant: first.invariant,
        at: now(),
        message: `not settled ${Duration.format(Duration.millis(simulation.settleMillis))} after the faults healed:\n    ` +
          problems.slice(0, 10).map((p) => `${p.invariant}: ${p.message}`).join("\n    ")
      })
    }
    if (violation === undefined) {
      // ten quiet seconds. Objects moving between sharded replicas are not quiet: each move costs
      // a few requests of the sharder and both shards (drain, acknowledgement, assignment, the
      // new shard's reconcile), bounded by the objects moved; so the window starts again after
      // the last hand-off write. Hand-offs that never stop are a hot loop of their own.
      let from = now()
      let seen = handOffs.length
      const handedOff = () => handOffs.length > seen
      const deadline = Math.max(settleEnd, from + QUIET_WINDOW_MILLIS)
      while (violation === undefined) {
        yield* drive(QUIET_WINDOW_MILLIS, 1000, () => violation !== undefined || handedOff())
        if (!handedOff()) break
        if (now() >= deadline) {
          const healed = settleEnd - simulation.settleMillis
          const late = handOffs.filter((t) => t >= healed)
          fail({
            invariant: Invariants.hotLoop,
            at: now(),
            message: `objects kept moving between replicas ${Duration.format(Duration.millis(now() - healed))} after the faults healed: ` +
              `${late.length} hand-off writes since then, the last at ${clock(handOffs[handOffs.length - 1]!)}`
          })
          break
        }
        trace.add(now(), "check", "objects were handed off: the quiet window starts again")
        // the window starts after the step that saw the hand-off (each pass moves the clock)
        from = now()
        seen = handOffs.length
      }
      const limit = (options.quietRequestsPerSecond ?? 5) * QUIET_WINDOW_MILLIS / 1000
      for (const [replica, n] of rate.since(from)) {
        if (n > limit) {
          fail({
            invariant: Invariants.hotLoop,
            at: now(),
            message: `${replica} sent ${n} requests in ${QUIET_WINDOW_MILLIS / 1000} quiet seconds (at most ${limit} expected once settled)`
          })
        }
      }
    }
    if (violation === undefined) {
      const after = yield* quietProblems()
      if (after.length > 0) fail({ ...after[0]!, at: now(), message: `once quiet: ${after[0]!.message}` })
    }
    const simulatedMillis = now()
    trace.add(now(), "check", violation === undefined ? "settled: every invariant holds" : "stopped")

    // 4. tear down: every replica crashes, and gets a bounded time to wind down
    for (const replica of replicas) {
      if (replica.status === "starting" || replica.status === "running") yield* crash(replica, undefined)
    }
    const ended = () => replicas.every((r) => r.closed)
    yield* drive(TEARDOWN_MILLIS, 5000, ended)

    return {
      simulation: simulation.name,
      seed,
      plan: planned.map(eventOf),
      events: events.map(eventOf),
      violation,
      trace: trace.lines,
      digest: trace.digest,
      requests,
      reconciles,
      simulatedMillis
    }

    // -------------------------------------------------------------------------------------------
    // the checks of a quiet run

    function quietProblems(): Effect.Effect<Array<Violation>> {
      return Effect.gen(function*() {
        const out: Array<Violation> = []
        const at = now()
        const running = replicas.filter((r) => r.status === "running")
        if (running.length === 0) {
          out.push({ invariant: Invariants.started, at, message: `no replica is running${lastStartFailure !== undefined ? ` (last: ${lastStartFailure})` : ""}` })
        }
        // every cache of every running replica equals the server
        for (const replica of running) {
          for (const controller of replica.controllers) {
            for (const probed of controller.informers) {
              const diff = yield* cacheDiff(probed)
              if (diff !== undefined) {
                const what = `${probed.kind.kind}${probed.kind.metadataOnly === true ? " (metadata only)" : ""}`
                out.push({ invariant: Invariants.storeEqualsServer, at, message: `${replica.name}, controller ${controller.name}, cache of ${what}: ${diff}` })
              }
            }
          }
        }
        // every object converged
        for (const convergence of options.converged ?? []) {
          for (const object of objectsOf(convergence.kind)) {
            if (object.metadata.deletionTimestamp !== undefined) continue
            const verdict = convergence.check(object)
            const result = typeof verdict === "boolean" || typeof verdict === "string"
              ? verdict
              : yield* verdict.pipe(
                Effect.provideService(Client.Client, observer),
                Effect.catchCause((cause) => Effect.succeed(`its check failed: ${describeCause(cause)}`))
              )
            if (result !== true) {
              out.push({ invariant: Invariants.converged, at, message: `${convergence.kind.kind} ${Store.keyOf(object)}: ${result === false ? "not converged" : result}` })
            }
          }
        }
        // no deleted object keeps a controller's finalizer
        for (const [key, resource] of fake.store.resources) {
          const stuck = finalizers.leftBehind(resource.kind, fake.store.list(key).map(([, o]) => o))
          for (const message of stuck) out.push({ invariant: Invariants.leftBehind, at, message })
        }
        for (const invariant of quiet) {
          const problem = invariant.check(world)
          if (typeof problem === "string") out.push({ invariant: invariant.name, at, message: problem })
        }
        return out
      })
    }

    /** How an informer's Store differs from the server's objects it selects; undefined when equal. */
    function cacheDiff(probed: ProbedInformer): Effect.Effect<string | undefined> {
      return Effect.gen(function*() {
        const query = new URLSearchParams()
        if (probed.options.labelSelector !== undefined) query.set("labelSelector", probed.options.labelSelector)
        if (probed.options.fieldSelector !== undefined) query.set("fieldSelector", probed.options.fieldSelector)
        const path = `${Kind.collectionPath(probed.kind, probed.kind.namespaced ? probed.options.namespace : undefined)}?${query}`
        const answer = yield* fake.handle({ method: "GET", path })
        const items = answer.status === 200 ? ((answer.body as JsonObject)["items"] as Array<JsonObject>) : []
        const server = new Map<string, string>()
        for (const item of items) {
          const meta = item["metadata"] as { name: string; namespace?: string; resourceVersion?: string }
          server.set(Store.key(meta), meta.resourceVersion ?? "")
        }
        const cached = new Map<string, string>()
        for (const object of yield* probed.informer.store.list()) cached.set(Store.keyOf(object), object.metadata.resourceVersion ?? "")
        const missing = [...server.keys()].filter((k) => !cached.has(k))
        const extra = [...cached.keys()].filter((k) => !server.has(k))
        const stale = [...server].filter(([k, rv]) => cached.has(k) && cached.get(k) !== rv).map(([k, rv]) => `${k} (cached ${cached.get(k)}, server ${rv})`)
        if (missing.length + extra.length + stale.length === 0) return undefined
        return [
          missing.length > 0 ? `missing ${missing.slice(0, 5).join(", ")}` : "",
          extra.length > 0 ? `gone from the server but cached ${extra.slice(0, 5).join(", ")}` : "",
          stale.length > 0 ? `stale ${stale.slice(0, 5).join(", ")}` : ""
        ].filter((s) => s !== "").join("; ")
      })
    }
  }).pipe(
    Effect.scoped,
    Effect.provide(TestClock.layer({ warningDelay: "1 hour" }), { local: true }),
    Random.withSeed(`${seed}/library`),
    Effect.provideService(Logger.CurrentLoggers, new Set())
  )

/** A review's answer in a trace line. */
const describeAnswer = (answer: Webhooks.Answer): string => {
  const response = isObject(answer.body) && isObject(answer.body["response"]) ? answer.body["response"] : undefined
  if (answer.status !== 200 || response === undefined) return `HTTP ${answer.status}`
  if (isObject(response["result"])) return String(response["result"]["status"])
  if (response["allowed"] === true) return typeof response["patch"] === "string" ? "allowed, patched" : "allowed"
  const status = isObject(response["status"]) ? response["status"] : {}
  return `denied: ${String(status["message"] ?? "")}`
}

const eventOf = (e: PlannedEvent): Simulation.Event => ({ id: e.id, at: e.at, source: e.source, description: e.description })
