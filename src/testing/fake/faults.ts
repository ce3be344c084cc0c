/**
 * The network between the in-memory server and its clients, for simulations: each client (a
 * replica of the operator, or the user) gets its own `Transport`, through which its requests and
 * watch events take seeded latencies (scheduler.ts) and meet the faults of the moment:
 *
 * - windows of faults on one endpoint or all: write conflicts (another writer's change lands
 *   first), 429 with Retry-After, 500 (to writes, half of the time after they were applied), and
 *   slow calls (past the call's deadline: a timeout);
 * - a watch dropped (connection reset) or ended cleanly;
 * - an API server restart: every watch cut, connections refused for a while, the watch cache
 *   starting at the current revision (older resourceVersions answer 410);
 * - a killed endpoint (a crashed replica): its watches cut, and nothing it sends reaches the
 *   server any more.
 *
 * A request that was sent reaches the server whether or not its caller still waits for the
 * answer (the caller's interruption does not recall it), as on a real network.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { resourceKey } from "./kinds.ts"
import { parsePath, type Verb, verbOf } from "./request.ts"
import * as S from "./status.ts"
import type { Fake } from "./transport.ts"
import { type ApiRequest, type ApiResponse, HttpStatus, type RequestFailure, type Transport } from "../../internal/http/transport.ts"
import { RequestTimeout, TransportError } from "../../KubeError.ts"
import type { Draw } from "../simulation/draw.ts"
import type { Latencies } from "./scheduler.ts"

/** The annotation another writer changes to make a write conflict. */
export const TOUCHED = "simulation.operatorkit.dev/touched"

export type WindowFault = "conflict" | "throttle" | "error" | "slow"

/** A fault that lasts a while. */
export interface Window {
  readonly fault: WindowFault
  /** The endpoint it affects, or every endpoint that takes faults. */
  readonly endpoint: string | undefined
  /** Only requests on this resource (`group/plural`). */
  readonly resource?: string | undefined
  /** Share of the matching requests it affects, in (0, 1]. */
  readonly rate: number
  /** Clock millis at which it ends. */
  readonly until: number
  /**
   * conflict: how many writes it makes conflict at most (another writer's changes are events the
   * operator reacts to: without a bound, a conflict window would feed itself); throttle:
   * Retry-After seconds; slow: the longest extra delay each way, in millis.
   */
  severity: number
}

export interface Endpoint {
  readonly name: string
  readonly transport: Transport
  /** Whether it was killed. */
  readonly dead: () => boolean
  /** Kills it: its watches are cut and nothing it sends reaches the server any more. How many watches it had. */
  readonly kill: () => number
}

export interface NetworkHooks {
  /** Clock millis now. */
  readonly now: () => number
  /** Told of every request an endpoint sends; false holds the request forever (the run is over). */
  readonly sent: (endpoint: string, verb: Verb) => boolean
  readonly trace: (who: string, what: string) => void
}

interface OpenWatch {
  readonly endpoint: string
  readonly path: string
  readonly close: (clean: boolean) => void
}

interface Verdict {
  throttle: number | undefined
  error: "before" | "after" | undefined
  conflict: boolean
  slowRequest: number
  slowAnswer: number
}

const WRITES: ReadonlySet<Verb> = new Set(["create", "update", "patch", "delete", "deletecollection"])

const shortPath = (path: string) => (path.length > 160 ? `${path.slice(0, 157)}...` : path)

const answerOf = (code: number, message: string, retryAfter?: number): ApiResponse => {
  const answer = S.failure(code, S.reasonOf(code), message, retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {})
  return { status: answer.status, body: answer.body, retryAfter }
}

export class Network {
  private readonly fake: Fake
  private readonly draw: Draw
  private readonly latencies: Latencies
  private readonly hooks: NetworkHooks
  private readonly scope: Scope.Scope
  private windows: Array<Window> = []
  private readonly watches = new Set<OpenWatch>()
  private down = false
  /** Moves at each restart: an answer from before it never arrives. */
  private epoch = 0
  private touches = 0

  constructor(fake: Fake, draw: Draw, latencies: Latencies, hooks: NetworkHooks, scope: Scope.Scope) {
    this.fake = fake
    this.draw = draw
    this.latencies = latencies
    this.hooks = hooks
    this.scope = scope
  }

  /** Opens a window of faults. */
  open(window: Window): void {
    this.windows.push(window)
  }

  /** Ends every window of faults. */
  heal(): void {
    this.windows = []
  }

  get isDown(): boolean {
    return this.down
  }

  /** Drops (or cleanly ends) one open watch of an endpoint, chosen by `which`; what it was, or nothing. */
  dropWatch(endpoint: string, which: number, clean: boolean): string | undefined {
    const candidates = [...this.watches].filter((w) => w.endpoint === endpoint)
    if (candidates.length === 0) return undefined
    const watch = candidates[which % candidates.length]!
    watch.close(clean)
    return watch.path
  }

