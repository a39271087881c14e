// --output folders that cannot be created: the run fails at once, naming the folder and the real
// cause, before reading anything. Built CLI against the simulator.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, tableRequests, tempDir } from '../helpers/cli.js';

let sim: Simulator;
const mounts: string[] = [];
beforeAll(async () => {
  sim = await startSimulator({ rows: 20, seed: 8 });
});
afterAll(async () => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  await sim?.close();
});

const env = { SERVICENOW_PASSWORD: 'admin' };
const args = (checkpoint: string, out: string) => ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint, '--sink', 'file', '--output', out];

describe('--output that cannot be created', () => {
  it('under /proc: exit 1 at once naming the folder (it used to spin at full CPU for ever)', async () => {
    const requests = tableRequests(sim).length;
    const started = Date.now();
    const r = await runCli(args(join(await tempDir(), 'cp.json'), '/proc/nope/out'), { env, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.stderr).toContain(
      "error: file sink: cannot create the output folder /proc/nope/out/incident: /proc is on a proc file system (the kernel's information, not storage), where no folder can be created\nhint: choose a folder on a real disk",
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(tableRequests(sim).length).toBe(requests);
  });

  it('on a read-only file system, some levels down: says EROFS and where (a recursive mkdir said ENOENT)', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a read-only tmpfs and needs root; run the tests as root (it never skips)');
    const dir = await tempDir();
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]);
    mounts.push(ro);
    const out = join(ro, 'exports', 'today');
    const r = await runCli(args(join(dir, 'cp.json'), out), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: file sink: cannot create the output folder ${join(out, 'incident')}: read-only file system (EROFS) at ${join(ro, 'exports')}`);
  });
});

describe('--checkpoint in a folder that cannot be created', () => {
  const plain = (checkpoint: string) => ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint];

  it('under /proc: exit 1 at once naming the folder, nothing read', async () => {
    const requests = tableRequests(sim).length;
    const started = Date.now();
    const r = await runCli(plain('/proc/nope/cp.json'), { env, timeoutMs: 20_000 });
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/^error: cannot create the checkpoint folder \/proc\/nope: \/proc is on a proc file system/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(tableRequests(sim).length).toBe(requests);
  });

  it('on a read-only file system: says EROFS, not ENOENT', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a read-only tmpfs and needs root; run the tests as root (it never skips)');
    const dir = await tempDir();
    const ro = join(dir, 'ro2');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', ro]);
    mounts.push(ro);
    const r = await runCli(plain(join(ro, 'state', 'cp.json')), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cannot create the checkpoint folder ${join(ro, 'state')}: read-only file system (EROFS)`);
  });
});
