// The Kafka sink end to end: the built CLI reads the simulator and produces to a real broker;
// a real kafkajs consumer reads every message back. Never skipped: without a broker every test
// fails with a message saying how to start one.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Row, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, runCli, spawnCli, tableRequests, tempDir, waitFor } from '../helpers/cli.js';
import { BROKERS, createTopic, deleteTopics, endOffsets, readTopic, requireBroker, SASL_BROKER, SASL_PASSWORD, SASL_USER, setUpOnce, topicExists, uniqueTopic, withAdmin, type Consumed } from './helpers.js';

const ROWS = 1500;
const INSTANCE_ENV = { SERVICENOW_PASSWORD: 'admin' };
let sim: Simulator;
/** Every row as the stdout sink prints it (raw): the values Kafka must hold, byte for byte. */
let reference: Map<string, { line: string; row: Row }>;
const topics: string[] = [];

const topic = (what: string) => {
  const t = uniqueTopic(what);
  topics.push(t);
  return t;
};
const base = (s: Simulator, checkpoint: string, ...extra: string[]) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint, '--sink', 'kafka', '--brokers', BROKERS.join(','), ...extra];
const ms = (snTime: unknown) => Date.parse(`${String(snTime).replace(' ', 'T')}Z`);
const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at \S+ \(/);

async function setUp(): Promise<void> {
  sim = await startSimulator({ rows: ROWS, rowBytes: 700, seed: 31, aclHiddenRatio: 0 });
  const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--quiet'], { env: INSTANCE_ENV });
  if (r.code !== 0) throw new Error(`the reference export (stdout) failed: ${r.stderr}`);
  reference = new Map(
    r.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const row = JSON.parse(line) as Row;
        return [String(row.sys_id), { line, row }];
      }),
  );
  if (reference.size !== ROWS) throw new Error(`the reference export has ${reference.size} rows, not ${ROWS}`);
}

const setup = setUpOnce(setUp);

/** The simulator and reference are ready, and a broker answers at `hostPort`. */
async function requireReady(hostPort: string | null = BROKERS[0]!, what?: string): Promise<void> {
  await setup.required();
  if (hostPort !== null) await requireBroker(hostPort, what);
}

afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await deleteTopics(topics);
});

