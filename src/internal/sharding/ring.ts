/**
 * A consistent-hash ring with virtual nodes: each member owns `virtualNodes` points on a 32-bit
 * circle, a key belongs to the member of the first point at or after the key's hash. Adding a
 * member takes keys only to it (about 1/(n+1) of them); removing one moves only its own keys.
 * Pure and deterministic: the same members give the same ring, whatever their order.
 * @internal
 */

/** 32-bit FNV-1a over the string's UTF-16 code units, then murmur3's finalizer to spread similar keys. */
export const hash = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export interface Ring {
  /** The members, sorted. */
  readonly members: ReadonlyArray<string>
  readonly virtualNodes: number
  /** The points, ascending. */
  readonly points: Uint32Array
  /** The member of each point. */
  readonly owners: ReadonlyArray<string>
}

/**
 * A shard's share strays from an even one by about 1/√virtualNodes: with 100 points per shard the
 * largest of 4 shards held up to 1.29× an even share (1.09× in the median draw of shard names),
 * and that largest replica sets the memory every replica needs. 1,000 points: 1.04× in the median
 * draw, 1.12× at worst over 200 draws (the keys' own randomness is part of it); a ring of 100
 * shards is 100,000 points, made only when the members change.
 */
export const defaultVirtualNodes = 1000

/** Members per ring at most: a point packs its hash and its member's index in one double. */
const memberBits = 2 ** 20

export const make = (members: Iterable<string>, virtualNodes = defaultVirtualNodes): Ring => {
  const sorted = Array.from(new Set(members)).sort()
  if (sorted.length >= memberBits) throw new RangeError(`a ring holds at most ${memberBits - 1} members`)
  // hash × 2^20 + member index, sorted as numbers: by point, a tie (two members on one point)
  // going to the smaller name, so the order of members never matters
  const packed = new Float64Array(sorted.length * virtualNodes)
  let at = 0
  for (let m = 0; m < sorted.length; m++) {
    for (let i = 0; i < virtualNodes; i++) packed[at++] = hash(`${sorted[m]}#${i}`) * memberBits + m
  }
  packed.sort()
  const points = new Uint32Array(packed.length)
  const owners = new Array<string>(packed.length)
  for (let k = 0; k < packed.length; k++) {
    const m = packed[k]! % memberBits
    points[k] = (packed[k]! - m) / memberBits
    owners[k] = sorted[m]!
  }
  return { members: sorted, virtualNodes, points, owners }
}

/** Whether a ring over these members would be this one (without making it). */
export const hasMembers = (ring: Ring, members: Iterable<string>, virtualNodes: number): boolean => {
  const sorted = Array.from(new Set(members)).sort()
  return ring.virtualNodes === virtualNodes && ring.members.length === sorted.length && sorted.every((m, i) => ring.members[i] === m)
}

/** The member a key belongs to; undefined on an empty ring. */
export const lookup = (ring: Ring, key: string): string | undefined => {
  const n = ring.points.length
  if (n === 0) return undefined
  const h = hash(key)
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ring.points[mid]! < h) lo = mid + 1
    else hi = mid
  }
  return ring.owners[lo === n ? 0 : lo]
}

export const sameMembers = (a: Ring, b: Ring): boolean =>
  a.virtualNodes === b.virtualNodes && a.members.length === b.members.length && a.members.every((m, i) => b.members[i] === m)
