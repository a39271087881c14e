import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tempDir, waitFor } from '../helpers/cli.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ rows: 120, seed: 81 });
});
afterAll(async () => {
  await sim?.close();
});

interface Line {
  level: string;
  msg: string;
  time: string;
  table?: string;
  hint?: string;
  [k: string]: unknown;
}

/** Every stderr line, each of which must be one JSON object with level, msg and an ISO 8601 time. */
function jsonLines(stderr: string): Line[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines.length).toBeGreaterThan(0);
  return lines.map((l) => {
    let parsed: Line;
    try {
      parsed = JSON.parse(l) as Line;
    } catch {
      throw new Error(`not a JSON line: ${l}`);
    }
    expect(['debug', 'info', 'warn', 'error']).toContain(parsed.level);
    expect(typeof parsed.msg).toBe('string');
    expect(new Date(parsed.time).toISOString()).toBe(parsed.time);
    return parsed;
  });
}

const login = (s: Simulator) => ['--url', s.url, '--table', 'incident', '--user', 'admin'];

describe('--log-format json (built CLI)', () => {
  it('a run: every stderr line is JSON, warnings about a table carry it, the summary carries the counters; stdout is the same data', async () => {
    const cp = join(await tempDir(), 'cp.json');
    const r = await runCli([...login(sim), '--password', 'admin', '--checkpoint', cp, '--fields', 'number,nosuchfield', '--log-format', 'json', '--verbose']);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stderr);
    expect(r.stderr).not.toContain('\u001b[');
    const warning = lines.find((l) => l.level === 'warn' && l.msg.includes('nosuchfield'));
    expect(warning).toMatchObject({ table: 'incident' });
    expect(lines.some((l) => l.level === 'debug' && l.msg.startsWith('GET '))).toBe(true); // --verbose
    const summary = lines.at(-1)!;
    expect(summary).toMatchObject({ level: 'info', event: 'summary', rows: 120 });
    expect(summary.msg).toMatch(/^done: 120 rows of incident/);
    expect(summary).not.toHaveProperty('table'); // not about one table
    expect(r.stdout.trim().split('\n')).toHaveLength(120);
  });

  it('a follow run with metrics, stopped by SIGTERM: still only JSON lines, the outage said once when it starts and once when it ends', async () => {
    const cp = join(await tempDir(), 'cp.json');
    const run = startCli([...login(sim), '--password', 'admin', '--checkpoint', cp, '--follow', '--poll-interval', '1', '--timeout', '2', '--metrics-port', '0', '--log-format', 'json']);
    try {
      await waitFor(() => run.out.stderr.includes('following incident'), 20_000, 'caught up');
      sim.setDown(true);
      await waitFor(() => run.out.stderr.includes('"level":"warn"'), 20_000, 'the outage warning');
      sim.setDown(false);
      await waitFor(() => run.out.stderr.includes('recovered'), 20_000, 'the recovery');
      run.child.kill('SIGTERM');
      expect(await run.code).toBe(0);
    } finally {
      sim.setDown(false);
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
    const lines = jsonLines(run.out.stderr);
    expect(lines.find((l) => l.msg.startsWith('metrics on http://127.0.0.1:'))).toMatchObject({ level: 'info', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(lines.find((l) => l.msg.startsWith('caught up'))).toMatchObject({ table: 'incident' });
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringMatching(/retrying/)]);
    expect(lines.find((l) => l.msg.startsWith('recovered after'))).toMatchObject({ level: 'info' });
    expect(lines.at(-1)).toMatchObject({ level: 'info', event: 'summary' });
  });

  it('credentials refused: one JSON error line with its hint, exit 1, and the password nowhere', async () => {
    const r = await runCli([...login(sim), '--password', 'wrong-Secret-77', '--checkpoint', join(await tempDir(), 'cp.json'), '--log-format', 'json']);
    expect(r.code).toBe(1);
    const lines = jsonLines(r.stderr);
    const error = lines.filter((l) => l.level === 'error');
    expect(error).toHaveLength(1);
    expect(error[0]!.msg).toMatch(/401|credentials|authenticat/i);
    expect(typeof error[0]!.hint).toBe('string');
    expect(r.stderr).not.toContain('wrong-Secret-77');
  });

  it('a configuration error, read before the config is: one JSON line with every problem', async () => {
    const r = await runCli([...login(sim), '--password', 'admin', '--batch-size', 'many', '--poll-interval', '0', '--log-format', 'json']);
    expect(r.code).toBe(2);
    const [line, ...rest] = jsonLines(r.stderr);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'error', hint: expect.any(String) });
    expect(line!.problems).toEqual([expect.stringMatching(/^--batch-size: /), expect.stringMatching(/^--poll-interval: /)]);
  });

  it('an unknown flag next to --log-format json, and the format from NOWPIPE_LOG_FORMAT or the rc file', async () => {
    const unknown = await runCli([...login(sim), '--log-format', 'json', '--tabel', 'incident']);
    expect(unknown.code).toBe(2);
    const [line, ...rest] = jsonLines(unknown.stderr);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'error', msg: expect.stringContaining("unknown option '--tabel'"), hint: 'run nowpipe --help for usage' });

    const fromEnv = await runCli([...login(sim), '--tabel', 'incident'], { env: { NOWPIPE_LOG_FORMAT: 'json' } });
    expect(fromEnv.code).toBe(2);
    expect(jsonLines(fromEnv.stderr)[0]).toMatchObject({ level: 'error', msg: expect.stringContaining('--tabel') });

    const dir = await tempDir();
    writeFileSync(join(dir, '.nowpiperc'), JSON.stringify({ logFormat: 'json', url: sim.url, table: 'incident', user: 'admin' }));
    const fromRc = await runCli(['--batch-size', 'many'], { cwd: dir, env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(fromRc.code).toBe(2);
    expect(jsonLines(fromRc.stderr)[0]).toMatchObject({ level: 'error', msg: expect.stringContaining('--batch-size') });
    const runFromRc = await runCli(['--checkpoint', join(dir, 'cp.json')], { cwd: dir, env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(runFromRc.code).toBe(0);
    expect(jsonLines(runFromRc.stderr).at(-1)).toMatchObject({ event: 'summary', rows: 120 });
    const badFlagRc = await runCli(['--bogus'], { cwd: dir });
    expect(badFlagRc.code).toBe(2);
    expect(jsonLines(badFlagRc.stderr)[0]).toMatchObject({ level: 'error', msg: expect.stringContaining("unknown option '--bogus'") });
  });

  it('the human format stays the default', async () => {
    const r = await runCli([...login(sim), '--password', 'admin', '--batch-size', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --batch-size: /);
  });
});
