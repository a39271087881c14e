// Pure units: the Kafka settings as the schema validates them and the sink receives them.
import { describe, expect, it } from 'vitest';
import { mapRcObject, resolveConfig } from '../../src/config/load.js';
import { kafkaSettings } from '../../src/cli/kafka-settings.js';
import { expandTopic, parseBroker, parseJaasConfig, topicProblem } from '../../src/config/kafka-rules.js';
import { DEFAULT_KAFKA_RETRY, retryScheduleMs } from '../../src/sinks/kafka/settings.js';
import { configProblems } from '../helpers/config.js';

const base = { url: 'https://acme.service-now.com', table: 'incident', sink: 'kafka', brokers: '127.0.0.1:9092' };

const problems = (input: Parameters<typeof resolveConfig>[0]): string[] => configProblems(() => resolveConfig(input));

const settingsOf = (input: Parameters<typeof resolveConfig>[0]) => kafkaSettings(resolveConfig(input).config);

/** A Confluent Cloud "Java client" config block, as the console hands it out. */
const CONFLUENT_CLOUD = {
  'bootstrap.servers': 'pkc-4r297.europe-west1.gcp.confluent.cloud:9092',
  'security.protocol': 'SASL_SSL',
  'sasl.mechanism': 'PLAIN',
  'sasl.jaas.config': "org.apache.kafka.common.security.plain.PlainLoginModule required username='ABCDEFGHIJKLMNOP' password='s3cr3t/with+chars=';",
  'client.dns.lookup': 'use_all_dns_ips',
  'session.timeout.ms': '45000',
  acks: 'all',
};

describe('kafka settings: defaults and mapping', () => {
  it('has safe defaults: acks all (idempotent), no compression, servicenow.{table}, 10 retries', () => {
    const s = settingsOf({ flags: base });
    expect(s).toMatchObject({ brokers: ['127.0.0.1:9092'], clientId: 'nowpipe', acks: -1, compression: 'none', format: 'raw' });
    expect(s.tls).toBeUndefined();
    expect(s.sasl).toBeUndefined();
    expect(s.createTopic).toBeUndefined();
    expect([...s.topics]).toEqual([['incident', 'servicenow.incident']]);
    expect(s.retry).toEqual(DEFAULT_KAFKA_RETRY);
  });

  it('expands {table} per table and takes per-table topics from the rc file', () => {
    const s = settingsOf({ flags: { ...base, table: 'incident,problem,change_request', topic: 'sn.{table}.v1' }, rc: { tables: { problem: { topic: 'problems' } } } });
    expect(Object.fromEntries(s.topics)).toEqual({ incident: 'sn.incident.v1', problem: 'problems', change_request: 'sn.change_request.v1' });
    expect(expandTopic('{table}-{table}', 'x')).toBe('x-x');
  });

  it('takes flags as strings, as the command line gives them', () => {
    const s = settingsOf({ flags: { ...base, kafkaAcks: '1', kafkaRetries: '3', compression: 'GZIP', createTopic: true, topicPartitions: '6', topicReplication: '3', kafkaClientId: 'etl' } });
    expect(s).toMatchObject({ acks: 1, compression: 'gzip', createTopic: { partitions: 6, replication: 3 }, clientId: 'etl' });
    expect(s.retry.retries).toBe(3);
    // Without --topic-partitions/--topic-replication the broker's defaults apply (-1).
    expect(settingsOf({ flags: { ...base, createTopic: true } }).createTopic).toEqual({ partitions: -1, replication: -1 });
  });

  it('accepts acks -1 as all', () => {
    expect(settingsOf({ flags: { ...base, kafkaAcks: '-1' } }).acks).toBe(-1);
    expect(settingsOf({ flags: { ...base, kafkaAcks: -1 } }).acks).toBe(-1);
  });

  it('SASL from flags and the environment; TLS with a CA file', () => {
    const s = settingsOf({ flags: { ...base, kafkaSasl: 'scram-sha-512', kafkaUsername: 'svc', kafkaCa: '/etc/ssl/ca.pem' }, env: { kafkaPassword: 'pw' } });
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
    expect(s.tls).toEqual({ caFile: '/etc/ssl/ca.pem' });
    expect(settingsOf({ flags: { ...base, kafkaTls: true } }).tls).toEqual({ caFile: undefined });
  });

  it('a Confluent Cloud client config block works as it is (SASL_SSL + PLAIN + JAAS)', () => {
    const { values, warnings } = mapRcObject(CONFLUENT_CLOUD, 'cloud.json');
    expect(warnings).toEqual(['cloud.json: unknown setting "client.dns.lookup" ignored', 'cloud.json: unknown setting "session.timeout.ms" ignored']);
    const s = settingsOf({ rc: values, flags: { url: base.url, table: 'incident', sink: 'kafka' } });
    expect(s.brokers).toEqual(['pkc-4r297.europe-west1.gcp.confluent.cloud:9092']);
    expect(s.tls).toEqual({ caFile: undefined });
    expect(s.sasl).toEqual({ mechanism: 'plain', username: 'ABCDEFGHIJKLMNOP', password: 's3cr3t/with+chars=' });
    expect(s.acks).toBe(-1);
  });

  it("librdkafka's spelling (sasl.mechanisms, sasl.username, sasl.password, ssl.ca.location) too", () => {
    const { values } = mapRcObject({ 'bootstrap.servers': 'b:9092', 'security.protocol': 'sasl_ssl', 'sasl.mechanisms': 'SCRAM-SHA-256', 'sasl.username': 'u', 'sasl.password': 'p', 'ssl.ca.location': '/ca.pem' }, 'rc');
    const s = settingsOf({ rc: values, flags: { url: base.url, table: 'incident', sink: 'kafka' } });
    expect(s.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'u', password: 'p' });
    expect(s.tls).toEqual({ caFile: '/ca.pem' });
  });

  it("flags win over the JAAS line's credentials", () => {
    const s = settingsOf({ rc: mapRcObject(CONFLUENT_CLOUD, 'rc').values, flags: { url: base.url, table: 'incident', sink: 'kafka', kafkaUsername: 'other' }, env: { kafkaPassword: 'env-secret' } });
    expect(s.sasl).toEqual({ mechanism: 'plain', username: 'other', password: 'env-secret' });
  });

  it('a connector file means --sink kafka (a --sink flag still wins)', () => {
    const { values } = mapRcObject({ name: 'c', config: { 'connector.class': 'io.confluent.connect.servicenow.ServiceNowSourceConnector', 'confluent.topic.bootstrap.servers': 'k:9092' } }, 'connector.json');
    expect(resolveConfig({ rc: values, flags: { url: base.url, table: 'incident' } }).config.sink).toBe('kafka');
    expect(resolveConfig({ rc: values, flags: { url: base.url, table: 'incident', sink: 'stdout' } }).config.sink).toBe('stdout');
  });

  it('maps the connector keys for the brokers and the license-topic credentials', () => {
    const { values } = mapRcObject(
      { config: { 'confluent.topic.bootstrap.servers': 'k1:9092,k2:9092', 'confluent.topic.security.protocol': 'SASL_PLAINTEXT', 'confluent.topic.sasl.mechanism': 'SCRAM-SHA-512', 'confluent.topic.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";', 'kafka.topic': 'x' } },
      'connector.json',
    );
    const s = settingsOf({ rc: values, flags: { url: base.url, table: 'incident', sink: 'kafka' } });
    expect(s).toMatchObject({ brokers: ['k1:9092', 'k2:9092'], sasl: { mechanism: 'scram-sha-512', username: 'a', password: 'b' } });
    expect(s.tls).toBeUndefined();
    expect(s.topics.get('incident')).toBe('x');
  });
});

