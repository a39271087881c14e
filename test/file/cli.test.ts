import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, cliEnv, cliForAnyUser, parseNdjson, runCli, spawnCli, tempDir, waitFor, type CliResult } from '../helpers/cli.js';
import { dataFiles, readManifest, verifyFolder } from './helpers.js';

type Row = Record<string, unknown>;

const ROWS = 3000;
let sim: Simulator;
/** Every row of the simulated table, as the stdout sink exports it: the reference. */
let reference: Row[];

const env = { SERVICENOW_PASSWORD: 'admin' };
const args = (checkpoint: string, ...extra: string[]) => ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint, ...extra];
const idsOf = (rows: Row[]) => rows.map((r) => String(r.sys_id));
const cursorOf = (r: Row) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`;

/** The complete rows in one data file, closed or `.part` (a torn last line left out). */
function rowsInFile(path: string): Row[] {
  const rows: Row[] = [];
  const raw = readFileSync(path);
  const text = path.includes('.gz') ? gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH }).toString() : raw.toString();
  for (const line of text.split('\n')) {
    try {
      if (line) rows.push(JSON.parse(line) as Row);
    } catch {
      // a torn last line
    }
  }
  return rows;
}

/** Rows in the .part files too (what reached the disk but is not output yet). */
function rowsOnDisk(folder: string): Row[] {
  return dataFiles(folder).flatMap((f) => rowsInFile(join(folder, f)));
}

/** Every reference row is there; rows written twice are at most one page. */
function expectComplete(rows: Row[], page: number): void {
  const ids = idsOf(rows);
  const unique = new Set(ids);
  const missing = idsOf(reference).filter((id) => !unique.has(id));
  expect(missing, `${missing.length} rows missing`).toEqual([]);
  expect(unique.size).toBe(reference.length);
  expect(ids.length - unique.size).toBeLessThanOrEqual(page);
}

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (it mounts a small tmpfs); run the tests as root — this test never skips`);
  }
}

const mounts: string[] = [];
function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
}

beforeAll(async () => {
  // A little latency per request, so a kill -9 lands mid-run rather than after it.
  sim = await startSimulator({ rows: ROWS, rowBytes: 400, seed: 11, aclHiddenRatio: 0, latencyMs: 5 });
  const cp = join(await tempDir(), 'cp.json');
  const r = await runCli(args(cp, '--quiet'), { env });
  expect(r.code, r.stderr).toBe(0);
  reference = parseNdjson(r.stdout);
  expect(reference).toHaveLength(ROWS);
});

afterAll(async () => {
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m]);
    } catch {
      // already gone
    }
  }
  await sim?.close();
});

