import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, spawnCli, tempDir, waitFor } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const ids = (lines: Array<Record<string, unknown>>) => lines.map((r) => r.sys_id as string);
const args = (s: Simulator, checkpoint: string, ...more: string[]) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', checkpoint, ...more];

describe('backfill (built CLI against the simulator)', () => {
  it.each(['1', '4'])('emits every visible row once: a 2,500-row second across pages of 1,000 with 5%% hidden by ACLs (concurrency %s)', async (concurrency) => {
    sim = await startSimulator({ rows: 1500, burst: { count: 2500 }, aclHiddenRatio: 0.05, seed: 11 });
    const dir = await tempDir();
    const res = await runCli(args(sim, join(dir, 'cp.json'), '--batch-size', '1000', '--concurrency', concurrency));
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const out = ids(parseNdjson(res.stdout));
    const visible = sim.visibleRows('incident').map((r) => r.sys_id as string);
    expect(visible.length).toBeGreaterThan(3500);
    expect(visible.length).toBeLessThan(4000);
    expect(new Set(out).size).toBe(out.length);
    expect(out.sort()).toEqual([...visible].sort());
    // Keyset paging only: never offset paging, except to find slice boundaries (limit 50) and
    // to step over a block of hidden rows (none is a page long here).
    const offsets = sim.requests.filter((r) => r.query.sysparm_offset !== undefined && r.query.sysparm_limit !== '50');
    expect(offsets).toHaveLength(0);
    expect(sim.requests.every((r) => !r.path.includes('/api/now/table/incident') || r.query.sysparm_limit === undefined || String(r.query.sysparm_query ?? '').length > 0)).toBe(true);
  });

  it('writes nothing but NDJSON on stdout and a summary on stderr; the checkpoint holds the last row', async () => {
    sim = await startSimulator({ rows: 300, seed: 3 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const res = await runCli(args(sim, cp, '--batch-size', '100'));
    expect(res.code).toBe(0);
    const rows = parseNdjson(res.stdout);
    expect(rows).toHaveLength(300);
    expect(res.stderr).toMatch(/done: 300 rows of incident/);
    // Each line is the row exactly as the instance serves it, every field (reference links included).
    for (const row of rows.filter((_, i) => i % 60 === 0)) {
      const one = await fetch(`${sim.url}/api/now/table/incident/${String(row.sys_id)}`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
      expect(row).toEqual(((await one.json()) as { result: unknown }).result);
    }
    // Slices (default --concurrency 4) write in no global order: the cursor is the highest row.
    const key = (r: Record<string, unknown>) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`;
    const last = [...rows].sort((a, b) => (key(a) < key(b) ? 1 : -1))[0]!;
    const saved = JSON.parse(await readFile(cp, 'utf8'));
    expect(saved.version).toBe(1);
    expect(saved.tables.incident.cursor).toEqual({ updatedOn: last.sys_updated_on, sysId: last.sys_id });
    expect(JSON.stringify(saved)).not.toContain('admin');
    // A second run finds nothing new beyond the overlap window.
    const again = await runCli(args(sim, cp, '--overlap', '0'));
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('kill -9 mid-run, then a rerun loses nothing and does not start over (the default slices an instance that answers slower than nowpipe writes)', async () => {
    sim = await startSimulator({ rows: 6000, seed: 5, latencyMs: 150 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const child = spawnCli(args(sim, cp, '--batch-size', '200'));
    let first = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (first += d));
    await waitFor(() => first.split('\n').length > 1500, 30_000, 'rows from the first run');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const firstRows = parseNdjson(first.slice(0, first.lastIndexOf('\n') + 1));
    const second = await runCli(args(sim, cp, '--batch-size', '200'));
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resuming the parallel backfill of incident: \d of 4 slices done/);
    const secondRows = parseNdjson(second.stdout);
    const all = new Set([...ids(firstRows), ...ids(secondRows)]);
    expect(all.size).toBe(6000);
    // Resumed, not restarted: each of the (up to 4) slices re-sends at most the page it had in flight.
    expect(secondRows.length).toBeLessThanOrEqual(6000 - firstRows.length + 4 * 200);
  });

  it('kill -9 of a single-cursor run re-sends at most one page', async () => {
    sim = await startSimulator({ rows: 3000, seed: 6, latencyMs: 40 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const child = spawnCli(args(sim, cp, '--batch-size', '200', '--concurrency', '1'));
    let first = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (first += d));
    await waitFor(() => first.split('\n').length > 1000, 30_000, 'rows from the first run');
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const firstRows = parseNdjson(first.slice(0, first.lastIndexOf('\n') + 1));
    const second = await runCli(args(sim, cp, '--batch-size', '200', '--concurrency', '1', '--overlap', '0'));
    expect(second.code).toBe(0);
    const secondRows = parseNdjson(second.stdout);
    expect(new Set([...ids(firstRows), ...ids(secondRows)]).size).toBe(3000);
    expect(secondRows.length).toBeLessThanOrEqual(3000 - firstRows.length + 200);
  });

  it('an explicit --concurrency slices whatever the response time of the instance', async () => {
    sim = await startSimulator({ rows: 3000, seed: 12 });
    const explicit = await runCli(args(sim, join(await tempDir(), 'cp.json'), '--batch-size', '500', '--concurrency', '4', '--verbose'));
    expect(explicit.code, explicit.stderr).toBe(0);
    expect(explicit.stderr).toMatch(/parallel backfill of incident in 4 slices/);
  });

  it('pipes into head and ends quietly with exit 0', async () => {
    sim = await startSimulator({ rows: 3000, seed: 9 });
    const dir = await tempDir();
    const { spawn } = await import('node:child_process');
    const { BIN, cliEnv } = await import('../helpers/cli.js');
    const cmd = `node ${BIN} ${args(sim, join(dir, 'cp.json'), '--batch-size', '100').join(' ')} | head -n 5`;
    const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], { env: cliEnv() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('close', r));
    expect(out.trim().split('\n')).toHaveLength(5);
    expect(err).not.toMatch(/EPIPE|error/i);
    expect(code).toBe(0);
  });
});
