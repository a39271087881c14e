import { afterEach, describe, expect, it } from 'vitest';
import type { CheckReport } from '../../src/cli/commands/check.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function instance(): Promise<Simulator> {
  // A password unlike the user name: the report redacts the password wherever it appears.
  sim = await startSimulator({ rows: 40, seed: 5, users: [{ user: 'admin', password: 'pw-Zq81' }] });
  sim.deleteRow('incident', String(sim.rows('incident')[3]!.sys_id), { stampedAt: '2024-05-01 10:00:00' });
  return sim;
}

const checkJson = (s: Simulator, ...more: string[]) => runCli(['check', '--url', s.url, '--table', 'incident', '--json', ...more]);

describe('nowpipe check --json (built CLI against the simulator)', () => {
  it('prints one JSON document with every check, its status and details; nothing else on stdout', async () => {
    const s = await instance();
    const res = await checkJson(s, '--user', 'admin', '--password', 'pw-Zq81');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report.ok).toBe(true);
    expect(report.error).toBeUndefined();
    expect(report.checks.map((c) => [c.check, c.status])).toEqual([
      ['connect', 'ok'],
      ['count', 'ok'],
      ['clock', 'ok'],
      ['utc', 'ok'],
      ['deletes', 'ok'],
    ]);
    expect(report.checks.every((c) => c.table === 'incident')).toBe(true);
    expect(report.checks[0]!.details).toEqual({ url: s.url, user: 'admin' });
    expect(report.checks[1]!.details).toEqual({ rows: 39 });
    expect(report.checks[4]!.details).toEqual({ latestDelete: '2024-05-01 10:00:00' });
  });

  it('a query that matches every row: the warning is a check in the document too (and on stderr); ok stays true', async () => {
    const s = await instance();
    const res = await checkJson(s, '--user', 'admin', '--password', 'pw-Zq81', '--query', 'priorty=1');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/^warning: --query priorty=1 matches all 39 rows of incident, as many as no query/);
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.check === 'count')!.details).toEqual({ rows: 39, query: 'priorty=1', rowsWithoutQuery: 39 });
    expect(report.checks.find((c) => c.check === 'query')).toMatchObject({ status: 'warn', details: { query: 'priorty=1', rows: 39, rowsWithoutQuery: 39 } });
  });

  it('a failing check: ok false, the check says fail, exit 1 as without --json', async () => {
    const s = await instance();
    s.insert('incident', {}, { stampedAt: new Date(Date.now() + 5 * 3600_000) });
    const res = await checkJson(s, '--user', 'admin', '--password', 'pw-Zq81');
    expect(res.code).toBe(1);
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'utc')).toMatchObject({ status: 'fail', message: expect.stringMatching(/timestamps do not look like UTC/) });
  });

  it('credentials refused: the document carries the error, stderr the error line, exit 1; the password appears nowhere', async () => {
    const s = await instance();
    const res = await checkJson(s, '--user', 'admin', '--password', 'Wr0ng-S3cret!');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: the instance refused the credentials/);
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report).toMatchObject({ ok: false, checks: [], error: { message: expect.stringMatching(/^the instance refused the credentials/), hint: expect.any(String) } });
    expect(res.stdout + res.stderr).not.toContain('Wr0ng-S3cret!');
  });

  it('bad settings: exit 2, and still one JSON document naming the problem', async () => {
    const s = await instance();
    const res = await checkJson(s, '--user', 'admin', '--password', 'pw-Zq81', '--timeout', 'soon');
    expect(res.code).toBe(2);
    const report = JSON.parse(res.stdout) as CheckReport;
    expect(report.ok).toBe(false);
    expect(report.error!.message).toMatch(/timeout/);
    expect(s.requests).toHaveLength(0);
  });
});

describe('check --cursor-field', () => {
  it('checks the field the export will page by: a field that is not a date-time fails the check', async () => {
    const s = await startSimulator({ rows: 5, seed: 44 });
    try {
      const good = await runCli(['check', '--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--cursor-field', 'sys_created_on']);
      expect(good.code, good.stderr).toBe(0);
      expect(good.stdout).toMatch(/✓ timestamps look like UTC \(latest sys_created_on of incident/);
      const bad = await runCli(['check', '--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--cursor-field', 'number']);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toMatch(/✗ number is not a raw UTC date-time \("INC\d+"\): it cannot be the cursor \(--cursor-field\)/);
    } finally {
      await s.close();
    }
  });
});
