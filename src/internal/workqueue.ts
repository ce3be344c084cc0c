/**
 * The synchronous state machine behind `WorkQueue`: plain data structures, no Effect. Every
 * operation is O(1) except the delay heap (O(log n)); the Effect layer adds waiting and timers.
 */
import { TokenBucket } from "./tokenBucket.ts"

/** @internal */
export type Priority = "live" | "bulk"

/** @internal */
export interface Hooks {
  readonly onAdd?: ((priority: Priority) => void) | undefined
  readonly onRetry?: (() => void) | undefined
  readonly onQueueDuration?: ((seconds: number, priority: Priority) => void) | undefined
  readonly onWorkDuration?: ((seconds: number) => void) | undefined
}

/** @internal */
export interface Settings {
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly factor: number
  readonly qps: number
  readonly burst: number
  readonly liveRatio: number
}

/** Everything the queue knows about one key; removed again once the key is idle. @internal */
export interface Slot<K> {
  readonly key: K
  /** Needs processing, in this lane (queued, or waiting for its current worker to call done). */
  dirty: Priority | undefined
  dirtySince: number
  /** The lane list holding the slot while it is ready to be taken. */
  lane: Lane<K> | undefined
  prev: Slot<K> | undefined
  next: Slot<K> | undefined
  /** Handed out since (ms); -1 while not being processed. */
  startedAt: number
  takenAs: Priority
  /** Position in the delay heap; -1 when no delayed add is pending. */
  heapIndex: number
  readyAt: number
  readySeq: number
  delayedAs: Priority
  failures: number
}

/** An intrusive doubly linked FIFO list: push, shift and remove are O(1). */
class Lane<K> {
  head: Slot<K> | undefined = undefined
  tail: Slot<K> | undefined = undefined
  size = 0

  push(slot: Slot<K>): void {
    slot.lane = this
    slot.prev = this.tail
    slot.next = undefined
    if (this.tail === undefined) this.head = slot
    else this.tail.next = slot
    this.tail = slot
    this.size++
  }

  remove(slot: Slot<K>): void {
    if (slot.prev === undefined) this.head = slot.next
    else slot.prev.next = slot.next
    if (slot.next === undefined) this.tail = slot.prev
    else slot.next.prev = slot.prev
    slot.prev = slot.next = slot.lane = undefined
    this.size--
  }

  shift(): Slot<K> | undefined {
    const slot = this.head
    if (slot !== undefined) this.remove(slot)
    return slot
  }
}

const before = <K>(a: Slot<K>, b: Slot<K>) => a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.readySeq < b.readySeq)

/** A binary min-heap of slots by (readyAt, readySeq) that keeps each slot's index for O(log n) updates. */
class DelayHeap<K> {
  readonly items: Array<Slot<K>> = []

  peek(): Slot<K> | undefined {
    return this.items[0]
  }

  push(slot: Slot<K>): void {
    slot.heapIndex = this.items.length
    this.items.push(slot)
    this.up(slot.heapIndex)
  }

  /** Re-establishes order after `slot.readyAt` decreased. */
  decreased(slot: Slot<K>): void {
    this.up(slot.heapIndex)
  }

  remove(slot: Slot<K>): void {
    const index = slot.heapIndex
    const last = this.items.pop()!
    slot.heapIndex = -1
    if (last === slot) return
    this.items[index] = last
    last.heapIndex = index
    this.up(index)
    this.down(last.heapIndex)
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!, b = this.items[j]!
    this.items[i] = b
    this.items[j] = a
    a.heapIndex = j
    b.heapIndex = i
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(this.items[i]!, this.items[parent]!)) return
      this.swap(i, parent)
      i = parent
    }
  }

  private down(i: number): void {
    const n = this.items.length
    for (;;) {
      const l = 2 * i + 1, r = l + 1
      let min = i
      if (l < n && before(this.items[l]!, this.items[min]!)) min = l
      if (r < n && before(this.items[r]!, this.items[min]!)) min = r
      if (min === i) return
      this.swap(i, min)
      i = min
    }
  }
}