describe('kafka settings: every problem at once, pure', () => {
  it('--sink kafka without --brokers says what to set', () => {
    const p = problems({ flags: { url: base.url, table: 'incident', sink: 'kafka' } });
    expect(p).toEqual(['--brokers: required with --sink kafka: the bootstrap servers, e.g. --brokers 127.0.0.1:9092 (rc file: kafka.bootstrap.servers or bootstrap.servers)']);
  });

  it('reports bad acks, compression, SASL mechanism and retries together (type errors first)', () => {
    const p = problems({
      flags: { ...base, brokers: 'good:9092,nohost,bad:99999', topic: 'bad topic/{table}', kafkaAcks: '0', compression: 'snappy', kafkaSasl: 'gssapi', kafkaRetries: '0', topicPartitions: '3' },
    });
    const text = p.join('\n');
    expect(text).toContain('--kafka-acks: must be all (the default) or 1; 0 is not offered');
    expect(text).toContain('--compression: must be none or gzip (snappy, lz4 and zstd are not built into nowpipe)');
    expect(text).toContain('--kafka-sasl: must be plain, scram-sha-256 or scram-sha-512');
    expect(text).toContain('--kafka-retries: must be at least 1');
    expect(p.length).toBeGreaterThanOrEqual(4);
  });

  it('reports cross-field problems together (once the types are right)', () => {
    const p = problems({ flags: { ...base, brokers: 'good:9092,nohost,bad:99999', table: 'incident,problem', topic: 'bad topic/{table}', topicPartitions: '3', kafkaUsername: 'u' } });
    expect(p).toEqual([
      '--brokers: "nohost", "bad:99999" are not host:port',
      '--topic: "bad topic/incident" is not a topic name: use letters, digits, ".", "_" and "-" ({table} becomes the table name)',
      '--topic: "bad topic/problem" is not a topic name: use letters, digits, ".", "_" and "-" ({table} becomes the table name)',
      '--topic-partitions: only used with --create-topic',
      '--kafka-sasl: a Kafka username or password needs a SASL mechanism: --kafka-sasl plain, scram-sha-256 or scram-sha-512',
    ]);
  });

  it('SASL needs a user and a password; SASL_SSL needs a mechanism; contradictions are named', () => {
    expect(problems({ flags: { ...base, kafkaSasl: 'plain' } })).toEqual([
      '--kafka-username: required with SASL plain: --kafka-username (env KAFKA_USERNAME; the API key on Confluent Cloud)',
      '--kafka-password: required with SASL plain: env KAFKA_PASSWORD or --kafka-password (the API secret on Confluent Cloud)',
    ]);
    const p = problems({ rc: { kafkaSecurityProtocol: 'SASL_SSL' }, flags: { ...base, kafkaTls: 'false' } });
    expect(p).toContain('--kafka-sasl: required with security.protocol SASL_SSL: plain, scram-sha-256 or scram-sha-512 (--kafka-sasl or sasl.mechanism)');
    expect(p).toContain('--kafka-tls: off contradicts security.protocol SASL_SSL');
    expect(problems({ rc: { kafkaSecurityProtocol: 'PLAINTEXT' }, flags: { ...base, kafkaSasl: 'plain', kafkaUsername: 'u', kafkaPassword: 'pw-secret' } })).toEqual([
      '--kafka-sasl: SASL cannot be used with security.protocol PLAINTEXT (use SASL_SSL or SASL_PLAINTEXT)',
    ]);
  });

  it('a bad JAAS line is named without echoing it (it holds a secret)', () => {
    const jaas = 'username=x password=hunter2-secret';
    const p = problems({ rc: { kafkaJaasConfig: jaas, kafkaSasl: 'plain' }, flags: base });
    expect(p.join('\n')).toContain('sasl.jaas.config (from the rc file): not a JAAS line');
    expect(p.join('\n')).not.toContain('hunter2');
    const oauth = problems({ rc: { kafkaJaasConfig: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;', kafkaSasl: 'plain', kafkaUsername: 'u', kafkaPassword: 'pw-secret' }, flags: base });
    expect(oauth).toEqual(['sasl.jaas.config (from the rc file): org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule is not supported: nowpipe speaks SASL PLAIN and SCRAM (PlainLoginModule, ScramLoginModule)']);
  });

  it('never echoes a Kafka password in a problem', () => {
    const p = problems({ flags: { ...base, kafkaSasl: 'plain', kafkaPassword: 'hunter2-secret', kafkaAcks: 'hunter2-secret' } });
    expect(p.join('\n')).not.toContain('hunter2-secret');
    // A problem that quotes its value (a broker) shows the password masked, should it be there.
    const quoted = problems({ flags: { ...base, brokers: 'hunter2-secret', kafkaSasl: 'plain', kafkaUsername: 'u', kafkaPassword: 'hunter2-secret' } });
    expect(quoted).toEqual(['--brokers: "***" is not host:port']);
  });

  it('Kafka rules do not bother other sinks', () => {
    expect(() => resolveConfig({ flags: { url: base.url, table: 'incident', kafkaSasl: 'plain' } })).not.toThrow();
  });
});

describe('kafka settings: the small parsers', () => {
  it('parseBroker: host:port, IPv6, a listener prefix; refuses the rest', () => {
    expect(parseBroker('127.0.0.1:9092')).toBe('127.0.0.1:9092');
    expect(parseBroker(' SASL_SSL://pkc-1.confluent.cloud:9092 ')).toBe('pkc-1.confluent.cloud:9092');
    expect(parseBroker('[::1]:9092')).toBe('[::1]:9092');
    for (const bad of ['localhost', ':9092', 'host:0', 'host:65536', 'ho st:1', 'host:9092:1']) expect(parseBroker(bad), bad).toBeUndefined();
  });

  it("topicProblem: Kafka's rule", () => {
    expect(topicProblem('servicenow.incident')).toBeUndefined();
    expect(topicProblem('a_b-c.D9')).toBeUndefined();
    expect(topicProblem('..')).toBeDefined();
    expect(topicProblem('x'.repeat(250))).toMatch(/249/);
    expect(topicProblem('a b')).toMatch(/not a topic name/);
  });

  it('parseJaasConfig: quotes, escapes, SCRAM; undefined for anything else', () => {
    expect(parseJaasConfig('org.apache.kafka.common.security.plain.PlainLoginModule required username="k" password="a \\"quoted\\" s;ecret";')).toEqual({
      module: 'org.apache.kafka.common.security.plain.PlainLoginModule',
      username: 'k',
      password: 'a "quoted" s;ecret',
    });
    expect(parseJaasConfig("org.apache.kafka.common.security.scram.ScramLoginModule required\n  username='u'\n  password='p';")).toMatchObject({ username: 'u', password: 'p' });
    expect(parseJaasConfig('PlainLoginModule required username=bare password=word;')).toMatchObject({ username: 'bare', password: 'word' });
    expect(parseJaasConfig('username="u" password="p"')).toBeUndefined();
    expect(parseJaasConfig('PlainLoginModule required username="unterminated')).toBeUndefined();
  });

  it('the default retry budget is about two minutes', () => {
    const ms = retryScheduleMs(DEFAULT_KAFKA_RETRY);
    expect(ms).toBeGreaterThan(100_000);
    expect(ms).toBeLessThan(160_000);
  });
});
