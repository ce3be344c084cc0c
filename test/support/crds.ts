/** Installs a hand-written CRD and waits until its kind is served (tests must not depend on Crd). */
import { Effect, Schedule } from "effect"
import * as Client from "../../src/Client.ts"
import * as Kind from "../../src/Kind.ts"

export const installCrd = (crd: unknown, kind: Kind.Any) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    yield* client.create(Kind.CustomResourceDefinition, crd as never).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
    // serving a new kind starts a moment after the CRD is created
    yield* client.list(kind, { namespace: "default", limit: 1 }).pipe(
      Effect.retry({ times: 100, schedule: Schedule.spaced("100 millis"), while: (e) => e._tag === "NotFound" })
    )
  }).pipe(Effect.orDie)

/** The namespaced kind {@link openCrd} serves at v1: open spec and status, the status subresource. */
export const openKind = (group: string, kind: string) =>
  Kind.custom({ group, version: "v1", kind, namespaced: true, spec: Kind.Open({}), status: Kind.Open({}), subresources: { status: true } })

/** A namespaced CRD whose spec and status keep any field. */
export const openCrd = (group: string, kind: string, plural: string) => ({
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: "Namespaced",
    names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            status: { type: "object", "x-kubernetes-preserve-unknown-fields": true }
          }
        }
      }
    }]
  }
})
