/**
 * The README quotes the tutorial's files; they must stay the same text (the files are what the
 * type check and the tests cover).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const root = Path.resolve(import.meta.dirname, "..", "..")
const readme = Fs.readFileSync(Path.join(root, "README.md"), "utf8")
const quotes = [...readme.matchAll(/<!-- quote: (\S+) -->\n```ts\n([\s\S]*?)```\n/g)].map(([, file, text]) => ({ file: file!, text: text! }))

describe("README", () => {
  it.effect("quotes each tutorial file whole and unchanged", () =>
    Effect.sync(() => {
      assert.deepStrictEqual(quotes.map((q) => q.file), [
        "examples/tutorial/greeting.ts",
        "examples/tutorial/main.ts",
        "examples/tutorial/greeting.test.ts",
        "examples/tutorial/greeting.envtest.test.ts"
      ])
      for (const { file, text } of quotes) {
        assert.strictEqual(text, Fs.readFileSync(Path.join(root, file), "utf8"), `README.md's quote of ${file} differs from the file`)
      }
    }))
})
