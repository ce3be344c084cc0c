import type { Effect, Scope } from "effect"
import { Context } from "effect"
import { describe, expect, it } from "tstyche"
import type { Client } from "operatorkit"
import { Controller, Framework, Kind } from "operatorkit"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>
class Database extends Context.Service<Database, { readonly query: Effect.Effect<number> }>()("test/Database") {}
class Mailer extends Context.Service<Mailer, { readonly send: Effect.Effect<void> }>()("test/Mailer") {}
class DbError {
  readonly _tag = "DbError"
}

declare const usesDb: Framework.Resource<ConfigMap, DbError, Database>
declare const forRoleBindings: Framework.Resource<Kind.Type<typeof Kind.RoleBinding>>
declare const usesMailer: Framework.Resource<ConfigMap, never, Mailer | Framework.Reconciliation>

describe("Framework", () => {
  it("a resource's error and requirement channels come from its operations", () => {
    const r = Framework.make<ConfigMap>()({
      name: "r",
      ensureCreated: () => Database.use((db) => db.query),
      ensureDeleted: () => Framework.cancelResource
    })
    expect(r).type.toBe<Framework.Resource<ConfigMap, never, Database | Framework.Reconciliation>>()
  })
  it("combinators keep the channels and add their own errors", () => {
    expect(Framework.retry(usesDb)).type.toBe<Framework.Resource<ConfigMap, DbError, Database>>()
    expect(usesDb.pipe(Framework.timeout("1 second"))).type.toBe<
      Framework.Resource<ConfigMap, DbError | Framework.ResourceTimeout, Database>
    >()
  })
  it("a controller's requirements are the union of its resources' requirements (the Reconciliation it provides itself)", () => {
    expect(Controller.make({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: [usesDb, usesMailer] })).type.toBe<
      Effect.Effect<Controller.Controller<ConfigMap>, never, Client.Client | Scope.Scope | Database | Mailer>
    >()
    expect(Controller.run({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: [usesDb] })).type.toBe<
      Effect.Effect<never, never, Client.Client | Database>
    >()
  })
  it("resources must fit the controller's kind", () => {
    expect(Controller.make).type.not.toBeCallableWith({ name: "c", kind: Kind.ConfigMap, finalizerPrefix: "example.com", resources: [forRoleBindings] })
  })
})

describe("Framework.sequence", () => {
  it("keeps the object type and unites the channels", () => {
    expect(Framework.sequence("both", [usesDb, usesMailer])).type.toBe<
      Framework.Resource<ConfigMap, DbError, Database | Mailer | Framework.Reconciliation>
    >()
  })
})
