/**
 * The rules of the Kafka settings, pure (no I/O, no kafkajs): the config calls `kafkaProblems`
 * so a bad Kafka setting is reported with every other problem, before anything connects. They
 * live with the config, not the sink, so that neither imports the other: src/cli/kafka-settings.ts
 * maps the validated config onto the sink's own settings.
 */

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** Kafka's `security.protocol`, as Confluent Cloud and every Kafka client config spell it. */
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export const DEFAULT_TOPIC = 'servicenow.{table}';

/** `{table}` in a topic name becomes the table's name. */
export function expandTopic(pattern: string, table: string): string {
  return pattern.split('{table}').join(table);
}

/** Kafka's own rule for topic names (kafka.common.Topic): legal characters, at most 249. */
export function topicProblem(name: string): string | undefined {
  if (name === '.' || name === '..') return `"${name}" is not a topic name`;
  if (name.length > 249) return `"${name.slice(0, 40)}…" is longer than the 249 characters Kafka allows in a topic name`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return `"${name}" is not a topic name: use letters, digits, ".", "_" and "-" ({table} becomes the table name)`;
  return undefined;
}

/**
 * A bootstrap server as `host:port` (IPv6 as `[::1]:9092`). A listener prefix such as
 * `SASL_SSL://`, which some generated client configs carry, is dropped.
 */
