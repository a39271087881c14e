import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { processSpace } from '../lock.js';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { CheckpointError } from '../../errors/index.js';
import { CHECK_RETRY, clientConfig, requireKafka, retryOptions, withDeadline } from '../../kafka/client.js';
import { kafkaError, rootCause, type KafkaErrorContext } from '../../kafka/errors.js';
import { KafkaLogs, type KafkaNotices } from '../../kafka/logs.js';
import { ProducerLink, type WireMessage } from '../../kafka/producer-link.js';
import { KAFKA_TIMEOUTS, type KafkaConnection } from '../../kafka/settings.js';
import { TopicTail, type TailRecord } from '../../kafka/tail.js';
import { TableTransactions } from '../../kafka/transactions.js';
import { LeaseBook, parseLease, type LeaseRecord } from './lease.js';
import { kindOf, partitionFor } from './records.js';

const { Kafka, ConfigResourceTypes } = kafkajs;

/**
 * How nowpipe creates a missing state topic. Compacted: each key keeps its latest record. Old
 * records are compacted only once they are 10 minutes old, so the lease records of a contest
 * are all there while it is decided; hourly segments let the cleaner reach them. Record
 * timestamps are the broker's (LogAppendTime), so a lease's age is measured by one clock.
 */
export const STATE_TOPIC_CONFIG: Record<string, string> = {
  'cleanup.policy': 'compact',
  'min.compaction.lag.ms': String(10 * 60_000),
  'segment.ms': String(60 * 60_000),
  'segment.bytes': String(64 * 1024 * 1024),
  'message.timestamp.type': 'LogAppendTime',
  // A checkpoint carries the row versions of its overlap window: a dense second can take it past
  // the brokers' default of 1 MB.
  'max.message.bytes': String(16 * 1024 * 1024),
};

export interface KafkaStateOptions {
  connection: KafkaConnection;
  topic: string;
  /** A lease not renewed for this long is taken over (--lock-stale-after). */
  staleAfterMs: number;
  /** --exactly-once: each table gets a transactional producer (see TableTransactions). */
  exactlyOnce: boolean;
  notices: KafkaNotices;
}

/**
 * The connection to the state topic, shared by the Kafka checkpoint stores of a process (one for
 * a run's tables, or one per table a group member runs): the topic made sure of, a producer
 * (on the producer thread, with the transactional ones of --exactly-once), and two readers of
 * the topic kept running — every record as written (the leases) and only committed ones (the
 * progress: with --exactly-once a checkpoint counts only once its transaction commits).
 */
export class KafkaState {
  readonly where: string;
  /** This run, as it appears in its lease records. */
  readonly me: Omit<LeaseRecord, 'type'>;
  readonly book: LeaseBook;
  partitions = 1;
  /** --exactly-once: the tables' transactional producers (the Kafka sink sends through them too). */
  readonly transactions?: TableTransactions;
  private readonly logs: KafkaLogs;
  private link?: ProducerLink;
  private tails: TopicTail[] = [];
  /** The latest committed progress record of each key (null: a tombstone). */
  private readonly progress = new Map<string, string | null>();
  private readonly groups = new Map<string, string[]>();
  /** State records are written one at a time, in the order asked. */
  private writing: Promise<unknown> = Promise.resolve();
  private readonly crashController = new AbortController();
  /** Aborted when a reader of the topic died: nothing can be decided from then on. */
  readonly crashed = this.crashController.signal;