  /**
   * Restarts the API server: every watch is cut, connections are refused for `downMillis`, and
   * the watch cache starts again at the current revision.
   */
  restart(downMillis: number): Effect.Effect<number> {
    return Effect.suspend(() => {
      this.down = true
      this.epoch++
      const cut = [...this.watches]
      for (const w of cut) w.close(false)
      this.fake.store.compact()
      return Effect.as(
        Effect.forkIn(Effect.andThen(Effect.sleep(Duration.millis(downMillis)), Effect.sync(() => void (this.down = false))), this.scope),
        cut.length
      )
    })
  }

  /** A client of the server; `faults: false` for one that meets no window of faults (the user). */
  endpoint(name: string, options: { readonly faults: boolean }): Endpoint {
    let dead = false
    const network = this
    const refused = (req: ApiRequest) =>
      new TransportError({ request: req.info, code: "ECONNREFUSED", detail: `connect ECONNREFUSED (simulated: ${dead ? "this replica crashed" : "the API server is down"})` })
    const reset = (req: ApiRequest, why: string) => new TransportError({ request: req.info, code: "ECONNRESET", detail: `read ECONNRESET (simulated: ${why})` })

    const request = (req: ApiRequest): Effect.Effect<ApiResponse, RequestFailure> =>
      Effect.suspend(() => {
        if (dead) return Effect.fail(refused(req))
        const target = parsePath(req.path)
        const verb = verbOf(req.method, target)
        if (!network.hooks.sent(name, verb)) return Effect.never
        const resource = target !== undefined ? resourceKey(target.group, target.plural) : undefined
        const verdict = options.faults ? network.verdict(name, verb, resource) : undefined
        const toServer = network.latencies.request() + (verdict?.slowRequest ?? 0)
        const back = network.latencies.answer() + (verdict?.slowAnswer ?? 0)
        const tags = verdict === undefined ? "" : network.tags(verdict)
        const deliver = Effect.suspend((): Effect.Effect<{ readonly exit: Exit.Exit<ApiResponse, RequestFailure>; readonly epoch: number }> => {
          const epoch = network.epoch
          const done = (exit: Exit.Exit<ApiResponse, RequestFailure>, what: string) => {
            network.hooks.trace(name, `${req.method} ${shortPath(req.path)} → ${what}${tags}`)
            return { exit, epoch }
          }
          if (dead) return Effect.succeed(done(Exit.fail(refused(req)), "refused (crashed)"))
          if (network.down) return Effect.succeed(done(Exit.fail(refused(req)), "refused (API server down)"))
          if (verdict?.throttle !== undefined) {
            return Effect.succeed(done(Exit.succeed(answerOf(429, "simulated: too many requests, please try again later", verdict.throttle)), "429"))
          }
          if (verdict?.error === "before") return Effect.succeed(done(Exit.succeed(answerOf(500, "simulated: internal error")), "500"))
          const touch = verdict?.conflict === true ? network.touch(req.path) : Effect.void
          return Effect.andThen(
            touch,
            Effect.map(Effect.exit(network.fake.transport.request(req)), (exit) => {
              if (verdict?.error === "after" && Exit.isSuccess(exit)) {
                return done(Exit.succeed(answerOf(500, "simulated: internal error after the write was applied")), `500 (applied: ${exit.value.status})`)
              }
              return done(exit, Exit.isSuccess(exit) ? String(exit.value.status) : `failed (${exit.cause})`)
            })
          )
        })
        const answer = (delivered: { readonly exit: Exit.Exit<ApiResponse, RequestFailure>; readonly epoch: number }) => {
          const read = Effect.suspend(() =>
            delivered.epoch !== network.epoch && Exit.isSuccess(delivered.exit)
              ? Effect.fail(reset(req, "the API server restarted before answering"))
              : delivered.exit
          )
          return back > 0 ? Effect.andThen(Effect.sleep(Duration.millis(back)), read) : read
        }
        const call = toServer === 0
          ? Effect.flatMap(deliver, answer)
          : Effect.gen(function*() {
            // sent: it reaches the server whether or not the caller still waits
            const result = Deferred.makeUnsafe<{ readonly exit: Exit.Exit<ApiResponse, RequestFailure>; readonly epoch: number }>()
            yield* Effect.forkIn(
              Effect.andThen(Effect.sleep(Duration.millis(toServer)), Effect.flatMap(deliver, (d) => Deferred.succeed(result, d))),
              network.scope
            )
            return yield* answer(yield* Deferred.await(result))
          })
        if (toServer + back < req.timeoutMs) return call
        return Effect.timeoutOrElse(call, {
          duration: Duration.millis(req.timeoutMs),
          orElse: () => Effect.fail(new RequestTimeout({ request: req.info, timeoutMillis: req.timeoutMs }))
        })
      })

    const watch = (req: ApiRequest): Stream.Stream<unknown, RequestFailure | HttpStatus> =>
      Stream.callback<unknown, RequestFailure | HttpStatus>((queue) =>
        Effect.gen(function*() {
          if (dead) return yield* Effect.fail(refused(req))
          const target = parsePath(req.path)
          if (!network.hooks.sent(name, "watch")) return yield* Effect.never
          const resource = target !== undefined ? resourceKey(target.group, target.plural) : undefined
          const verdict = options.faults ? network.verdict(name, "watch", resource) : undefined
          const delay = network.latencies.request() + (verdict?.slowRequest ?? 0)
          if (delay > 0) yield* Effect.sleep(Duration.millis(delay))
          if (dead || network.down) {
            network.hooks.trace(name, `WATCH ${shortPath(req.path)} → refused`)
            return yield* Effect.fail(refused(req))
          }
          if (verdict?.throttle !== undefined) {
            network.hooks.trace(name, `WATCH ${shortPath(req.path)} → 429`)
            return yield* new HttpStatus({ response: answerOf(429, "simulated: too many requests, please try again later", verdict.throttle) })
          }
          if (verdict?.error !== undefined) {
            network.hooks.trace(name, `WATCH ${shortPath(req.path)} → 500`)
            return yield* new HttpStatus({ response: answerOf(500, "simulated: internal error") })
          }
          network.hooks.trace(name, `WATCH ${shortPath(req.path)} → open`)
          const open: OpenWatch = {
            endpoint: name,
            path: shortPath(req.path.split("?")[0]!),
            close: (clean) => {
              network.watches.delete(open)
              if (clean) Queue.endUnsafe(queue)
              else Queue.failCauseUnsafe(queue, Cause.fail(reset(req, "the watch connection was dropped")))
            }
          }
          network.watches.add(open)
          yield* Effect.addFinalizer(() => Effect.sync(() => network.watches.delete(open)))
          yield* network.fake.transport.watch(req).pipe(
            Stream.runForEachArray((events) => {
              const late = network.latencies.event()
              const offer = Effect.sync(() => {
                if (network.watches.has(open)) Queue.offerAllUnsafe(queue, events)
              })
              return late > 0 ? Effect.andThen(Effect.sleep(Duration.millis(late)), offer) : offer
            }),
            Effect.matchCause({
              onSuccess: () => Queue.endUnsafe(queue),
              onFailure: (cause) => Queue.failCauseUnsafe(queue, cause)
            }),
            Effect.forkScoped
          )
        })
      )

    return {
      name,
      transport: { request, watch },
      dead: () => dead,
      kill: () => {
        dead = true
        const mine = [...network.watches].filter((w) => w.endpoint === name)
        for (const w of mine) w.close(false)
        return mine.length
      }
    }
  }

