/**
 * The sink's write in flight and the checkpoint commit waiting for it. The reader goes on while
 * a write is in flight (reading the next page overlaps the sink's work: a Kafka acknowledgement,
 * an fsync), but the next write starts only once this one is durable and committed. So commits
 * come in order, the checkpoint never passes a write that failed, and after a crash a rerun
 * repeats at most one page: the one written and not yet committed.
 *
 * (A window of several writes measured no faster with Kafka, where the producer thread is the
 * bottleneck, and would let a crash repeat as many pages.)
 */
export class Acks {
  private last: Promise<void> = Promise.resolve();

  /**
   * Waits for the previous write and its commit (throwing its failure), starts `write`, and
   * queues `commit` after it. Returns once the write has started.
   */
  async add(write: () => Promise<void>, commit: () => void | Promise<void>): Promise<void> {
    await this.last;
    const written = write();
    const done = written.then(commit);
    done.catch(() => undefined); // awaited by the next add() or by drain(); not unhandled meanwhile
    this.last = done;
  }

  /** Waits for the write and commit in flight; throws its failure, and starts afresh. */
  async drain(): Promise<void> {
    const last = this.last;
    this.last = Promise.resolve();
    await last;
  }
}
