/**
 * Who may read `/metrics`: the caller's bearer token must pass a TokenReview (authentication.k8s.io/v1)
 * and the user it names a SubjectAccessReview (authorization.k8s.io/v1) for `get` on the
 * non-resource URL `/metrics`, as kube-rbac-proxy and controller-runtime's
 * `filters.WithAuthenticationAndAuthorization` check it. Answers are cached for a short while per
 * token, so a scrape every 15 seconds costs the API server two reviews a minute at most.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Client from "../../Client.ts"
import type * as KubeError from "../../KubeError.ts"

/** The outcome of a check: let in, or refused with the status to answer and why. */
export type Decision =
  | { readonly _tag: "Allowed"; readonly user: string }
  | { readonly _tag: "Refused"; readonly status: 401 | 403; readonly reason: string }

export interface Options {
  /** The non-resource URL and verb asked about (default `/metrics`, `get`). */
  readonly path?: string | undefined
  readonly verb?: string | undefined
  /** How long an answer is reused for the same token (default 60 s; a refusal 10 s). */
  readonly ttlMillis?: number | undefined
  /** Tokens remembered at most (default 1,000). */
  readonly maxEntries?: number | undefined
}

interface TokenReview {
  readonly status?: {
    readonly authenticated?: boolean
    readonly error?: string
    readonly user?: {
      readonly username?: string
      readonly uid?: string
      readonly groups?: ReadonlyArray<string>
      readonly extra?: Readonly<Record<string, ReadonlyArray<string>>>
    }
  }
}

interface SubjectAccessReview {
  readonly status?: { readonly allowed?: boolean; readonly denied?: boolean; readonly reason?: string; readonly evaluationError?: string }
}

/** The token of an `Authorization: Bearer <token>` header. */
export const bearerToken = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/**
 * A checker of tokens. A review the API server cannot answer (a network failure, a 5xx) refuses
 * the scrape with 401/403 and is not cached, so the next scrape asks again.
 */
export const make = (client: Client.ClientService, options: Options = {}) => {
  const path = options.path ?? "/metrics"
  const verb = options.verb ?? "get"
  const ttl = options.ttlMillis ?? 60_000
  const refusedTtl = Math.min(ttl, 10_000)
  const maxEntries = options.maxEntries ?? 1_000
  const cache = new Map<string, { readonly decision: Decision; readonly until: number }>()

  const review = (token: string): Effect.Effect<{ readonly decision: Decision; readonly cache: boolean }> =>
    Effect.gen(function*() {
      const tr = (yield* client.raw({
        method: "POST",
        path: "/apis/authentication.k8s.io/v1/tokenreviews",
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } }
      })) as TokenReview
      const user = tr.status?.user
      if (tr.status?.authenticated !== true || user?.username === undefined) {
        return { decision: { _tag: "Refused", status: 401, reason: `the token was not accepted${tr.status?.error !== undefined ? `: ${tr.status.error}` : ""}` }, cache: true } as const
      }
      const sar = (yield* client.raw({
        method: "POST",
        path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: user.username,
            ...(user.uid !== undefined ? { uid: user.uid } : {}),
            ...(user.groups !== undefined ? { groups: user.groups } : {}),
            ...(user.extra !== undefined ? { extra: user.extra } : {}),
            nonResourceAttributes: { path, verb }
          }
        }
      })) as SubjectAccessReview
      if (sar.status?.allowed === true) return { decision: { _tag: "Allowed", user: user.username }, cache: true } as const
      return {
        decision: {
          _tag: "Refused",
          status: 403,
          reason: `${user.username} may not ${verb} ${path}${sar.status?.reason !== undefined && sar.status.reason !== "" ? ` (${sar.status.reason})` : ""}`
        },
        cache: true
      } as const
    }).pipe(
      Effect.catch((e: KubeError.KubeError) =>
        Effect.succeed({
          decision: {
            _tag: "Refused",
            // the operator itself lacks the right to ask: say so, it is the operator's RBAC to fix
            status: e._tag === "Forbidden" ? 403 : 401,
            reason: e._tag === "Forbidden"
              ? `the operator may not review tokens (${e.message}): grant it create on tokenreviews and subjectaccessreviews`
              : `the API server could not review the token: ${e.message}`
          },
          cache: false
        } as const)
      )
    )

  return (authorization: string | undefined): Effect.Effect<Decision> =>
    Effect.gen(function*() {
      const token = bearerToken(authorization)
      if (token === undefined) return { _tag: "Refused", status: 401, reason: "no bearer token" } as const
      const now = yield* Clock.currentTimeMillis
      const cached = cache.get(token)
      if (cached !== undefined && cached.until > now) return cached.decision
      const { decision, cache: keep } = yield* review(token)
      if (keep) {
        cache.delete(token)
        cache.set(token, { decision, until: now + (decision._tag === "Allowed" ? ttl : refusedTtl) })
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value!)
      }
      return decision
    })
}
