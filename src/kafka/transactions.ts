import { createHash } from 'node:crypto';
import { retryOptions, withDeadline, type ClientConfig } from './client.js';
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
 * both at once. A save with no write before it is a transaction of its own. Closing aborts an
 * open transaction, but only when no send or commit of it may still be in flight or failed: an
 * abort marker written with the producer's epoch while a late produce is still on its way would
 * leave a hanging transaction (brokers without KIP-890). Then the transaction is left to the
 * brokers' transaction timeout or to the next producer with the same id (the next run), whose
 * `open` bumps the epoch and aborts it: read_committed consumers never see its records.
 *
 * One producer per table (not one for the run): another table's write may start while this
 * table's checkpoint is being committed, and must not land in this table's transaction.
 */
export class TableTransactions {
  private readonly open_ = new Map<string, string>();
  /** Tables whose producer may have a send or commit in flight, or had one fail: never ended with this epoch. */
  private readonly unsettled = new Set<string>();

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
    await this.settled(table, this.thread.send(requests, -1, timeout, gzip, this.producer(table)));
  }

  /** Marks the table unsettled until `work` succeeds (a timeout elsewhere leaves it unsettled). */
  private async settled(table: string, work: Promise<unknown>): Promise<void> {
    this.unsettled.add(table);
    await work;
    this.unsettled.delete(table);
  }

  /**
   * Sends the checkpoint record into the table's transaction and commits it with what the sink
   * sent. A failed commit leaves the transaction in doubt (committed or not, the brokers know):
   * the next producer with the same id settles it, and the run, failing, saves nothing past it.
   */
  async commit(table: string, requests: ProduceRequest[], timeout: number): Promise<void> {
    const name = this.producer(table);
    await this.settled(
      table,
      (async () => {
        await this.thread.send(requests, -1, timeout, false, name);
        await this.thread.end(name, 'commit');
      })(),
    );
  }

  /** Aborts the table's open transaction when that is safe (see above), and disconnects its producer, within `deadlineMs`. */
  async close(table: string, deadlineMs: number): Promise<void> {
    const name = this.open_.get(table);
    if (name === undefined) return;
    this.open_.delete(table);
    const quit = async () => {
      if (!this.unsettled.has(table)) await this.thread.end(name, 'abort').catch(() => undefined);
      await this.thread.disconnect(name);
    };
    await withDeadline(quit(), deadlineMs, () => new Error('disconnect timed out')).catch(() => undefined);
  }
}
