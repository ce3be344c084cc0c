/**
 * A buffer a producer appends to synchronously and a consumer pulls as batches, resuming the
 * consumer's parked fiber directly (as a Deferred does) rather than through a Queue, whose offer
 * schedules the taker on the next turn of the event loop: that hop was most of the cost of a watch
 * event. The one implementation behind the Informer's subscribers and the HTTP watch body.
 *
 * The producer pushes into {@link Handoff.pending}, then calls {@link Handoff.wake}; it ends the
 * stream with {@link Handoff.end} or {@link Handoff.fail}, which the consumer sees after the items
 * still buffered.
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

export class Handoff<A, E = never> {
  /** Items not yet taken; the producer appends to it. */
  pending: Array<A> = []
  private waiting: ((batch: Effect.Effect<ReadonlyArray<A>, E | Cause.Done>) => void) | undefined = undefined
  private ended = false
  private failure: { readonly error: E } | undefined = undefined
  private readonly onTake: (() => void) | undefined

  /** `onTake`: called when the consumer takes the buffer (e.g. to resume a paused socket). */
  constructor(onTake?: () => void) {
    this.onTake = onTake
  }

  private settle(resume: (batch: Effect.Effect<ReadonlyArray<A>, E | Cause.Done>) => void): void {
    if (this.pending.length > 0) {
      const batch = this.pending
      this.pending = []
      this.onTake?.()
      resume(Effect.succeed(batch))
    } else if (this.failure !== undefined) {
      resume(Effect.fail(this.failure.error))
    } else if (this.ended) {
      resume(Cause.done())
    } else {
      this.waiting = resume
    }
  }

  /** Hands what is buffered to the consumer if it waits for it. */
  wake(): void {
    const resume = this.waiting
    if (resume === undefined) return
    this.waiting = undefined
    this.settle(resume)
  }

  /** No more items: the stream ends once the buffer is taken. */
  end(): void {
    if (this.ended || this.failure !== undefined) return
    this.ended = true
    this.wake()
  }

  /** The stream fails with `error` once the buffer is taken (the first end or failure wins). */
  fail(error: E): void {
    if (this.ended || this.failure !== undefined) return
    this.failure = { error }
    this.wake()
  }

  /** The consumer's side: the next batch, waiting for one; for `Stream.fromPull`. */
  readonly pull: Effect.Effect<readonly [A, ...Array<A>], E | Cause.Done> = Effect.callback<ReadonlyArray<A>, E | Cause.Done>((resume) => {
    this.settle(resume)
    return this.cancel
  }) as unknown as Effect.Effect<readonly [A, ...Array<A>], E | Cause.Done>

  /** An interrupted consumer waits no more (one Effect for every pull, not one per pull). */
  private readonly cancel = Effect.sync(() => {
    this.waiting = undefined
  })
}