describe('nowpipe --sink kafka (built CLI, simulator, real broker)', () => {
  it('puts every row in the topic once: key = sys_id, value = the row, headers, timestamp = sys_updated_on', async () => {
    await requireReady();
    const t = topic('rows');
    await createTopic(t, { partitions: 3 });
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t, '--batch-size', '250', '--concurrency', '2'), { env: INSTANCE_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/done: 1,500 rows of incident/);

    const messages = await readTopic(t);
    expect(messages).toHaveLength(ROWS);
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set(reference.keys()));
    for (const m of messages) {
      const ref = reference.get(m.key!)!;
      expect(m.value).toBe(ref.line);
      expect(m.headers).toEqual({ 'nowpipe.table': 'incident', 'nowpipe.instance': sim.url, 'nowpipe.op': ref.row.sys_created_on === ref.row.sys_updated_on ? 'c' : 'u' });
      expect(m.timestamp).toBe(ms(ref.row.sys_updated_on));
    }
    // Keyed: the rows are spread over the partitions by sys_id.
    expect(new Set(messages.map((m) => m.partition)).size).toBe(3);
  });

  it("cuts each write into requests that fit the topic's max.message.bytes (16 KiB here: ~20 rows a request)", async () => {
    await requireReady();
    const t = topic('small-requests');
    await createTopic(t, { configs: { 'max.message.bytes': '16384' } });
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t, '--batch-size', '1000', '--verbose'), { env: INSTANCE_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`kafka: topic ${t}: max.message.bytes 16384`);
    // kafkajs's own log lines reach stderr only through nowpipe, never as its JSON, never on stdout.
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/"logger":"kafkajs"|KafkaJS v2\.0\.0 switched default partitioner/);
    const messages = await readTopic(t);
    expect(messages.map((m) => m.key).sort()).toEqual([...reference.keys()].sort());
  });

  it('updates land after the earlier version of their row; deletes (--deletes) are tombstones', async () => {
    await requireReady();
    const own = await startSimulator({ rows: 300, rowBytes: 500, seed: 32, aclHiddenRatio: 0 });
    try {
      const t = topic('changes');
      await createTopic(t, { partitions: 2 });
      const cp = join(await tempDir(), 'cp.json');
      // --overlap 0: a new process re-reads the overlap window (a follow-mode guard), which would
      // repeat the newest rows; this test counts versions.
      const first = await runCli(base(own, cp, '--topic', t, '--deletes', '--batch-size', '100', '--overlap', '0'), { env: INSTANCE_ENV });
      expect(first.code, first.stderr).toBe(0);

      const rows = own.visibleRows('incident');
      const updated = rows.slice(0, 10).map((r) => String(r.sys_id));
      const deleted = rows.slice(10, 15).map((r) => String(r.sys_id));
      const at = new Date(Date.now() - 10_000);
      for (const id of updated) own.update('incident', id, { short_description: 'changed' }, { stampedAt: at });
      for (const id of deleted) own.deleteRow('incident', id, { stampedAt: at });
      const second = await runCli(base(own, cp, '--topic', t, '--deletes', '--batch-size', '100', '--overlap', '0'), { env: INSTANCE_ENV });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/5 deletes/);

      const messages = await readTopic(t);
      const byKey = new Map<string, Consumed[]>();
      for (const m of messages) byKey.set(m.key!, [...(byKey.get(m.key!) ?? []), m]);
      expect(byKey.size).toBe(300);
      for (const id of updated) {
        const versions = byKey.get(id)!;
        expect(versions).toHaveLength(2);
        expect(JSON.parse(versions[1]!.value!)).toMatchObject({ sys_id: id, short_description: 'changed' });
        expect(versions[1]!.timestamp).toBe(at.getTime() - (at.getTime() % 1000));
        expect(versions[1]!.headers['nowpipe.op']).toBe('u');
      }
      for (const id of deleted) {
        const versions = byKey.get(id)!;
        expect(versions).toHaveLength(2);
        expect(versions[1]).toMatchObject({ value: null, headers: { 'nowpipe.op': 'd', 'nowpipe.table': 'incident' } });
      }
      // In every partition each key's messages are in time order (a later version never lands first).
      for (const list of byKey.values()) {
        for (let i = 1; i < list.length; i++) expect(list[i]!.timestamp).toBeGreaterThanOrEqual(list[i - 1]!.timestamp);
      }
      expect(messages.filter((m) => m.value === null)).toHaveLength(5);

      // --format envelope: the d event first, then the tombstone, for the same key.
      const te = topic('envelope');
      await createTopic(te);
      const env = await runCli(base(own, join(await tempDir(), 'cp.json'), '--topic', te, '--deletes', '--format', 'envelope'), { env: INSTANCE_ENV });
      expect(env.code, env.stderr).toBe(0);
      const events = await readTopic(te);
      expect(events).toHaveLength(295 + 2 * 5);
      for (const id of deleted) {
        const mine = events.filter((m) => m.key === id);
        expect(mine.map((m) => (m.value === null ? 'tombstone' : (JSON.parse(m.value) as { op: string }).op))).toEqual(['d', 'tombstone']);
        expect(JSON.parse(mine[0]!.value!)).toMatchObject({ op: 'd', table: 'incident', sys_id: id, instance: own.url, record: null });
      }
      const upd = events.find((m) => m.key === updated[0])!;
      expect(JSON.parse(upd.value!)).toMatchObject({ op: 'u', sys_id: updated[0], table: 'incident', record: { short_description: 'changed' } });
    } finally {
      await own.close();
    }
  });

  it('--follow: the backfill, then new rows and deletes as they happen; SIGTERM stops it cleanly', async () => {
    await requireReady();
    const own = await startSimulator({ rows: 100, seed: 36, aclHiddenRatio: 0 });
    try {
      const t = topic('follow');
      await createTopic(t);
      const child = spawnCli([...base(own, join(await tempDir(), 'cp.json'), '--topic', t, '--follow', '--deletes', '--poll-interval', '1', '--format', 'envelope')], { env: INSTANCE_ENV });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const count = async () => [...(await endOffsets(t)).values()].reduce((n, o) => n + o.high, 0);
      await waitFor(() => stderr.includes('caught up'), 30_000, 'the backfill');
      const inserted = own.insert('incident', { short_description: 'new while following' });
      const victim = String(own.visibleRows('incident')[0]!.sys_id);
      own.deleteRow('incident', victim);
      // 100 rows, the new one, the delete's event and its tombstone.
      for (let i = 0; i < 100 && (await count()) < 103; i++) await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      const messages = await readTopic(t);
      expect(messages.filter((m) => m.key === inserted.sys_id).map((m) => (JSON.parse(m.value!) as { op: string }).op)).toEqual(['c']);
      const victimOps = messages.filter((m) => m.key === victim).map((m) => (m.value === null ? 'tombstone' : (JSON.parse(m.value) as { op: string }).op));
      expect(victimOps).toHaveLength(3); // its backfill version, the d event, the tombstone
      expect(victimOps.slice(1)).toEqual(['d', 'tombstone']);
      expect(messages).toHaveLength(103);
      expect(stderr).toMatch(/stopped: /);
    } finally {
      await own.close();
    }
  });

  it('several tables in one run: each to its own topic ({table} and a per-table topic in the rc file)', async () => {
    await requireReady();
    const own = await startSimulator({ rows: 200, seed: 33, aclHiddenRatio: 0 });
    try {
      for (let i = 0; i < 120; i++) own.insert('problem', { number: `PRB${String(i).padStart(7, '0')}`, short_description: `problem ${i}` }, { stampedAt: new Date(Date.parse('2024-02-01T00:00:00Z') + i * 3_600_000) });
      const prefix = uniqueTopic('tables');
      const [tIncident, tProblem] = [`${prefix}.incident`, `${prefix}-problems`];
      topics.push(tIncident, tProblem);
      await createTopic(tIncident);
      await createTopic(tProblem);
      const dir = await tempDir();
      const rc = join(dir, 'nowpipe.json');
      await writeFile(rc, JSON.stringify({ tables: { problem: { topic: tProblem } } }));
      const r = await runCli(['--url', own.url, '--table', 'incident,problem', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--config', rc, '--sink', 'kafka', '--brokers', BROKERS.join(','), '--topic', `${prefix}.{table}`], { env: INSTANCE_ENV });
      expect(r.code, r.stderr).toBe(0);
      const incident = await readTopic(tIncident);
      const problem = await readTopic(tProblem);
      expect(incident).toHaveLength(200);
      expect(problem).toHaveLength(120);
      expect(incident.every((m) => m.headers['nowpipe.table'] === 'incident')).toBe(true);
      expect(problem.every((m) => m.headers['nowpipe.table'] === 'problem' && JSON.parse(m.value!).number.startsWith('PRB'))).toBe(true);
    } finally {
      await own.close();
    }
  });

  it("a row over the topic's max.message.bytes: exit 1 naming the row (--on-bad-row fail, the default), checkpoint before it; skip sets it aside in --dead-letter and the summary's row count leaves it out", async () => {
    await requireReady();
    const own = await startSimulator({ rows: 400, rowBytes: 400, seed: 34, aclHiddenRatio: 0 });
    try {
      const key = (r: Record<string, unknown>) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`;
      const rows = own.visibleRows('incident').sort((a, b) => (key(a) < key(b) ? -1 : 1));
      const middle = rows[200]!;
      const big = own.insert('incident', { description: randomBytes(15_000).toString('base64') }, { stampedAt: String(middle.sys_updated_on) });
      const bigId = String(big.sys_id);
      const t = topic('oversized');
      await createTopic(t, { configs: { 'max.message.bytes': '20000' } });
      const dir = await tempDir();
      const cp = join(dir, 'cp.json');
      const args = base(own, cp, '--topic', t, '--batch-size', '50', '--concurrency', '1', '--overlap', '0');

      const failed = await runCli(args, { env: INSTANCE_ENV });
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).toMatch(new RegExp(`error: incident row ${bigId} \\(sys_updated_on ${String(big.sys_updated_on)}\\) cannot be written: \\d{5} bytes as a Kafka record batch, over the max\\.message\\.bytes of topic ${t} \\(20000\\)`));
      expect(failed.stderr).toContain("hint: raise the topic's max.message.bytes, or leave large fields out with --fields, or set such rows aside with --on-bad-row skip --dead-letter <file>");
      noStack(failed.stderr);
      const cursor = checkpointCursor(cp)!;
      expect(`${cursor.updatedOn}|${cursor.sysId}` < `${String(big.sys_updated_on)}|${bigId}`).toBe(true);
      // Everything the checkpoint covers is in the topic.
      const before = new Set((await readTopic(t)).map((m) => m.key));
      const covered = rows.filter((r) => `${String(r.sys_updated_on)}|${String(r.sys_id)}` <= `${cursor.updatedOn}|${cursor.sysId}`);
      expect(covered.length).toBeGreaterThan(0);
      expect(covered.filter((r) => !before.has(String(r.sys_id)))).toEqual([]);

      // The rerun from there sets the row aside: every other row is written and counted, it is not.
      const deadLetter = join(dir, 'dead', 'kafka.ndjson');
      const rest = rows.filter((r) => `${String(r.sys_updated_on)}|${String(r.sys_id)}` > `${cursor.updatedOn}|${cursor.sysId}`).length;
      const skipped = await runCli([...args, '--on-bad-row', 'skip', '--dead-letter', deadLetter], { env: INSTANCE_ENV });
      expect(skipped.code, skipped.stderr).toBe(0);
      expect(skipped.stderr).toContain(`warning: set aside incident row ${bigId} in ${deadLetter}: `);
      expect(skipped.stderr).toContain(`done: ${rest} rows of incident (1 bad row set aside in ${deadLetter})`);
      const after = await readTopic(t);
      expect(after.some((m) => m.key === bigId)).toBe(false);
      expect(new Set(after.map((m) => m.key))).toEqual(new Set(rows.map((r) => String(r.sys_id))));
      const lines = (await readFile(deadLetter, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      expect(line).toMatchObject({ table: 'incident', sys_id: bigId, sys_updated_on: big.sys_updated_on, record: { sys_id: bigId, description: big.description } });
      expect(String(line.reason)).toMatch(new RegExp(`^\\d{5} bytes as a Kafka record batch, over the max\\.message\\.bytes of topic ${t} \\(20000\\)$`));

      // --skip-oversized is the older name of --on-bad-row skip: a whole run counts 400 rows of 401.
      const alias = await runCli([...base(own, join(dir, 'alias.json'), '--topic', t, '--batch-size', '50', '--concurrency', '1'), '--skip-oversized', '--dead-letter', deadLetter], { env: INSTANCE_ENV });
      expect(alias.code, alias.stderr).toBe(0);
      expect(alias.stderr).toContain(`done: 400 rows of incident (1 bad row set aside in ${deadLetter})`);
      expect((await readFile(deadLetter, 'utf8')).trim().split('\n')).toHaveLength(2);
    } finally {
      await own.close();
    }
  });

  it('--compression gzip: a large row that compresses below the limit is delivered; one that does not is refused by name', async () => {
    await requireReady();
    const own = await startSimulator({ rows: 100, seed: 35, aclHiddenRatio: 0 });
    try {
      const t = topic('gzip');
      await createTopic(t, { configs: { 'max.message.bytes': '20000' } });
      const squeezable = own.insert('incident', { description: 'all work and no play '.repeat(2000) }, { stampedAt: '2024-01-01 00:00:00' });
      const cp = join(await tempDir(), 'cp.json');
      const ok = await runCli(base(own, cp, '--topic', t, '--compression', 'gzip', '--overlap', '0'), { env: INSTANCE_ENV });
      expect(ok.code, ok.stderr).toBe(0);
      const messages = await readTopic(t);
      expect(messages).toHaveLength(101);
      expect(JSON.parse(messages.find((m) => m.key === squeezable.sys_id)!.value!).description).toHaveLength(42_000);

      const noise = own.insert('incident', { description: randomBytes(30_000).toString('base64') });
      await new Promise((r) => setTimeout(r, 1500)); // past the safety lag
      const refused = await runCli(base(own, cp, '--topic', t, '--compression', 'gzip', '--overlap', '0'), { env: INSTANCE_ENV });
      expect(refused.code, refused.stderr).toBe(1);
      expect(refused.stderr).toContain(`error: incident row ${String(noise.sys_id)} (sys_updated_on ${String(noise.sys_updated_on)}) cannot be written: `);
      expect(refused.stderr).toContain('(the broker refused it even gzip-compressed), over the max.message.bytes of topic');
      noStack(refused.stderr);
    } finally {
      await own.close();
    }
  });

  it('--create-topic creates a missing topic (compacted, partitions and replication as given) before reading', async () => {
    await requireReady();
    const t = topic('created');
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t, '--create-topic', '--topic-partitions', '2', '--topic-replication', '1'), { env: INSTANCE_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`kafka: created topic ${t} (2 partitions, replication 1, cleanup.policy=compact)`);
    const meta = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: [t] }));
    expect(meta.topics[0]!.partitions).toHaveLength(2);
    const configs = await withAdmin((admin) => admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: t, configNames: ['cleanup.policy'] }] }));
    expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    expect(await readTopic(t)).toHaveLength(ROWS);
  });

  it('warns when an existing topic deletes records by age (timestamps are sys_updated_on)', async () => {
    await requireReady();
    const t = topic('retention');
    await createTopic(t, { configs: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * 86_400_000) } });
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t, '--until', '2000-01-01'), { env: INSTANCE_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: kafka: topic ${t} deletes records by age (retention.ms 7 days)`);
    // Not when every row the run can write is younger than the retention.
    const recent = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t, '--since', new Date(Date.now() - 86_400_000).toISOString(), '--until', new Date(Date.now() - 3_600_000).toISOString()), { env: INSTANCE_ENV });
    expect(recent.code, recent.stderr).toBe(0);
    expect(recent.stderr).not.toContain('deletes records by age');
  });
});

