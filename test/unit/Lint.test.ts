/**
 * scripts/lint.ts's import directions (ARCHITECTURE.md's "Which way imports point"), on small trees
 * written for each rule: one that keeps it, one that breaks it.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { lint } from "../../scripts/lint.ts"

const architecture = (order: ReadonlyArray<string>) =>
  ["# Architecture", "", "<!-- import order, read by scripts/lint.ts -->", "```text", ...order, "```", ""].join("\n")

/** A documented export, so the JSDoc rules stay quiet. */
const exported = (name: string) => `/**\n * @since 0.1.0\n * @example\n * x\n */\nexport const ${name} = 1\n`

/** A repository with these files (paths relative to the root) and ARCHITECTURE.md's order. */
const repo = (order: ReadonlyArray<string>, files: Record<string, string>) => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "operatorkit-lint-"))
  Fs.writeFileSync(Path.join(root, "ARCHITECTURE.md"), architecture(order))
  for (const [file, text] of Object.entries(files)) {
    Fs.mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
    Fs.writeFileSync(Path.join(root, file), text)
  }
  return root
}

const base = {
  "src/Client.ts": exported("client"),
  "src/Informer.ts": `import * as Client from "./Client.ts"\n${exported("informer")}`,
  "src/Controller.ts": `import * as Informer from "./Informer.ts"\n${exported("controller")}`
}
const order = ["Client", "Informer", "Controller"]

describe("lint: import directions", () => {
  it("a tree that keeps the order passes", () => {
    assert.deepStrictEqual(lint(repo(order, base)), [])
  })

  it("a public module importing one listed after it fails, a type-only import too", () => {
    const problems = lint(repo(order, {
      ...base,
      "src/Client.ts": `import type * as Informer from "./Informer.ts"\n${exported("client")}`
    }))
    assert.strictEqual(problems.length, 1)
    assert.include(problems[0]!, "src/Client.ts:1: Client imports Informer, which ARCHITECTURE.md's import order lists after it")
  })

  it("a public module missing from the order, or an order naming no module, fails", () => {
    const problems = lint(repo([...order, "Watcher"], { ...base, "src/Store.ts": exported("store") }))
    assert.deepStrictEqual(problems.sort(), [
      "ARCHITECTURE.md: the import order lists Watcher, which is not a module of src/",
      "src/Store.ts: a public module missing from ARCHITECTURE.md's import order: place it there"
    ])
  })

  it("internal/ may import a later module's types, not its values", () => {
    const ok = lint(repo(order, {
      ...base,
      "src/Client.ts": `import * as Http from "./internal/http.ts"\n${exported("client")}`,
      "src/internal/http.ts": `import type * as Informer from "../Informer.ts"\nimport { type Controller } from "../Controller.ts"\nexport const x = 1\n`
    }))
    assert.deepStrictEqual(ok, [])
    const problems = lint(repo(order, {
      ...base,
      "src/Client.ts": `import * as Http from "./internal/http.ts"\n${exported("client")}`,
      "src/internal/http.ts": `import * as Informer from "../Informer.ts"\nexport const x = 1\n`
    }))
    assert.strictEqual(problems.length, 1)
    assert.include(problems[0]!, "src/internal/http.ts:1: src/internal/http.ts serves Client but imports a value of Informer")
  })

  it("internal/ may call modules below every public module that uses it, also through other internal files", () => {
    const files = {
      ...base,
      "src/Controller.ts": `import * as Tracker from "./internal/tracker.ts"\n${exported("controller")}`,
      "src/internal/tracker.ts": `import * as Keys from "./keys.ts"\nexport const x = 1\n`,
      "src/internal/keys.ts": `import * as Informer from "../Informer.ts"\nexport const y = 1\n`
    }
    assert.deepStrictEqual(lint(repo(order, files)), [])
    // the same internal file also used by Informer: Informer's own module is no longer below its users
    const problems = lint(repo(order, {
      ...files,
      "src/Informer.ts": `import * as Client from "./Client.ts"\nimport * as Keys from "./internal/keys.ts"\n${exported("informer")}`
    }))
    assert.strictEqual(problems.length, 1)
    assert.include(problems[0]!, "src/internal/keys.ts:1: src/internal/keys.ts serves Informer but imports a value of Informer")
  })

  it("production never imports src/testing/, by path or by the package's name; testing/ imports production", () => {
    const problems = lint(repo(order, {
      ...base,
      "src/testing/index.ts": `import * as Controller from "../Controller.ts"\nimport * as Fake from "./fake/server.ts"\n${exported("t")}`,
      "src/testing/fake/server.ts": `import * as Client from "../../Client.ts"\nexport const s = 1\n`,
      "src/internal/http.ts": `import * as Fake from "../testing/fake/server.ts"\nexport const x = 1\n`,
      "src/Client.ts": `import * as Http from "./internal/http.ts"\n${exported("client")}`,
      "src/bin/cli.ts": `import { TestServer } from "operatorkit/testing"\nexport const c = 1\n`
    }))
    const direct = problems.filter((p) => p.includes("production code imports test code"))
    assert.deepStrictEqual(direct.map((p) => p.split(":")[0]).sort(), ["src/bin/cli.ts", "src/internal/http.ts"])
    assert.isTrue(problems.some((p) => p.startsWith("src/Client.ts: a production entry point loads test code: src/Client.ts -> src/internal/http.ts -> src/testing/fake/server.ts")))
  })
})

describe("lint: this repository", () => {
  it("one implementation of each mechanism: metrics are named in internal/metrics.ts, durations read through internal/options.ts", () => {
    const metric = `import * as Metric from "effect/Metric"\nexport const m = Metric.counter("x_total", {})\n`
    const duration = `import * as Duration from "effect/Duration"\nexport const d = (x: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(x))\n`
    const ok = lint(repo(order, { ...base, "src/internal/metrics.ts": metric, "src/internal/options.ts": duration }))
    assert.deepStrictEqual(ok, [])
    const problems = lint(repo(order, { ...base, "src/internal/other.ts": metric + duration.replace("export const d", "export const e") }))
    assert.strictEqual(problems.length, 2)
    assert.match(problems[0]!, /src\/internal\/other\.ts:2: a metric named here/)
    assert.match(problems[1]!, /src\/internal\/other\.ts:4: a duration option read here/)
  })

  it("keeps its own rules", () => {
    assert.deepStrictEqual(lint(Path.resolve(import.meta.dirname, "..", "..")), [])
  })
})
