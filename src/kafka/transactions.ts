import { createHash } from 'node:crypto';
import { retryOptions, type ClientConfig } from './client.js';
import type { ProduceRequest, ProducerLink } from './producer-link.js';
import type { KafkaRetryPolicy } from './settings.js';

/** How long a transaction may stay open before the brokers abort it (a write and its checkpoint). */
export const TRANSACTION_TIMEOUT_MS = 60_000;

/**
 * The transactional id of a table's producer: stable for the same state topic, instance and
 * table, whoever runs it, so a later run (or group member) fences an earlier one.
 */
export function transactionalId(stateTopic: string, key: string): string {
  return `nowpipe-${createHash('sha256').update(`${stateTopic}\u0000${key}`).digest('hex').slice(0, 24)}`;
}

/**
 * The next transaction's first send usually meets CONCURRENT_TRANSACTIONS: the brokers are still
 * writing the last commit's markers, for a few milliseconds. Kafka's Java client retries that
 * after 20 ms; so do these producers, doubling from there, with four more retries so that a
 * broker in trouble gets about as long as --kafka-retries gives it.
 */
function quickFirstRetries(p: KafkaRetryPolicy) {
  return { ...retryOptions(p), initialRetryTime: 20, retries: p.retries + 4 };
}

export interface TransactionsOptions {
  kafka: ClientConfig;
  retry: KafkaRetryPolicy;
  logLevel: number;
}

/**
 * --exactly-once: one transactional producer per table, shared by the Kafka sink and the Kafka
 * state store. The pipeline writes a table's batch and then saves its progress, one after the
 * other, one write in flight per table; so the sink's `send` opens the table's transaction and
 * sends the records into it, and the store's `commit` adds the checkpoint record and commits
 * both at once. A save with no write before it is a transaction of its own. A failed commit
 * aborts the transaction, and so does closing with one open; a crash leaves it to the next
 * producer with the same id, whose `open` aborts it: read_committed consumers never see its
 * records.
 *
 * One producer per table (not one for the run): another table's write may start while this
 * table's checkpoint is being committed, and must not land in this table's transaction.
 */
export class TableTransactions {
  private readonly open_ = new Map<string, string>();

  private link?: ProducerLink;
  private options?: TransactionsOptions;

  /**
   * Made before the state store opens (the sink is handed it first); usable once the store has
   * connected the producer thread.
   */
  attach(link: ProducerLink, options: TransactionsOptions): void {
    this.link = link;
    this.options = options;
  }

  private get thread(): ProducerLink {
    if (!this.link) throw new Error('the transactional producers are not started (the Kafka state is not open)');
    return this.link;
  }

  private producer(table: string): string {
    const name = this.open_.get(table);
    if (name === undefined) throw new Error(`no transactional producer for table ${table} (its state was not opened)`);
    return name;
  }

  /** Whether the table's producer is connected. */
  has(table: string): boolean {
    return this.open_.has(table);
  }

  /**
   * Connects the table's producer with its transactional id: that fences every older producer
   * of the id (a zombie's next send or commit fails) and aborts the transaction it left open.
   */
  async open(table: string, id: string): Promise<void> {
    const name = `tx:${table}`;
    const o = this.options!;
    await this.thread.connect(
      o.kafka,
      { transactionalId: id, idempotent: true, maxInFlightRequests: 1, transactionTimeout: TRANSACTION_TIMEOUT_MS, allowAutoTopicCreation: false, retry: quickFirstRetries(o.retry) },
      o.logLevel,
      name,
    );
    this.open_.set(table, name);
  }

  /**
   * Sends records into the table's open transaction (begun if none is). A failure leaves it
   * open: the sink may go on (a single row refused as too large is skipped), or fail, and then
   * no checkpoint commits it: `close` (or the next run) aborts it.
   */
  async send(table: string, requests: ProduceRequest[], timeout: number, gzip: boolean): Promise<void> {
    await this.thread.send(requests, -1, timeout, gzip, this.producer(table));
  }

  /** Sends the checkpoint record into the table's transaction and commits it with what the sink sent. */
  async commit(table: string, requests: ProduceRequest[], timeout: number): Promise<void> {
    const name = this.producer(table);
    try {
      await this.thread.send(requests, -1, timeout, false, name);
      await this.thread.end(name, 'commit');
    } catch (err) {
      await this.thread.end(name, 'abort').catch(() => undefined);
      throw err;
    }
  }

  /** Aborts what the table's transaction holds (nothing when none is open). */
  abort(table: string): Promise<void> {
    const name = this.open_.get(table);
    return name === undefined ? Promise.resolve() : this.thread.end(name, 'abort');
  }

  /** Aborts the table's open transaction, if any, and disconnects its producer. */
  async close(table: string): Promise<void> {
    const name = this.open_.get(table);
    if (name === undefined) return;
    this.open_.delete(table);
    await this.thread.end(name, 'abort').catch(() => undefined);
    await this.thread.disconnect(name);
  }
}
