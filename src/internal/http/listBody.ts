/**
 * Reads a list response (`{"kind":…,"metadata":{…},"items":[…]}`) from its bytes, item by item,
 * leaving out unparsed the items a predicate recognises from their metadata: a relist then costs
 * memory and time for what changed, not for the whole list, and no string of the whole body is
 * made. The reader is incremental (bytes may be pushed chunk by chunk); the transport pushes a
 * complete body, as parsing during the transfer was measured to slow the reading more than it
 * overlapped it.
 *
 * The scan only follows the JSON structure: strings are skipped to their closing quote (no
 * structural byte occurs inside a multi-byte UTF-8 sequence), containers by depth. Anything
 * unexpected (not an object, `items` neither an array nor null, a malformed body) makes `end`
 * return `undefined`, and the caller parses the whole body as usual, or, for a body too large for
 * that, reports `failure`. No string longer than one run of items (at most {@link MAX_RUN_BYTES}, or
 * one item) is ever made, so a list larger than V8's string limit (about 512 MiB) is read as well.
 * @internal
 */
import { MAX_STRING_BYTES } from "./ndjson.ts"

/** The metadata an item is recognised by. */
export interface ItemMeta {
  readonly name: string | undefined
  readonly namespace: string | undefined
  readonly uid: string | undefined
  readonly resourceVersion: string | undefined
}

export interface ListBody {
  /** Every top-level member but `items`, parsed. */
  readonly list: Record<string, unknown>
  /** The items kept, parsed. */
  readonly items: Array<unknown>
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a
const LETTER_N = 0x6e

const bytesOf = (s: string) => Buffer.from(s, "utf8")
const ITEMS = bytesOf("items")
const METADATA = bytesOf("metadata")
const NAME = bytesOf("name")
const NAMESPACE = bytesOf("namespace")
const UID = bytesOf("uid")
const RESOURCE_VERSION = bytesOf("resourceVersion")

/** Kept items are parsed in runs of at most this many bytes (one JSON.parse each). */
export const MAX_RUN_BYTES = 16 * 1024 * 1024


const tooLong = `an item or member of over ${MAX_STRING_BYTES} bytes, more than one string can hold`

/** The body is not a list as expected. */
class Malformed extends Error {}
/** The bytes so far end inside the value being read. */
class Incomplete extends Error {}
const incomplete = new Incomplete()

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09

class Scanner {
  pos = 0
  /** Byte range of the last key read, without its quotes, and whether it held escapes. */
  keyStart = 0
  keyEnd = 0
  keyEscaped = false
  /** Position of the next backslash at or after the last string scanned (the length when none). */
  private nextBackslash = -1
  readonly buf: Buffer
  /** Whether `buf` ends where the body ends (else running out of bytes means "wait for more"). */
  readonly final: boolean

  constructor(buf: Buffer, final: boolean) {
    this.buf = buf
    this.final = final
  }

  private outOfBytes(): never {
    throw this.final ? new Malformed() : incomplete
  }

  /** Skips whitespace; returns the byte there. */
  peek(): number {
    const buf = this.buf
    let p = this.pos
    while (p < buf.length && isSpace(buf[p]!)) p++
    this.pos = p
    if (p >= buf.length) this.outOfBytes()
    return buf[p]!
  }

  expect(b: number) {
    if (this.peek() !== b) throw new Malformed()
    this.pos++
  }

  /** At an opening quote: moves past the closing one; returns whether the string holds escapes. */
  skipString(): boolean {
    const buf = this.buf
    const start = this.pos + 1
    let p = start
    for (;;) {
      const q = buf.indexOf(QUOTE, p)
      if (q === -1) this.outOfBytes()
      let backslashes = 0
      for (let i = q - 1; i >= start && buf[i] === BACKSLASH; i--) backslashes++
      p = q + 1
      if (backslashes % 2 === 0) break
    }
    this.pos = p
    // the scan only moves forward, so the next backslash found stays valid until it is passed
    if (this.nextBackslash < start) {
      const b = buf.indexOf(BACKSLASH, start)
      this.nextBackslash = b === -1 ? buf.length : b
    }
    return this.nextBackslash < p
  }

