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

export const defaultVirtualNodes = 100

export const make = (members: Iterable<string>, virtualNodes = defaultVirtualNodes): Ring => {
  const sorted = Array.from(new Set(members)).sort()
  const entries: Array<readonly [number, string]> = []
  for (const member of sorted) {
    for (let i = 0; i < virtualNodes; i++) entries.push([hash(`${member}#${i}`), member])
  }
  // a tie (two members on one point) goes to the smaller name, so the order of members never matters
  entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  return {
    members: sorted,
    virtualNodes,
    points: Uint32Array.from(entries, (e) => e[0]),
    owners: entries.map((e) => e[1])
  }
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
