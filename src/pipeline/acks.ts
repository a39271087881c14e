/**
 * Writes handed to the sink and not yet acknowledged, with the checkpoint commit each one is
 * waiting for. The reader goes on while up to `limit` writes are in flight (so reading overlaps
 * the sink's work: a Kafka acknowledgement, an fsync); each commit waits for its own write and
 * for the commit before it. So the checkpoint moves only to the highest position whose every
 * predecessor is durable, and never past a write that failed.
 */
export class Acks {
  private last: Promise<void> = Promise.resolve();
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(private readonly limit: number) {}

  /** Queues `commit` after `written` and every earlier commit; waits while too many are in flight. */
  async add(written: Promise<void>, commit: () => void | Promise<void>): Promise<void> {
    const before = this.last;
    const done = (async () => {
      await written;
      await before;
      await commit();
    })();
    done.catch(() => undefined); // awaited below or by drain(); not unhandled meanwhile
    this.last = done;
    this.inFlight.push(done);
    while (this.inFlight.length > this.limit) await this.inFlight.shift();
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
