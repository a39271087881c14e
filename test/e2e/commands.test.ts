import { readdir, rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, spawnCli, tempDir, waitFor } from '../helpers/cli.js';

let sim: Simulator | undefined;
const scratch: string[] = [];
afterEach(async () => {
  await sim?.close();
  sim = undefined;
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

const USERS = [
  { user: 'admin', password: 'admin' },
  { user: 'noaudit', password: 'n0audit-PW', deniedTables: ['sys_audit_delete'] },
];

/** 120 incidents, one of them deleted (so sys_audit_delete has a record for incident). */
async function instance(options: SimOptions = {}): Promise<Simulator> {
  sim = await startSimulator({ rows: 120, seed: 71, users: USERS, ...options });
  sim.deleteRow('incident', String(sim.rows('incident')[5]!.sys_id), { stampedAt: '2024-05-01 10:00:00' });
  return sim;
}

const check = (s: Simulator, ...more: string[]) => runCli(['check', '--url', s.url, ...more]);

describe('nowpipe check (built CLI against the simulator)', () => {
  it('reports the connection, row count, clock, UTC timestamps and delete auditing on stdout; exit 0, nothing on stderr', async () => {
    const s = await instance();
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'admin');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`✓ connected to ${s.url} as admin and read table incident`);
    expect(lines[1]).toBe('✓ 119 rows of incident match (before ACLs)');
    expect(lines[2]).toMatch(/^✓ server clock within 1 s of the local clock$/);
    expect(lines[3]).toMatch(/^✓ timestamps look like UTC \(latest sys_updated_on of incident \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d+ s before the server clock\)$/);
    expect(lines[4]).toBe('✓ delete auditing works for incident (latest delete recorded 2024-05-01 10:00:00)');
    expect(lines).toHaveLength(5);
  });

  it('counts with --query, beside the count without it', async () => {
    const s = await instance();
    const active = s.visibleRows('incident').filter((r) => r.active === 'true').length;
    expect(active).toBeLessThan(119);
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--query', 'active=true');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`✓ ${active} of 119 rows of incident match --query active=true (before ACLs)`);
    expect(res.stderr).toBe('');
  });

  it('--query on a misspelt field (ServiceNow drops the condition, so it matches every row) → a warning, still exit 0', async () => {
    const s = await instance();
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--query', 'activ=true');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('✓ 119 of 119 rows of incident match --query activ=true (before ACLs)');
    expect(res.stderr).toBe(
      'warning: --query activ=true matches all 119 rows of incident, as many as no query: ServiceNow ignores conditions on fields that do not exist, so a field name may be misspelt\n',
    );
    // One request more than without --query: the count without it.
    const counts = s.requests.filter((r) => r.path === '/api/now/table/incident');
    expect(counts).toHaveLength(2);
  });

  it('warns about a skewed server clock (nowpipe uses the server clock) and still passes', async () => {
    const s = await instance({ clockSkewMs: 300_000 });
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'admin');
    expect(res.code, res.stderr).toBe(0);
    // Date is truncated to the second: 300 s of skew can read as 299.
    expect(res.stderr).toMatch(/warning: the server clock is (299|30\d) s ahead of the local clock; nowpipe uses the server's/);
  });

  it('timestamps in the future of the server clock (a non-UTC user) → ✗ and exit 1', async () => {
    const s = await instance();
    s.insert('incident', {}, { stampedAt: new Date(Date.now() + 5 * 3600_000) });
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'admin');
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/✗ the latest sys_updated_on \(.+\) is 300 min after the server clock: timestamps do not look like UTC/);
  });

  it('a wrong password → exit 1 with the hint, and the password is never shown', async () => {
    const s = await instance();
    const res = await check(s, '--table', 'incident', '--user', 'admin', '--password', 'Wr0ng-S3cret!');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^error: the instance refused the credentials/);
    expect(res.stderr).toMatch(/hint: check --user and --password/);
    expect(res.stderr + res.stdout).not.toContain('Wr0ng-S3cret!');
    expect(res.stdout).not.toContain('✓ connected');
  });

  it('an unknown table → exit 2 naming it', async () => {
    const s = await instance();
    const res = await check(s, '--table', 'incidnet', '--user', 'admin', '--password', 'admin');
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/error: --table: "incidnet" does not exist on the instance/);
  });

  it('several tables: each is checked, the one that does not exist is named, exit 2', async () => {
    const s = await instance();
    s.insert('problem', { number: 'PRB0000001' }, { stampedAt: '2024-02-01 00:00:00' });
    const ok = await check(s, '--table', 'incident,problem', '--user', 'admin', '--password', 'admin');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('✓ 119 rows of incident match');
    expect(ok.stdout).toContain('✓ 1 row of problem matches (before ACLs)');
    expect(ok.stdout.match(/server clock within/g)).toHaveLength(1);
    const bad = await check(s, '--table', 'incident,change_request', '--user', 'admin', '--password', 'admin');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain('✓ 119 rows of incident match');
    expect(bad.stderr).toMatch(/error: change_request: --table: "change_request" does not exist/);
  });

  it('delete auditing unreadable: a note, but ✗ and exit 1 with --deletes', async () => {
    const s = await instance();
    const plain = await check(s, '--table', 'incident', '--user', 'noaudit', '--password', 'n0audit-PW');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^ {2}cannot read sys_audit_delete \(user noaudit may not read table sys_audit_delete.*\): --deletes needs a role that can read it$/m);
    const strict = await check(s, '--table', 'incident', '--user', 'noaudit', '--password', 'n0audit-PW', '--deletes');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^✗ cannot read sys_audit_delete/m);
    expect(strict.stderr + plain.stderr + strict.stdout + plain.stdout).not.toContain('n0audit-PW');
  });

  it('with OAuth (client credentials) names the client, not a user', async () => {
    const s = await instance({ oauth: { clients: [{ id: 'nowpipe-app', secret: 'cl1ent-S3CRET' }] } });
    const res = await check(s, '--table', 'incident', '--client-id', 'nowpipe-app', '--client-secret', 'cl1ent-S3CRET');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`✓ connected to ${s.url} with OAuth client nowpipe-app and read table incident`);
    expect(res.stderr + res.stdout).not.toContain('cl1ent-S3CRET');
  });
});

