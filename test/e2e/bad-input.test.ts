import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, tempDir } from '../helpers/cli.js';

let sim: Simulator;
let dir: string;
beforeAll(async () => {
  sim = await startSimulator({ rows: 50, seed: 2, users: [{ user: 'admin', password: 'admin' }, { user: 'norole', password: 'pw', deniedTables: ['incident'] }] });
  dir = await tempDir();
});
afterAll(() => sim.close());

const base = () => ['--url', sim.url, '--table', 'incident', '--checkpoint', join(dir, `${Math.random()}.json`)];

describe('bad input: clear error, right exit code, no secret', () => {
  it('a wrong password → exit 1, says to check the credentials, never prints the password', async () => {
    const res = await runCli([...base(), '--user', 'admin', '--password', 'Sup3rS3cret!']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/refused the credentials/);
    expect(res.stderr).toMatch(/hint: check --user and --password/);
    expect(res.stderr + res.stdout).not.toContain('Sup3rS3cret!');
  });

  it('a user without rights → exit 1 naming the table', async () => {
    const res = await runCli([...base(), '--user', 'norole', '--password', 'pw']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/norole may not read table incident/);
  });

  it('an unknown table → exit 2', async () => {
    const res = await runCli(['--url', sim.url, '--table', 'incidnet', '--user', 'admin', '--password', 'admin', '--checkpoint', join(dir, 'x.json')]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/"incidnet" does not exist/);
  });

  it('bad flags and values → exit 2 listing every problem, before any request', async () => {
    const before = sim.requests.length;
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--since', 'last tuesday', '--batch-size', '-3', '--poll-interval', '0', '--password', 'hunter22']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--since: "last tuesday" is not a date/);
    expect(res.stderr).toContain('--batch-size: must be at least 1');
    expect(res.stderr).toContain('--poll-interval: must be at least 1');
    expect(res.stderr).not.toContain('hunter22');
    expect(sim.requests.length).toBe(before);
    const unknown = await runCli(['--nonsense']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--nonsense'/);
  });

  it('a missing url → exit 2 saying where to set it', async () => {
    const res = await runCli(['--table', 'incident'], { cwd: dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--url: required/);
  });

  it('a checkpoint made for another query → exit 2 with the --reset hint; --reset proceeds', async () => {
    const cp = join(dir, 'shape.json');
    const common = ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', cp];
    expect((await runCli(common)).code).toBe(0);
    const res = await runCli([...common, '--query', 'active=true']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/was made for a different export/);
    expect(res.stderr).toMatch(/--reset/);
    expect((await runCli([...common, '--query', 'active=true', '--reset'])).code).toBe(0);
  });

  it('a second nowpipe on the same checkpoint is refused while the first runs', async () => {
    const cp = join(dir, 'locked.json');
    await mkdir(dir, { recursive: true });
    await writeFile(`${cp}.lock`, JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), startedAt: 'now' }));
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', cp]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/another nowpipe \(pid \d+/);
  });

  it('an unreachable instance → exit 1 after the retries, with the URL and no stack trace', async () => {
    const res = await runCli(['--url', 'http://127.0.0.1:9', '--table', 'incident', '--user', 'admin', '--password', 'admin', '--retries', '1', '--checkpoint', join(dir, 'u.json')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/ECONNREFUSED/);
    expect(res.stderr).toMatch(/127\.0\.0\.1:9/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('a malformed rc file → exit 2 naming the line', async () => {
    const rc = join(dir, 'bad.json');
    await writeFile(rc, '{\n "table": "incident",\n oops\n}');
    const res = await runCli(['--config', rc]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/invalid JSON at line 3/);
  });
});
