import kafkajs from 'kafkajs';
import { SinkError } from '../../errors/index.js';
import { CHECK_RETRY, clientConfig, requireKafka, retryOptions, withDeadline, type ClientConfig } from '../../kafka/client.js';
import { kafkaError, rootCause, type KafkaErrorContext } from '../../kafka/errors.js';
import { KafkaLogs } from '../../kafka/logs.js';
import { ProducerLink, RequestFailed, type ProduceRequest, type WireMessage } from '../../kafka/producer-link.js';
import type { TableTransactions } from '../../kafka/transactions.js';
import type { BadRowPolicy } from '../bad-rows.js';
import type { ChangeRecord, Sink, SinkNotices, WriteResult } from '../types.js';
import { BATCH_OVERHEAD, chunkMessages, compressionSlack, MessageBuilder, type OutMessage } from './messages.js';
import { DEFAULT_MAX_MESSAGE_BYTES, KAFKA_TIMEOUTS, MAX_MESSAGES_PER_REQUEST, retryScheduleMs, type KafkaSettings } from './settings.js';
import { checkTopics } from './topics.js';

const { Kafka } = kafkajs;

export type { KafkaSettings } from './settings.js';

const isTooLarge = (err: unknown) => ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'].includes(rootCause(err).error?.type ?? '');

export interface KafkaSinkOptions {
  settings: KafkaSettings;
  reporter: SinkNotices;
  /** --on-bad-row: a row too large for its topic stops the run (fail) or is set aside (skip). */
  badRows: BadRowPolicy;
  /** --exactly-once: each table's records join its open transaction, which its checkpoint commits. */
  transactions?: TableTransactions;
}

/**
 * Writes every record to Kafka: key = sys_id, value = the row (or envelope) as JSON, headers
 * nowpipe.table/instance/op, timestamp = sys_updated_on; a delete is a tombstone.
 *
 * Delivery: the idempotent producer with acks from all in-sync replicas, and exactly one produce
 * request in flight at any time: a write is cut into requests that fit the topic's
 * max.message.bytes and they are sent one after the other, each awaited, so a row's later version
 * always lands after its earlier one. (kafkajs rolls a partition's sequence number back when a
 * request fails; a second request in flight could then take the failed one's numbers and be
 * dropped by the broker as its "duplicate". For the same reason a producer whose request failed
 * is never used again: the sink refuses further writes and the run ends before the checkpoint
 * moves; the next run resends from the last acknowledged page.)
 *
 * The producer runs on a worker thread (producer-worker.ts): kafkajs's encoding costs about as
 * much CPU as reading the rows, and there it overlaps with the reading. The health check and
 * everything above stay here.
 */
export class KafkaSink implements Sink {
  readonly name = 'kafka';
  private readonly settings: KafkaSettings;
  private readonly reporter: SinkNotices;
  private readonly logs: KafkaLogs;
  private readonly builder: MessageBuilder;
  /** The kafkajs producer, on its own thread. */
  private producer?: ProducerLink;
  /** Each topic's max.message.bytes, read at open. */
  readonly maxMessageBytes = new Map<string, number>();
  /** After a failed produce request nothing more is sent (see above); every later write gets this. */
  private broken?: Error;
  /** What to do with a row too large for its topic (--on-bad-row). */
  private readonly badRows: BadRowPolicy;

  private readonly transactions?: TableTransactions;

  constructor(options: KafkaSinkOptions) {
    this.settings = options.settings;
    this.transactions = options.transactions;
    this.reporter = options.reporter;
    this.badRows = options.badRows;
    this.logs = new KafkaLogs(options.reporter, options.settings.retry.retries);
    this.builder = new MessageBuilder(options.settings.format, (table) => this.topicOf(table));
  }

  /** Where the records went: `topic servicenow.incident`. */
  describe(): string {
    const topics = [...new Set(this.settings.topics.values())];
    return `${topics.length === 1 ? 'topic' : 'topics'} ${topics.join(', ')}`;
  }

