import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Row, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, tempDir } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const ADMIN = { user: 'admin', password: 'admin' };
/** May read incident but not problem. */
const LIMITED = { user: 'limited', password: 'limited-pw', deniedTables: ['problem'] };

const PROBLEM_SINCE = '2024-03-01 00:00:00';
const PROBLEM_FIELDS = ['number', 'short_description', 'active'];

/** incident (from the simulator) plus a problem table: 240 rows over Feb–Apr 2024, every third inactive. */
async function twoTables(options: SimOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ rows: 900, seed: 41, users: [ADMIN, LIMITED], ...options });
  const start = Date.parse('2024-02-01T00:00:00Z');
  for (let i = 0; i < 240; i++) {
    // Several rows share a second, so the problem cursor needs its sys_id too.
    const at = new Date(start + Math.floor(i / 3) * 27 * 3600_000);
    s.insert('problem', { number: `PRB${String(i).padStart(7, '0')}`, short_description: `problem ${i}`, description: 'x'.repeat(200), active: i % 3 === 0 ? 'false' : 'true', state: '1' }, { stampedAt: at });
  }
  return s;
}

/** The problem rows the rc settings select: active, updated at or after `since`. */
const wantedProblems = (s: Simulator) => s.visibleRows('problem').filter((r) => r.active === 'true' && String(r.sys_updated_on) >= PROBLEM_SINCE);

async function rcFile(dir: string): Promise<string> {
  const path = join(dir, 'nowpipe.json');
  await writeFile(path, JSON.stringify({ tables: { problem: { fields: PROBLEM_FIELDS.join(','), query: 'active=true', since: PROBLEM_SINCE } } }));
  return path;
}

type Envelope = { op: string; table: string; sys_id: string; record: Row };
const byTable = (stdout: string) => {
  const lines = parseNdjson(stdout) as unknown as Envelope[];
  return {
    incident: lines.filter((l) => l.table === 'incident'),
    problem: lines.filter((l) => l.table === 'problem'),
    other: lines.filter((l) => l.table !== 'incident' && l.table !== 'problem'),
  };
};
const sorted = (xs: Array<Record<string, unknown>>) => xs.map((x) => String(x.sys_id)).sort();
const highest = (rows: Row[]) => rows.map((r) => ({ updatedOn: String(r.sys_updated_on), sysId: String(r.sys_id) })).sort((a, b) => (`${a.updatedOn}|${a.sysId}` < `${b.updatedOn}|${b.sysId}` ? 1 : -1))[0];

const common = (s: Simulator, cp: string, rc: string) => ['--url', s.url, '--checkpoint', cp, '--config', rc, '--format', 'envelope', '--batch-size', '100', '--overlap', '0'];

