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
      this.emit(line, out)
    } else {
      this.emit(chunk.subarray(0, nl), out)
    }
    let start = nl + 1
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      this.emit(chunk.subarray(start, nl), out)
      start = nl + 1
    }
    if (start < chunk.length) this.keep(chunk.subarray(start))
  }

  end(out: Array<unknown>): void {
    const rest = this.partial
    this.partial = []
    this.partialBytes = 0
    if (rest.length > 0) this.emit(Buffer.concat(rest), out)
  }

  private keep(bytes: Buffer) {
    this.partialBytes += bytes.length
    if (this.partialBytes > MAX_STRING_BYTES) {
      throw new BadLine(`a line longer than ${MAX_STRING_BYTES} bytes, more than one string can hold`)
    }
    this.partial.push(bytes)
  }

  private emit(line: Buffer, out: Array<unknown>) {
    let i = 0
    while (i < line.length && (line[i] === 0x20 || line[i] === 0x09 || line[i] === 0x0d)) i++
    if (i === line.length) return
    if (!isUtf8(line)) throw new BadLine(`a line of ${line.length} bytes that is not valid UTF-8`)
    let value: unknown
    try {
      value = JSON.parse(line.toString("utf8"))
    } catch {
      throw new BadLine(`a line of ${line.length} bytes that is not valid JSON (truncated?)`)
    }
    out.push(value)
  }
}
