import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kebabToCamel } from '../../src/config/keys.js';
import { resolveConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { url: 'https://acme.service-now.com', table: 'incident' };
const problems = (flags: Record<string, unknown>): string[] => {
  try {
    resolveConfig({ flags: { ...base, ...flags } });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  return [];
};

describe('--state kafka, --exactly-once, --group (config rules)', () => {
  it('defaults to the file; --state kafka takes the sink\'s --brokers, with any sink', () => {
    expect(resolveConfig({ flags: base }).config.state).toBe('file');
    const { config, warnings } = resolveConfig({ flags: { ...base, state: 'kafka', brokers: '127.0.0.1:9092' } });
    expect(config).toMatchObject({ state: 'kafka', sink: 'stdout', brokers: ['127.0.0.1:9092'], exactlyOnce: false });
    // --brokers is used (by the state), so no "no effect" warning.
    expect(warnings).toEqual([]);
  });

  it('--state kafka needs brokers, and well-formed ones; --state-brokers and --state-topic are checked', () => {
    expect(problems({ state: 'kafka' })).toEqual([expect.stringMatching(/^--state-brokers: required with --state kafka/)]);
    expect(problems({ state: 'kafka', brokers: 'nohost' })).toEqual(['--brokers: "nohost" is not host:port']);
    expect(problems({ state: 'kafka', stateBrokers: 'a:1,b', stateTopic: 'bad topic' })).toEqual(['--state-brokers: "b" is not host:port', expect.stringMatching(/^--state-topic: "bad topic" is not a topic name/)]);
    expect(problems({ state: 'file', stateTopic: 'x', stateBrokers: 'a:1' })).toEqual(['--state-topic: only used with --state kafka', '--state-brokers: only used with --state kafka']);
    expect(problems({ state: 'disk' })).toEqual(['--state: must be file or kafka']);
  });

  it('the state brokers take the Kafka credentials: their problems are reported without --sink kafka', () => {
    expect(problems({ state: 'kafka', brokers: 'a:1', kafkaSasl: 'plain', kafkaUsername: 'u' })).toEqual([expect.stringMatching(/^--kafka-password: required with SASL plain/)]);
  });

  it('--exactly-once needs --sink kafka and --state kafka on the same brokers, with acks all', () => {
    expect(problems({ exactlyOnce: true, sink: 'kafka', brokers: 'a:1' })).toEqual([expect.stringMatching(/^--exactly-once: needs --sink kafka and --state kafka/)]);
    expect(problems({ exactlyOnce: true, state: 'kafka', brokers: 'a:1' })).toEqual([expect.stringMatching(/^--exactly-once: needs --sink kafka and --state kafka/)]);
    expect(problems({ exactlyOnce: true, sink: 'kafka', state: 'kafka', brokers: 'a:1', stateBrokers: 'b:2' })).toEqual([expect.stringMatching(/a transaction cannot span two clusters/)]);
    expect(problems({ exactlyOnce: true, sink: 'kafka', state: 'kafka', brokers: 'a:1', kafkaAcks: '1' })).toEqual([expect.stringMatching(/cannot be combined with --kafka-acks 1/)]);
    expect(problems({ exactlyOnce: true, sink: 'kafka', state: 'kafka', brokers: 'a:1', stateBrokers: 'a:1' })).toEqual([]);
  });

  it('--group needs --state kafka and --follow, and a name that makes a topic name', () => {
    expect(problems({ group: 'g', follow: true })).toEqual([expect.stringMatching(/^--group: needs --state kafka/)]);
    expect(problems({ group: 'g', state: 'kafka', brokers: 'a:1' })).toEqual([expect.stringMatching(/^--group: needs --follow/)]);
    expect(problems({ group: 'a b', state: 'kafka', brokers: 'a:1', follow: true })).toEqual([expect.stringMatching(/^--group: "a b" is not a group name/)]);
    expect(problems({ group: 'g', state: 'kafka', brokers: 'a:1', follow: true, reset: true })).toEqual([expect.stringMatching(/^--reset: cannot be combined with --group/)]);
    expect(problems({ group: 'workers', state: 'kafka', brokers: 'a:1', follow: true })).toEqual([]);
    expect(problems({ group: 'g', state: 'kafka', stateBrokers: 'a:1', follow: true, sink: 'file', output: '/tmp/out' })).toEqual([expect.stringMatching(/^--group: cannot be combined with --sink file/)]);
  });

  it('examples/kubernetes.yaml: its arguments and its Secret\'s variables make a valid config', () => {
    const manifest = readFileSync(resolve(import.meta.dirname, '../../examples/kubernetes.yaml'), 'utf8');
    const flags: Record<string, unknown> = {};
    for (const [, name, value] of manifest.matchAll(/^\s+- --([a-z-]+)(?:=(.*))?$/gm)) flags[kebabToCamel(name!)] = value ?? true;
    const env = Object.fromEntries([...manifest.matchAll(/^\s+(SERVICENOW_PASSWORD|KAFKA_USERNAME|KAFKA_PASSWORD): /gm)].map(([, k]) => [k === 'SERVICENOW_PASSWORD' ? 'password' : k === 'KAFKA_USERNAME' ? 'kafkaUsername' : 'kafkaPassword', 'x']));
    expect(Object.keys(env)).toHaveLength(3);
    const { config } = resolveConfig({ flags, env });
    expect(config).toMatchObject({ state: 'kafka', exactlyOnce: true, group: 'servicenow-acme', follow: true, sink: 'kafka', kafkaSasl: 'plain', kafkaTls: true });
    expect(config.tableNames).toHaveLength(6);
  });
});
