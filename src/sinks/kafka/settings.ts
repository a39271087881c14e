import type { Format } from '../format.js';

/** The SASL mechanisms kafkajs speaks without plug-ins. */
export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

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

/** What the Kafka sink runs with; the CLI maps the validated config onto it (src/cli/kafka-settings.ts). */
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
  format: Format;
  retry: KafkaRetryPolicy;
  /** The earliest --since of the run's tables (raw ServiceNow time): how old its records can be. */
  oldestSince: string;
}
