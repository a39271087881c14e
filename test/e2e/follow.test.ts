import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { spawnCli, tempDir, waitFor } from '../helpers/cli.js';

let sim: Simulator | undefined;
let child: ChildProcessWithoutNullStreams | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  await sim?.close();
  sim = undefined;
});

interface Feed {
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  exit: Promise<number | null>;
}

function follow(s: Simulator, checkpoint: string, ...more: string[]): Feed {
  child = spawnCli(['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', checkpoint, '--follow', '--poll-interval', '1', '--format', 'envelope', ...more]);
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((r) => child!.on('close', (code) => r(code)));
  return { events, stderr: () => err, exit };
}

const key = (e: Record<string, unknown>) => {
  const r = e.record as Record<string, unknown> | null;
  return `${String(e.op)}|${String(e.sys_id)}|${r ? String(r.sys_mod_count) : ''}`;
};

describe('follow mode (built CLI against a live simulator)', () => {
  it('every change comes out exactly once: inserts, updates, a same-second burst, late commits within the overlap', async () => {
    sim = await startSimulator({ rows: 200, seed: 31 });
    const feed = follow(sim, join(await tempDir(), 'cp.json'));
    await waitFor(() => feed.stderr().includes('caught up'), 20_000, 'the backfill');
    expect(feed.events).toHaveLength(200);
    const existing = sim.visibleRows('incident').slice(0, 60);
    const expected: string[] = [];
    const created = [];
    for (let i = 0; i < 20; i++) created.push(sim.insert('incident'));
    // A burst of updates stamped in one second.
    const burstAt = new Date();
    for (const r of existing.slice(0, 50)) sim.update('incident', String(r.sys_id), {}, { stampedAt: burstAt });
    // Late commits: stamped 3 s ago, visible only 1.5 s later (inside the 5 s overlap).
    const late = [];
    for (let i = 0; i < 5; i++) late.push(sim.insert('incident', {}, { stampedAt: new Date(Date.now() - 3000), visibleAfterMs: 1500 }));
    const lateUpdate = sim.update('incident', String(existing[55]!.sys_id), {}, { stampedAt: new Date(Date.now() - 2000), visibleAfterMs: 1200 });
    for (const r of created) expected.push(`c|${String(r.sys_id)}|0`);
    for (const r of existing.slice(0, 50)) expected.push(`u|${String(r.sys_id)}|${Number(r.sys_mod_count) + 1}`);
    for (const r of late) expected.push(`c|${String(r.sys_id)}|0`);
    expected.push(`u|${String(lateUpdate.sys_id)}|${String(lateUpdate.sys_mod_count)}`);
    await waitFor(() => feed.events.length >= 200 + expected.length, 20_000, 'every change');
    await new Promise((r) => setTimeout(r, 3000)); // a few more polls: nothing may repeat
    const changes = feed.events.slice(200).map(key);
    expect(changes.sort()).toEqual(expected.sort());
    child!.kill('SIGTERM');
    expect(await feed.exit).toBe(0);
    expect(feed.stderr()).toMatch(/stopped: /);
  });

  it('SIGTERM stops gracefully; a restart re-emits at most the overlap window, never the history', async () => {
    sim = await startSimulator({ rows: 500, seed: 32 });
    const cp = join(await tempDir(), 'cp.json');
    const first = follow(sim, cp);
    await waitFor(() => first.stderr().includes('caught up'), 20_000, 'the backfill');
    for (let i = 0; i < 10; i++) sim.insert('incident');
    await waitFor(() => first.events.length >= 510, 10_000, 'the inserts');
    child!.kill('SIGTERM');
    const t0 = Date.now();
    expect(await first.exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    const saved = JSON.parse(readFileSync(cp, 'utf8'));
    expect(saved.tables.incident.cursor.updatedOn).toBeDefined();
    expect(readFileSync(cp, 'utf8')).not.toContain('admin');

    const more: string[] = [];
    for (let i = 0; i < 5; i++) more.push(String(sim.insert('incident').sys_id));
    const second = follow(sim, cp);
    await waitFor(() => more.every((id) => second.events.some((e) => e.sys_id === id)), 15_000, 'the new inserts after restart');
    // Re-emitted: only rows inside the 5 s overlap behind the saved cursor (the 10 recent inserts at most).
    expect(second.events.length).toBeLessThanOrEqual(5 + 10);
    child!.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('survives an outage of several polls, logs it once, and resumes by itself', async () => {
    sim = await startSimulator({ rows: 50, seed: 33 });
    const feed = follow(sim, join(await tempDir(), 'cp.json'));
    await waitFor(() => feed.stderr().includes('caught up'), 20_000, 'the backfill');
    sim.setDown(true);
    await new Promise((r) => setTimeout(r, 4000));
    const during = String(sim.insert('incident').sys_id); // made while nobody could read it
    sim.setDown(false);
    const after = String(sim.insert('incident').sys_id);
    await waitFor(() => [during, after].every((id) => feed.events.some((e) => e.sys_id === id)), 20_000, 'changes after the outage');
    const warnings = feed.stderr().split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings.length).toBeLessThanOrEqual(2);
    expect(feed.stderr()).toMatch(/recovered after/);
    child!.kill('SIGTERM');
    expect(await feed.exit).toBe(0);
  });

  it('--deletes emits d events (envelope) and __deleted rows (raw)', async () => {
    sim = await startSimulator({ rows: 40, seed: 34 });
    const victims = sim.visibleRows('incident').slice(0, 3).map((r) => String(r.sys_id));
    const feed = follow(sim, join(await tempDir(), 'cp.json'), '--deletes');
    await waitFor(() => feed.stderr().includes('caught up'), 20_000, 'the backfill');
    for (const id of victims) sim.deleteRow('incident', id);
    await waitFor(() => feed.events.filter((e) => e.op === 'd').length >= 3, 15_000, 'delete events');
    const deletes = feed.events.filter((e) => e.op === 'd');
    expect(deletes.map((e) => e.sys_id).sort()).toEqual([...victims].sort());
    for (const d of deletes) {
      expect(d.record).toBeNull();
      expect(d.table).toBe('incident');
      expect(String(d.ts)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    child!.kill('SIGTERM');
    await feed.exit;

    // Raw format, one catch-up run (--once) from a fresh checkpoint: the backfill includes the deletes.
    const raw = spawnCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--deletes', '--once']);
    let out = '';
    raw.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    expect(await new Promise((r) => raw.on('close', r))).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const tomb = lines.filter((l) => l.__deleted === true);
    expect(tomb.map((l) => l.sys_id).sort()).toEqual([...victims].sort());
    expect(Object.keys(tomb[0]!).sort()).toEqual(['__deleted', 'sys_id', 'sys_updated_on']);
    expect(lines.filter((l) => !l.__deleted)).toHaveLength(37);
  });

  it('memory stays flat over many polls with steady changes', async () => {
    sim = await startSimulator({ rows: 100, seed: 35 });
    const feed = follow(sim, join(await tempDir(), 'cp.json'), '--format', 'raw');
    await waitFor(() => feed.stderr().includes('caught up'), 20_000, 'the backfill');
    const stop = sim.startLiveChanges({ perSecond: 40, updateRatio: 0.5, deleteRatio: 0.05 });
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child!.pid}/status`, 'utf8'))![1]) / 1024;
    const samples: number[] = [];
    for (let i = 0; i < 25; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rss());
    }
    stop();
    const early = Math.max(...samples.slice(3, 10));
    const late = Math.max(...samples.slice(-7));
    expect(feed.events.length).toBeGreaterThan(500);
    // Flat: the last samples are within 25 MB of the early ones (no growth with the row count).
    expect(late - early).toBeLessThan(25);
    child!.kill('SIGTERM');
    expect(await feed.exit).toBe(0);
  }, 60_000);
});