/** @internal */
export interface Snapshot {
  readonly live: number
  readonly bulk: number
  readonly delayed: number
  readonly processing: number
  readonly adds: number
  readonly retries: number
  readonly unfinishedWorkSeconds: number
  readonly longestRunningProcessorSeconds: number
}

/** @internal */
export class Core<K> {
  private readonly slots = new Map<K, Slot<K>>()
  private readonly live = new Lane<K>()
  private readonly bulk = new Lane<K>()
  private readonly heap = new DelayHeap<K>()
  private readonly processing = new Set<Slot<K>>()
  private liveStreak = 0
  private seq = 0
  private readonly bucket: TokenBucket | undefined
  private adds = 0
  private retriesTotal = 0
  isShutdown = false

  private readonly settings: Settings
  private readonly hooks: Hooks
  /** A key became ready to take. */
  private readonly onReady: () => void
  /** The earliest delayed deadline moved earlier. */
  private readonly onEarlier: () => void

  constructor(settings: Settings, hooks: Hooks, onReady: () => void, onEarlier: () => void) {
    this.settings = settings
    this.hooks = hooks
    this.onReady = onReady
    this.onEarlier = onEarlier
    this.bucket = Number.isFinite(settings.qps) ? new TokenBucket(settings.qps, settings.burst) : undefined
  }

  get ready(): number {
    return this.live.size + this.bulk.size
  }

  private slot(key: K): Slot<K> {
    let slot = this.slots.get(key)
    if (slot === undefined) {
      slot = {
        key,
        dirty: undefined,
        dirtySince: 0,
        lane: undefined,
        prev: undefined,
        next: undefined,
        startedAt: -1,
        takenAs: "live",
        heapIndex: -1,
        readyAt: 0,
        readySeq: 0,
        delayedAs: "live",
        failures: 0
      }
      this.slots.set(key, slot)
    }
    return slot
  }

  private releaseIfIdle(slot: Slot<K>): void {
    if (slot.dirty === undefined && slot.startedAt < 0 && slot.heapIndex < 0 && slot.failures === 0) {
      this.slots.delete(slot.key)
    }
  }

  /** Requeues (addAfter, addRateLimited) keep the lane of the worker that asks for them. */
  private requeuePriority(key: K): Priority {
    const slot = this.slots.get(key)
    return slot !== undefined && slot.startedAt >= 0 ? slot.takenAs : "live"
  }

  add(key: K, priority: Priority, now: number): void {
    if (this.isShutdown) return
    const slot = this.slot(key)
    // an immediate add supersedes a pending delayed one
    if (slot.heapIndex >= 0) this.heap.remove(slot)
    if (slot.dirty !== undefined) {
      if (priority === "live" && slot.dirty === "bulk") {
        slot.dirty = "live"
        if (slot.lane === this.bulk) {
          this.bulk.remove(slot)
          this.live.push(slot)
        }
      }
      return
    }
    slot.dirty = priority
    slot.dirtySince = now
    this.adds++
    this.hooks.onAdd?.(priority)
    // a key being processed comes back when its worker calls done
    if (slot.startedAt >= 0) return
    ;(priority === "live" ? this.live : this.bulk).push(slot)
    this.onReady()
  }

  addAfter(key: K, delayMs: number, priority: Priority | undefined, now: number): void {
    if (this.isShutdown) return
    const lane = priority ?? this.requeuePriority(key)
    if (!(delayMs > 0)) return this.add(key, lane, now)
    const slot = this.slot(key)
    // already due for processing, which happens no later than this deadline
    if (slot.dirty !== undefined) return
    const readyAt = now + delayMs
    if (slot.heapIndex >= 0) {
      if (lane === "live") slot.delayedAs = "live"
      if (readyAt >= slot.readyAt) return
      slot.readyAt = readyAt
      slot.readySeq = this.seq++
      this.heap.decreased(slot)
    } else {
      slot.readyAt = readyAt
      slot.readySeq = this.seq++
      slot.delayedAs = lane
      this.heap.push(slot)
    }
    if (this.heap.peek() === slot) this.onEarlier()
  }

