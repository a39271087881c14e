import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import type { Simulator } from '../../src/sim/index.js';

/** The built CLI, exactly as a user runs it. Tests run after `npm run build` (done by `pretest`). */
export const BIN = resolve(import.meta.dirname, '../../bin/nowpipe.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for CLI runs: no inherited ServiceNow settings, fast retries, no colour. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NOWPIPE_RETRY_BASE_MS: '20', NO_COLOR: '1', ...extra };
  for (const k of ['SERVICENOW_URL', 'SERVICENOW_USER', 'SERVICENOW_PASSWORD', 'HTTPS_PROXY', 'https_proxy']) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

export function spawnCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BIN, ...args], { env: cliEnv(options.env), cwd: options.cwd, stdio: 'pipe' });
}

/** A CLI run in the background: its output so far, and its exit code when it ends. */
export interface StartedCli {
  child: ChildProcessWithoutNullStreams;
  out: { stdout: string; stderr: string };
  code: Promise<number | null>;
}

/** Starts the CLI and collects its output while the test acts on the run. */
export function startCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): StartedCli {
  const child = spawnCli(args, options);
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  return { child, out, code: new Promise((r) => child.on('close', r)) };
}

/** Runs the CLI to completion and collects its output. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nowpipe ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

export function parseNdjson(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The sys_ids of NDJSON rows, in order. */
export const sysIds = (stdout: string) => parseNdjson(stdout).map((r) => r.sys_id as string);

/** The sys_ids of the simulated incident rows a user may see. */
export const visibleIds = (s: Simulator) => s.visibleRows('incident').map((r) => r.sys_id as string);

/** The simulator's Table API requests (OAuth grants left out). */
export const tableRequests = (s: Simulator) => s.requests.filter((r) => r.path.startsWith('/api/now/table/'));

/** The saved cursor of the (first) table in a checkpoint file. */
export function checkpointCursor(path: string): { updatedOn: string; sysId: string } | undefined {
  if (!existsSync(path)) return undefined;
  const cp = JSON.parse(readFileSync(path, 'utf8')) as { tables: Record<string, { cursor: { updatedOn: string; sysId: string } }> };
  return Object.values(cp.tables)[0]?.cursor;
}

const made: string[] = [];

/** A fresh folder under the system's temp folder, removed after the test file's last test. */
export async function tempDir(prefix = 'nowpipe-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * Removes every folder `tempDir` made. Each test file loads this module afresh (vitest isolates
 * files), so each has its own list, removed after its own afterAll hooks (hooks run as a stack:
 * this one, registered first, runs last, after a test's own cleanup such as unmounting).
 */
export async function removeTempDirs(): Promise<void> {
  const failed: string[] = [];
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 }).catch((err: Error) => failed.push(`${d}: ${err.message}`))));
  if (failed.length > 0) process.stderr.write(`could not remove temporary folders:\n  ${failed.join('\n  ')}\n`);
}

afterAll(removeTempDirs);

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a user other than the owner may reach and run/read `path` (every folder on the way searchable by others). */
function openToOthers(path: string, bits: number): boolean {
  if ((statSync(path).mode & bits) !== bits) return false;
  for (let d = dirname(path); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

/** Hard links where the file is readable by others (instant); otherwise a readable copy. */
function linkTree(src: string, dst: string): void {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return symlinkSync(readlinkSync(src), dst);
  if (st.isDirectory()) {
    mkdirSync(dst);
    chmodSync(dst, 0o755);
    for (const name of readdirSync(src)) linkTree(join(src, name), join(dst, name));
    return;
  }
  if (st.mode & 0o004) {
    try {
      return linkSync(src, dst);
    } catch {
      // another file system: copy
    }
  }
  copyFileSync(src, dst);
  chmodSync(dst, st.mode & 0o111 ? 0o755 : 0o644);
}

/**
 * The built CLI (bin, dist, node_modules, and node itself if need be) in a fresh temporary
 * folder that any user can read, for running it as an unprivileged user: the checkout may lie
 * under a folder only its owner can enter (a clone in /root, or under a 0700 home).
 */
export async function cliForAnyUser(): Promise<{ node: string; bin: string }> {
  const root = await tempDir('nowpipe-cli-any-user-');
  chmodSync(root, 0o755);
  const repo = resolve(import.meta.dirname, '../..');
  for (const part of ['package.json', 'bin', 'dist', 'node_modules']) linkTree(join(repo, part), join(root, part));
  let node = process.execPath;
  if (!openToOthers(node, 0o005)) {
    node = join(root, 'node');
    linkTree(process.execPath, node);
  }
  return { node, bin: join(root, 'bin', 'nowpipe.js') };
}
