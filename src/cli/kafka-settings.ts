import { DEFAULT_TOPIC, expandTopic, parseBroker, resolveSecurity } from '../config/kafka-rules.js';
import { configForTable, type Config } from '../config/schema.js';
import { DEFAULT_KAFKA_RETRY, type KafkaSettings } from '../sinks/kafka/settings.js';

/**
 * The validated config as the Kafka sink needs it (the schema already refused anything
 * inconsistent). It lives here, where components are put together, so that the sink knows
 * nothing of the config and the config nothing of the sink.
 */
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
    // connect-json reaches the sink as raw rows whose text is already the envelope (cli/components.ts).
    format: config.format === 'connect-json' ? 'raw' : config.format,
    retry: { ...DEFAULT_KAFKA_RETRY, retries: config.kafkaRetries },
    oldestSince: config.tableNames.map((t) => configForTable(config, t).since).reduce((a, b) => (b < a ? b : a), config.since),
  };
}
