/**
 * Kubernetes Events (core/v1): how an operator explains itself in `kubectl describe`.
 *
 * The `Recorder` writes an Event for an object, as client-go's event recorder and its
 * `EventCorrelator` do:
 * - Repeats of the same (object, type, reason, message) from the same source patch the existing
 *   Event's `count` and `lastTimestamp` instead of creating another one.
 * - When more than `maxSimilar` (10) different messages with the same (object, type, reason)
 *   arrive within `similarWindow` (10 minutes), further ones are combined into one Event whose
 *   message starts with "(combined from similar events): ".
 * - A token bucket per object (and source) limits the rate: a burst of 25, then one Event per
 *   5 minutes; events beyond it are dropped.
 * - Writing never fails or slows the caller: `record` only queues; a background fiber writes,
 *   retries a few times, and logs what it finally cannot write. An Event whose patch finds it
 *   gone (Events expire after an hour) is created again.
 *
 * A Controller with a `Recorder` in context records a Warning Event (reason `ReconcileError`) on
 * the object of every failed reconcile, with the controller's name as source component.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Client from "./Client.ts"
import { TokenBucket } from "./internal/tokenBucket.ts"
import * as Kind from "./Kind.ts"
import * as KubeError from "./KubeError.ts"
import * as Patch from "./Patch.ts"
import * as Rbac from "./Rbac.ts"
import { millis } from "./internal/options.ts"

/**
 * The two Event types Kubernetes knows.
 *
 * @since 0.1.0
 * @category models
 */
export type EventType = "Normal" | "Warning"

/**
 * What to record.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventInput {
  readonly type: EventType
  /** A short UpperCamelCase machine-readable reason, e.g. `ReconcileError`, `Created`. */
  readonly reason: string
  /** For people (truncated to 1024 characters). */
  readonly message: string
  /** The source component (default: the recorder's); a Controller passes its name. */
  readonly component?: string | undefined
}

/**
 * The recorder's counters.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Calls of `record`. */
  readonly recorded: number
  /** Events created. */
  readonly created: number
  /** Repeats written as a count/lastTimestamp patch of an existing Event. */
  readonly aggregated: number
  /** Dropped by the per-object rate limit or because the queue was full. */
  readonly dropped: number
  /** Given up on after retries (each logged). */
  readonly failed: number
}

/**
 * The Event recorder's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecorderService {
  /** Queues an Event about `object`; never fails, never waits for the API server. */
  readonly record: (object: Kind.KubeObject, event: EventInput) => Effect.Effect<void>
  readonly normal: (object: Kind.KubeObject, reason: string, message: string, options?: { readonly component?: string }) => Effect.Effect<void>
  readonly warning: (object: Kind.KubeObject, reason: string, message: string, options?: { readonly component?: string }) => Effect.Effect<void>
  /** Completes once everything recorded before it was written (or given up on). */
  readonly flush: Effect.Effect<void>
  readonly stats: Effect.Effect<Stats>
}

/**
 * The Event recorder.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Events, Kind } from "operatorkit"
 *
 * const announce = (cm: Kind.Type<typeof Kind.ConfigMap>) =>
 *   Effect.gen(function*() {
 *     const events = yield* Events.Recorder
 *     yield* events.normal(cm, "Synced", `configuration ${cm.metadata.name} applied`)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Recorder extends Context.Service<Recorder, RecorderService>()("operatorkit/Events/Recorder") {}

/**
 * Options of a recorder. The defaults are client-go's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `source.component` and `reportingComponent` (default `operatorkit`). */
  readonly component?: string | undefined
  /** `source.host` and `reportingInstance` (e.g. the pod or node name); default none. */
  readonly host?: string | undefined
  /** Events per object in a burst (default 25). */
  readonly burst?: number | undefined
  /** One more Event per object every period after the burst (default 5 minutes). */
  readonly refillEvery?: Duration.Input | undefined
  /** Different messages for one (object, type, reason) before they are combined (default 10). */
  readonly maxSimilar?: number | undefined
  readonly similarWindow?: Duration.Input | undefined
  /** Events remembered for aggregation, least recently used first out (default 4096). */
  readonly cacheSize?: number | undefined
  /** Events waiting to be written; more are dropped (default 1000). */
  readonly queueSize?: number | undefined
  /** Attempts per write (default 3), `retryDelay` apart (default 1 second). */
  readonly attempts?: number | undefined
  readonly retryDelay?: Duration.Input | undefined
}

