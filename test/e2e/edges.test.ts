// The edges of a run (issue 10): a pipe whose reader leaves, signals, typos the platform hides,
// and what the summary says. Built CLI against the simulator.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { BIN, cliEnv, runCli, startCli, sysIds, tempDir, visibleIds, waitFor } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const args = (s: Simulator, checkpoint: string, ...more: string[]) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', checkpoint, ...more];

/** Runs `nowpipe … | head -n <lines>` in a shell; resolves with what head printed and the pipeline's exit code. */
function throughHead(cliArgs: string[], lines: number): Promise<{ out: string; err: string; code: number | null }> {
  const quoted = cliArgs.map((a) => `'${a}'`).join(' ');
  const child = spawn('bash', ['-o', 'pipefail', '-c', `node ${BIN} ${quoted} | head -n ${lines}`], { env: cliEnv() });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ out, err, code })));
}

describe('a pipe whose reader goes away', () => {
  it('| head -35: exit 0, and a rerun delivers every row that head did not print (nothing left unread in the pipe is lost)', async () => {
    sim = await startSimulator({ rows: 2000, seed: 91 });
    const cp = join(await tempDir(), 'cp.json');
    const first = await throughHead(args(sim, cp, '--concurrency', '1', '--batch-size', '10'), 35);
    expect(first.code).toBe(0);
    expect(first.err).not.toMatch(/error|EPIPE/i);
    const printed = sysIds(first.out);
    expect(printed).toHaveLength(35);
    const rerun = await runCli(args(sim, cp, '--concurrency', '1', '--batch-size', '10'));
    expect(rerun.code, rerun.stderr).toBe(0);
    const all = new Set([...printed, ...sysIds(rerun.stdout)]);
    expect([...all].sort()).toEqual(visibleIds(sim).sort());
  });
});

describe('signals', () => {
  it('SIGHUP stops like SIGTERM: the page in flight finished, the position saved, the lock released, exit 0', async () => {
    sim = await startSimulator({ rows: 300, seed: 92 });
    const cp = join(await tempDir(), 'cp.json');
    const run = startCli(args(sim, cp, '--follow', '--poll-interval', '1'));
    await waitFor(() => run.out.stderr.includes('caught up'), 20_000, 'the backfill');
    run.child.kill('SIGHUP');
    expect(await run.code).toBe(0);
    expect(run.out.stderr).toMatch(/SIGHUP: finishing the write in flight and saving the position \(send SIGHUP again to quit now\)/);
    expect(run.out.stderr).toMatch(/stopped: 300 rows/);
    expect(existsSync(`${cp}.lock`)).toBe(false);
    expect(JSON.parse(readFileSync(cp, 'utf8')).tables.incident.rows).toBe(300);
  });

  it('Ctrl-C says how to quit at once; a second one does, keeping the saved position intact', async () => {
    sim = await startSimulator({ rows: 3000, seed: 93 });
    const cp = join(await tempDir(), 'cp.json');
    const run = startCli(args(sim, cp, '--batch-size', '500', '--concurrency', '1'));
    await waitFor(() => run.out.stdout.split('\n').length > 40, 20_000, 'some rows');
    // Nobody reads stdout any more: the write in flight cannot finish, so the graceful stop waits.
    run.child.stdout.pause();
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGINT');
    await waitFor(() => run.out.stderr.includes('press Ctrl-C again to quit now'), 5_000, 'the first signal said');
    run.child.kill('SIGINT');
    expect(await run.code).toBe(130);
    expect(run.out.stderr).toMatch(/SIGINT again: quitting now/);
    expect(existsSync(`${cp}.lock`)).toBe(false);
    run.child.stdout.resume();
    await new Promise((r) => setTimeout(r, 100));
    const lines = run.out.stdout.split('\n').filter((l) => l.endsWith('}'));
    const saved = existsSync(cp) ? JSON.parse(readFileSync(cp, 'utf8')).tables.incident.rows : 0;
    expect(saved).toBeLessThanOrEqual(lines.length);
  });
});

describe('typos the platform hides', () => {
  it('--fields numbr,state: a warning that numbr never came back (ServiceNow drops unknown names)', async () => {
    sim = await startSimulator({ rows: 20, seed: 94 });
    const res = await runCli(args(sim, join(await tempDir(), 'cp.json'), '--fields', 'numbr,state'));
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr.match(/warning: --fields: numbr never came back from incident: no such field/g)).toHaveLength(1);
    expect(res.stderr).not.toMatch(/state never came back/);
  });
});

describe('the summary', () => {
  it('says where the data went and where the position is saved', async () => {
    sim = await startSimulator({ rows: 50, seed: 95 });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const res = await runCli(args(sim, cp, '--sink', 'file', '--output', join(dir, 'out')));
    expect(res.code, res.stderr).toBe(0);
    const saved = JSON.parse(readFileSync(cp, 'utf8')).tables.incident.cursor.updatedOn as string;
    expect(res.stderr).toMatch(new RegExp(`done: 50 rows of incident in [\\d.]+ s \\([\\d,]+ rows/s\\), 1 page, 0 retries → 1 file in ${join(dir, 'out', 'incident').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; position ${saved} saved to ${cp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
