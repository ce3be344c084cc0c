/** The pure parts of sharding: the hash ring, the sharder's decision table, the label writes. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Labels from "../../src/internal/sharding/labels.ts"
import * as Plan from "../../src/internal/sharding/plan.ts"
import * as Ring from "../../src/internal/sharding/ring.ts"

const keys = (n: number) => Array.from({ length: n }, (_, i) => `example.com/Widget/ns-${i % 7}/widget-${i}`)
const shares = (ring: Ring.Ring, ks: ReadonlyArray<string>) => {
  const counts = new Map<string, number>(ring.members.map((m) => [m, 0]))
  for (const k of ks) counts.set(Ring.lookup(ring, k)!, counts.get(Ring.lookup(ring, k)!)! + 1)
  return counts
}

describe("Ring", () => {
  it("is deterministic whatever the order of its members, and empty rings place nothing", () => {
    const a = Ring.make(["c", "a", "b"])
    const b = Ring.make(["b", "c", "a", "a"])
    assert.deepStrictEqual(a.members, ["a", "b", "c"])
    for (const k of keys(500)) assert.strictEqual(Ring.lookup(a, k), Ring.lookup(b, k))
    assert.isUndefined(Ring.lookup(Ring.make([]), "x"))
    assert.isTrue(Ring.sameMembers(a, b))
    assert.isFalse(Ring.sameMembers(a, Ring.make(["a", "b"])))
  })

  it("with the default 1,000 virtual nodes gives each of 2 to 8 shards its share of 10,000 keys within 10 % (100 gave 13 %)", () => {
    const ks = keys(10_000)
    const spread = (virtualNodes?: number) =>
      Math.max(...[2, 3, 4, 5, 8].flatMap((n) => {
        const ring = Ring.make(Array.from({ length: n }, (_, i) => `replica-${i}`), virtualNodes)
        return Array.from(shares(ring, ks).values(), (count) => Math.abs(count / (ks.length / n) - 1))
      }))
    assert.strictEqual(Ring.defaultVirtualNodes, 1000)
    assert.isBelow(spread(), 0.1)
    assert.isAbove(spread(100), 0.13)
  })

  it("moves keys only to a shard that joins (about 1/(n+1) of them), so a shard that leaves gives up only its own", () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/), { minLength: 1, maxLength: 8 }),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/),
      (members, joiner) => {
        fc.pre(!members.includes(joiner))
        const before = Ring.make(members)
        const after = Ring.make([...members, joiner])
        const ks = keys(2_000)
        let moved = 0
        for (const k of ks) {
          const from = Ring.lookup(before, k)
          const to = Ring.lookup(after, k)
          if (from !== to) {
            moved++
            assert.strictEqual(to, joiner, `${k} moved from ${from} to ${to}, not to the new shard`)
          }
        }
        const expected = ks.length / (members.length + 1)
        assert.isTrue(moved > expected * 0.6 && moved < expected * 1.4, `${moved} moved, about ${expected} expected`)
      }
    ), { numRuns: 40 })
  })
})

describe("Plan.decide", () => {
  const live = new Set(["a", "b"])
  const isLive = (s: string) => live.has(s)
  const at = (shard: string | undefined, draining = false): Plan.Placement => ({ shard, draining })

  it("covers every placement", () => {
    const table: Array<[Plan.Placement, string | undefined, Plan.Action]> = [
      [at(undefined), "a", { _tag: "Assign", to: "a" }],
      [at(undefined, true), "a", { _tag: "Assign", to: "a" }],
      [at("a"), "a", { _tag: "Keep" }],
      [at("a", true), "a", { _tag: "Undrain", shard: "a" }],
      [at("a"), "b", { _tag: "Drain", from: "a", to: "b" }],
      [at("a", true), "b", { _tag: "AwaitAck", from: "a" }],
      [at("gone"), "b", { _tag: "Reclaim", from: "gone", to: "b" }],
      [at("gone", true), "b", { _tag: "Reclaim", from: "gone", to: "b" }],
      // no live shard: nowhere to go, so nothing moves (not even off a gone shard)
      [at(undefined), undefined, { _tag: "Keep" }],
      [at("gone"), undefined, { _tag: "Keep" }],
      [at("a", true), undefined, { _tag: "Keep" }]
    ]
    for (const [placement, desired, action] of table) {
      assert.deepStrictEqual(Plan.decide(placement, desired, isLive), action, JSON.stringify({ placement, desired }))
    }
  })

  it("owned objects follow their owner's label, or go ahead to where an unassigned owner is going", () => {
    assert.strictEqual(Plan.ownedTarget(at("a", true), "b"), "a", "a draining owner's objects stay until it is acknowledged")
    assert.strictEqual(Plan.ownedTarget(at(undefined), "b"), "b")
    assert.isUndefined(Plan.ownedTarget(undefined, "b"), "no owner known: left alone")
    assert.deepStrictEqual(Plan.decideOwned(at("a"), "a"), { _tag: "Keep" })
    assert.deepStrictEqual(Plan.decideOwned(at("a", true), "a"), { _tag: "Follow", from: "a", to: "a" })
    assert.deepStrictEqual(Plan.decideOwned(at(undefined), "b"), { _tag: "Follow", from: undefined, to: "b" })
    assert.deepStrictEqual(Plan.decideOwned(at("gone"), "b"), { _tag: "Follow", from: "gone", to: "b" })
    assert.deepStrictEqual(Plan.decideOwned(at("a"), undefined), { _tag: "Keep" })
  })
})

describe("Labels", () => {
  const object = (labels?: Record<string, string>) => ({ metadata: { name: "w", resourceVersion: "7", ...(labels ? { labels } : {}) } })

  it("writes guarded by the resourceVersion: the map itself when there is none, one op per label otherwise", () => {
    assert.deepStrictEqual(Labels.move(object(), { "shard.example.com/w": "a", "drain.example.com/w": undefined }), [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/metadata/labels", value: { "shard.example.com/w": "a" } }
    ])
    assert.deepStrictEqual(Labels.move(object({ app: "x", "shard.example.com/w": "a", "drain.example.com/w": "true" }), { "shard.example.com/w": "b", "drain.example.com/w": undefined }), [
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/metadata/labels/shard.example.com~1w", value: "b" },
      { op: "remove", path: "/metadata/labels/drain.example.com~1w" }
    ])
    assert.lengthOf(Labels.move(object({ "shard.example.com/w": "a" }), { "shard.example.com/w": "a", "drain.example.com/w": undefined }), 1, "nothing to change")
  })

  it("an acknowledgement tests both labels before removing them", () => {
    assert.deepStrictEqual(Labels.acknowledge("shard.x.io/r", "drain.x.io/r", "a", "true"), [
      { op: "test", path: "/metadata/labels/shard.x.io~1r", value: "a" },
      { op: "test", path: "/metadata/labels/drain.x.io~1r", value: "true" },
      { op: "remove", path: "/metadata/labels/shard.x.io~1r" },
      { op: "remove", path: "/metadata/labels/drain.x.io~1r" }
    ])
  })
})
