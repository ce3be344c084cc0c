/**
 * The certificate authority every replica of a webhook server shares: kept in a Secret, created by
 * whichever replica comes first (the others read it), and rotated without a TLS failure.
 *
 * The Secret holds the signing CA (`ca.crt`, `ca.key`), during a rotation the CA that replaces it
 * (`next.crt`, `next.key`), and in `state.json` a generation (moved by every change), when the
 * trust bundle last changed, and the CAs retired but still trusted. The bundle the webhook
 * configurations carry is every one of them: retired, signing, next.
 *
 * A rotation, each step taken by whichever replica sees it due (writes carry the Secret's
 * resourceVersion, so two replicas never both take a step; the loser reads again):
 * 1. `next` is made and joins the bundle; replicas put the new bundle into the configurations.
 * 2. Once every configuration holds `next` and the propagation delay passed since the bundle
 *    changed, `next` signs: replicas issue their serving certificates from it (the old CA stays
 *    in the bundle as retired, so certificates it signed are still trusted meanwhile).
 * 3. A retired CA leaves the bundle when every serving certificate it signed has expired.
 * A CA starts its rotation at two thirds of its lifetime (or when asked).
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ClientService } from "../../Client.ts"
import * as Kind from "../../Kind.ts"
import type * as KubeError from "../../KubeError.ts"
import { retryOnConflict } from "../retryOnConflict.ts"
import * as Certificates from "./certificates.ts"

export interface Settings {
  readonly namespace: string
  readonly name: string
  /** The CAs' common name (a suffix tells them apart). */
  readonly commonName: string
  readonly caValidityMillis: number
  readonly servingValidityMillis: number
  /** How long after the bundle changed a new CA may start signing. */
  readonly propagationMillis: number
  /** How long a retired CA stays trusted after the last certificate it signed can have expired. */
  readonly graceMillis: number
  readonly labels: Readonly<Record<string, string>> | undefined
}

export interface Retired {
  readonly cert: string
  readonly until: number
}

export interface State {
  readonly resourceVersion: string | undefined
  readonly generation: number
  readonly ca: Certificates.KeyPair
  readonly next: Certificates.KeyPair | undefined
  readonly retired: ReadonlyArray<Retired>
  readonly bundleSince: number
}

/** Every CA the configurations trust, oldest first. */
export const bundleOf = (state: State): string =>
  [...state.retired.map((r) => r.cert), state.ca.cert, ...(state.next !== undefined ? [state.next.cert] : [])].join("")

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64")
const unb64 = (text: unknown) => (typeof text === "string" ? Buffer.from(text, "base64").toString("utf8") : undefined)

export class AuthorityError extends Error {
  readonly _tag = "AuthorityError"
}

const parse = (secret: Kind.Type<typeof Kind.Secret>): State | string => {
  const data = secret.data ?? {}
  const caCert = unb64(data["ca.crt"])
  const caKey = unb64(data["ca.key"])
  if (caCert === undefined || caKey === undefined) return "it has no ca.crt and ca.key"
  const nextCert = unb64(data["next.crt"])
  const nextKey = unb64(data["next.key"])
  let meta: { generation?: unknown; bundleSince?: unknown; retired?: unknown } = {}
  try {
    meta = JSON.parse(unb64(data["state.json"]) ?? "{}")
  } catch {
    return "its state.json is not JSON"
  }
  const retired = Array.isArray(meta.retired)
    ? meta.retired.filter((r): r is Retired => typeof r?.cert === "string" && typeof r?.until === "number")
    : []
  return {
    resourceVersion: secret.metadata.resourceVersion,
    generation: typeof meta.generation === "number" ? meta.generation : 1,
    ca: { cert: caCert, key: caKey },
    next: nextCert !== undefined && nextKey !== undefined ? { cert: nextCert, key: nextKey } : undefined,
    retired,
    bundleSince: typeof meta.bundleSince === "number" ? meta.bundleSince : 0
  }
}