  /** At the start of a value: moves past it. */
  skipValue() {
    const buf = this.buf
    const first = this.peek()
    if (first === QUOTE) {
      this.skipString()
      return
    }
    let p = this.pos
    if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
      // a number, true, false or null: it ends at a delimiter
      while (p < buf.length) {
        const b = buf[p]!
        if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || isSpace(b)) break
        p++
      }
      if (p >= buf.length && !this.final) this.outOfBytes()
      this.pos = p
      return
    }
    let depth = 0
    while (p < buf.length) {
      const b = buf[p]!
      if (b === QUOTE) {
        this.pos = p
        this.skipString()
        p = this.pos
        continue
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        depth++
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--
        if (depth === 0) {
          this.pos = p + 1
          return
        }
      }
      p++
    }
    this.outOfBytes()
  }

  /** At a value: parses it. */
  parseValue(): unknown {
    this.peek()
    const start = this.pos
    this.skipValue()
    return JSON.parse(this.buf.toString("utf8", start, this.pos))
  }

  /** At a value: the string it holds (undefined for any other value), moving past it. */
  readString(): string | undefined {
    if (this.peek() !== QUOTE) {
      this.skipValue()
      return undefined
    }
    const start = this.pos
    const escaped = this.skipString()
    return escaped ? (JSON.parse(this.buf.toString("utf8", start, this.pos)) as string) : this.buf.toString("utf8", start + 1, this.pos - 1)
  }

  /** At `{`: enters the object; returns false when it is empty (and moves past it). */
  enterObject(): boolean {
    this.expect(OPEN_OBJECT)
    if (this.peek() === CLOSE_OBJECT) {
      this.pos++
      return false
    }
    return true
  }

  /** Reads the next member's key and its colon. */
  key() {
    if (this.peek() !== QUOTE) throw new Malformed()
    this.keyStart = this.pos + 1
    this.keyEscaped = this.skipString()
    this.keyEnd = this.pos - 1
    this.expect(COLON)
  }

  keyIs(key: Buffer): boolean {
    return !this.keyEscaped && this.keyEnd - this.keyStart === key.length &&
      this.buf.compare(key, 0, key.length, this.keyStart, this.keyEnd) === 0
  }

  keyString(): string {
    return this.keyEscaped
      ? (JSON.parse(this.buf.toString("utf8", this.keyStart - 1, this.keyEnd + 1)) as string)
      : this.buf.toString("utf8", this.keyStart, this.keyEnd)
  }

  /** After a member: true if another follows, false at the end of the object. */
  nextMember(): boolean {
    const b = this.peek()
    this.pos++
    if (b === COMMA) return true
    if (b === CLOSE_OBJECT) return false
    throw new Malformed()
  }
}

/** At an item: its name, namespace, uid and resourceVersion, leaving the position after the item. */
const itemMeta = (s: Scanner): ItemMeta => {
  let name: string | undefined
  let namespace: string | undefined
  let uid: string | undefined
  let resourceVersion: string | undefined
  if (s.peek() !== OPEN_OBJECT) {
    s.skipValue()
    return { name, namespace, uid, resourceVersion }
  }
  if (s.enterObject()) {
    do {
      s.key()
      if (!s.keyIs(METADATA) || s.peek() !== OPEN_OBJECT) {
        s.skipValue()
        continue
      }
      if (!s.enterObject()) continue
      do {
        s.key()
        if (s.keyIs(NAME)) name = s.readString()
        else if (s.keyIs(NAMESPACE)) namespace = s.readString()
        else if (s.keyIs(UID)) uid = s.readString()
        else if (s.keyIs(RESOURCE_VERSION)) resourceVersion = s.readString()
        else s.skipValue()
      } while (s.nextMember())
    } while (s.nextMember())
  }
  return { name, namespace, uid, resourceVersion }
}

type Phase =
  | "open" // before `{`
  | "firstMember" // after `{`: a key or `}`
  | "member" // a key (then its value)
  | "afterMember" // `,` or `}`
  | "items" // after `"items":`: `[` or null
  | "firstItem" // after `[`: an item or `]`
  | "item"
  | "afterItem" // `,` or `]`
  | "end" // whitespace only
  | "failed"

/**
 * An incremental reader of a list body: `push` each chunk, then `end`. The items complete at each
 * push are parsed then, in runs (one JSON.parse per run of kept items).
 */
export class ListParser {
  private readonly skip: ((meta: ItemMeta) => boolean) | undefined
  private phase: Phase = "open"
  /** Bytes received and not consumed yet (the start of an unfinished member or item). */
  private pending: Buffer | undefined
  /** Chunks received since the last attempt, and their size. */
  private waiting: Array<Buffer> = []
  private waitingBytes = 0
  /** An unfinished value is tried again once this many bytes arrived after it (amortised linear). */
  private retryAfterBytes = 0
  private readonly list: Record<string, unknown> = {}
  private readonly items: Array<unknown> = []
  /** Why the body could not be read, once it could not. */
  failure: string | undefined

  constructor(skip?: (meta: ItemMeta) => boolean) {
    this.skip = skip
  }

  push(chunk: Buffer): void {
    if (this.phase === "failed") return
    this.waiting.push(chunk)
    this.waitingBytes += chunk.length
    if (this.waitingBytes < this.retryAfterBytes) {
      // still inside the unfinished value: give up once no string could hold it
      if (this.retryAfterBytes + this.waitingBytes > MAX_STRING_BYTES) this.fail(tooLong)
      return
    }
    this.attempt(false)
  }

  /** The list, or undefined when the body was not a list as expected (`failure` says why). */
  end(): ListBody | undefined {
    if (this.phase !== "failed" && ((this.pending?.length ?? 0) > 0 || this.waitingBytes > 0)) this.attempt(true)
    if (this.phase === "end") return { list: this.list, items: this.items }
    this.failure ??= "the body ends inside the list"
    return undefined
  }

