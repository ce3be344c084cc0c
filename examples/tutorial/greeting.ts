import { Effect, Schema } from "effect"
import { Controller, CrdDefinition, Framework, Kind, Owned, Status, Watch } from "operatorkit"

// 1. The custom resource: one Schema types it, decodes it, and becomes its CRD.
export const Greeting = Kind.custom({
  group: "tutorial.example.com",
  version: "v1",
  kind: "Greeting",
  namespaced: true,
  spec: Schema.Struct({
    name: Schema.String,
    language: Schema.Literals(["en", "fr"]).pipe(CrdDefinition.withDefault("en"))
  }),
  status: Schema.Struct({
    conditions: Schema.optionalKey(Schema.Array(Kind.ConditionSchema))
  }),
  subresources: { status: true }
})
export type Greeting = Kind.Type<typeof Greeting>

export const GreetingCrd = CrdDefinition.makeUnsafe(Greeting)

// 2. What the operator keeps for each Greeting: a ConfigMap it owns, then a Ready condition.
const message = (greeting: Greeting) =>
  `${greeting.spec.language === "fr" ? "Bonjour" : "Hello"}, ${greeting.spec.name}!`

const configMap = Owned.configMap(Greeting, "configmap", (greeting) => ({
  metadata: { name: `${greeting.metadata.name}-greeting`, namespace: greeting.metadata.namespace! },
  data: { message: message(greeting) }
}))

const ready = Framework.make<Greeting>()({
  name: "status",
  ensureCreated: (greeting) =>
    Status.setConditions(Greeting, greeting, [{ type: "Ready", status: "True", reason: "Greeted" }]),
  ensureDeleted: () => Effect.void // the ConfigMap is deleted by the resource above
})

// 3. The controller: runs the resources in order for every Greeting, with a finalizer,
//    retries with backoff, and a watch on the ConfigMaps it owns (someone deletes one: it is back).
export const GreetingController = Controller.layer({
  name: "greeting-operator",
  kind: Greeting,
  resources: [configMap, ready],
  watches: [Watch.owns(Kind.ConfigMap)]
})
