import { configForTable, type Config } from '../../config/schema.js';
import type { Format } from '../format.js';
import { DEFAULT_TOPIC, expandTopic, parseBroker, resolveSecurity, type SaslMechanism } from './validate.js';

/**
 * kafkajs's retry settings, for the producer and the cluster alike. The defaults give a broker
 * about two minutes to come back (300 ms doubling to 30 s between attempts: 0.3 + 0.6 + … +
 * 30 + 30 + 30 ≈ 128 s) before a write fails and the run exits 1.
 */
export interface KafkaRetryPolicy {
  retries: number;
  initialRetryTimeMs: number;
  maxRetryTimeMs: number;
  multiplier: number;
  /** Randomisation of each delay (±20 %). */
  factor: number;
}

export const DEFAULT_KAFKA_RETRY: KafkaRetryPolicy = { retries: 10, initialRetryTimeMs: 300, maxRetryTimeMs: 30_000, multiplier: 2, factor: 0.2 };

/** The longest the retries of one write may wait in total, by the policy's own schedule. */
export function retryScheduleMs(p: KafkaRetryPolicy): number {
  let total = 0;
  let delay = p.initialRetryTimeMs;
  for (let i = 0; i < p.retries; i++) {
    total += Math.min(delay * (1 + p.factor), p.maxRetryTimeMs);
    delay = Math.min(delay * p.multiplier, p.maxRetryTimeMs);
  }
  return Math.round(total);
}

export const KAFKA_TIMEOUTS = {
  /** TCP (+ TLS) connect to one broker. */
  connectMs: 10_000,
  /** SASL handshake. */
  authenticationMs: 10_000,
  /** One request, and the broker's wait for the in-sync replicas on a produce. */
  requestMs: 30_000,
  /** The whole health check at open: reach, authenticate, find or create the topics. */
  healthCheckMs: 45_000,
  /** Disconnecting at close. */
  closeMs: 10_000,
};

/** Kafka's default `message.max.bytes` (1 MiB plus the 12-byte log overhead), when a topic's own cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** At most this many messages in one produce request, whatever their size. */
export const MAX_MESSAGES_PER_REQUEST = 10_000;

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** Table → topic, for every table of the run. */
  topics: Map<string, string>;
  tls?: { caFile?: string };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  compression: 'none' | 'gzip';
  /** all (-1): every in-sync replica, with the idempotent producer; 1: the leader only, not idempotent. */
  acks: -1 | 1;
  createTopic?: { partitions: number; replication: number };
  skipOversized: boolean;
  format: Format;
  retry: KafkaRetryPolicy;
  /** The earliest --since of the run's tables (raw ServiceNow time): how old its records can be. */
  oldestSince: string;
}

/** The validated config as the Kafka sink needs it (the schema already refused anything inconsistent). */
export function kafkaSettings(config: Config): KafkaSettings {
  const topics = new Map<string, string>();
  for (const table of config.tableNames) topics.set(table, expandTopic(configForTable(config, table).topic ?? DEFAULT_TOPIC, table));
  const { security } = resolveSecurity({ ...config, sink: 'kafka', table: config.tableNames, tables: config.tableSettings });
  return {
    brokers: (config.brokers ?? []).map((b) => parseBroker(b) ?? b),
    clientId: config.kafkaClientId,
    topics,
    tls: security.tls ? { caFile: config.kafkaCa } : undefined,
    sasl: security.sasl,
    compression: config.compression,
    acks: config.kafkaAcks === '1' ? 1 : -1,
    createTopic: config.createTopic ? { partitions: config.topicPartitions ?? -1, replication: config.topicReplication ?? -1 } : undefined,
    skipOversized: config.skipOversized,
    format: config.format,
    retry: { ...DEFAULT_KAFKA_RETRY, retries: config.kafkaRetries },
    oldestSince: config.tableNames.map((t) => configForTable(config, t).since).reduce((a, b) => (b < a ? b : a), config.since),
  };
}