interface Pending {
  readonly _tag: "Event"
  readonly object: Kind.KubeObject
  readonly input: EventInput
  readonly component: string
  readonly at: number
}

interface Flush {
  readonly _tag: "Flush"
  readonly done: Deferred.Deferred<void>
}

interface Written {
  name: string
  namespace: string
  count: number
  readonly firstTimestamp: string
}

/** A Map used as a least-recently-used cache. */
const touch = <K, V>(map: Map<K, V>, key: K, value: V, max: number) => {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value as K)
}

const time = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")
const combinedPrefix = "(combined from similar events): "
const maxMessage = 1024

/**
 * Starts a recorder; it writes until the scope closes, then flushes (up to 5 seconds).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Events, Kind } from "operatorkit"
 *
 * const program = Effect.gen(function*() {
 *   const events = yield* Events.make({ component: "tenant-operator" })
 *   const cm: Kind.Type<typeof Kind.ConfigMap> = { metadata: { name: "a", namespace: "default" } }
 *   yield* events.warning(cm, "Invalid", "spec.size must be positive")
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RecorderService, never, Client.Client | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const defaultComponent = options.component ?? "operatorkit"
    const host = options.host
    const burst = Math.max(1, options.burst ?? 25)
    const refillMs = Math.max(1, millis(options.refillEvery, "5 minutes"))
    const maxSimilar = Math.max(1, options.maxSimilar ?? 10)
    const similarMs = millis(options.similarWindow, "10 minutes")
    const cacheSize = Math.max(1, options.cacheSize ?? 4096)
    const attempts = Math.max(1, options.attempts ?? 3)
    const retryDelay = Duration.fromInputUnsafe(options.retryDelay ?? "1 second")

    const stats = { recorded: 0, created: 0, aggregated: 0, dropped: 0, failed: 0 }
    const buckets = new Map<string, TokenBucket>()
    const similar = new Map<string, { readonly since: number; readonly messages: Set<string> }>()
    const written = new Map<string, Written>()
    let sequence = 0

    const queue = yield* Queue.dropping<Pending | Flush>(Math.max(1, options.queueSize ?? 1000))
    let closed = false

    const objectKey = (object: Kind.KubeObject, component: string) =>
      [component, host ?? "", object.apiVersion ?? "", object.kind ?? "", object.metadata.namespace ?? "", object.metadata.name, object.metadata.uid ?? ""].join("\u0000")

    /** client-go's spam filter: a token bucket per source and object. */
    const allowed = (key: string, at: number) => {
      const bucket = buckets.get(key) ?? new TokenBucket(1000 / refillMs, burst)
      const ok = bucket.tryTake(at)
      touch(buckets, key, bucket, cacheSize)
      return ok
    }

    const record = (object: Kind.KubeObject, input: EventInput): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Effect.suspend(() => {
          stats.recorded++
          const component = input.component ?? defaultComponent
          if (closed || !allowed(objectKey(object, component), at)) {
            stats.dropped++
            return Effect.logDebug(`event recorder: dropped ${input.type} ${input.reason} for ${describe(object)} (rate limit)`)
          }
          return Effect.flatMap(Queue.offer(queue, { _tag: "Event", object, input, component, at }), (queued) =>
            queued ? Effect.void : Effect.sync(() => void stats.dropped++))
        }))

    const eventOf = (item: Pending, message: string): Kind.Type<typeof Kind.Event> => {
      const { object } = item
      const meta = object.metadata
      const stamp = time(item.at)
      return {
        apiVersion: "v1",
        kind: "Event",
        metadata: {
          // client-go's naming: the object's name and a hex timestamp (plus a sequence, so that
          // two Events in the same nanosecond never collide)
          name: `${meta.name}.${(BigInt(item.at) * 1_000_000n + BigInt(sequence++ % 1_000_000)).toString(16)}`,
          namespace: meta.namespace ?? "default"
        },
        involvedObject: {
          ...(object.apiVersion !== undefined ? { apiVersion: object.apiVersion } : {}),
          ...(object.kind !== undefined ? { kind: object.kind } : {}),
          name: meta.name,
          ...(meta.namespace !== undefined ? { namespace: meta.namespace } : {}),
          ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
          ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {})
        },
        type: item.input.type,
        reason: item.input.reason,
        message,
        count: 1,
        firstTimestamp: stamp,
        lastTimestamp: stamp,
        source: { component: item.component, ...(host !== undefined ? { host } : {}) },
        reportingComponent: item.component,
        ...(host !== undefined ? { reportingInstance: host } : {})
      }
    }

    // transient failures only: a 4xx answer will not change on retry
    const retried = <A>(effect: Effect.Effect<A, KubeError.KubeError>) =>
      Effect.retry(effect, { times: attempts - 1, schedule: Schedule.spaced(retryDelay), while: KubeError.isRetryable })

    const create = (item: Pending, message: string, key: string) =>
      Effect.gen(function*() {
        const event = eventOf(item, message)
        const created = yield* retried(client.create(Kind.Event, event))
        stats.created++
        touch(written, key, {
          name: created.metadata.name,
          namespace: created.metadata.namespace ?? event.metadata.namespace!,
          count: 1,
          firstTimestamp: event.firstTimestamp!
        }, cacheSize)
      })

    const write = (item: Pending) =>
      Effect.gen(function*() {
        const { input, object } = item
        let message = input.message.length > maxMessage ? `${input.message.slice(0, maxMessage - 1)}…` : input.message
        // client-go's aggregator: many different messages for one (object, type, reason) combine
        const base = [objectKey(object, item.component), input.type, input.reason].join("\u0000")
        const seen = similar.get(base)
        const group = seen === undefined || item.at - seen.since > similarMs ? { since: item.at, messages: new Set<string>() } : seen
        touch(similar, base, group, cacheSize)
        let key: string
        if (group.messages.has(message) || group.messages.size < maxSimilar) {
          group.messages.add(message)
          key = `${base}\u0000${message}`
        } else {
          message = `${combinedPrefix}${message}`.slice(0, maxMessage)
          key = `${base}\u0000${combinedPrefix}`
        }
        const previous = written.get(key)
        if (previous === undefined) return yield* create(item, message, key)
        const count = previous.count + 1
        const patched = yield* retried(
          client.patch(Kind.Event, { name: previous.name, namespace: previous.namespace }, Patch.merge({ count, lastTimestamp: time(item.at), message }))
        ).pipe(
          Effect.map(() => true),
          // the Event expired (or was deleted): start a new one
          Effect.catchTag("NotFound", () => Effect.succeed(false))
        )
        if (!patched) {
          written.delete(key)
          return yield* create(item, message, key)
        }
        stats.aggregated++
        previous.count = count
        touch(written, key, previous, cacheSize)
      }).pipe(
        Effect.catch((error) =>
          Effect.suspend(() => {
            stats.failed++
            return Effect.logWarning(
              `event recorder: could not write ${item.input.type} Event ${item.input.reason} for ${describe(item.object)}: ${error.message}`
            )
          })
        )
      )

    const worker = Effect.forever(
      Effect.flatMap(Queue.take(queue), (item) => item._tag === "Flush" ? Deferred.succeed(item.done, undefined) : write(item))
    )
    const fiber = yield* Effect.forkDetach(worker)

    const flush: Effect.Effect<void> = Effect.suspend((): Effect.Effect<void> => {
      if (closed) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (done) =>
        Effect.flatMap(Queue.offer(queue, { _tag: "Flush", done }), (queued) =>
          // a full queue: wait for the writer to take what is there, then try again
          queued ? Deferred.await(done) : Effect.andThen(Effect.sleep("10 millis"), flush)))
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* flush.pipe(Effect.timeoutOption("5 seconds"))
        closed = true
        yield* Fiber.interrupt(fiber)
        yield* Queue.shutdown(queue)
      })
    )

    return {
      record,
      normal: (object, reason, message, o) => record(object, { type: "Normal", reason, message, component: o?.component }),
      warning: (object, reason, message, o) => record(object, { type: "Warning", reason, message, component: o?.component }),
      flush,
      stats: Effect.sync(() => ({ ...stats }))
    } satisfies RecorderService
  })

