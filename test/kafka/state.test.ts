// --state kafka end to end: the built CLI keeps its checkpoint in a compacted topic of a real
// broker, so a run started from another, empty folder (a new container) resumes where a killed
// one stopped; two runs never export a table at once; --reset and the fingerprint hold.
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';
import { BROKERS, deleteTopics, readTopic, requireBroker, setUpOnce, uniqueTopic, withAdmin } from './helpers.js';

const ROWS = 2000;
const PAGE = 100;
const env = { SERVICENOW_PASSWORD: 'admin' };
let sim: Simulator;
const topics: string[] = [];

const stateTopic = () => {
  const t = uniqueTopic('state');
  topics.push(t);
  return t;
};
const args = (topic: string, ...extra: string[]) => [
  '--url', sim.url, '--table', 'incident', '--user', 'admin',
  '--state', 'kafka', '--state-topic', topic, '--brokers', BROKERS.join(','),
  // One page at a time: a kill lands between pages, and what repeats is counted in pages.
  '--batch-size', String(PAGE), '--concurrency', '1',
  ...extra,
];
const ids = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { sys_id: string }).sys_id);

const setup = setUpOnce(async () => {
  // Slow pages, so that a kill lands mid-backfill.
  sim = await startSimulator({ rows: ROWS, rowBytes: 400, seed: 61, aclHiddenRatio: 0, latencyMs: 120 });
});
async function ready(): Promise<void> {
  await setup.required();
  await requireBroker();
}

afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await deleteTopics(topics);
});

describe('--state kafka (built CLI, simulator, real broker)', () => {
  it('kill -9 mid-backfill, rerun from another empty folder: it resumes from the topic, nothing lost, no file written', async () => {
    await ready();
    const topic = stateTopic();
    const [first, second] = [await tempDir(), await tempDir()];
    const run = startCli(args(topic), { env, cwd: first });
    // Several pages written, so several checkpoints saved; then the process dies at once.
    await waitFor(() => ids(run.out.stdout).length >= 5 * PAGE, 60_000, 'five pages on stdout');
    run.child.kill('SIGKILL');
    await run.code;
    const before = ids(run.out.stdout);
    expect(before.length, 'the run ended before it was killed: the test proves nothing').toBeLessThan(ROWS);
    expect(run.out.stderr).toContain(`kafka state: created topic ${topic} (compacted) for the checkpoints`);

    const again = await runCli(args(topic), { env, cwd: second, timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(0);
    // Same host, pid gone: its lease is taken over at once, not after --lock-stale-after.
    expect(again.stderr).toMatch(/warning: took over the lease on incident in Kafka topic \S+ left by nowpipe pid \d+ \(no longer running\)/);
    expect(again.stderr).toMatch(/resuming incident after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d[\d,]* rows written before\)/);
    expect(again.stderr).toContain(`saved to Kafka topic ${topic}`);
    const after = ids(again.stdout);
    // It resumed (did not start over) and lost nothing: what repeats is at most the page in
    // flight at the kill and the --overlap window.
    expect(after.length).toBeLessThan(ROWS - 4 * PAGE);
    const all = new Set([...before, ...after]);
    expect(sim.visibleRows('incident').filter((r) => !all.has(String(r.sys_id)))).toEqual([]);
    expect(before.length + after.length - all.size).toBeLessThanOrEqual(2 * PAGE);
    // The checkpoint lives in the topic only: neither folder got a .nowpipe/.
    for (const dir of [first, second]) expect(readdirSync(dir)).toEqual([]);

    // The topic is compacted and holds the table's progress under <instance>|incident.
    const config = await withAdmin((a) => a.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy', 'message.timestamp.type'] }] }));
    expect(Object.fromEntries(config.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]))).toEqual({ 'cleanup.policy': 'compact', 'message.timestamp.type': 'LogAppendTime' });
    const records = await readTopic(topic);
    const progress = records.filter((r) => r.headers['nowpipe.state'] === 'progress' && r.key === `${sim.url}|incident`);
    expect(progress.length).toBeGreaterThan(5);
    const last = JSON.parse(progress.at(-1)!.value!) as { version: number; tables: Record<string, { rows: number; scope: { table: string } }> };
    expect(last).toMatchObject({ version: 1, tables: { incident: { scope: { table: 'incident' } } } });
    expect(last.tables.incident!.rows).toBe(all.size);
  }, 240_000);

  it('a second run on the same table is refused (exit 1) while the first runs; --reset starts over; another query is refused (exit 2)', async () => {
    await ready();
    const topic = stateTopic();
    const cwd = await tempDir();
    const done = await runCli(args(topic), { env, cwd, timeoutMs: 120_000 });
    expect(done.code, done.stderr).toBe(0);

    const follow = startCli(args(topic, '--follow', '--poll-interval', '1'), { env, cwd: await tempDir() });
    await waitFor(() => /following incident/.test(follow.out.stderr), 60_000, 'the first run to follow');
    const refused = await runCli(args(topic), { env, cwd: await tempDir(), timeoutMs: 60_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`error: another nowpipe \\(pid ${follow.child.pid} on this host, started \\S+, lease renewed \\d+ s ago\\) is exporting incident with the state in Kafka topic ${topic}`));
    expect(refused.stderr).toContain('hint: wait for it to finish or stop it; a lease left by a run that is gone is taken over 30 s after its last renewal (--lock-stale-after)');
    expect(refused.stdout).toBe('');
    follow.child.kill('SIGTERM');
    expect(await follow.code).toBe(0);

    // Released at a clean stop: the next run starts at once, without a takeover.
    const reset = await runCli(args(topic, '--reset'), { env, cwd: await tempDir(), timeoutMs: 120_000 });
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).not.toMatch(/took over|resuming/);
    expect(new Set(ids(reset.stdout)).size).toBe(ROWS);

    const other = await runCli(args(topic, '--query', 'active=true'), { env, cwd: await tempDir(), timeoutMs: 60_000 });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(new RegExp(`error: the checkpoint in Kafka topic ${topic} \\(key ${sim.url.replace(/[.:/]/g, '\\$&')}\\|incident\\) was made for a different export`));
    expect(other.stderr).toContain('hint: use another --state-topic for this export, or --reset');
    expect(other.stderr).not.toMatch(/\n\s+at \S+ \(/);
  }, 240_000);

  it('works with a state topic on brokers of its own (--state-brokers) and with the file sink', async () => {
    await ready();
    const topic = stateTopic();
    const out = await tempDir();
    const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--state', 'kafka', '--state-topic', topic, '--state-brokers', BROKERS.join(','), '--sink', 'file', '--output', out, '--batch-size', '500'], {
      env,
      cwd: await tempDir(),
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done: 2,000 rows of incident .* saved to Kafka topic/);
    expect(existsSync(`${out}/incident`)).toBe(true);
  }, 120_000);

  it('state brokers that cannot be reached: exit 1 before anything is read, saying which', async () => {
    await ready();
    const before = sim.requests.length;
    const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--state', 'kafka', '--state-brokers', '127.0.0.1:1'], { env, cwd: await tempDir(), timeoutMs: 90_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: kafka state: cannot reach the Kafka brokers 127\.0\.0\.1:1: connect ECONNREFUSED/m);
    expect(r.stderr).not.toMatch(/\n\s+at \S+ \(/);
    expect(r.stdout).toBe('');
    expect(sim.requests.length, 'the instance was read').toBe(before);
  }, 120_000);
});
