/**
 * client-go's REST client metrics, under its names and label sets, so dashboards and alerts written
 * for controller-runtime operators find what they query, and the client-side rate limiter they
 * observe (client-go's `QPS` and `Burst`, the Client's `qps` and `burst`):
 *
 * - `rest_client_requests_total{code, method, host}`: every request, by HTTP status code (`<error>`
 *   when no answer came) and method (the one controller-runtime registers);
 * - `rest_client_request_duration_seconds{verb, host}`: the time to the answer, by method, the wait
 *   for the rate limiter included (not for watches, as in client-go: their requests are counted
 *   only);
 * - `rest_client_rate_limiter_duration_seconds{verb, host}`: the time each request waited for the
 *   client's rate limiter, zero waits included, observed only when the client has one, as in
 *   client-go (without `qps` the family has no series).
 *
 * As in client-go, every attempt of a request (a 429 retry too) waits for a token; watches do not.
 * `host` is the API server's `host:port`; the buckets are client-go's.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import * as Def from "../metrics.ts"
import { acquire, TokenBucket } from "../tokenBucket.ts"
import type { ApiRequest, Transport } from "./transport.ts"

/**
 * The series of one host, built once per label set (building a metric with attributes on every
 * update would key the series again each time).
 */
export const makeRecorder = (host: string) => {
  const counter = memo((key: string) => {
    const [code, method] = key.split(" ") as [string, string]
    return Def.counter(Def.restClientRequests, { code, method, host })
  })
  const duration = memo((verb: string) => Def.histogram(Def.restClientRequestDuration, { verb, host }))
  const wait = memo((verb: string) => Def.histogram(Def.restClientRateLimiterDuration, { verb, host }))
  return {
    throttled: (method: string, seconds: number) => Metric.update(wait(method), seconds),
    request: (method: string, code: string, seconds: number) =>
      Effect.andThen(Metric.update(counter(`${code} ${method}`), 1), Metric.update(duration(method), seconds)),
    counted: (method: string, code: string) => Metric.update(counter(`${code} ${method}`), 1)
  }
}

/** One value per key, made on first use. */
const memo = <A>(make: (key: string) => A) => {
  const made = new Map<string, A>()
  return (key: string): A => {
    let value = made.get(key)
    if (value === undefined) {
      value = make(key)
      made.set(key, value)
    }
    return value
  }
}

const codeOf = (status: number | undefined) => (status === undefined ? "<error>" : String(status))

/** A client-side rate limit: client-go's `QPS` and `Burst`. */
export interface RateLimit {
  readonly qps: number
  readonly burst: number
}

/** The rate limit of a Client's `qps` and `burst` options: none without a positive `qps`; burst 10 by default, as client-go's. */
export const rateLimitOf = (options: { readonly qps?: number | undefined; readonly burst?: number | undefined }): RateLimit | undefined =>
  options.qps !== undefined && options.qps > 0 ? { qps: options.qps, burst: Math.max(1, Math.floor(options.burst ?? 10)) } : undefined

/**
 * A transport that records every request (and watch start) in the REST client metrics; with a
 * rate limit, each request first waits for a token of one bucket, its wait observed.
 */
export const instrument = (transport: Transport, host: string, limit?: RateLimit): Transport => {
  const recorder = makeRecorder(host)
  const bucket = limit === undefined ? undefined : new TokenBucket(limit.qps, limit.burst)
  const throttled = (req: ApiRequest) =>
    bucket === undefined
      ? transport.request(req)
      : Effect.andThen(Effect.flatMap(acquire(bucket), (ms) => recorder.throttled(req.method, ms / 1000)), () => transport.request(req))
  const timed = <A, E, R>(req: ApiRequest, effect: Effect.Effect<A, E, R>, statusOf: (a: A) => number) =>
    Effect.clockWith((clock) => {
      const start = clock.currentTimeMillisUnsafe()
      const seconds = () => (clock.currentTimeMillisUnsafe() - start) / 1000
      return effect.pipe(
        Effect.tap((a) => recorder.request(req.method, codeOf(statusOf(a)), seconds())),
        Effect.tapError((e) => recorder.request(req.method, codeOf(statusOfError(e)), seconds()))
      )
    })
  return {
    request: (req) => timed(req, throttled(req), (res) => res.status),
    // Counted once, by the first pull: an event means the server answered 200, so does an end
    // before any; a refusal comes as an HttpStatus error. The later pulls are the transport's own
    // (a tap per event would cost an Effect step for each).
    watch: (req) =>
      Stream.transformPull(transport.watch(req), (pull) =>
        Effect.sync(() => {
          let counted = false
          const count = (status: number | undefined) => {
            counted = true
            return recorder.counted(req.method, codeOf(status))
          }
          const first = Effect.matchCauseEffect(pull, {
            onSuccess: (batch) => Effect.as(count(200), batch),
            onFailure: (cause) => {
              const failure = cause.reasons.find(Cause.isFailReason)
              // a defect or an interruption is no answer of the server's
              if (failure === undefined) return Effect.failCause(cause)
              return Effect.andThen(count(Cause.isDone(failure.error) ? 200 : statusOfError(failure.error)), Effect.failCause(cause))
            }
          })
          return Effect.suspend(() => (counted ? pull : first))
        }))
  }
}

const statusOfError = (e: unknown): number | undefined => {
  const response = (e as { readonly _tag?: string; readonly response?: { readonly status?: number } })
  return response._tag === "HttpStatus" ? response.response?.status : undefined
}