const describe = (object: Kind.KubeObject) =>
  `${object.kind ?? "object"} ${object.metadata.namespace !== undefined ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`

/**
 * The Event recorder as a Layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Client, Events, KubeConfig } from "operatorkit"
 *
 * const EventsLive = Events.layer({ component: "tenant-operator" }).pipe(
 *   Layer.provide(Client.layer()),
 *   Layer.provide(KubeConfig.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Recorder, never, Client.Client> => Layer.effect(Recorder, make(options))

/**
 * Records an Event when a recorder is in context, and does nothing otherwise (handy in resources
 * that should work with and without one).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Events, Kind } from "operatorkit"
 *
 * const created = (cm: Kind.Type<typeof Kind.ConfigMap>) =>
 *   Events.recordIfPresent(cm, { type: "Normal", reason: "Created", message: "child created" })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const recordIfPresent = (object: Kind.KubeObject, event: EventInput): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Recorder), (recorder) => Option.isSome(recorder) ? recorder.value.record(object, event) : Effect.void)

/**
 * What a recorder calls to write Events about objects of these kinds: `create` (a new Event) and
 * `patch` (a repeat's count) on `events`, in each object's namespace; Events about cluster-scoped
 * objects go to the namespace `default`. A Controller with a Recorder in context records Warning
 * Events about its objects (`Controller.permissions` declares those).
 *
 * @example
 * ```ts
 * import { Events, Kind } from "operatorkit"
 *
 * // Events about Namespaces (cluster-scoped) are written in "default"
 * Events.permissions({ about: [Kind.Namespace] })[0]!.namespace // => "default"
 * Events.permissions({ about: [Kind.ConfigMap], namespace: "team-a" })[0]!.namespace // => "team-a"
 * ```
 *
 * @since 0.1.0
 * @category permissions
 */
export const permissions = (options: {
  /** The kinds of the objects Events are recorded about. */
  readonly about: ReadonlyArray<Kind.Any>
  /** The namespace of those objects, when they all live in one (default: any). */
  readonly namespace?: string | Rbac.OperatorNamespace | undefined
  readonly reason?: string | undefined
}): ReadonlyArray<Rbac.ResourcePermission> => {
  const where = new Map<string, string | Rbac.OperatorNamespace | undefined>()
  for (const kind of options.about) {
    const namespace = kind.namespaced ? options.namespace : "default"
    where.set(typeof namespace === "string" ? namespace : namespace === undefined ? "*" : "<operator>", namespace)
  }
  const kinds = options.about.map((k) => k.kind).filter((k, i, all) => all.indexOf(k) === i).join(", ")
  return Array.from(where.values(), (namespace) =>
    Rbac.allow(Kind.Event, ["create", "patch"], {
      namespace,
      reason: options.reason ?? `Events about ${kinds}: created, and patched when they repeat`
    }))
}
