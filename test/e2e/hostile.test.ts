// Instances that do not behave as the reader expects (issue 9): the run stops loudly or goes on
// safely, and never exits 0 with a row missing. The built CLI against the simulator's hostile modes.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, parseNdjson, runCli, sysIds, tableRequests, tempDir, visibleIds } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const start = async (o: SimOptions) => (sim = await startSimulator(o));
const args = (s: Simulator, checkpoint: string, ...more: string[]) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', checkpoint, ...more];

describe('an instance that does not behave as documented', () => {
  it('--display-value true: every row, with display values, and the cursor from the raw timestamp', async () => {
    const s = await start({ rows: 120, seed: 71 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--display-value', 'true', '--batch-size', '50'));
    expect(res.code, res.stderr).toBe(0);
    const rows = parseNdjson(res.stdout);
    expect(rows.map((r) => r.sys_id).sort()).toEqual(visibleIds(s).sort());
    expect(String(rows[0]!.sys_updated_on)).toMatch(/^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d (AM|PM)$/);
    expect(checkpointCursor(cp)!.updatedOn).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it('rows out of keyset order (the ORDERBY not honoured): exit 1 naming the table and the cause, nothing dropped as "already written"', async () => {
    const s = await start({ rows: 300, seed: 72, unsorted: true });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '50', '--concurrency', '1'));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: incident: rows came back out of order/);
    expect(res.stderr).toMatch(/did not sort by sys_updated_on, sys_id/);
    expect(res.stderr).not.toMatch(/skipped/);
    // Whatever was written before the stop is all the checkpoint covers.
    const written = sysIds(res.stdout);
    const saved = existsSync(cp) ? JSON.parse(await readFile(cp, 'utf8')).tables.incident : undefined;
    expect(saved?.rows ?? 0).toBe(written.length);
  });

  it.each(['1', '4'])('X-Total-Count of min(total, limit) on page requests: a full page means more, every row arrives (concurrency %s)', async (concurrency) => {
    const s = await start({ rows: 200, seed: 73, totalCount: 'capped' });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '10', '--concurrency', concurrency));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(s).sort());
    // A rerun finds nothing left to read: the first run did not stop early.
    const again = await runCli(args(s, cp, '--batch-size', '10', '--concurrency', concurrency));
    expect(sysIds(again.stdout)).toEqual([]);
  });

  it.each(['1', '4'])('X-Total-Count capped at the page and rows hidden by ACLs: a short page still leaves the rest to read (concurrency %s)', async (concurrency) => {
    const s = await start({ rows: 300, seed: 81, totalCount: 'capped', aclHiddenRatio: 0.1 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '10', '--concurrency', concurrency));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(s).sort());
  });

  it.each(['1', '4'])('X-Total-Count capped at the page and a block of rows hidden by ACLs longer than two pages: stepped over, every visible row after it arrives (concurrency %s)', async (concurrency) => {
    const s = await start({ rows: 0, seed: 82, totalCount: 'capped' });
    const base = Date.parse('2024-03-01T00:00:00Z');
    let n = 0;
    const add = (count: number, hidden: boolean) => {
      for (let i = 0; i < count; i++, n++) s.insert('incident', { number: `R${n}` }, { stampedAt: new Date(base + n * 1000), hidden });
    };
    add(15, false);
    add(35, true);
    add(30, false);
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '10', '--concurrency', concurrency, '--since', '2024-02-01'));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(s).sort());
    expect(visibleIds(s)).toHaveLength(45);
  });

  it.each(['1', '4'])('X-Total-Count counted after ACLs (too low where rows are hidden): a short page never ends the read on its word (concurrency %s)', async (concurrency) => {
    const s = await start({ rows: 400, seed: 83, totalCount: 'visible', aclHiddenRatio: 0.3 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '10', '--concurrency', concurrency));
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(s).sort());
  });

  it('X-Total-Count far too high with endless empty pages: stepping over shows on the way, warns once, goes through the limiter, and ends', async () => {
    const s = await start({ rows: 50, seed: 74, totalCount: 'inflated' });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '1000', '--concurrency', '1', '--max-requests-per-second', '400'), { timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(s).sort());
    expect(res.stderr.match(/stepped over [\d,]+ rows hidden by ACLs/g)).toHaveLength(1);
    // Paced by the request limiter: never more than 400 starts within a second.
    const starts = tableRequests(s).map((r) => r.at);
    expect(starts.length).toBeGreaterThan(1000);
    for (let i = 400; i < starts.length; i++) expect(starts[i]! - starts[i - 400]!).toBeGreaterThanOrEqual(950);
  });

  it('a Date header far in the past: a warning that the instance clock is behind, not a silent run of 0 rows', async () => {
    const s = await start({ rows: 30, seed: 75, dateHeaderSkewMs: -400 * 86_400_000 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/warning: the instance's clock \(.+ UTC, from its Date header\) is 400 days behind the local clock/);
  });

  it('a Date header behind the saved position: says nothing newer can be read yet', async () => {
    const options: SimOptions = { rows: 30, seed: 76 };
    const s = await start(options);
    const cp = join(await tempDir(), 'cp.json');
    expect((await runCli(args(s, cp))).code).toBe(0);
    options.dateHeaderSkewMs = -90 * 86_400_000; // the instance's clock now says three months ago
    const res = await runCli(args(s, cp));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/is 90 days behind the local clock/);
    expect(res.stderr).toMatch(/is behind the position of incident \(.+\): nothing newer can be read until the instance's clock passes it/);
  });

  it('cron-style reruns on one checkpoint write no row version twice (the overlap window is remembered)', async () => {
    const now = Date.now();
    const s = await start({ rows: 40, seed: 77, start: stamp(now - 60_000), end: stamp(now - 1000) });
    const cp = join(await tempDir(), 'cp.json');
    const first = await runCli(args(s, cp));
    expect(sysIds(first.stdout).sort()).toEqual(visibleIds(s).sort());
    const second = await runCli(args(s, cp));
    expect(second.code, second.stderr).toBe(0);
    expect(sysIds(second.stdout)).toEqual([]);
    expect(second.stderr).toMatch(/done: 0 rows .* re-read duplicates dropped/);
    // A real change inside the window is written once.
    const changed = s.update('incident', visibleIds(s)[0]!, {}, { stampedAt: new Date(Date.now() - 2000) });
    const third = await runCli(args(s, cp));
    expect(sysIds(third.stdout)).toEqual([changed.sys_id]);
    expect(sysIds((await runCli(args(s, cp))).stdout)).toEqual([]);
  });

  it('the summary counts the pages the instance returned', async () => {
    const s = await start({ rows: 5000, seed: 78 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--batch-size', '1000', '--concurrency', '1'));
    const dataPages = tableRequests(s).filter((r) => r.rows > 0 && ['1000', '1001'].includes(r.query.sysparm_limit ?? '')).length;
    expect(dataPages).toBeGreaterThanOrEqual(5);
    expect(res.stderr).toMatch(new RegExp(`, ${dataPages} pages, `));
    const few = await runCli(args(s, join(await tempDir(), 'cp.json'), '--fields', 'number,state'));
    expect(few.stderr).toMatch(/, 1 page, /);
  });

  it('a damaged checkpoint: exit 2 with what is wrong and the --reset hint, nothing read', async () => {
    const s = await start({ rows: 10, seed: 79 });
    const cp = join(await tempDir(), 'cp.json');
    await writeFile(cp, JSON.stringify({ version: 1, tables: { incident: { cursor: null } } }));
    const res = await runCli(args(s, cp));
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/the checkpoint .*cp\.json is not valid: tables\.incident\.fingerprint/);
    expect(res.stderr).toMatch(/--reset/);
    expect(res.stderr).not.toMatch(/unexpected|bug/);
    expect(tableRequests(s)).toEqual([]);
  });

  it('--since in the future: a warning, and the summary names no checkpoint that was never saved', async () => {
    const s = await start({ rows: 10, seed: 80 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(args(s, cp, '--since', '2030-01-01'));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/warning: --since 2030-01-01 00:00:00 is after the instance's present/);
    expect(res.stderr).toMatch(/no position saved/);
    expect(res.stderr).not.toMatch(/cp\.json/);
    expect(existsSync(cp)).toBe(false);
  });
});

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