export function parseBroker(entry: string): string | undefined {
  const s = entry.trim().replace(/^[A-Za-z_]+:\/\//, '');
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return `${m[1]}:${port}`;
}

export interface JaasConfig {
  module: string;
  username?: string;
  password?: string;
}

/**
 * Reads a Java `sasl.jaas.config` line, as Confluent Cloud hands it out:
 * `org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY' password='SECRET';`
 * Returns undefined when it is not one (never echoes it: it holds a secret).
 */
export function parseJaasConfig(text: string): JaasConfig | undefined {
  const m = /^\s*([A-Za-z_$][\w.$]*)\s+(required|requisite|sufficient|optional)\b([\s\S]*)$/.exec(text);
  if (!m) return undefined;
  const options = new Map<string, string>();
  const body = m[3]!.replace(/;\s*$/, '');
  const option = /\s*([A-Za-z_][\w.]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s;"']+))/y;
  let at = 0;
  while (at < body.length && body.slice(at).trim() !== '') {
    option.lastIndex = at;
    const o = option.exec(body);
    if (!o) return undefined;
    const raw = o[2] ?? o[3] ?? o[4] ?? '';
    options.set(o[1]!, raw.replace(/\\(.)/g, '$1'));
    at = option.lastIndex;
  }
  return { module: m[1]!, username: options.get('username'), password: options.get('password') };
}

/** What the schema hands over: only the keys the Kafka rules look at. */
export interface KafkaInput {
  sink: string;
  table?: string[];
  tables?: Record<string, { topic?: string }>;
  brokers?: string[];
  topic?: string;
  kafkaSecurityProtocol?: SecurityProtocol;
  kafkaSasl?: SaslMechanism;
  kafkaUsername?: string;
  kafkaPassword?: string;
  kafkaJaasConfig?: string;
  kafkaTls?: boolean;
  kafkaCa?: string;
  createTopic?: boolean;
  topicPartitions?: number;
  topicReplication?: number;
}

export interface Problem {
  path: string;
  message: string;
}

/** The authentication a config asks for, or the problems that stop it. */
export interface ResolvedSecurity {
  tls: boolean;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

/**
 * Works out TLS and SASL from the flags and the Kafka client keys (`security.protocol`,
 * `sasl.mechanism`, `sasl.jaas.config`): flags and nowpipe keys win over the JAAS line.
 */
export function resolveSecurity(c: KafkaInput): { security: ResolvedSecurity; problems: Problem[] } {
  const problems: Problem[] = [];
  const protocol = c.kafkaSecurityProtocol;
  let jaas: JaasConfig | undefined;
  if (c.kafkaJaasConfig !== undefined) {
    jaas = parseJaasConfig(c.kafkaJaasConfig);
    if (!jaas) {
      problems.push({ path: 'kafkaJaasConfig', message: `not a JAAS line such as: org.apache.kafka.common.security.plain.PlainLoginModule required username='<key>' password='<secret>';` });
    } else if (!/(PlainLoginModule|ScramLoginModule)$/.test(jaas.module)) {
      problems.push({ path: 'kafkaJaasConfig', message: `${jaas.module} is not supported: nowpipe speaks SASL PLAIN and SCRAM (PlainLoginModule, ScramLoginModule)` });
    }
  }
  let mechanism = c.kafkaSasl;
  // Java's default mechanism is GSSAPI, which nowpipe lacks; a PLAIN login module says PLAIN.
  if (mechanism === undefined && jaas && /PlainLoginModule$/.test(jaas.module)) mechanism = 'plain';
  const saslProtocol = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const username = c.kafkaUsername ?? jaas?.username;
  const password = c.kafkaPassword ?? jaas?.password;

  if (saslProtocol && mechanism === undefined) {
    problems.push({ path: 'kafkaSasl', message: `required with security.protocol ${protocol}: plain, scram-sha-256 or scram-sha-512 (--kafka-sasl or sasl.mechanism)` });
  }
  if (mechanism !== undefined && (protocol === 'PLAINTEXT' || protocol === 'SSL')) {
    problems.push({ path: 'kafkaSasl', message: `SASL cannot be used with security.protocol ${protocol} (use SASL_SSL or SASL_PLAINTEXT)` });
  }
  if (mechanism !== undefined) {
    if (username === undefined || username === '') problems.push({ path: 'kafkaUsername', message: `required with SASL ${mechanism}: --kafka-username (env KAFKA_USERNAME; the API key on Confluent Cloud)` });
    if (password === undefined || password === '') problems.push({ path: 'kafkaPassword', message: `required with SASL ${mechanism}: env KAFKA_PASSWORD or --kafka-password (the API secret on Confluent Cloud)` });
  } else if (!saslProtocol && (c.kafkaUsername !== undefined || c.kafkaPassword !== undefined)) {
    problems.push({ path: 'kafkaSasl', message: 'a Kafka username or password needs a SASL mechanism: --kafka-sasl plain, scram-sha-256 or scram-sha-512' });
  }

  const protocolTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  if (protocol !== undefined && c.kafkaTls !== undefined && c.kafkaTls !== protocolTls) {
    problems.push({ path: 'kafkaTls', message: `${c.kafkaTls ? 'on' : 'off'} contradicts security.protocol ${protocol}` });
  }
  if (c.kafkaCa !== undefined && (c.kafkaTls === false || protocol === 'PLAINTEXT' || protocol === 'SASL_PLAINTEXT')) {
    problems.push({ path: 'kafkaCa', message: 'a CA file is for TLS, which this config turns off' });
  }
  const tls = c.kafkaTls ?? (protocol !== undefined ? protocolTls : c.kafkaCa !== undefined);
  const sasl = mechanism !== undefined && username && password ? { mechanism, username, password } : undefined;
  return { security: { tls, sasl }, problems };
}

/** Every problem of a Kafka sink config at once (only meaningful with `--sink kafka`). */
export function kafkaProblems(c: KafkaInput): Problem[] {
  if (c.sink !== 'kafka') return [];
  const problems: Problem[] = [];
  if (c.brokers === undefined || c.brokers.length === 0) {
    problems.push({ path: 'brokers', message: 'required with --sink kafka: the bootstrap servers, e.g. --brokers 127.0.0.1:9092 (rc file: kafka.bootstrap.servers or bootstrap.servers)' });
  } else {
    const bad = c.brokers.filter((b) => parseBroker(b) === undefined);
    if (bad.length > 0) problems.push({ path: 'brokers', message: `${bad.map((b) => `"${b}"`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not host:port` });
  }
  const seen = new Set<string>();
  for (const table of c.table ?? []) {
    const pattern = c.tables?.[table]?.topic ?? c.topic ?? DEFAULT_TOPIC;
    const name = expandTopic(pattern, table);
    if (seen.has(name)) continue;
    seen.add(name);
    const p = topicProblem(name);
    if (p) problems.push({ path: c.tables?.[table]?.topic !== undefined ? `tables.${table}.topic` : 'topic', message: p });
  }
  if (!c.createTopic) {
    for (const key of ['topicPartitions', 'topicReplication'] as const) {
      if (c[key] !== undefined) problems.push({ path: key, message: 'only used with --create-topic' });
    }
  }
  problems.push(...resolveSecurity(c).problems);
  return problems;
}