const toSecret = (settings: Settings, state: State): Kind.Type<typeof Kind.Secret> => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: settings.name,
    namespace: settings.namespace,
    ...(state.resourceVersion !== undefined ? { resourceVersion: state.resourceVersion } : {}),
    ...(settings.labels !== undefined ? { labels: { ...settings.labels } } : {})
  },
  type: "Opaque",
  data: {
    "ca.crt": b64(state.ca.cert),
    "ca.key": b64(state.ca.key),
    ...(state.next !== undefined ? { "next.crt": b64(state.next.cert), "next.key": b64(state.next.key) } : {}),
    "state.json": b64(JSON.stringify({ generation: state.generation, bundleSince: state.bundleSince, retired: state.retired }))
  }
})

const newCa = (settings: Settings, now: number) =>
  Certificates.makeCa({
    commonName: `${settings.commonName}-ca-${now}`,
    // a minute back: clocks of the API server and of this machine may differ a little
    notBefore: now - 60_000,
    notAfter: now + settings.caValidityMillis
  })

export interface Inputs {
  readonly now: number
  /** Start a rotation now, whatever the CA's age. */
  readonly rotate: boolean
  /** Whether every configuration carries this bundle (checked before a new CA signs). */
  readonly propagated: (bundle: string) => Effect.Effect<boolean, KubeError.KubeError>
}

/** The next state, or undefined when nothing is due. */
const plan = (settings: Settings, state: State, inputs: Inputs) =>
  Effect.gen(function*() {
    const { now } = inputs
    let next: State = state
    let changed = false
    const kept = state.retired.filter((r) => r.until > now)
    if (kept.length !== state.retired.length) {
      next = { ...next, retired: kept }
      changed = true
    }
    const ca = Certificates.info(state.ca.cert)
    if (ca.notAfter <= now) {
      // the CA expired (the operator was away longer than its lifetime): there is nothing to keep
      const fresh = yield* newCa(settings, now)
      return { ...next, ca: fresh, next: undefined, retired: [], bundleSince: now, generation: state.generation + 1 }
    }
    if (next.next !== undefined && now >= next.bundleSince + settings.propagationMillis && (yield* inputs.propagated(bundleOf(next)))) {
      next = {
        ...next,
        ca: next.next,
        next: undefined,
        retired: [...next.retired, { cert: next.ca.cert, until: now + settings.servingValidityMillis + settings.graceMillis }]
      }
      changed = true
    } else if (next.next === undefined && (inputs.rotate || now >= ca.notBefore + (ca.notAfter - ca.notBefore) * 2 / 3)) {
      next = { ...next, next: yield* newCa(settings, now), bundleSince: now }
      changed = true
    }
    return changed ? { ...next, generation: state.generation + 1 } : undefined
  })

/** A write that lost a race to another replica's: read again and plan again. */
const lostRace = (e: unknown) =>
  typeof e === "object" && e !== null && "_tag" in e && (e._tag === "Conflict" || e._tag === "AlreadyExists")

/**
 * Reads the Secret (creating it when missing) and takes the steps that are due; the state as it
 * then is. A write another replica's write beat (a create meeting AlreadyExists, a replace meeting
 * Conflict) is read back and planned again, up to retryOnConflict's attempts.
 */
export const sync = (client: ClientService, settings: Settings, inputs: Inputs) =>
  retryOnConflict(() =>
    Effect.gen(function*() {
      const ref = { namespace: settings.namespace, name: settings.name }
      const secret = yield* client.get(Kind.Secret, ref).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeedNone)
      )
      if (Option.isNone(secret)) {
        const ca = yield* newCa(settings, inputs.now)
        const state: State = { resourceVersion: undefined, generation: 1, ca, next: undefined, retired: [], bundleSince: inputs.now }
        // another replica first: AlreadyExists, and the next attempt reads its CA
        const created = yield* client.create(Kind.Secret, toSecret(settings, state))
        return { ...state, resourceVersion: created.metadata.resourceVersion }
      }
      const state = parse(secret.value)
      if (typeof state === "string") {
        return yield* Effect.fail(new AuthorityError(`the Secret ${settings.namespace}/${settings.name} does not hold a webhook CA: ${state}`))
      }
      const planned = yield* plan(settings, state, inputs)
      if (planned === undefined) return state
      const written = yield* client.replace(Kind.Secret, toSecret(settings, planned))
      return { ...planned, resourceVersion: written.metadata.resourceVersion }
    }), { isConflict: lostRace })