  constructor(private readonly options: KafkaStateOptions) {
    this.where = `Kafka topic ${options.topic}`;
    this.me = { owner: randomBytes(12).toString('hex'), pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), space: processSpace() };
    this.book = new LeaseBook(options.staleAfterMs, new Set([this.me.owner]));
    this.logs = new KafkaLogs(options.notices, options.connection.retry.retries);
    if (options.exactlyOnce) this.transactions = new TableTransactions();
  }

  get topic(): string {
    return this.options.topic;
  }

  get staleAfterMs(): number {
    return this.options.staleAfterMs;
  }

  context(action: KafkaErrorContext['action'], table?: string): KafkaErrorContext {
    const { brokers, sasl, retry } = this.options.connection;
    return { brokers, action, topic: this.options.topic, retries: retry.retries, subject: 'state', table, sasl: sasl && { mechanism: sasl.mechanism, username: sasl.username } };
  }

  /**
   * The health check and the start: the brokers answer and accept the credentials, the topic
   * exists (created if missing), the producer has its id, and both readers have caught up with
   * the topic as it was when they started.
   */
  async open(): Promise<void> {
    const c = this.options.connection;
    const checkConfig = await clientConfig(c, CHECK_RETRY);
    const config = await clientConfig(c, c.retry);
    const kafka = new Kafka({ ...config, logLevel: this.logs.level, logCreator: new KafkaLogs(this.options.notices, 0).creator });
    const admin = new Kafka({ ...checkConfig, logLevel: this.logs.level, logCreator: this.logs.creator }).admin();
    let gaveUp = false;
    const check = async () => {
      await requireKafka(c, checkConfig.ssl, 'state');
      await admin.connect().catch((err) => {
        throw kafkaError(err, this.context('connect'));
      });
      await this.ensureTopic(admin);
      if (gaveUp) return;
      this.link = new ProducerLink(this.logs);
      await this.link
        .connect(config, { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: retryOptions(c.retry) }, this.logs.level, 'state')
        .catch((err) => {
          throw kafkaError(err, this.context('connect'));
        });
      this.transactions?.attach(this.link, { kafka: config, retry: c.retry, logLevel: this.logs.level });
    };
    try {
      await withDeadline(check(), KAFKA_TIMEOUTS.healthCheckMs, () => {
        gaveUp = true;
        return new CheckpointError(`kafka state: no answer from the Kafka brokers ${c.brokers.join(',')} within ${KAFKA_TIMEOUTS.healthCheckMs / 1000} s`, {
          exitCode: 1,
          hint: 'check --state-brokers (or --brokers), the network path to them, and --kafka-tls for a TLS listener',
        });
      });
      await this.startTails(kafka);
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    this.logs.unmute();
  }

  private async ensureTopic(admin: Admin): Promise<void> {
    const topic = this.options.topic;
    const fail = (action: KafkaErrorContext['action']) => (err: unknown) => {
      throw kafkaError(err, this.context(action));
    };
    const existing = new Set(await admin.listTopics().catch(fail('check')));
    if (!existing.has(topic)) {
      const created = await admin
        .createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: 1, replicationFactor: -1, configEntries: Object.entries(STATE_TOPIC_CONFIG).map(([name, value]) => ({ name, value })) }],
        })
        .catch((err: unknown) => {
          // Another process made it first.
          if (rootCause(err).error?.type === 'TOPIC_ALREADY_EXISTS') return false;
          throw kafkaError(err, this.context('create'));
        });
      if (created) this.options.notices.info(`kafka state: created topic ${topic} (compacted) for the checkpoints`);
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(fail('check'));
    this.partitions = meta.topics[0]?.partitions.length || 1;
    const described = await admin
      .describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }] })
      .catch(() => undefined);
    const policy = described?.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    if (policy !== undefined && !policy.includes('compact')) {
      this.options.notices.warn(`kafka state: topic ${topic} is not compacted (cleanup.policy=${policy}): checkpoints older than its retention will be deleted; use cleanup.policy=compact`);
    }
  }

  private async startTails(kafka: InstanceType<typeof Kafka>): Promise<void> {
    const crash = (err: Error) => this.crashController.abort(kafkaError(err, this.context('read')));
    const leases = new TopicTail(kafka, this.options.topic, { committed: false, onRecord: (r) => this.onLeaseRecord(r), onCrash: crash });
    const committed = new TopicTail(kafka, this.options.topic, { committed: true, onRecord: (r) => this.onCommittedRecord(r), onCrash: crash });
    this.tails = [leases, committed];
    await Promise.all(this.tails.map((t) => t.start())).catch((err: unknown) => {
      throw kafkaError(err, this.context('read'));
    });
  }

  private onLeaseRecord(r: TailRecord): void {
    const kind = kindOf(r.headers);
    if (kind === 'lease' && r.key !== null) {
      const lease = parseLease(r.value);
      if (lease) this.book.apply(r.key.replace(/\|lease$/, ''), r.offset, r.timestamp, lease);
    } else if (kind === 'group' && r.key !== null && r.value !== null) {
      try {
        const { tables } = JSON.parse(r.value) as { tables?: unknown };
        if (Array.isArray(tables) && !this.groups.has(r.key)) this.groups.set(r.key, tables.map(String));
      } catch {
        // Not ours to judge: a group record nowpipe cannot read is left alone.
      }
    }
  }

  private onCommittedRecord(r: TailRecord): void {
    if (kindOf(r.headers) === 'progress' && r.key !== null) this.progress.set(r.key, r.value);
  }

  /** The latest committed progress record of a key: text, null (a tombstone), or undefined (none). */
  progressOf(key: string): string | null | undefined {
    return this.progress.get(key);
  }

  /** The first table list recorded for a group (see group/). */
  groupTables(key: string): string[] | undefined {
    return this.groups.get(key);
  }

  /** Writes one record (acknowledged by all in-sync replicas); resolves with where it landed. */
  write(message: WireMessage & { partition: number }): Promise<{ partition: number; offset: number }> {
    const link = this.link;
    if (!link) return Promise.reject(new Error('the Kafka state is not open'));
    const next = this.writing.then(async () => {
      const landed = await link.send([[{ topic: this.options.topic, messages: [message] }]], -1, KAFKA_TIMEOUTS.requestMs, false, 'state');
      return { partition: message.partition, offset: landed[0]?.offset ?? -1 };
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  partitionOf(key: string): number {
    return partitionFor(key, this.partitions);
  }

  /**
   * Resolves once the lease reader has read every record of `partition` written before now: a
   * mark is written and read back.
   */
  async barrier(partition: number): Promise<void> {
    await this.leasesPassed(partition, await this.mark(partition));
  }

  /** A tombstone on a key of this run's own (no reader keeps it), written now; its offset. */
  async mark(partition: number, table?: string): Promise<number> {
    const landed = await this.write({ key: `barrier|${this.me.owner}`, value: null, partition, headers: {} }).catch((err: unknown) => {
      throw kafkaError(err, this.context('write', table));
    });
    return landed.offset;
  }

  /** Resolves once the lease reader has read up to `offset` (and so every record before it). */
  leasesPassed(partition: number, offset: number, signal?: AbortSignal): Promise<void> {
    return this.tails[0]!.passed(partition, offset, signal);
  }

  /** Resolves once the committed reader has: every transaction begun before it has ended. */
  committedPassed(partition: number, offset: number, signal?: AbortSignal): Promise<void> {
    return this.tails[1]!.passed(partition, offset, signal);
  }

  async close(): Promise<void> {
    this.logs.mute();
    const tails = this.tails;
    this.tails = [];
    const link = this.link;
    this.link = undefined;
    const closing = async () => {
      if (!link) return;
      // Bounded: with the brokers gone, the writes queued may each retry for long.
      await withDeadline(this.writing, KAFKA_TIMEOUTS.closeMs, () => new Error('timed out')).catch(() => undefined);
      await withDeadline(link.close(), KAFKA_TIMEOUTS.closeMs, () => new Error('disconnect timed out')).catch(() => link.terminate().catch(() => undefined));
    };
    await Promise.all([...tails.map((t) => t.stop()), closing()]);
  }
}
