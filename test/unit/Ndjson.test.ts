import { assert, describe, it } from "@effect/vitest"
import { NdjsonDecoder } from "../../src/internal/http/ndjson.ts"

const split = (buf: Buffer, cuts: ReadonlyArray<number>) => {
  const out: Array<Buffer> = []
  let start = 0
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(buf.subarray(start, c))
    start = c
  }
  out.push(buf.subarray(start))
  return out
}

describe("NdjsonDecoder", () => {
  const events = [
    { type: "ADDED", object: { metadata: { name: "ä-ü-€-😀" }, data: { k: "ß".repeat(50) } } },
    { type: "MODIFIED", object: { big: "x".repeat(100_000) } },
    { type: "BOOKMARK", object: { metadata: { resourceVersion: "12" } } },
    ...Array.from({ length: 50 }, (_, i) => ({ type: "DELETED", object: { i } }))
  ]
  const wire = Buffer.from(events.map((e) => JSON.stringify(e) + "\n").join(""), "utf8")

  it("decodes the same events whatever the chunk boundaries, multi-byte characters included", () => {
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * wire.length))
      const decoder = new NdjsonDecoder()
      const out: Array<unknown> = []
      for (const chunk of split(wire, cuts)) decoder.push(chunk, out)
      decoder.end(out)
      assert.deepStrictEqual(out, events)
    }
  })

  it("one byte at a time", () => {
    const decoder = new NdjsonDecoder()
    const out: Array<unknown> = []
    const small = Buffer.from(JSON.stringify(events[0]) + "\n" + JSON.stringify(events[2]) + "\n")
    for (let i = 0; i < small.length; i++) decoder.push(small.subarray(i, i + 1), out)
    assert.deepStrictEqual(out, [events[0], events[2]])
  })

  it("a last line without newline is emitted at the end; blank lines are skipped", () => {
    const decoder = new NdjsonDecoder()
    const out: Array<unknown> = []
    decoder.push(Buffer.from('\n{"a":1}\n\n{"b"'), out)
    assert.deepStrictEqual(out, [{ a: 1 }])
    decoder.push(Buffer.from(":2}"), out)
    decoder.end(out)
    assert.deepStrictEqual(out, [{ a: 1 }, { b: 2 }])
  })

  it("a malformed line throws", () => {
    const decoder = new NdjsonDecoder()
    assert.throws(() => decoder.push(Buffer.from("{nope}\n"), []))
  })
})
