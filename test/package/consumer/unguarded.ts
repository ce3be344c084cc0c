// A module that exports a CRD and starts a program as soon as it is imported (no import.meta.main
// guard): `operatorkit crd` must print the CRD without letting that program act.
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Effect } from "effect"
import { Envtest } from "operatorkit/testing"

export { GreetingCrd } from "./greeting.ts"

Effect.runFork(Effect.gen(function*() {
  yield* Effect.sleep("20 millis")
  Fs.writeFileSync("unguarded-main-ran.txt", "the program ran")
}))
Effect.runFork(Effect.scoped(Envtest.make()))
Net.connect(1, "127.0.0.1").on("error", () => {})
