// File sink throughput: 100,000 rows of about 1 KB from the simulator, written by
// `--sink file` (plain and gzip) against `--sink stdout > /dev/null` as the reference.
// Usage: npm run build && node bench/file.mjs [rows] [runs] [output dir (default: a temp dir)]
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSimulator } from '../dist/sim/index.js';

const BIN = resolve(import.meta.dirname, '../bin/nowpipe.js');
const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const base = process.argv[4] ?? (await mkdtemp(join(tmpdir(), 'nowpipe-bench-file-')));
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function time(args, env) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => (code === 0 ? done(Number(process.hrtime.bigint() - started) / 1e9) : fail(new Error(`exit ${code}: ${stderr}`))));
  });
}

async function folderBytes(dir) {
  let total = 0;
  for (const n of await readdir(dir)) if (n.includes('.ndjson') && !n.startsWith('_')) total += (await stat(join(dir, n))).size;
  return total;
}

const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
const cases = [
  { name: 'stdout → /dev/null (reference)', args: ['--sink', 'stdout'] },
  { name: 'file, no compression', args: ['--sink', 'file', '--compress', 'none'], out: true },
  { name: 'file, gzip', args: ['--sink', 'file', '--compress', 'gzip'], out: true },
];
const results = new Map(cases.map((c) => [c.name, { seconds: [], bytes: 0 }]));
try {
  // Interleaved so a slow moment of the machine hits every case alike.
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const dir = join(base, `${i}-${cases.indexOf(c)}`);
      const args = ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--quiet', ...c.args];
      if (c.out) args.push('--output', join(dir, 'out'));
      const r = results.get(c.name);
      r.seconds.push(await time(args, { SERVICENOW_PASSWORD: 'admin' }));
      if (c.out) r.bytes = await folderBytes(join(dir, 'out', 'incident'));
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await sim.close();
}
const ref = median(results.get(cases[0].name).seconds);
console.log(`${fmt(rows)} rows of ~1 KB, median of ${runs} runs, Node ${process.version}, output in ${base}`);
console.log('| sink | time | rows/s | time vs stdout | on disk |');
console.log('| --- | --- | --- | --- | --- |');
for (const c of cases) {
  const r = results.get(c.name);
  const s = median(r.seconds);
  console.log(`| ${c.name} | ${fmt(s, 2)} s | ${fmt(rows / s)} | ${fmt(s / ref, 2)}x | ${c.out ? `${fmt(r.bytes / 1e6, 1)} MB` : '—'} |`);
}
