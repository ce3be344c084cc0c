/**
 * What a failed reconcile looks like in the logs, rendered as Effect's default logger renders them
 * (the message, then the Cause pretty-printed): a typed failure shows its message and no stack
 * frames of the library; a defect in the program's own code shows the program's frames only. Every
 * frame is there at Debug level, when asked for.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import { Cause, Effect, Layer, Logger, References, Schema } from "effect"
import * as Client from "../../src/Client.ts"
import * as Controller from "../../src/Controller.ts"
import * as Framework from "../../src/Framework.ts"
import * as Kind from "../../src/Kind.ts"
import { eventually, withServer } from "../../src/testing/helpers.ts"

type ConfigMap = Kind.Type<typeof Kind.ConfigMap>

const src = Path.resolve(import.meta.dirname, "..", "..", "src")
const thisFile = import.meta.filename

// the lines Effect's default logger prints: the message parts, then the pretty Cause
const captured: Array<{ level: string; text: string }> = []
const capture = Logger.make((options) => {
  const parts = (Array.isArray(options.message) ? options.message : [options.message]).map(String)
  if (options.cause.reasons.length > 0) parts.push(Cause.pretty(options.cause))
  captured.push({ level: options.logLevel, text: parts.join(" ") })
})

const Gadget = Kind.custom({ group: "logs.operatorkit.test", version: "v1", kind: "Gadget", namespaced: true, spec: Schema.Struct({}) })

const reconcileFailing = (ensureCreated: (cm: ConfigMap) => Effect.Effect<void, unknown, Client.Client>) =>
  Effect.gen(function*() {
    captured.length = 0
    yield* Layer.build(Controller.layer({
      finalizerPrefix: "operatorkit.test",
      name: "logs",
      kind: Kind.ConfigMap,
      namespace: "default",
      resources: [Framework.make<ConfigMap>()({ name: "failing", ensureCreated, ensureDeleted: () => Effect.void })]
    }))
    const client = yield* Client.Client
    yield* client.create(Kind.ConfigMap, { metadata: { name: "a", namespace: "default" } })
    yield* eventually(Effect.sync(() => assert.isTrue(captured.some((l) => l.text.includes("reconcile of default/a failed")))))
    return captured.filter((l) => l.text.includes("reconcile of default/a failed"))
  }).pipe(Effect.scoped, withServer, Effect.provide(Logger.layer([capture])))

const frames = (text: string) => text.split("\n").filter((l) => /^\s+at /.test(l))

describe("log lines of a failed reconcile", () => {
  it.effect("a typed failure (a KubeError): its message, no stack frames of the library", () =>
    Effect.gen(function*() {
      const lines = yield* reconcileFailing(() => Effect.flatMap(Client.Client, (c) => c.get(Gadget, { namespace: "default", name: "g" })))
      const error = lines.find((l) => l.level === "Error")!
      assert.include(error.text, "the API server does not serve gadgets.logs.operatorkit.test")
      assert.deepStrictEqual(frames(error.text), [], error.text)
      assert.notInclude(error.text, src)
    }))

  it.effect("a defect in the program's own code: its message and the program's own frames, none of the library's", () =>
    Effect.gen(function*() {
      const lines = yield* reconcileFailing((cm) =>
        Effect.sync(() => {
          const data = cm.data as unknown as { missing: { field: string } }
          return data.missing.field // a bug in the program: cm.data is undefined
        })
      )
      const error = lines.find((l) => l.level === "Error")!
      assert.include(error.text, "TypeError")
      const shown = frames(error.text)
      assert.isAbove(shown.length, 0, error.text)
      assert.isTrue(shown.some((l) => l.includes(thisFile)), error.text)
      assert.deepStrictEqual(shown.filter((l) => l.includes(src) || l.includes("node_modules/effect")), [], error.text)
    }))

  it.effect("every frame when asked for: the whole Cause at Debug level", () =>
    Effect.gen(function*() {
      const lines = yield* reconcileFailing(() => Effect.flatMap(Client.Client, (c) => c.get(Gadget, { namespace: "default", name: "g" })))
        .pipe(Effect.provideService(References.MinimumLogLevel, "Debug"))
      const debug = lines.find((l) => l.level === "Debug")
      assert.isDefined(debug)
      assert.isTrue(frames(debug!.text).some((l) => l.includes(src)), debug!.text)
    }))
})
