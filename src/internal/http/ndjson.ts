/**
 * Newline-delimited JSON (a watch body) split across chunk boundaries without decoding partial
 * UTF-8; a line that is no JSON value is a {@link BadLine} saying what it was, never its content.
 * @internal
 */
import { constants as BufferConstants, isUtf8 } from "node:buffer"

/**
 * A watch line that is not a JSON value: truncated, not JSON, not UTF-8, or too long for a string.
 * The message says what, never the content (a line may carry a Secret).
 */
export class BadLine extends Error {}

/** The longest string V8 makes (about 512 MiB): a line or body beyond it cannot be parsed as one. */
export const MAX_STRING_BYTES = BufferConstants.MAX_STRING_LENGTH

/** Splits newline-delimited JSON across chunk boundaries without decoding partial UTF-8. */
export class NdjsonDecoder {
  private partial: Array<Buffer> = []
  private partialBytes = 0

  /** Parses the complete lines of `chunk` into `out`; throws {@link BadLine} at the first bad one. */
  push(chunk: Buffer, out: Array<unknown>): void {
    let nl = chunk.indexOf(10)
    if (nl === -1) {
      this.keep(chunk)
      return
    }
    if (this.partial.length > 0) {
      this.partial.push(chunk.subarray(0, nl))
      const line = Buffer.concat(this.partial)
      this.partial = []
      this.partialBytes = 0
      this.emit(line, 0, line.length, out)
    } else {
      this.emit(chunk, 0, nl, out)
    }
    let start = nl + 1
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      this.emit(chunk, start, nl, out)
      start = nl + 1
    }
    if (start < chunk.length) this.keep(chunk.subarray(start))
  }

  end(out: Array<unknown>): void {
    const rest = this.partial
    this.partial = []
    this.partialBytes = 0
    if (rest.length > 0) {
      const line = Buffer.concat(rest)
      this.emit(line, 0, line.length, out)
    }
  }

  private keep(bytes: Buffer) {
    this.partialBytes += bytes.length
    if (this.partialBytes > MAX_STRING_BYTES) {
      throw new BadLine(`a line longer than ${MAX_STRING_BYTES} bytes, more than one string can hold`)
    }
    this.partial.push(bytes)
  }

  /** Parses the line `bytes[start, end)` (no view of it is made for a line that is valid). */
  private emit(bytes: Buffer, start: number, end: number, out: Array<unknown>) {
    let i = start
    while (i < end && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0d)) i++
    if (i === end) return
    const text = bytes.toString("utf8", start, end)
    // Decoding replaces invalid UTF-8 with U+FFFD: only a text holding one (rare: a one-byte
    // string cannot, and V8 says so at once) needs the bytes checked, not every line
    if (text.includes("\uFFFD") && !isUtf8(bytes.subarray(start, end))) {
      throw new BadLine(`a line of ${end - start} bytes that is not valid UTF-8`)
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new BadLine(`a line of ${end - start} bytes that is not valid JSON (truncated?)`)
    }
    out.push(value)
  }
}
