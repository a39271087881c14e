import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';

export interface TailRecord {
  partition: number;
  offset: number;
  key: string | null;
  /** The value as text; null for a tombstone. */
  value: string | null;
  headers: Record<string, string>;
  /** The record's timestamp (ms): the broker's clock on a topic with LogAppendTime. */
  timestamp: number;
}

export interface TailOptions {
  /** Only records of committed transactions (read_committed); else every record as written. */
  committed: boolean;
  /** Called for each record, in offset order within a partition. */
  onRecord(record: TailRecord): void;
  /** Called once if the consumer dies (the waits reject with it too). */
  onCrash?(error: Error): void;
}

interface Waiter {
  partition: number;
  offset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A topic read from its beginning and then followed, by a kafkajs consumer in a group of its
 * own (a random id; no offset is ever committed, so each tail starts from the beginning). kafkajs
 * has no consumer without a group: this is how a client reads a whole topic with it.
 *
 * `passed(partition, offset)` resolves once everything up to that offset has been handed on: a
 * writer that knows where its own record landed waits for the tail to reach it, and then knows
 * it has seen everything written before it. A read_committed tail passes an offset only once
 * every transaction open before it has ended (committed or aborted).
 */
export class TopicTail {
  private consumer?: Consumer;
  /** The next offset to read, per partition. */
  private readonly next = new Map<number, number>();
  private waiters: Waiter[] = [];
  private failure?: Error;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly options: TailOptions,
  ) {}

  /** Joins its group and starts reading; resolves once the partitions are assigned. */
  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `nowpipe-tail-${randomUUID()}`,
      readUncommitted: !this.options.committed,
      allowAutoTopicCreation: false,
      // A fetch waits at most this long for new records: a wait for a record just written ends
      // as soon as it is readable, and a stop is prompt.
      maxWaitTimeInMs: 500,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    // Every batch, also one the read_committed filter emptied (only transaction markers or
    // aborted records), moves the position: the markers have offsets too.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === this.topic) this.advance(payload.partition, Number(payload.lastOffset) + 1);
    });
    // kafkajs restarts a consumer after a retriable failure (from the beginning again: nothing is
    // committed; records already handed on are skipped below); any other crash ends the tail.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fail(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const from = this.next.get(batch.partition) ?? 0;
        for (const m of batch.messages) {
          if (Number(m.offset) < from) continue;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v);
          this.options.onRecord({
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key?.toString() ?? null,
            value: m.value === null ? null : m.value.toString(),
            headers,
            timestamp: Number(m.timestamp),
          });
        }
      },
    });
  }

  private advance(partition: number, next: number): void {
    if (next <= (this.next.get(partition) ?? 0)) return;
    this.next.set(partition, next);
    this.waiters = this.waiters.filter((w) => {
      if (w.partition !== partition || w.offset >= next) return true;
      w.resolve();
      return false;
    });
  }

  private fail(error: Error, crashed = true): void {
    if (this.failure) return;
    this.failure = error;
    for (const w of this.waiters) w.reject(error);
    this.waiters = [];
    if (crashed) this.options.onCrash?.(error);
  }

  /** Resolves once the record at `offset` of `partition` (and all before it) has been read. */
  passed(partition: number, offset: number, signal?: AbortSignal): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if ((this.next.get(partition) ?? 0) > offset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { partition, offset, resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.fail(new Error(`stopped reading ${this.topic}`), false);
    await consumer?.disconnect().catch(() => undefined);
  }
}
