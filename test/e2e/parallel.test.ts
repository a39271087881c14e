import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type RecordedRequest, type Simulator } from '../../src/sim/index.js';
import { runCli, spawnCli, startCli, sysIds, tableRequests, tempDir, visibleIds, waitFor } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const args = (s: Simulator, checkpoint: string, ...more: string[]) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', checkpoint, ...more];

interface SavedSlice {
  startId?: string;
  endId?: string;
  start: string;
  end: string;
  first: boolean;
  cursor?: { updatedOn: string; sysId: string };
  done: boolean;
}

/**
 * Table requests the instance saw start while a 429's Retry-After was running. The pause begins
 * when the client reads the 429, a moment after the instance sent it: requests already on their
 * way in that moment (`graceMs`) are not the client's to hold back.
 */
function startsDuringPause(requests: RecordedRequest[], retryAfterMs: number, graceMs = 100): Array<{ after429: number; started: number }> {
  const out: Array<{ after429: number; started: number }> = [];
  for (const limited of requests.filter((r) => r.status === 429)) {
    for (const r of requests) {
      if (r.at > limited.at + graceMs && r.at < limited.at + retryAfterMs) out.push({ after429: limited.at, started: r.at - limited.at });
    }
  }
  return out;
}

describe('parallel backfill (built CLI against the simulator)', () => {
  it('kill -9 mid-run: every slice resumes from its own cursor, every row arrives, duplicates stay within a page per slice', async () => {
    // 6,000 rows over 30 days plus 1,200 in one second (6 pages of 200), 5% hidden by ACLs.
    sim = await startSimulator({ rows: 6000, burst: { count: 1200 }, aclHiddenRatio: 0.05, seed: 61, latencyMs: 300 });
    const perSecond = new Map<string, number>();
    for (const r of sim.rows('incident')) perSecond.set(String(r.sys_updated_on), (perSecond.get(String(r.sys_updated_on)) ?? 0) + 1);
    const burstSecond = [...perSecond].find(([, n]) => n >= 1200)![0];
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const run = args(sim, cp, '--batch-size', '200', '--concurrency', '4');
    const visible = visibleIds(sim);

    const child = spawnCli(run);
    let first = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (first += d));
    await waitFor(() => first.split('\n').length > visible.length * 0.35, 30_000, 'a third of the rows');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const firstIds = sysIds(first.slice(0, first.lastIndexOf('\n') + 1));

    // What the killed run left: 4 contiguous slices over the range, several of them part-way.
    const saved = JSON.parse(await readFile(cp, 'utf8'));
    const slices = saved.tables.incident.slices as SavedSlice[];
    expect(slices).toHaveLength(4);
    expect(slices[0]!.start).toBe('1969-12-31 23:59:59'); // the range starts at 1970-01-01 00:00:00, inclusive
    expect(slices.every((s) => !s.first)).toBe(true);
    // Contiguous in keyset order: each slice starts after the row (or second) the one before ends with.
    for (let i = 1; i < slices.length; i++) expect([slices[i]!.start, slices[i]!.startId]).toEqual([slices[i - 1]!.end, slices[i - 1]!.endId]);
    expect(slices[3]!.end).toBe(saved.tables.incident.slicesHi);
    const partly = slices.filter((s) => s.cursor !== undefined && !s.done);
    expect(partly.length).toBeGreaterThanOrEqual(2);
    for (const s of partly) {
      expect(s.cursor!.updatedOn >= s.start && s.cursor!.updatedOn <= s.end).toBe(true);
    }
    // The dense second (1,200 of 7,200 rows) is shared: cut by sys_id, not read by one slice alone.
    const owners = slices.filter((s) => s.start <= burstSecond && burstSecond <= s.end && !(s.start === burstSecond && s.startId === undefined));
    expect(owners.length).toBeGreaterThanOrEqual(2);

    const requestsBefore = sim.requests.length;
    const second = await runCli(run);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming the parallel backfill of incident: \d of 4 slices done, each slice from its own cursor/);
    const secondIds = sysIds(second.stdout);
    // Resumed, not restarted: no slice that had a cursor started over from its start.
    const rereads = sim.requests.slice(requestsBefore).filter((r) => r.path === '/api/now/table/incident' && ['200', '201'].includes(r.query.sysparm_limit ?? ''));
    for (const s of partly) {
      // A slice whose cursor moved past its start must not ask for its start again: with a
      // whole-second start, the advance from it; with a cut inside a second, a drain from the cut.
      if (s.cursor!.updatedOn === s.start && (s.startId === undefined || s.cursor!.sysId === s.startId)) continue;
      const fromStart = (q: string) =>
        s.startId === undefined ? q.startsWith(`sys_updated_on>${s.start}^sys_updated_on<=${s.end}^`) : q.startsWith(`sys_updated_on=${s.start}^sys_id>${s.startId}^`);
      expect(rereads.filter((r) => fromStart(r.query.sysparm_query ?? '')).map((r) => r.query.sysparm_query)).toEqual([]);
    }
    expect(new Set([...firstIds, ...secondIds])).toEqual(new Set(visible));
    expect(new Set(secondIds).size).toBe(secondIds.length);
    const duplicates = firstIds.length + secondIds.length - visible.length;
    expect(duplicates).toBeLessThanOrEqual(4 * 200);

    const after = JSON.parse(await readFile(cp, 'utf8'));
    expect(after.tables.incident.slices).toBeUndefined();
    const top = sim.visibleRows('incident').map((r) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`).sort().pop()!;
    expect(`${after.tables.incident.cursor.updatedOn}|${after.tables.incident.cursor.sysId}`).toBe(top);
  });

  it('slices hold equal shares of rows: 4 slices need 9 pages in all, and no request is wasted', async () => {
    // 4,000 rows in distinct seconds, 4 slices of exactly 1,000 = 2 pages of 500 each.
    sim = await startSimulator({ rows: 4000, seed: 65 });
    const dir = await tempDir();
    const res = await runCli(args(sim, join(dir, 'cp.json'), '--batch-size', '500', '--concurrency', '4'));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    const table = tableRequests(sim);
    const pages = table.filter((r) => r.query.sysparm_limit === '500' || r.query.sysparm_limit === '501');
    // One probe for the count and the clock, 3 for the cuts, then per slice two pages: the second
    // starts at the first's last row (asking for 501) and ends at the slice's last row, so it is
    // known to be done. Only the last slice, which ends at the high-water mark, confirms its end
    // with one more request. No drain, no re-read at the end.
    expect(table.length - pages.length).toBe(4);
    expect(pages.filter((r) => r.rows >= 500)).toHaveLength(8);
    expect(pages).toHaveLength(9);
  });

  it('a 429 with Retry-After holds back every worker until it has passed, and the run completes', async () => {
    sim = await startSimulator({ rows: 4000, seed: 62, latencyMs: 40 });
    const dir = await tempDir();
    const { out, code } = startCli(args(sim, join(dir, 'cp.json'), '--batch-size', '200', '--concurrency', '4'));
    await waitFor(() => out.stdout.split('\n').length > 800, 30_000, 'slices under way');
    sim.faults.push({ kind: 'status', status: 429, retryAfter: 2, count: 2 });
    expect(await code, out.stderr).toBe(0);
    expect(sysIds(out.stdout).sort()).toEqual(visibleIds(sim).sort());
    expect(out.stderr).toMatch(/rate limited/);
    const table = tableRequests(sim);
    const limited = table.filter((r) => r.status === 429);
    expect(limited).toHaveLength(2);
    // Every worker was busy before the 429 and waited after it: nothing started in the pause.
    const before = table.filter((r) => r.at < limited[0]!.at && r.at > limited[0]!.at - 500);
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(startsDuringPause(table, 2000)).toEqual([]);
    // Two 429s are one burst (two requests in flight) or two pauses, one after the other.
    const gap = limited[1]!.at - limited[0]!.at;
    expect(gap < 100 || gap >= 2000).toBe(true);
  });

  it('a semaphore smaller than --concurrency: a 429 halves the requests in flight instead of a storm of retries', async () => {
    // The instance lets 2 requests run at once and answers 429 (Retry-After 1) to more.
    sim = await startSimulator({ rows: 4000, seed: 63, latencyMs: 400, maxConcurrent: 2 });
    const dir = await tempDir();
    const res = await runCli(args(sim, join(dir, 'cp.json'), '--batch-size', '200', '--concurrency', '4'));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    const table = tableRequests(sim);
    const limited = table.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length).toBeLessThanOrEqual(3);
    expect(startsDuringPause(table, 1000)).toEqual([]);
  });

  it('--max-requests-per-hour: the budget spent, nothing more starts and the run says until when; SIGTERM keeps what was written', async () => {
    sim = await startSimulator({ rows: 3000, seed: 66 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const { child, out, code } = startCli(args(sim, cp, '--batch-size', '500', '--concurrency', '2', '--max-requests-per-hour', '6'));
    await waitFor(() => /the hour's requests are spent/.test(out.stderr), 20_000, 'the pacing notice');
    await new Promise((r) => setTimeout(r, 500));
    expect(tableRequests(sim)).toHaveLength(6);
    const until = /the next starts at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/.exec(out.stderr)![1]!;
    const first = tableRequests(sim)[0]!.at;
    expect(Math.abs(Date.parse(`${until.replace(' ', 'T')}Z`) - (first + 3_600_000))).toBeLessThan(1500);
    child.kill('SIGTERM');
    expect(await code).toBe(0);
    expect(tableRequests(sim)).toHaveLength(6);
    const written = sysIds(out.stdout);
    expect(written.length).toBeGreaterThan(0);
    const saved = JSON.parse(await readFile(cp, 'utf8'));
    expect(saved.tables.incident.rows).toBe(written.length);
  });

  it('--max-requests-per-second paces the whole run, across every worker', async () => {
    sim = await startSimulator({ rows: 2000, seed: 64, latencyMs: 20 });
    const dir = await tempDir();
    const started = Date.now();
    const res = await runCli(args(sim, join(dir, 'cp.json'), '--batch-size', '100', '--concurrency', '4', '--max-requests-per-second', '5'));
    const seconds = (Date.now() - started) / 1000;
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    const starts = tableRequests(sim).map((r) => r.at);
    expect(starts.length).toBeGreaterThan(20);
    // Never six requests within 0.9 s, whichever worker sent them (the trip to the instance
    // can take a few tens of ms more for one request than another on a busy machine).
    for (let i = 5; i < starts.length; i++) expect(starts[i]! - starts[i - 5]!).toBeGreaterThanOrEqual(850);
    expect(seconds).toBeGreaterThanOrEqual((starts.length - 5) / 5);
    // Paced, not serialised: the budget was used, about 5 a second.
    expect(starts.at(-1)! - starts[0]!).toBeLessThan(((starts.length - 1) / 5) * 1000 + 1500);
  });
});
