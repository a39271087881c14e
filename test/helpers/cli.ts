import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

export async function tempDir(prefix = 'nowpipe-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