  /** What the open windows do to a request (each affects it with its rate). */
  private verdict(endpoint: string, verb: Verb, resource: string | undefined): Verdict {
    const verdict: Verdict = { throttle: undefined, error: undefined, conflict: false, slowRequest: 0, slowAnswer: 0 }
    if (this.windows.length === 0) return verdict
    const now = this.hooks.now()
    this.windows = this.windows.filter((w) => w.until > now)
    for (const w of this.windows) {
      if (w.endpoint !== undefined && w.endpoint !== endpoint) continue
      if (w.resource !== undefined && w.resource !== resource) continue
      if (!this.draw.chance(w.rate)) continue
      switch (w.fault) {
        case "throttle":
          verdict.throttle = w.severity
          break
        case "error":
          verdict.error = WRITES.has(verb) && this.draw.chance(0.5) ? "after" : "before"
          break
        case "conflict":
          if ((verb === "update" || verb === "patch" || verb === "delete") && w.severity > 0) {
            w.severity--
            verdict.conflict = true
          }
          break
        case "slow":
          verdict.slowRequest += this.draw.int(0, w.severity)
          verdict.slowAnswer += this.draw.int(0, w.severity)
          break
      }
    }
    return verdict
  }

  private tags(verdict: Verdict): string {
    const tags = [
      ...(verdict.conflict ? ["conflict"] : []),
      ...(verdict.slowRequest + verdict.slowAnswer > 0 ? [`slow ${verdict.slowRequest}+${verdict.slowAnswer} ms`] : [])
    ]
    return tags.length === 0 ? "" : ` [${tags.join(", ")}]`
  }

  /** Another writer changes the object a request names, just before the request arrives. */
  private touch(path: string): Effect.Effect<void> {
    const target = parsePath(path)
    if (target === undefined || target.name === undefined) return Effect.void
    const objectPath = path.split("?")[0]!.replace(/\/status$/, "")
    const n = ++this.touches
    return Effect.asVoid(this.fake.handle({
      method: "PATCH",
      path: `${objectPath}?fieldManager=simulation`,
      body: { metadata: { annotations: { [TOUCHED]: String(n) } } },
      contentType: "application/merge-patch+json"
    }))
  }
}
