// TLS as managed clusters (Confluent Cloud) need it: SASL_SSL with PLAIN, against a real broker
// with a SASL_SSL listener and a certificate from a throwaway CA.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, tableRequests, tempDir } from '../helpers/cli.js';
import { BROKERS, createTopic, readTopic, requireBroker, SASL_PASSWORD, SASL_USER, setUpOnce, TlsBroker } from './helpers.js';

const ROWS = 300;
const env = { SERVICENOW_PASSWORD: 'admin' };
let broker: TlsBroker;
let sim: Simulator;
const topic = 'nowpipe-tls';

async function setUp(): Promise<void> {
  broker = await TlsBroker.create();
  await broker.start();
  await createTopic(topic, { brokers: broker.adminBrokers });
  sim = await startSimulator({ rows: ROWS, seed: 61, aclHiddenRatio: 0 });
}
const setup = setUpOnce(setUp);
const requireSetUp = setup.required;
afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await broker?.destroy();
}, 60_000);


/** A Confluent Cloud "client config" block, pointed at the local SASL_SSL listener. */
async function cloudConfig(dir: string, extra: Record<string, string> = {}): Promise<string> {
  const file = join(dir, 'cloud.json');
  await writeFile(
    file,
    JSON.stringify({
      'bootstrap.servers': broker.brokers.join(','),
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username='${SASL_USER}' password='${SASL_PASSWORD}';`,
      'kafka.topic': topic,
      sink: 'kafka',
      ...extra,
    }),
  );
  return file;
}

const args = (dir: string, rc: string, ...extra: string[]) => ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--config', rc, ...extra];

describe('SASL_SSL (TLS + PLAIN), as on Confluent Cloud', () => {
  it('a Confluent Cloud client config with the CA (ssl.ca.location) delivers every row', async () => {
    await requireSetUp();
    const dir = await tempDir();
    const r = await runCli(args(dir, await cloudConfig(dir, { 'ssl.ca.location': broker.caFile }), '--verbose'), { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain(SASL_PASSWORD);
    const messages = await readTopic(topic, { brokers: broker.adminBrokers });
    expect(new Set(messages.map((m) => m.key)).size).toBe(ROWS);
  });

  it('the same without the CA: exit 1, a TLS error that says to give the CA, nothing read', async () => {
    await requireSetUp();
    const dir = await tempDir();
    const before = tableRequests(sim).length;
    const r = await runCli(args(dir, await cloudConfig(dir)), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: kafka sink: TLS to ${broker.brokers[0]} failed: self[- ]signed certificate`));
    expect(r.stderr).toContain("hint: give the CA that signed the brokers' certificates with --kafka-ca <pem file>");
    expect(tableRequests(sim).length).toBe(before);
  });

  it('flags instead of a file: --kafka-sasl plain --kafka-username … --kafka-ca (TLS on by itself), password from KAFKA_PASSWORD', async () => {
    await requireSetUp();
    const dir = await tempDir();
    const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--sink', 'kafka', '--brokers', broker.brokers.join(','), '--topic', topic, '--kafka-sasl', 'plain', '--kafka-username', SASL_USER, '--kafka-ca', broker.caFile, '--until', '2000-01-01'], {
      env: { ...env, KAFKA_PASSWORD: SASL_PASSWORD },
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it('a CA file that is not there: exit 2 naming it', async () => {
    await requireSetUp();
    const dir = await tempDir();
    const r = await runCli(args(dir, await cloudConfig(dir, { 'ssl.ca.location': join(dir, 'nope.pem') })), { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error: kafkaCa: cannot read ${join(dir, 'nope.pem')}: ENOENT`);
  });

  it('TLS against a plaintext listener: exit 1, the brokers named, the hint mentions --kafka-tls', async () => {
    await requireSetUp();
    await requireBroker();
    const dir = await tempDir();
    const before = tableRequests(sim).length;
    const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--sink', 'kafka', '--brokers', BROKERS.join(','), '--kafka-tls'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: kafka sink: (cannot reach the Kafka brokers|TLS to) /);
    expect(r.stderr).toContain('--kafka-tls');
    expect(tableRequests(sim).length).toBe(before);
  });
});