describe('the health check, before anything is read from the instance', () => {
  it('a missing topic: exit 1, the topic named, how to fix it, no request to the instance', async () => {
    await requireReady();
    const t = uniqueTopic('missing');
    const before = tableRequests(sim).length;
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json'), '--topic', t), { env: INSTANCE_ENV });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: kafka sink: topic ${t} does not exist on ${BROKERS.join(',')} (or this user may not describe it)`,
      'hint: create it (e.g. kafka-topics --create --topic <name> --config cleanup.policy=compact), or pass --create-topic (with --topic-partitions / --topic-replication)',
    ]);
    expect(tableRequests(sim).length).toBe(before);
    expect(await topicExists(t)).toBe(false);
  });

  it('wrong SASL credentials: exit 1, a clear message without the password, no request to the instance', async () => {
    await requireReady(SASL_BROKER, 'SASL listener');
    const before = tableRequests(sim).length;
    for (const mechanism of ['plain', 'scram-sha-256']) {
      const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--sink', 'kafka', '--brokers', SASL_BROKER, '--kafka-sasl', mechanism, '--kafka-username', SASL_USER, '--verbose'], {
        env: { ...INSTANCE_ENV, KAFKA_PASSWORD: 'not-the-Secret-42' },
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`error: kafka sink: the brokers ${SASL_BROKER} refused the SASL ${mechanism.toUpperCase()} credentials of user "nowpipe"`);
      expect(r.stderr).toContain('hint: check --kafka-username and KAFKA_PASSWORD');
      expect(r.stderr).not.toContain('not-the-Secret-42');
      noStack(r.stderr);
    }
    expect(tableRequests(sim).length).toBe(before);
  });

  it('brokers that do not answer: exit 1 within seconds, the brokers named', async () => {
    await requireReady(null);
    const before = tableRequests(sim).length;
    const started = Date.now();
    const r = await runCli(base(sim, join(await tempDir(), 'cp.json')).map((a) => (a === BROKERS.join(',') ? '127.0.0.1:1' : a)), { env: INSTANCE_ENV });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: kafka sink: cannot reach the Kafka brokers 127\.0\.0\.1:1: connect ECONNREFUSED 127\.0\.0\.1:1\nhint: check --brokers/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(tableRequests(sim).length).toBe(before);
  });

  it('--sink kafka without --brokers is a config error (exit 2) saying what to set', async () => {
    await requireReady(null);
    const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--sink', 'kafka'], { env: INSTANCE_ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --brokers: required with --sink kafka: the bootstrap servers, e.g. --brokers 127.0.0.1:9092');
  });
});