  private attempt(final: boolean) {
    const parts = this.pending !== undefined && this.pending.length > 0 ? [this.pending, ...this.waiting] : this.waiting
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    this.waiting = []
    this.waitingBytes = 0
    const rest = this.consume(buf, final)
    // a small rest is copied, so that the (large) buffer it came from can go
    this.pending = rest === undefined || rest.length === 0 ? undefined : rest.length * 2 < buf.length ? Buffer.from(rest) : rest
    const unfinished = this.pending?.length ?? 0
    if (unfinished > MAX_STRING_BYTES) this.fail(tooLong)
    this.retryAfterBytes = unfinished
  }

  private fail(why: string) {
    this.phase = "failed"
    this.failure ??= why
    this.pending = undefined
    this.waiting = []
    this.waitingBytes = 0
  }

  /** Reads what it can of `buf`; returns the unconsumed rest. */
  private consume(buf: Buffer, final: boolean): Buffer | undefined {
    const s = new Scanner(buf, final)
    // a run of consecutive kept items, parsed together
    let runStart = -1
    let runEnd = -1
    const flush = () => {
      if (runStart === -1) return
      const run = JSON.parse("[" + buf.toString("utf8", runStart, runEnd) + "]") as Array<unknown>
      for (const item of run) this.items.push(item)
      runStart = runEnd = -1
    }
    const item = (start: number, end: number, keep: boolean) => {
      if (!keep) return flush()
      if (runStart !== -1 && end - runStart > MAX_RUN_BYTES) flush()
      if (runStart === -1) runStart = start
      runEnd = end
    }
    try {
      for (;;) {
        if (this.phase === "end") {
          // only whitespace may follow
          flush()
          while (s.pos < buf.length && isSpace(buf[s.pos]!)) s.pos++
          if (s.pos < buf.length) throw new Malformed()
          return undefined
        }
        const mark = s.pos
        try {
          this.step(s, item)
        } catch (e) {
          if (e !== incomplete) throw e
          s.pos = mark
          flush()
          return buf.subarray(mark)
        }
      }
    } catch (e) {
      if (e instanceof Malformed || e instanceof SyntaxError) {
        this.fail("not a list as expected")
      } else if (e instanceof RangeError || (e as { code?: unknown } | null)?.code === "ERR_STRING_TOO_LONG") {
        this.fail(tooLong)
      } else {
        // the caller's skip threw
        throw e
      }
      return undefined
    }
  }

  /** One transition; an Incomplete leaves the phase as it was. */
  private step(s: Scanner, item: (start: number, end: number, keep: boolean) => void) {
    switch (this.phase) {
      case "open":
        s.expect(OPEN_OBJECT)
        this.phase = "firstMember"
        return
      case "firstMember":
        if (s.peek() === CLOSE_OBJECT) {
          s.pos++
          this.phase = "end"
        } else {
          this.phase = "member"
        }
        return
      case "member": {
        s.key()
        if (s.keyIs(ITEMS)) {
          this.phase = "items"
          return
        }
        const key = s.keyString()
        const value = s.parseValue()
        if (key === "__proto__") Object.defineProperty(this.list, key, { value, writable: true, enumerable: true, configurable: true })
        else this.list[key] = value
        this.phase = "afterMember"
        return
      }
      case "afterMember":
        this.phase = s.nextMember() ? "member" : "end"
        return
      case "items": {
        const first = s.peek()
        if (first === LETTER_N) {
          if (s.parseValue() !== null) throw new Malformed()
          this.phase = "afterMember"
        } else if (first === OPEN_ARRAY) {
          s.pos++
          this.phase = "firstItem"
        } else {
          throw new Malformed()
        }
        return
      }
      case "firstItem":
        if (s.peek() === CLOSE_ARRAY) {
          s.pos++
          this.phase = "afterMember"
        } else {
          this.phase = "item"
        }
        return
      case "item": {
        s.peek()
        const start = s.pos
        let keep = true
        if (this.skip !== undefined) keep = !this.skip(itemMeta(s))
        else s.skipValue()
        item(start, s.pos, keep)
        this.phase = "afterItem"
        return
      }
      case "afterItem": {
        const b = s.peek()
        s.pos++
        if (b === COMMA) this.phase = "item"
        else if (b === CLOSE_ARRAY) this.phase = "afterMember"
        else throw new Malformed()
        return
      }
      case "end":
      case "failed":
        throw new Malformed()
    }
  }
}

/**
 * Splits a complete list body into its top-level members and its items; items for which `skip`
 * returns true are left out unparsed. `undefined` when the body is not a list object as expected.
 */
export const splitList = (buf: Buffer, skip?: (meta: ItemMeta) => boolean): ListBody | undefined => {
  const parser = new ListParser(skip)
  parser.push(buf)
  return parser.end()
}
