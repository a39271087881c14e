// The file sink leases each table folder to one run: a second run on the same --output is refused
// before it writes anything, and a run that lost its lease (stopped, then taken over) stops
// rather than writing on. Built CLI against the simulator.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tableRequests, tempDir, waitFor } from '../helpers/cli.js';
import { verifyFolder } from './helpers.js';

let sim: Simulator;
const env = { SERVICENOW_PASSWORD: 'admin' };
const run = (s: Simulator, checkpoint: string, out: string, ...extra: string[]) =>
  ['--url', s.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint, '--sink', 'file', '--output', out, ...extra];

beforeAll(async () => {
  sim = await startSimulator({ rows: 300, seed: 21, aclHiddenRatio: 0 });
});
afterAll(() => sim?.close());

describe('the file sink locks its table folders', () => {
  it('a second run on the same --output (another checkpoint) exits 1 at open, before it writes anything; the first goes on intact', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    const folder = join(out, 'incident');
    const first = startCli(run(sim, join(dir, 'a.json'), out, '--follow', '--poll-interval', '1', '--file-max-age', '1'), { env });
    try {
      await waitFor(() => verifyFolderRows(folder) === 300, 20_000, 'the first run to write the backfill');
      const before = readdirSync(folder).sort();
      // Its own instance, so that its requests are told apart from the first run's polls.
      const other = await startSimulator({ rows: 10, seed: 23 });
      const second = await runCli(run(other, join(dir, 'b.json'), out), { env }).finally(() => other.close());
      expect(second.code, second.stderr).toBe(1);
      expect(second.stderr).toMatch(
        new RegExp(`^error: another nowpipe \\(pid ${first.child.pid} on this host, started \\S+, lock refreshed \\d+ s ago\\) is using the output folder ${folder.replace(/[/.]/g, '\\$&')}\\n`),
      );
      expect(second.stderr).not.toMatch(/\n\s+at /);
      // It read nothing and wrote nothing: no request, no file, no .part completed.
      expect(tableRequests(other)).toEqual([]);
      expect(readdirSync(folder).sort()).toEqual(before);
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.code, first.out.stderr).toBe(0);
    expect(verifyFolder(folder).rows).toHaveLength(300);
    expect(readdirSync(folder)).not.toContain('.nowpipe.lock');
  });

  it('a run stopped longer than --lock-stale-after is taken over, and when it wakes it stops instead of writing', async () => {
    const live = await startSimulator({ rows: 50, seed: 22, aclHiddenRatio: 0 });
    const dir = await tempDir();
    const out = join(dir, 'out');
    const folder = join(out, 'incident');
    const follow = ['--follow', '--poll-interval', '1', '--lock-stale-after', '2', '--file-max-age', '1'];
    const first = startCli(run(live, join(dir, 'a.json'), out, ...follow), { env });
    const second = { current: undefined as ReturnType<typeof startCli> | undefined };
    try {
      await waitFor(() => verifyFolderRows(folder) === 50, 20_000, 'the first run to write the backfill');
      first.child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 3_000));
      second.current = startCli(run(live, join(dir, 'b.json'), out, ...follow), { env });
      const s = second.current;
      await waitFor(() => /took over the lock/.test(s.out.stderr), 20_000, 'the second run to take the folder over');
      expect(s.out.stderr).toMatch(new RegExp(`warning: file sink: took over the lock on the output folder \\S+ from nowpipe pid ${first.child.pid}: not refreshed for \\d+ s \\(more than 2 s, --lock-stale-after\\)`));
      first.child.kill('SIGCONT');
      const added = String(live.insert('incident', { short_description: 'after the takeover' }).sys_id);
      expect(await first.code, first.out.stderr).toBe(1);
      expect(first.out.stderr).toMatch(/error: lost the lock on the output folder \S+: nowpipe pid \d+ took it over; stopped so that two runs never write at once/);
      await waitFor(() => closedIds(folder).has(added), 20_000, 'the second run to write the new row');
      s.child.kill('SIGTERM');
      expect(await s.code, s.out.stderr).toBe(0);
      // Whatever each run wrote while it held the folder, the folder is consistent: every file
      // listed once with its checksum, no .part left.
      const { rows } = verifyFolder(folder);
      expect(new Set(rows.map((r) => r.sys_id)).size).toBe(51);
    } finally {
      first.child.kill('SIGCONT');
      first.child.kill('SIGKILL');
      second.current?.child.kill('SIGKILL');
      await live.close();
    }
  });
});

/** The sys_ids in the folder's closed files (none while it is between a rename and its manifest line). */
function closedIds(folder: string): Set<unknown> {
  try {
    return new Set(verifyFolder(folder, { partsAllowed: true }).rows.map((r) => r.sys_id));
  } catch {
    return new Set();
  }
}

/** Rows in the folder's closed files, or -1 while it is between a rename and its manifest line. */
function verifyFolderRows(folder: string): number {
  try {
    return verifyFolder(folder, { partsAllowed: true }).rows.length;
  } catch {
    return -1;
  }
}