describe('several tables in one run (built CLI against the simulator)', () => {
  it.each([
    { how: 'comma-separated', tables: ['--table', 'incident,problem'] },
    { how: 'repeated', tables: ['--table', 'incident', '--table', 'problem'] },
  ])('--table $how: every row of each table with its own settings, one checkpoint, a rerun resumes both', async ({ tables }) => {
    sim = await twoTables({ aclHiddenRatio: 0.05 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const rc = await rcFile(dir);
    const first = await runCli([...common(sim, cp, rc), ...tables, '--user', 'admin', '--password', 'admin']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/done: \d[\d,]* rows of incident, problem/);
    const out = byTable(first.stdout);
    expect(out.other).toEqual([]);
    expect(sorted(out.incident)).toEqual(sorted(sim.visibleRows('incident')));
    const wanted = wantedProblems(sim);
    // Both the rc query and the rc since narrow problem: 54 of its 80 seconds are after since, 2 rows in 3 active.
    expect(wanted.length).toBe(108);
    expect(sorted(out.problem)).toEqual(sorted(wanted));
    // problem's projection applies to problem only: its fields plus the cursor fields.
    const projected = new Set([...PROBLEM_FIELDS, 'sys_id', 'sys_updated_on', 'sys_created_on', 'sys_mod_count']);
    for (const p of out.problem) expect(new Set(Object.keys(p.record))).toEqual(projected);
    expect(Object.keys(out.incident[0]!.record)).toContain('caller_id');

    // One checkpoint file, a cursor per table at that table's highest row, each with its own scope.
    const saved = JSON.parse(await readFile(cp, 'utf8'));
    expect(Object.keys(saved.tables).sort()).toEqual(['incident', 'problem']);
    expect(saved.tables.incident.cursor).toEqual(highest(sim.visibleRows('incident')));
    expect(saved.tables.problem.cursor).toEqual(highest(wanted));
    expect(saved.tables.problem.scope).toMatchObject({ table: 'problem', query: 'active=true', fields: PROBLEM_FIELDS });
    expect(saved.tables.incident.scope.query).toBeUndefined();
    expect(saved.tables.incident.slices).toBeUndefined();

    // New rows in both tables; the rerun resumes each table after its own cursor.
    const stamp = new Date(Date.now() - 30_000);
    const newIncidents = [sim.insert('incident', {}, { stampedAt: stamp }), sim.insert('incident', {}, { stampedAt: stamp })];
    const newProblem = sim.insert('problem', { number: 'PRB9999999', short_description: 'new', active: 'true' }, { stampedAt: stamp });
    sim.insert('problem', { number: 'PRB9999998', short_description: 'inactive', active: 'false' }, { stampedAt: stamp });
    const second = await runCli([...common(sim, cp, rc), ...tables, '--user', 'admin', '--password', 'admin']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/resuming incident after/);
    expect(second.stderr).toMatch(/resuming problem after/);
    const again = byTable(second.stdout);
    expect(sorted(again.incident)).toEqual(sorted(newIncidents));
    expect(sorted(again.problem)).toEqual(sorted([newProblem]));
  });

  it('one table failing stops the run: exit 1 naming the table, the other table stopped early', async () => {
    sim = await twoTables({ rows: 3000, latencyMs: 40 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const res = await runCli([...common(sim, cp, await rcFile(dir)), '--table', 'incident,problem', '--user', LIMITED.user, '--password', LIMITED.password]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: problem: user limited may not read table problem/);
    expect(res.stderr).not.toMatch(/incident: /);
    const out = byTable(res.stdout);
    expect(out.problem).toEqual([]);
    expect(out.incident.length).toBeLessThan(sim.visibleRows('incident').length);
    // Whatever incident wrote before it stopped is in the checkpoint (often nothing: problem
    // fails on its first request); problem never got a cursor.
    const saved = await readFile(cp, 'utf8').then((t) => JSON.parse(t), () => ({ tables: {} }));
    expect(saved.tables.problem).toBeUndefined();
    expect(saved.tables.incident?.rows ?? 0).toBeLessThanOrEqual(out.incident.length);
  });

  it('--continue-on-error: the other table completes, and the run still exits 1 naming the failed one', async () => {
    sim = await twoTables({ rows: 3000, latencyMs: 40 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const res = await runCli([...common(sim, cp, await rcFile(dir)), '--table', 'problem,incident', '--continue-on-error', '--user', LIMITED.user, '--password', LIMITED.password]);
    expect(res.code).toBe(1);
    const out = byTable(res.stdout);
    expect(sorted(out.incident)).toEqual(sorted(sim.visibleRows('incident')));
    expect(out.problem).toEqual([]);
    // The summary comes first, the failure last, so it is what a person reads at the end.
    expect(res.stderr).toMatch(/failed: 3,000 rows of problem, incident/);
    expect(res.stderr.trimEnd().split('\n').slice(-2).join('\n')).toMatch(/error: problem: user limited may not read table problem/);
    const saved = JSON.parse(await readFile(cp, 'utf8'));
    expect(saved.tables.incident.cursor).toEqual(highest(sim.visibleRows('incident')));
    expect(saved.tables.problem).toBeUndefined();
  });
});
