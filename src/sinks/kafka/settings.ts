import type { KafkaConnection } from '../../kafka/settings.js';
import type { Format } from '../format.js';

export { DEFAULT_KAFKA_RETRY, KAFKA_TIMEOUTS, retryScheduleMs, type KafkaRetryPolicy, type SaslMechanism } from '../../kafka/settings.js';

/** Kafka's default `message.max.bytes` (1 MiB plus the 12-byte log overhead), when a topic's own cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** At most this many messages in one produce request, whatever their size. */
export const MAX_MESSAGES_PER_REQUEST = 10_000;

/** What the Kafka sink runs with; the CLI maps the validated config onto it (src/cli/kafka-settings.ts). */
export interface KafkaSettings extends KafkaConnection {
  /** Table → topic, for every table of the run. */
  topics: Map<string, string>;
  compression: 'none' | 'gzip';
  /** all (-1): every in-sync replica, with the idempotent producer; 1: the leader only, not idempotent. */
  acks: -1 | 1;
  createTopic?: { partitions: number; replication: number };
  format: Format;
  /** The earliest --since of the run's tables (raw ServiceNow time): how old its records can be. */
  oldestSince: string;
}
