// --exactly-once end to end: the built CLI is killed (kill -9) at random moments and restarted,
// then run to the end; a read_committed consumer sees every row exactly once. The same kills
// without --exactly-once repeat at most one batch per kill. A zombie (a run stopped past its
// lease while another took the table over) is fenced when it wakes: exit 1, nothing written.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { BROKERS, createTopic, deleteTopics, readTopic, requireBroker, setUpOnce, uniqueTopic } from './helpers.js';

const ROWS = 2000;
const PAGE = 100;
const KILLS = 10;
const env = { SERVICENOW_PASSWORD: 'admin' };
let sim: Simulator;
const topics: string[] = [];

const topic = (what: string) => {
  const t = uniqueTopic(what);
  topics.push(t);
  return t;
};
const args = (data: string, state: string, ...extra: string[]) => [
  '--url', sim.url, '--table', 'incident', '--user', 'admin',
  '--sink', 'kafka', '--topic', data, '--brokers', BROKERS.join(','),
  '--state', 'kafka', '--state-topic', state,
  '--batch-size', String(PAGE), '--concurrency', '1',
  ...extra,
];
/** A page of rows read (--verbose logs each request): the export is under way. */
const reading = (stderr: string) => /GET \S+\/api\/now\/table\/incident\?[^\n]* → 200 \(\d{2,} rows\)/.test(stderr);

/** A small seeded generator: the kills land at the same moments in both runs of the comparison. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Starts the export again and again, each run killed with SIGKILL at a random moment of its
 * export (0 to 0.8 s after its first page: each write of 100 rows of 20 KB takes longer than
 * reading them, so many kills land between a write and its checkpoint), until a run finishes
 * before its kill or KILLS runs were killed; then runs it to the end.
 */
async function killsThenFinish(data: string, state: string, extra: string[]): Promise<{ kills: number }> {
  const random = seeded(12);
  let kills = 0;
  while (kills < KILLS) {
    const run = startCli(args(data, state, '--verbose', ...extra), { env, cwd: await tempDir() });
    let exited = false;
    void run.code.then(() => (exited = true));
    await waitFor(() => exited || reading(run.out.stderr), 60_000, 'the first page');
    await new Promise((r) => setTimeout(r, random() * 800));
    if (exited) {
      expect(await run.code, run.out.stderr).toBe(0);
      break;
    }
    run.child.kill('SIGKILL');
    await run.code;
    kills += 1;
  }
  const last = await runCli(args(data, state, '--quiet', ...extra), { env, cwd: await tempDir(), timeoutMs: 120_000 });
  expect(last.code, last.stderr).toBe(0);
  return { kills };
}

/** Duplicates and missing rows as a read_committed consumer sees them; `written`: every record in the log, aborted ones too. */
async function count(data: string): Promise<{ records: number; duplicates: number; missing: number; written: number }> {
  const keys = (await readTopic(data, { timeoutMs: 120_000 })).map((m) => m.key!);
  const unique = new Set(keys);
  const written = (await readTopic(data, { timeoutMs: 120_000, uncommitted: true })).length;
  return { records: keys.length, duplicates: keys.length - unique.size, missing: sim.visibleRows('incident').filter((r) => !unique.has(String(r.sys_id))).length, written };
}

const setup = setUpOnce(async () => {
  // Rows of 20 KB: writing a page to Kafka takes longer than reading it.
  sim = await startSimulator({ rows: ROWS, rowBytes: 20_000, seed: 71, aclHiddenRatio: 0 });
});

afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await deleteTopics(topics);
});

