// Locks are leases: one left by a run that is gone (on any host) is taken over once it has not
// been refreshed for --lock-stale-after; one refreshed recently blocks. Built CLI, simulator.
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, tableRequests, tempDir } from '../helpers/cli.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ rows: 30, seed: 5, aclHiddenRatio: 0 });
});
afterAll(() => sim?.close());

const env = { SERVICENOW_PASSWORD: 'admin' };
const base = (checkpoint: string, ...extra: string[]) => ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint, ...extra];

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Ages in messages are whole seconds, measured when the CLI has started (slower on a busy machine).

/** The lock a run killed with -9 in container pod-a left behind, last refreshed `agoMs` ago. */
async function podALock(path: string, agoMs: number): Promise<void> {
  await writeFile(path, JSON.stringify({ pid: 28108, host: 'pod-a', startedAt: '2024-05-01T08:00:00.000Z' }));
  const at = new Date(Date.now() - agoMs);
  await utimes(path, at, at);
}

describe('a lock left on another host', () => {
  it('checkpoint: refreshed 1 s ago blocks with exit 1 naming the holder; refreshed 40 s ago is taken over', async () => {
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    await podALock(`${cp}.lock`, 1_000);
    const requests = tableRequests(sim).length;
    const blocked = await runCli(base(cp), { env });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/^error: another nowpipe \(pid 28108 on host pod-a, started 2024-05-01T08:00:00.000Z, lock refreshed \d s ago\) is using the checkpoint \S+cp\.json\n/);
    expect(blocked.stderr).toMatch(/hint: .*taken over 30 s after its last refresh \(--lock-stale-after\)/);
    expect(tableRequests(sim).length).toBe(requests);

    await podALock(`${cp}.lock`, 40_000);
    const taken = await runCli(base(cp), { env });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toMatch(/warning: took over the lock on the checkpoint \S+cp\.json from nowpipe pid 28108 on host pod-a: not refreshed for 4\d s/);
    expect(parseNdjson(taken.stdout)).toHaveLength(30);
    expect(existsSync(`${cp}.lock`)).toBe(false); // released at the end
  });

  it('output folder: refreshed 40 s ago is taken over with a warning; refreshed 1 s ago blocks with exit 1', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    const folder = join(out, 'incident');
    await mkdir(folder, { recursive: true });
    await podALock(join(folder, '.nowpipe.lock'), 40_000);
    const taken = await runCli(base(join(dir, 'a.json'), '--sink', 'file', '--output', out), { env });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stderr).toMatch(new RegExp(`warning: file sink: took over the lock on the output folder ${esc(folder)} from nowpipe pid 28108 on host pod-a: not refreshed for 4\\d s \\(more than 30 s, --lock-stale-after\\)`));
    expect(existsSync(join(folder, '.nowpipe.lock'))).toBe(false);

    await podALock(join(folder, '.nowpipe.lock'), 1_000);
    const blocked = await runCli(base(join(dir, 'b.json'), '--sink', 'file', '--output', out), { env });
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(new RegExp(`error: another nowpipe \\(pid 28108 on host pod-a, started 2024-05-01T08:00:00.000Z, lock refreshed \\d s ago\\) is using the output folder ${esc(folder)}\n`));
    expect(blocked.stderr).not.toMatch(/\n\s+at /);
  });

  it('--lock-stale-after (or lockStaleAfter in the rc file) sets how long a lock must be quiet', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    const folder = join(out, 'incident');
    await mkdir(folder, { recursive: true });
    await podALock(join(folder, '.nowpipe.lock'), 40_000);
    const patient = await runCli(base(join(dir, 'a.json'), '--sink', 'file', '--output', out, '--lock-stale-after', '60'), { env });
    expect(patient.code).toBe(1);
    expect(patient.stderr).toMatch(/lock refreshed 4\d s ago\) is using the output folder/);
    expect(patient.stderr).toMatch(/taken over 60 s after its last refresh/);
    const rc = join(dir, 'rc.json');
    await writeFile(rc, JSON.stringify({ lockStaleAfter: 20 }));
    const eager = await runCli(base(join(dir, 'a.json'), '--sink', 'file', '--output', out, '--config', rc), { env });
    expect(eager.code, eager.stderr).toBe(0);
    expect(eager.stderr).toMatch(/not refreshed for 4\d s \(more than 20 s, --lock-stale-after\)/);
    const bad = await runCli(base(join(dir, 'c.json'), '--lock-stale-after', 'soon'), { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--lock-stale-after: must be a number of seconds/);
  });
});
