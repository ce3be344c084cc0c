/**
 * The trace of a simulation run: one line per thing that happened (a user action, a fault, a
 * request and its answer, a reconcile, a log line), stamped with simulated time. Two runs of one
 * seed must produce the same lines; the digest compares them cheaply.
 * @internal
 */

/** Simulated time as `mm:ss.mmm`. */
export const clock = (millis: number): string => {
  const m = Math.floor(millis / 60_000)
  const s = Math.floor((millis % 60_000) / 1000)
  const ms = Math.floor(millis % 1000)
  return `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}.${String(ms).padStart(3, "0")}`
}

export class Trace {
  readonly lines: Array<string> = []
  // FNV-1a, 32 bits, over every line
  private hash = 0x811c9dc5

  add(at: number, who: string, what: string): void {
    const line = `${clock(at)} ${who} ${what}`
    this.lines.push(line)
    let h = this.hash
    for (let i = 0; i < line.length; i++) {
      h ^= line.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
    this.hash = Math.imul(h ^ 10, 0x01000193)
  }

  /** A digest of every line so far: equal digests, equal traces (as far as 32 bits tell). */
  get digest(): string {
    return `${(this.hash >>> 0).toString(16).padStart(8, "0")}/${this.lines.length}`
  }

  /** The last `n` lines. */
  tail(n: number): ReadonlyArray<string> {
    return this.lines.slice(Math.max(0, this.lines.length - n))
  }
}