  /** The rate limiter: the larger of the key's exponential backoff and the shared token bucket's wait. */
  addRateLimited(key: K, priority: Priority | undefined, now: number): number {
    const lane = priority ?? this.requeuePriority(key)
    const slot = this.slot(key)
    const { baseDelayMs, factor, maxDelayMs } = this.settings
    const itemDelay = Math.min(baseDelayMs * factor ** slot.failures, maxDelayMs)
    slot.failures++
    const bucketDelay = this.bucket === undefined ? 0 : this.bucket.take(now)
    this.retriesTotal++
    this.hooks.onRetry?.()
    const delay = Math.max(itemDelay, bucketDelay)
    this.addAfter(key, delay, lane, now)
    this.releaseIfIdle(slot)
    return delay
  }

  forget(key: K): void {
    const slot = this.slots.get(key)
    if (slot === undefined) return
    slot.failures = 0
    this.releaseIfIdle(slot)
  }

  failures(key: K): number {
    return this.slots.get(key)?.failures ?? 0
  }

  /** Two lanes; while both hold keys, every `liveRatio + 1`-th take serves the bulk lane. */
  take(now: number): Slot<K> | undefined {
    if (this.isShutdown) return undefined
    let lane: Lane<K>
    if (this.bulk.size === 0) {
      if (this.live.size === 0) return undefined
      lane = this.live
      this.liveStreak = 0
    } else if (this.live.size === 0 || this.liveStreak >= this.settings.liveRatio) {
      lane = this.bulk
      this.liveStreak = 0
    } else {
      lane = this.live
      this.liveStreak++
    }
    const slot = lane.shift()!
    const priority = slot.dirty!
    slot.dirty = undefined
    slot.startedAt = now
    slot.takenAs = priority
    this.processing.add(slot)
    this.hooks.onQueueDuration?.((now - slot.dirtySince) / 1000, priority)
    return slot
  }

  done(key: K, now: number): void {
    const slot = this.slots.get(key)
    if (slot !== undefined) this.finish(slot, now)
  }

  /** A taken slot processed with success and no requeue: `forget` and `done` without looking the key up. */
  settled(slot: Slot<K>, now: number): void {
    slot.failures = 0
    this.finish(slot, now)
  }

  private finish(slot: Slot<K>, now: number): void {
    if (slot.startedAt < 0) return
    this.processing.delete(slot)
    this.hooks.onWorkDuration?.((now - slot.startedAt) / 1000)
    slot.startedAt = -1
    if (slot.dirty !== undefined && !this.isShutdown) {
      ;(slot.dirty === "live" ? this.live : this.bulk).push(slot)
      this.onReady()
      return
    }
    slot.dirty = undefined
    this.releaseIfIdle(slot)
  }

  /** Moves due delayed keys to their lanes; returns the next deadline, if any. */
  promoteDue(now: number): number | undefined {
    for (;;) {
      const slot = this.heap.peek()
      if (slot === undefined || this.isShutdown) return undefined
      if (slot.readyAt > now) return slot.readyAt
      this.heap.remove(slot)
      this.add(slot.key, slot.delayedAs, now)
    }
  }

  shutdown(): void {
    this.isShutdown = true
  }

  snapshot(now: number): Snapshot {
    let unfinished = 0
    let longest = 0
    for (const slot of this.processing) {
      const running = now - slot.startedAt
      unfinished += running
      if (running > longest) longest = running
    }
    return {
      live: this.live.size,
      bulk: this.bulk.size,
      delayed: this.heap.items.length,
      processing: this.processing.size,
      adds: this.adds,
      retries: this.retriesTotal,
      unfinishedWorkSeconds: unfinished / 1000,
      longestRunningProcessorSeconds: longest / 1000
    }
  }
}
