// --format connect-json end to end: the built CLI reads the simulator and produces to a real
// broker; the messages are read back and then through Kafka Connect's own JsonConverter (the
// jars scripts/kafka.sh fetches), as a Connect sink connector with schemas.enable=true reads them.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Row, type Simulator } from '../../src/sim/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { BROKERS, createTopic, deleteTopics, readTopic, requireBroker, uniqueTopic } from './helpers.js';

const LIBS = join(process.env.NOWPIPE_KAFKA_HOME ?? resolve(import.meta.dirname, '../../.kafka'), 'libs');
const READER = resolve(import.meta.dirname, 'ConnectRead.java');

interface ConnectField {
  type: string;
  logical: string | null;
  class: string | null;
  value: unknown;
}
type ConnectRead = { tombstone: true } | { name: string; fields: Record<string, ConnectField> } | { error: string };

/** The values through JsonConverter.toConnectData (schemas.enable=true), in order. */
function throughJsonConverter(values: Array<string | null>): Promise<ConnectRead[]> {
  if (!existsSync(LIBS) || !readdirSync(LIBS).some((f) => /^connect-json-.*\.jar$/.test(f))) {
    throw new Error(`Kafka Connect's connect-json jar is not in ${LIBS}: scripts/kafka.sh fetches it with the broker's jars (bash scripts/kafka.sh restart, or point NOWPIPE_KAFKA_HOME at a home that has it)`);
  }
  return new Promise((done, fail) => {
    const java = spawn('java', ['-cp', `${LIBS}/*`, READER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    java.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    java.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    java.on('error', fail);
    java.on('close', (code) => {
      if (code !== 0) return fail(new Error(`ConnectRead.java exited ${code}: ${err}`));
      done(out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ConnectRead));
    });
    java.stdin.end(values.map((v) => (v === null ? 'null' : Buffer.from(v, 'utf8').toString('base64'))).join('\n') + '\n');
  });
}

let sim: Simulator | undefined;
const topics: string[] = [];
afterAll(async () => {
  await sim?.close();
  await deleteTopics(topics);
});

const ms = (sn: unknown) => Date.parse(`${String(sn).replace(' ', 'T')}Z`);

describe('--sink kafka --format connect-json (built CLI, simulator, real broker, JsonConverter)', () => {
  it('each value is a JsonConverter envelope a Connect sink reads as a typed struct; deletes stay tombstones', async () => {
    await requireBroker();
    sim = await startSimulator({ rows: 150, rowBytes: 600, seed: 41, aclHiddenRatio: 0 });
    const rows = sim.rows('incident');
    const deleted = [rows[10]!.sys_id as string, rows[90]!.sys_id as string];
    for (const id of deleted) sim.deleteRow('incident', id, { stampedAt: '2024-06-01 08:00:00' });
    const raw = new Map<string, Row>(rows.map((r) => [r.sys_id as string, r]));
    const topic = uniqueTopic('connect-json');
    topics.push(topic);
    await createTopic(topic, { partitions: 2 });
    // No --types: connect-json implies it.
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--sink', 'kafka', '--brokers', BROKERS.join(','), '--topic', topic, '--format', 'connect-json', '--deletes', '--batch-size', '40']);
    expect(res.code, res.stderr).toBe(0);

    const messages = await readTopic(topic);
    expect(messages).toHaveLength(150); // 148 rows and 2 tombstones
    expect(messages.filter((m) => m.value === null).map((m) => m.key).sort()).toEqual([...deleted].sort());

    // The envelope itself, as JSON.
    const first = messages.find((m) => m.value !== null)!;
    const envelope = JSON.parse(first.value!) as { schema: { type: string; name: string; optional: boolean; fields: Array<{ field: string; type: string }> }; payload: Record<string, unknown> };
    expect(Object.keys(envelope)).toEqual(['schema', 'payload']);
    expect(envelope.schema).toMatchObject({ type: 'struct', optional: false, name: 'servicenow.incident' });
    expect(envelope.schema.fields.map((f) => f.field).sort()).toEqual(Object.keys(envelope.payload).sort());
    const r = raw.get(first.key!)!;
    expect(envelope.payload.sys_updated_on).toBe(ms(r.sys_updated_on));
    expect(envelope.payload.priority).toBe(Number(r.priority));

    // Through Connect's own converter: a struct with Connect types, for every row.
    const read = await throughJsonConverter(messages.map((m) => m.value));
    expect(read).toHaveLength(messages.length);
    for (const [i, m] of messages.entries()) {
      const got = read[i]!;
      if (m.value === null) {
        expect(got).toEqual({ tombstone: true });
        continue;
      }
      expect(got, JSON.stringify(got)).toHaveProperty('fields');
      const { name, fields } = got as { name: string; fields: Record<string, ConnectField> };
      const row = raw.get(m.key!)!;
      expect(name).toBe('servicenow.incident');
      expect(fields.priority).toEqual({ type: 'INT64', logical: null, class: 'java.lang.Long', value: Number(row.priority) });
      expect(fields.sys_mod_count!.value).toBe(Number(row.sys_mod_count));
      expect(fields.active).toEqual({ type: 'BOOLEAN', logical: null, class: 'java.lang.Boolean', value: row.active === 'true' });
      expect(fields.sys_updated_on).toEqual({ type: 'INT64', logical: 'org.apache.kafka.connect.data.Timestamp', class: 'java.util.Date', value: ms(row.sys_updated_on) });
      expect(fields.opened_at!.value).toBe(ms(row.opened_at));
      expect(fields.caller_id).toEqual({ type: 'STRING', logical: null, class: 'java.lang.String', value: row.caller_id });
      expect(fields.number!.value).toBe(row.number);
      expect(fields.u_target_date).toEqual(
        row.u_target_date === '' ? { type: 'INT32', logical: 'org.apache.kafka.connect.data.Date', class: null, value: null } : { type: 'INT32', logical: 'org.apache.kafka.connect.data.Date', class: 'java.util.Date', value: ms(`${String(row.u_target_date)} 00:00:00`) },
      );
      expect(fields.u_effort_hours).toEqual(
        row.u_effort_hours === '' ? { type: 'FLOAT64', logical: null, class: null, value: null } : { type: 'FLOAT64', logical: null, class: 'java.lang.Double', value: Number(row.u_effort_hours) },
      );
    }
  });
});