describe('nowpipe demo (built CLI, its own simulated instance)', () => {
  it('--rows 50: 50 distinct NDJSON rows on stdout, the summary on stderr, exit 0, no files left behind', async () => {
    const tmp = await tempDir('nowpipe-demo-tmp-');
    scratch.push(tmp);
    const res = await runCli(['demo', '--rows', '50'], { env: { TMPDIR: tmp } });
    expect(res.code, res.stderr).toBe(0);
    const rows = parseNdjson(res.stdout);
    expect(rows).toHaveLength(50);
    expect(new Set(rows.map((r) => r.sys_id)).size).toBe(50);
    expect(rows.every((r) => typeof r.number === 'string' && /^INC\d{7}$/.test(r.number))).toBe(true);
    expect(res.stderr).toMatch(/^demo instance with 50 incidents at http:\/\/127\.0\.0\.1:\d+ \(user admin\)/);
    expect(res.stderr).toMatch(/done: 50 rows of incident in [\d.]+ s/);
    expect(await readdir(tmp)).toEqual([]);
  });

  it('passes export flags through (--format envelope applied, --concurrency 1 accepted)', async () => {
    const res = await runCli(['demo', '--rows', '30', '--format', 'envelope', '--concurrency', '1', '--quiet']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toBe('');
    const rows = parseNdjson(res.stdout);
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.table === 'incident' && r.op !== undefined && typeof r.record === 'object')).toBe(true);
  });

  it.each(['abc', '-1', '1.5', '6000000'])('--rows %s → exit 2 before anything runs', async (rows) => {
    const res = await runCli(['demo', '--rows', rows]);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/rows: must be a whole number from 0 to 5000000/);
  });

  it('--url and --config are refused (demo has its own instance): exit 2 naming both, nothing run', async () => {
    const res = await runCli(['demo', '--url', 'https://acme.service-now.com', '--config', 'nowpipe.json', '--rows', '10']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^error: --url, --config: demo always runs against its built-in simulated instance/);
    expect(res.stderr).not.toContain('demo instance with');
  });

  it('a large --rows says it is building the table before the pause, not after', async () => {
    const res = await runCli(['demo', '--rows', '20000', '--until', '2000-01-01']);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stderr.split('\n');
    expect(lines[0]).toBe('building 20,000 rows…');
    expect(lines[1]).toMatch(/^demo instance with 20,000 incidents at /);
  });

  it('two Ctrl-C (the second exits at once) still remove the temporary folder', async () => {
    const tmp = await tempDir('nowpipe-demo-tmp-');
    scratch.push(tmp);
    // stdout is never read: the pipe fills, so the first SIGINT's graceful stop waits on the sink
    // and the second one is the forced exit.
    const child = spawnCli(['demo', '--follow', '--concurrency', '1'], { env: { TMPDIR: tmp } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = new Promise<number | null>((r) => child.on('close', r));
    await waitFor(() => stderr.includes('demo instance with'), 10_000, 'the demo to start');
    expect((await readdir(tmp)).filter((f) => f.startsWith('nowpipe-demo-'))).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    await waitFor(() => stderr.includes('SIGINT:'), 10_000, 'the first SIGINT to be taken');
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(await readdir(tmp)).toEqual([]);
  });
});
