// Shared helpers for the benchmarks: run a command, sample its peak memory, format figures.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const BIN = resolve(ROOT, 'bin/nowpipe.js');

function peakKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a command to completion, discarding stdout unless `stdoutTo` is given; returns wall time
 * and the peak resident memory (VmHWM, sampled every 20 ms until exit).
 */
export function run(cmd, args, { env = {}, stdout = 'ignore', cwd = ROOT } = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', stdout, 'pipe'] });
    let stderr = '';
    let peak = 0;
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => (peak = Math.max(peak, peakKb(child.pid))), 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stderr}`));
      resolvePromise({ seconds, peakMb: peak / 1024, stderr });
    });
  });
}

export const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The load average (1/5/15 min), printed beside figures so a busy machine shows. */
export const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
