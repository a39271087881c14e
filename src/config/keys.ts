import type { ConfigInput } from './schema.js';

type Key = keyof ConfigInput;
type Convert = (value: unknown) => unknown;

const msToSeconds: Convert = (v) => (v === '' || v === undefined || v === null ? v : Number(v) / 1000);

/**
 * Every rc-file spelling of a setting, in one table: nowpipe's own keys (camelCase or the
 * flag's kebab-case) and the Confluent ServiceNow Source connector's keys, so a connector
 * config runs unchanged.
 */
export const RC_ALIASES: Record<string, { key: Key; convert?: Convert }> = {
  'servicenow.url': { key: 'url' },
  'servicenow.table': { key: 'table' },
  'servicenow.user': { key: 'user' },
  'servicenow.password': { key: 'password' },
  'servicenow.since': { key: 'since' },
  'batch.max.rows': { key: 'batchSize' },
  'poll.interval.s': { key: 'pollInterval' },
  'retry.max.times': { key: 'retries' },
  'proxy.url': { key: 'proxy' },
  'oauth.api.key': { key: 'clientId' },
  'oauth.api.secret': { key: 'clientSecret' },
  'oauth.refresh.token': { key: 'refreshToken' },
  'kafka.topic': { key: 'topic' },
  // A connector config describes a job that writes to Kafka: with it, so does nowpipe (a
  // --sink flag still wins).
  'connector.class': { key: 'sink', convert: () => 'kafka' },
  'tasks.max': { key: 'concurrency' },
  'kafka.bootstrap.servers': { key: 'brokers' },
  'confluent.topic.bootstrap.servers': { key: 'brokers' },
  // Kafka client properties, as Confluent Cloud's "client config" and Connect files spell them
  // (Java names and librdkafka's), so a copied client config block works as it is.
  'bootstrap.servers': { key: 'brokers' },
  'client.id': { key: 'kafkaClientId' },
  'security.protocol': { key: 'kafkaSecurityProtocol' },
  'sasl.mechanism': { key: 'kafkaSasl' },
  'sasl.mechanisms': { key: 'kafkaSasl' },
  'sasl.jaas.config': { key: 'kafkaJaasConfig' },
  'sasl.username': { key: 'kafkaUsername' },
  'sasl.password': { key: 'kafkaPassword' },
  'ssl.ca.location': { key: 'kafkaCa' },
  'compression.type': { key: 'compression' },
  acks: { key: 'kafkaAcks' },
  // The connector's license-topic client settings: the same cluster's credentials.
  'confluent.topic.security.protocol': { key: 'kafkaSecurityProtocol' },
  'confluent.topic.sasl.mechanism': { key: 'kafkaSasl' },
  'confluent.topic.sasl.jaas.config': { key: 'kafkaJaasConfig' },
  'connection.timeout.ms': { key: 'connectTimeout', convert: msToSeconds },
  'read.timeout.ms': { key: 'timeout', convert: msToSeconds },
  // The webhook's headers: one flag per header (--http-header), one plural key in the rc file.
  httpHeaders: { key: 'httpHeader' },
  'http-headers': { key: 'httpHeader' },
};

/** Connector keys that describe Kafka Connect itself: accepted, reported once, not used. */
export const CONNECT_ONLY_KEYS = new Set([
  'name',
  'key.converter',
  'value.converter',
  'key.converter.schemas.enable',
  'value.converter.schemas.enable',
  'confluent.license',
  'confluent.topic.replication.factor',
  'confluent.topic',
  'topic.creation.default.replication.factor',
  'topic.creation.default.partitions',
  'errors.tolerance',
]);

/** Environment variables, lowest to highest priority where two name the same key. */
export const ENV_KEYS: Array<{ env: string; key: Key }> = [
  { env: 'https_proxy', key: 'proxy' },
  { env: 'HTTPS_PROXY', key: 'proxy' },
  { env: 'SERVICENOW_URL', key: 'url' },
  { env: 'SERVICENOW_USER', key: 'user' },
  { env: 'SERVICENOW_PASSWORD', key: 'password' },
  { env: 'SERVICENOW_CLIENT_ID', key: 'clientId' },
  { env: 'SERVICENOW_CLIENT_SECRET', key: 'clientSecret' },
  { env: 'SERVICENOW_REFRESH_TOKEN', key: 'refreshToken' },
  { env: 'KAFKA_USERNAME', key: 'kafkaUsername' },
  { env: 'KAFKA_PASSWORD', key: 'kafkaPassword' },
  { env: 'NOWPIPE_HTTP_SECRET', key: 'httpSecret' },
  // Read before anything else too (cli/log-format.ts): a container's errors about its flags come out as JSON.
  { env: 'NOWPIPE_LOG_FORMAT', key: 'logFormat' },
];

/** Keys whose values are secrets: never echoed in warnings, errors or logs. */
export const SECRET_KEYS = new Set<Key>(['password', 'clientSecret', 'refreshToken', 'kafkaPassword', 'kafkaJaasConfig', 'httpSecret']);

export function kebabToCamel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