describe('SASL that works, and the Confluent connector file', () => {
  it('PLAIN from flags and SCRAM-SHA-512 from Kafka client keys in an rc file; the password is never printed', async () => {
    await requireReady(SASL_BROKER, 'SASL listener');
    const t = topic('sasl');
    await createTopic(t);
    const plain = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--sink', 'kafka', '--brokers', SASL_BROKER, '--topic', t, '--kafka-sasl', 'plain', '--kafka-username', SASL_USER, '--until', '2000-01-01', '--verbose'], {
      env: { ...INSTANCE_ENV, KAFKA_PASSWORD: SASL_PASSWORD },
    });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toContain(SASL_PASSWORD);

    const dir = await tempDir();
    const rc = join(dir, 'client.json');
    await writeFile(
      rc,
      JSON.stringify({
        'bootstrap.servers': SASL_BROKER,
        'security.protocol': 'SASL_PLAINTEXT',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${SASL_USER}" password="${SASL_PASSWORD}";`,
        'kafka.topic': t,
        sink: 'kafka',
      }),
    );
    const scram = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--config', rc, '--verbose'], { env: INSTANCE_ENV });
    expect(scram.code, scram.stderr).toBe(0);
    expect(scram.stderr).not.toContain(SASL_PASSWORD);
    expect(await readTopic(t)).toHaveLength(ROWS);
  });

  it("the Confluent quick-start connector JSON runs unchanged through --config (URL and brokers changed): rows in topic-servicenow", async () => {
    await requireReady();
    // As published (comments and all), with the instance and the brokers filled in.
    const connector = `{
    // subsitute <> with your config
    "name": "ServiceNowSourceConnector",
    "config": {
        "connector.class": "io.confluent.connect.servicenow.ServiceNowSourceConnector",
        "kafka.topic": "topic-servicenow",
        "servicenow.url": "${sim.url}",
        "tasks.max": "1",
        "servicenow.table": "incident",
        "servicenow.user": "admin",
        "servicenow.password": "admin",
        "servicenow.since": "2019-01-01",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "confluent.topic.bootstrap.servers": "${BROKERS.join(',')}",
        "confluent.license": "", // leave it empty for evaluation license
        "poll.interval.s": "10",
        "confluent.topic.replication.factor": "1"
    }
}`;
    const dir = await tempDir();
    const file = join(dir, 'servicenow-source.json');
    await writeFile(file, connector);
    // topic-servicenow is the connector's fixed name: created once, read from its end offsets on.
    if (!(await topicExists('topic-servicenow'))) await createTopic('topic-servicenow').catch(() => undefined);
    const from = await endOffsets('topic-servicenow');
    const r = await runCli(['--config', file], { env: {}, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Kafka Connect settings not used by nowpipe: key.converter, value.converter, confluent.license, confluent.topic.replication.factor');
    expect(await readFile(join(dir, '.nowpipe', 'checkpoint.json'), 'utf8')).toContain('incident');
    const messages = await readTopic('topic-servicenow', { from });
    expect(messages.map((m) => m.key).sort()).toEqual([...reference.keys()].sort());
  });
});
