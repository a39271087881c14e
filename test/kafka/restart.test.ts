// Broker trouble mid-run, on a broker of this test's own (the shared one is never stopped):
// a restart within the retry budget loses nothing and the run completes; a broker that stays
// away past it ends the run with exit 1, the checkpoint no further than what was acknowledged,
// and the next run completes the topic.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type Row, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, runCli, spawnCli, tempDir, waitFor, type CliResult } from '../helpers/cli.js';
import { createTopic, OwnBroker, readTopic, requireBroker, setUpOnce } from './helpers.js';

const ROWS = 2000;
const PAGE = 50;
const env = { SERVICENOW_PASSWORD: 'admin' };
let broker: OwnBroker;
let sim: Simulator;
let rows: Row[];

const key = (r: Row) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`;
const args = (topic: string, checkpoint: string, ...extra: string[]) => [
  '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint,
  '--sink', 'kafka', '--brokers', broker.brokers.join(','), '--topic', topic,
  // One page at a time and no overlap re-read: what arrives twice is the sink's doing only.
  '--batch-size', String(PAGE), '--concurrency', '1', '--overlap', '0',
  ...extra,
];

/** Every row is in the topic; rows written twice are at most one page. */
async function expectComplete(topic: string): Promise<void> {
  const keys = (await readTopic(topic, { brokers: broker.brokers })).map((m) => m.key!);
  const unique = new Set(keys);
  expect(rows.filter((r) => !unique.has(String(r.sys_id))), 'rows missing from the topic').toEqual([]);
  expect(unique.size).toBe(ROWS);
  expect(keys.length - unique.size).toBeLessThanOrEqual(PAGE);
}

async function setUp(): Promise<void> {
  broker = await OwnBroker.create();
  await broker.start();
  // Each page takes a while, so the broker goes away mid-run rather than after it.
  sim = await startSimulator({ rows: ROWS, rowBytes: 600, seed: 51, aclHiddenRatio: 0, latencyMs: 150 });
  rows = sim.visibleRows('incident');
}
const setup = setUpOnce(setUp);

async function requireSetUp(): Promise<void> {
  await setup.required();
  await requireBroker(broker.brokers[0]);
}

afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await broker?.destroy();
}, 120_000);

describe('broker trouble mid-run (a private broker, stopped and started)', () => {
  it('a broker stopped and restarted mid-run: nothing lost, the run completes (exit 0)', async () => {
    await requireSetUp();
    const topic = 'nowpipe-restart-a';
    await createTopic(topic, { partitions: 2, brokers: broker.brokers });
    const cp = join(await tempDir(), 'cp.json');
    const child = spawnCli(args(topic, cp), { env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    await waitFor(() => existsSync(cp) || done, 60_000, 'the first checkpoint');
    expect(done, `the run ended before the broker could be stopped: the test proves nothing\n${stderr}`).toBe(false);
    await broker.stop();
    const atStop = checkpointCursor(cp)!;
    await new Promise((r) => setTimeout(r, 2000));
    expect(done, `the run ended while the broker was down\n${stderr}`).toBe(false);
    await broker.start();
    expect(await exited, stderr).toBe(0);
    expect(`${atStop.updatedOn}|${atStop.sysId}` < key(rows.reduce((a, b) => (key(a) > key(b) ? a : b)))).toBe(true);
    // One warning for the outage (its wording is kafkajs's: refused, reset or closed connection), one line for the end of it.
    expect(stderr.match(/warning: kafka: .+; retrying \(up to 10 times; --verbose shows each attempt\)/g)).toHaveLength(1);
    expect(stderr).toContain('kafka: the brokers acknowledge writes again');
    expect(stderr).toMatch(/done: 2,000 rows of incident/);
    await expectComplete(topic);
  }, 300_000);

  it('a broker that stays away past the retry budget: exit 1, the checkpoint at the last acknowledged page; the next run completes', async () => {
    await requireSetUp();
    const topic = 'nowpipe-restart-b';
    await createTopic(topic, { brokers: broker.brokers });
    const cp = join(await tempDir(), 'cp.json');
    const child = spawnCli(args(topic, cp, '--kafka-retries', '2'), { env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<CliResult['code']>((resolve) => child.on('close', (code) => resolve(code)));
    let done = false;
    void exited.then(() => (done = true));
    await waitFor(() => existsSync(cp) || done, 60_000, 'the first checkpoint');
    expect(done, `the run ended before the broker could be stopped: the test proves nothing\n${stderr}`).toBe(false);
    await broker.stop();
    expect(await exited).toBe(1);
    expect(stderr).toMatch(new RegExp(`error: kafka sink: the brokers ${broker.brokers[0]} did not acknowledge a write through 2 retries \\(.*\\); the checkpoint stays at the last acknowledged page`));
    expect(stderr).toContain('hint: the next run resends from there; --kafka-retries gives the brokers longer');
    expect(stderr).not.toMatch(/\n\s+at \S+ \(/);

    const cursor = checkpointCursor(cp)!;
    const covered = rows.filter((r) => key(r) <= `${cursor.updatedOn}|${cursor.sysId}`);
    expect(covered.length).toBeGreaterThan(0);
    expect(covered.length).toBeLessThan(ROWS);
    await broker.start();
    // Everything the checkpoint covers was acknowledged before the broker went away.
    const inTopic = new Set((await readTopic(topic, { brokers: broker.brokers })).map((m) => m.key));
    expect(covered.filter((r) => !inTopic.has(String(r.sys_id)))).toEqual([]);

    const again = await runCli(args(topic, cp), { env, timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming incident after/);
    await expectComplete(topic);
  }, 300_000);
});
