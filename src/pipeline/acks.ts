/**
 * Writes handed to the sink and not yet committed, in order. The reader goes on while a write is
 * in flight (so reading the next page overlaps the sink's work: a Kafka acknowledgement, an
 * fsync), but a new write starts only when fewer than `limit` writes are uncommitted. Each commit
 * waits for its own write and for the commit before it, so the checkpoint moves only to the
 * highest position whose every predecessor is durable, and never past a write that failed.
 *
 * The limit is also the bound on duplicates: after a crash, what a rerun can send twice is what
 * was written and not yet committed, at most `limit` pages (1 for every sink today: a rerun
 * repeats at most one page).
 */
export class Acks {
  private last: Promise<void> = Promise.resolve();
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(private readonly limit: number) {}

  /**
   * Waits until a write may start (throwing an earlier failure), starts `write`, and queues
   * `commit` after it and after every earlier commit. Returns once the write has started.
   */
  async add(write: () => Promise<void>, commit: () => void | Promise<void>): Promise<void> {
    while (this.inFlight.length >= this.limit) await this.inFlight.shift();
    const written = write();
    const before = this.last;
    const done = (async () => {
      await written;
      await before;
      await commit();
    })();
    done.catch(() => undefined); // awaited by a later add() or by drain(); not unhandled meanwhile
    this.last = done;
    this.inFlight.push(done);
  }

  /** Waits for every write and commit in flight; throws the first failure. */
  async drain(): Promise<void> {
    try {
      while (this.inFlight.length > 0) await this.inFlight.shift();
    } finally {
      this.inFlight.length = 0;
    }
  }
}