describe('nowpipe --sink file (built CLI against the simulator)', () => {
  for (const compress of ['none', 'gzip'] as const) {
    it(`puts every row in exactly the closed files, as the manifest says (${compress})`, async () => {
      const dir = await tempDir();
      const out = join(dir, 'out');
      const r = await runCli(
        args(join(dir, 'cp.json'), '--sink', 'file', '--output', out, '--compress', compress, '--file-max-rows', '700', '--batch-size', '250', '--concurrency', '1', '--quiet'),
        { env },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      const folder = join(out, 'incident');
      const { rows, entries, files } = verifyFolder(folder);
      expect(entries.map((e) => e.rows)).toEqual([700, 700, 700, 700, 200]);
      expect(files.every((f) => f.endsWith(compress === 'gzip' ? '.ndjson.gz' : '.ndjson'))).toBe(true);
      expect(files[0]).toMatch(/^incident-\d{8}T\d{6}Z-000001\.ndjson/);
      // Exactly once, in the order of the cursor.
      expect(idsOf(rows)).toEqual(idsOf(reference));
      expect(entries[0]!.firstCursor).toEqual({ updatedOn: reference[0]!.sys_updated_on, sysId: reference[0]!.sys_id });
      expect(entries.at(-1)!.lastCursor).toEqual({ updatedOn: reference.at(-1)!.sys_updated_on, sysId: reference.at(-1)!.sys_id });
    });
  }

  it('refuses --sink file without --output (exit 2, says what is missing)', async () => {
    const r = await runCli(args(join(await tempDir(), 'cp.json'), '--sink', 'file'), { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: --output: required with --sink file');
  });

  for (const compress of ['none', 'gzip'] as const) {
    it(`after kill -9 mid-run, the rerun leaves no .part and loses nothing (${compress})`, async () => {
      const dir = await tempDir();
      const out = join(dir, 'out');
      const folder = join(out, 'incident');
      const cp = join(dir, 'cp.json');
      const page = 20;
      // --overlap 0: a resume re-reads the overlap window behind the cursor (a follow-mode guard
      // against late commits, not the sink's doing); without it, the rerun may repeat one page.
      const run = ['--sink', 'file', '--output', out, '--compress', compress, '--file-max-rows', '400', '--batch-size', String(page), '--concurrency', '1', '--overlap', '0', '--quiet'];
      const child = spawnCli(args(cp, ...run), { env });
      const exited = new Promise<CliResult['signal']>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
      // Killed once the checkpoint has moved, at least one file is closed, and the open .part
      // holds rows (a .part just opened holds none: the rerun would only remove it).
      const openWithRows = () =>
        dataFiles(folder).some((f) => {
          try {
            return f.endsWith('.part') && rowsInFile(join(folder, f)).length > 0;
          } catch {
            return false; // renamed meanwhile, or a gzip block half written
          }
        });
      await waitFor(() => existsSync(cp) && readManifest(folder).length >= 1 && openWithRows(), 30_000, 'a closed file and an open .part with rows');
      child.kill('SIGKILL');
      expect(await exited, 'the run finished before it could be killed: the test proves nothing').toBe('SIGKILL');
      const beforeRerun = checkpointCursor(cp)!;
      expect(beforeRerun).toBeDefined();
      // The run may have closed that file and opened an empty one just before the kill.
      const leftWithRows = openWithRows();

      const r = await runCli(args(cp, ...run.filter((a) => a !== '--quiet')), { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(leftWithRows ? /file sink: completed incident-.* left open by an earlier run/ : /file sink: removed 1 \.part file\(s\) without a complete row/);
      expect(dataFiles(folder).filter((f) => f.endsWith('.part'))).toEqual([]);
      const { rows } = verifyFolder(folder);
      expectComplete(rows, page);
    });
  }

  it('disk full: exit 1 with a clear message, the checkpoint no further than the disk; the rerun completes', async () => {
    requireRoot('the disk-full test');
    const dir = await tempDir();
    const out = join(dir, 'out');
    mkdirSync(out);
    mountTmpfs(out, '256k');
    const cp = join(dir, 'cp.json'); // outside the small file system
    const page = 50;
    const run = ['--sink', 'file', '--output', out, '--file-max-rows', '300', '--batch-size', String(page), '--concurrency', '1', '--overlap', '0'];
    const r = await runCli(args(cp, ...run), { env });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/file sink: cannot write to \S+\/incident\/incident-\S+\.ndjson\.part: no space left on the device \(ENOSPC\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const folder = join(out, 'incident');
    const cursor = checkpointCursor(cp);
    // Every row the checkpoint covers is on disk (in closed files or the .part).
    const onDisk = new Set(idsOf(rowsOnDisk(folder)));
    const covered = cursor ? reference.filter((row) => cursorOf(row) <= `${cursor.updatedOn}|${cursor.sysId}`) : [];
    expect(covered.length).toBeGreaterThan(0);
    expect(covered.length).toBeLessThan(ROWS);
    expect(idsOf(covered).filter((id) => !onDisk.has(id))).toEqual([]);

    execFileSync('mount', ['-o', 'remount,size=16m', out]);
    const again = await runCli(args(cp, ...run), { env });
    expect(again.code, again.stderr).toBe(0);
    const { rows } = verifyFolder(folder);
    expectComplete(rows, page);
  });

  it('read-only file system: exit 1 naming the folder, before reading anything', async () => {
    requireRoot('the read-only file system test');
    const dir = await tempDir();
    const out = join(dir, 'out');
    mkdirSync(out);
    mountTmpfs(out, '1m');
    execFileSync('mount', ['-o', 'remount,ro', out]);
    const requests = sim.requests.length;
    const r = await runCli(args(join(dir, 'cp.json'), '--sink', 'file', '--output', out), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`file sink: cannot create the output folder ${join(out, 'incident')}: read-only file system (EROFS)`);
    expect(sim.requests.length).toBe(requests);
  });

  it('permission denied: exit 1 naming the folder (run as an unprivileged user, since root ignores modes)', async () => {
    requireRoot('the permission test (it runs the CLI as nobody)');
    const dir = await tempDir();
    chmodSync(dir, 0o777);
    const out = join(dir, 'out');
    mkdirSync(join(out, 'incident'), { recursive: true });
    chmodSync(out, 0o555);
    chmodSync(join(out, 'incident'), 0o555);
    // Nobody may not be able to reach the checkout (a clone under a 0700 folder): run a copy.
    const cli = await cliForAnyUser();
    const requests = sim.requests.length;
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn(cli.node, [cli.bin, ...args(join(dir, 'cp.json'), '--sink', 'file', '--output', out)], {
        env: cliEnv(env),
        cwd: dir,
        uid: 65534,
        gid: 65534,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`file sink: cannot write in the output folder ${join(out, 'incident')}: permission denied (EACCES)`);
    expect(readdirSync(join(out, 'incident'))).toEqual([]);
    expect(sim.requests.length).toBe(requests);
  });

  it('follow: a quiet file closes after --file-max-age; new rows and deletes reach closed files; SIGTERM closes the last', async () => {
    const live = await startSimulator({ rows: 40, seed: 4, aclHiddenRatio: 0 });
    try {
      const dir = await tempDir();
      const out = join(dir, 'out');
      const folder = join(out, 'incident');
      // While it runs, a closed file may be renamed a moment before its manifest line is appended:
      // look again then. The check after exit below is strict.
      const closedRows = () => {
        try {
          return existsSync(folder) ? verifyFolder(folder, { partsAllowed: true }).rows : [];
        } catch (err) {
          if (/^manifest lists/.test((err as Error).message)) return [];
          throw err;
        }
      };
      const child = spawnCli(
        ['--url', live.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--follow', '--deletes', '--poll-interval', '1', '--sink', 'file', '--output', out, '--file-max-age', '2', '--quiet'],
        { env },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // The backfill's file closes by age although no more rows come.
      await waitFor(() => closedRows().length === 40, 20_000, 'the backfill in a closed file');
      expect(dataFiles(folder).filter((f) => f.endsWith('.part'))).toEqual([]);

      const added = live.insert('incident', { short_description: 'arrived while following' });
      const victim = String(live.visibleRows('incident')[0]!.sys_id);
      live.deleteRow('incident', victim);
      await waitFor(
        () => {
          const rows = closedRows();
          return rows.some((r) => r.sys_id === added.sys_id) && rows.some((r) => r.sys_id === victim && r.__deleted === true);
        },
        20_000,
        'the new row and the delete in closed files',
      );
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      const { rows, entries } = verifyFolder(folder);
      expect(entries.length).toBeGreaterThanOrEqual(2);
      expect(rows.filter((r) => r.__deleted !== true)).toHaveLength(41);
    } finally {
      await live.close();
    }
  });
});