  private topicOf(table: string): string {
    const topic = this.settings.topics.get(table);
    if (topic === undefined) throw new SinkError(`kafka sink: no topic for table ${table} (not one of the run's tables)`);
    return topic;
  }

  private context(action: KafkaErrorContext['action'], topic?: string): KafkaErrorContext {
    const { brokers, sasl, retry } = this.settings;
    return { brokers, action, topic, retries: retry.retries, sasl: sasl && { mechanism: sasl.mechanism, username: sasl.username } };
  }

  /**
   * The health check, before anything is read from the instance: the brokers answer, accept the
   * credentials, every topic exists (or is created with --create-topic), and the producer gets
   * its id. Each topic's max.message.bytes is read for sizing the requests. With --exactly-once
   * the records go through the tables' transactional producers (the state store's), not one of
   * the sink's own.
   */
  async open(): Promise<void> {
    const checkConfig = await clientConfig(this.settings, CHECK_RETRY);
    const checker = new Kafka({ ...checkConfig, logLevel: this.logs.level, logCreator: this.logs.creator });
    const admin = checker.admin();
    let link: ProducerLink | undefined;
    let gaveUp = false;
    const check = async () => {
      await requireKafka(this.settings, checkConfig.ssl, 'sink');
      await admin.connect().catch((err) => {
        throw kafkaError(err, this.context('connect'));
      });
      const limits = await checkTopics(admin, this.settings, this.reporter, (action, topic) => this.context(action, topic));
      for (const [topic, max] of limits) this.maxMessageBytes.set(topic, max);
      if (gaveUp || this.transactions) return; // the deadline passed while the topics were checked: no producer thread
      const producerConfig: ClientConfig = await clientConfig(this.settings, this.settings.retry);
      link = new ProducerLink(this.logs);
      await link
        .connect(
          producerConfig,
          {
            idempotent: this.settings.acks === -1,
            maxInFlightRequests: 1,
            allowAutoTopicCreation: false,
            retry: retryOptions(this.settings.retry),
          },
          this.logs.level,
        )
        .catch((err) => {
          throw kafkaError(err, this.context('connect'));
        });
    };
    try {
      await withDeadline(check(), KAFKA_TIMEOUTS.healthCheckMs, () => {
        gaveUp = true;
        return new SinkError(`kafka sink: no answer from the Kafka brokers ${this.settings.brokers.join(',')} within ${KAFKA_TIMEOUTS.healthCheckMs / 1000} s`, {
          hint: 'check --brokers, the network path to them, and --kafka-tls for a TLS listener',
        });
      });
    } catch (err) {
      await link?.terminate().catch(() => undefined);
      throw err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.producer = link;
    this.logs.unmute();
  }

  /** The bytes a produce request to this topic may hold. */
  private limitOf(topic: string): number {
    const max = this.maxMessageBytes.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES;
    return max - compressionSlack(max, this.settings.compression);
  }

  async write(records: ChangeRecord[]): Promise<WriteResult> {
    if (this.broken) throw this.broken;
    if (!this.producer && !this.transactions) throw new SinkError('kafka sink: write before open');
    if (records.length === 0) return {};
    /** Records set aside by the bad-row policy (with fail, the first one stops the write). */
    const rejected = new Set<ChangeRecord>();
    let messages: OutMessage[] = [];
    for (const r of records) for (const m of this.builder.build(r)) messages.push(m);
    if (this.settings.compression === 'none') {
      // A row too large for its topic on its own, before anything of the write is sent.
      for (const m of messages) {
        if (rejected.has(m.record) || BATCH_OVERHEAD + m.bytes <= this.limitOf(m.topic)) continue;
        await this.oversized(m, BATCH_OVERHEAD + m.bytes);
        rejected.add(m.record);
      }
      if (rejected.size > 0) messages = messages.filter((m) => !rejected.has(m.record));
    }
    let chunks = chunkMessages(messages, (t) => this.limitOf(t), MAX_MESSAGES_PER_REQUEST);
    while (chunks.length > 0) {
      try {
        await this.send(chunks, records[0]!.table);
        chunks = [];
      } catch (err) {
        // Refused as too large (possible only with compression, which cannot be predicted): the
        // broker wrote nothing of it, so the producer stays usable and the rest goes on.
        if (err instanceof RequestFailed && chunks[err.request]?.length === 1 && isTooLarge(err.error)) {
          const m = chunks[err.request]![0]!;
          await this.oversized(m, BATCH_OVERHEAD + m.bytes, true);
          rejected.add(m.record);
          chunks = chunks
            .slice(err.request + 1)
            .map((c) => c.filter((other) => other.record !== m.record))
            .filter((c) => c.length > 0);
          continue;
        }
        throw err;
      }
    }
    return { skipped: rejected.size };
  }

  /** A row too large for its topic: stops the write naming it (fail), or is set aside (skip). */
  private oversized(m: OutMessage, bytes: number, compressed = false): Promise<void> {
    const max = this.maxMessageBytes.get(m.topic) ?? DEFAULT_MAX_MESSAGE_BYTES;
    const reason = `${bytes} bytes as a Kafka record batch${compressed ? ' (the broker refused it even gzip-compressed)' : ''}, over the max.message.bytes of topic ${m.topic} (${max})`;
    return this.badRows.reject(m.record, reason, "raise the topic's max.message.bytes, or leave large fields out with --fields");
  }

  /**
   * Produce requests, acknowledged one after the other, within the retry budget. A failure
   * retires the producer, except a single-row request refused as too large (nothing written).
   */
  private async send(chunks: OutMessage[][], table: string): Promise<void> {
    const requests: ProduceRequest[] = chunks.map((chunk) => {
      const request: ProduceRequest = [];
      for (const m of chunk) {
        const wire: WireMessage = { key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp };
        const last = request.at(-1);
        if (last?.topic === m.topic) last.messages.push(wire);
        else request.push({ topic: m.topic, messages: [wire] });
      }
      return request;
    });
    const { retry, acks, compression } = this.settings;
    // kafkajs nests its retries (a send retries, and each attempt's reconnect retries too), so
    // the budget is also enforced by the clock: the policy's schedule plus a request timeout each.
    const budgetMs = retryScheduleMs(retry) + KAFKA_TIMEOUTS.requestMs * requests.length;
    try {
      // Every record of a write is of one table: the pump writes one table's batch at a time.
      const sending: Promise<unknown> = this.transactions
        ? this.transactions.send(table, requests, KAFKA_TIMEOUTS.requestMs, compression === 'gzip')
        : this.producer!.send(requests, acks, KAFKA_TIMEOUTS.requestMs, compression === 'gzip');
      await withDeadline(sending, budgetMs, () =>
        Object.assign(new Error(`no acknowledgement within ${Math.round(budgetMs / 1000)} s`), { name: 'KafkaJSTimeout' }),
      );
    } catch (err) {
      const failed = err instanceof RequestFailed ? chunks[err.request]! : chunks[0]!;
      const cause = err instanceof RequestFailed ? err.error : err;
      if (isTooLarge(cause) && failed.length === 1) throw err;
      const mapped = isTooLarge(cause)
        ? new SinkError(`kafka sink: the broker refused a request of ${failed.length} messages to ${failed[0]!.topic} as too large (max.message.bytes taken as ${this.maxMessageBytes.get(failed[0]!.topic)})`, { cause })
        : kafkaError(cause, { ...this.context('write', failed[0]!.topic), table });
      this.broken = mapped;
      throw mapped;
    }
    this.logs.delivered();
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.logs.mute();
    if (producer) {
      await withDeadline(producer.close(), KAFKA_TIMEOUTS.closeMs, () => new Error('disconnect timed out')).catch(() => producer.terminate().catch(() => undefined));
    }
  }
}