describe('--exactly-once (built CLI, simulator, real broker)', () => {
  it('kills at random moments, then a final run: read_committed sees 0 duplicates, 0 missing; without it, at most a batch per kill', async () => {
    await setup.required();
    await requireBroker();
    const eosData = topic('eos-data');
    await createTopic(eosData, { partitions: 3 });
    const eos = await killsThenFinish(eosData, topic('eos-state'), ['--exactly-once']);
    const exactly = await count(eosData);

    const plainData = topic('plain-data');
    await createTopic(plainData, { partitions: 3 });
    const plainRun = await killsThenFinish(plainData, topic('plain-state'), []);
    const plain = await count(plainData);

    console.info(`--exactly-once: ${eos.kills} kills: read_committed ${exactly.records} records, ${exactly.duplicates} duplicates, ${exactly.missing} missing (${exactly.written - exactly.records} records of aborted transactions in the log)`);
    console.info(`without it:     ${plainRun.kills} kills: ${plain.records} records, ${plain.duplicates} duplicates, ${plain.missing} missing`);
    for (const k of [eos, plainRun]) expect(k.kills, 'the runs ended before their kills: the test proves little').toBeGreaterThanOrEqual(6);
    expect(exactly).toMatchObject({ records: ROWS, duplicates: 0, missing: 0 });
    expect(plain.missing).toBe(0);
    expect(plain.duplicates).toBeLessThanOrEqual(PAGE * plainRun.kills);
  }, 600_000);

  it('a zombie is fenced: a run stopped past its lease while another took the table over exits 1 when it wakes, and adds nothing', async () => {
    await setup.required();
    await requireBroker();
    const data = topic('zombie-data');
    await createTopic(data);
    const state = topic('zombie-state');
    const extra = ['--exactly-once', '--lock-stale-after', '3', '--follow', '--poll-interval', '1'];
    const zombie = startCli(args(data, state, ...extra), { env, cwd: await tempDir() });
    await waitFor(() => /following incident/.test(zombie.out.stderr), 120_000, 'the first run to follow');
    zombie.child.kill('SIGSTOP');
    try {
      // Its lease runs out (3 s); another run takes the table over and exports a change.
      await new Promise((r) => setTimeout(r, 4000));
      const successor = startCli(args(data, state, '--quiet', ...extra), { env, cwd: await tempDir() });
      const changed = sim.update('incident', String(sim.visibleRows('incident')[0]!.sys_id), { short_description: 'after the takeover' });
      const seen = async () => (await readTopic(data, { timeoutMs: 60_000 })).some((m) => m.value?.includes('after the takeover'));
      const deadline = Date.now() + 60_000;
      while (!(await seen())) {
        if (Date.now() > deadline) throw new Error(`the successor did not export the change\n${successor.out.stderr}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      zombie.child.kill('SIGCONT');
      const code = await Promise.race([zombie.code, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
      expect(code, zombie.out.stderr).toBe(1);
      // Whichever it notices first on waking: its lease too old to renew, the successor's lease
      // record read from the state topic, or its producer fenced.
      expect(zombie.out.stderr).toMatch(/error: (lost the lease on incident in Kafka topic \S+: (it could not be renewed for 3 s|nowpipe pid \d+ on this host took it over)|kafka (sink|state): the transactional producer of table incident was fenced)/);
      expect(zombie.out.stderr).not.toMatch(/\n\s+at \S+ \(/);
      successor.child.kill('SIGTERM');
      expect(await successor.code, successor.out.stderr).toBe(0);
      const messages = await readTopic(data, { timeoutMs: 60_000 });
      const versions = messages.filter((m) => m.key === changed.sys_id);
      expect(versions.map((m) => JSON.parse(m.value!).short_description)).toEqual([expect.any(String), 'after the takeover']);
      expect(messages.length - new Set(messages.map((m) => `${m.key}|${m.timestamp}`)).size).toBe(0);
    } finally {
      zombie.child.kill('SIGCONT');
      zombie.child.kill('SIGKILL');
    }
  }, 300_000);

  it('a row refused even gzip-compressed is set aside (--on-bad-row skip) and the rest of its transaction still commits', async () => {
    await setup.required();
    await requireBroker();
    const own = await startSimulator({ rows: 100, rowBytes: 1000, seed: 36, aclHiddenRatio: 0 });
    try {
      const data = topic('eos-oversized');
      await createTopic(data, { configs: { 'max.message.bytes': '20000' } });
      // In the middle of the batch: requests before it are in the transaction when it is refused.
      const noise = own.insert('incident', { description: randomBytes(30_000).toString('base64') }, { stampedAt: new Date(Date.now() - 15 * 86_400_000) });
      const deadLetter = join(await tempDir(), 'bad-rows.ndjson');
      const r = await runCli(
        ['--url', own.url, '--table', 'incident', '--user', 'admin', '--sink', 'kafka', '--topic', data, '--brokers', BROKERS.join(','), '--state', 'kafka', '--state-topic', topic('eos-oversized-state'), '--exactly-once', '--compression', 'gzip', '--on-bad-row', 'skip', '--dead-letter', deadLetter, '--batch-size', '1000'],
        { env, cwd: await tempDir(), timeoutMs: 120_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`warning: set aside incident row ${String(noise.sys_id)} in ${deadLetter}: `);
      const keys = (await readTopic(data)).map((m) => m.key);
      expect(keys).toHaveLength(100);
      expect(new Set(keys)).toEqual(new Set(own.visibleRows('incident').map((row) => String(row.sys_id)).filter((id) => id !== noise.sys_id)));
    } finally {
      await own.close();
    }
  }, 120_000);
});
