// Parallel backfill: 200,000 rows of about 1 KB from a simulated instance with a realistic
// per-request cost (200 ms plus 0.2 ms per row returned), with --concurrency 1, 2, 4 and 8.
// The table's shape: `spread` (30 days), `dense` (1,500 rows in every second, as a bulk import
// leaves a table) or `burst` (a quarter of the rows in one second).
// Reports wall time, rows/s, speedup against 1, table requests, and proves every row arrived:
// the distinct sys_ids in the output are exactly the simulator's visible rows.
//
// stdout goes to a file and is checked after the timed run: the simulator shares this process,
// and reading 200 MB here while it serves pages would slow the simulator, not nowpipe. An untimed
// warm-up run first fills the simulator's cache of rendered rows, so no level pays for it.
// Each round also times bench/bare-parallel.mjs with 1 and 4 workers: the ceiling this machine
// gives any client (NOWPIPE_BENCH_CEILING=0 leaves it out).
// Usage: npm run build && node bench/parallel.mjs [rows] [concurrency,...] [batch-size] [runs] [spread|dense|burst]
// With several runs per level, times are the median (and the range) of the runs.
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load } from './lib.mjs';

const rows = Number(process.argv[2] ?? 200_000);
const levels = (process.argv[3] ?? '1,2,4,8').split(',').map(Number);
const batch = process.argv[4] ?? '10000';
const runs = Number(process.argv[5] ?? 1);
const shape = process.argv[6] ?? 'spread';
const LATENCY = { latencyMs: 200, perRowLatencyMs: 0.2 };
const END = '2024-06-01 00:00:00';
const stamp = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
const SHAPES = {
  spread: {},
  dense: { start: stamp(Date.parse(`${END}Z`) - Math.ceil(rows / 1500) * 1000), end: END },
  burst: { rows: Math.round(rows * 0.75), burst: { count: Math.round(rows * 0.25) } },
};
if (!SHAPES[shape]) throw new Error(`shape: spread, dense or burst, not ${shape}`);

const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0, ...LATENCY, ...SHAPES[shape] });
const visible = new Set(sim.visibleRows('incident').map((r) => r.sys_id));
const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-parallel-'));

/** GNU time, when present, reports the CPU seconds nowpipe itself used (user + system). */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Runs one backfill with stdout to `out`; resolves with the wall time and nowpipe's CPU time. */
async function backfill(concurrency, out) {
  const file = await open(out, 'w');
  const cpuFile = join(dir, 'cpu.txt');
  try {
    const seconds = await new Promise((resolve, reject) => {
      const args = [BIN, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, `cp-${concurrency}-${Date.now()}.json`), '--batch-size', batch, '--concurrency', String(concurrency), '--quiet'];
      const [cmd, argv] = TIME ? [TIME, ['-o', cpuFile, '-f', '%U %S', process.execPath, ...args]] : [process.execPath, args];
      const started = process.hrtime.bigint();
      const child = spawn(cmd, argv, { env: { ...process.env, SERVICENOW_PASSWORD: 'admin' }, stdio: ['ignore', file.fd, 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        const wall = Number(process.hrtime.bigint() - started) / 1e9;
        if (code !== 0) return reject(new Error(`--concurrency ${concurrency} exited ${code}\n${stderr}`));
        resolve(wall);
      });
    });
    const cpu = TIME ? (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0) : undefined;
    return { seconds, cpu };
  } finally {
    await file.close();
  }
}

/** The ceiling: bench/bare-parallel.mjs with `workers` loops, stdout to `out`; resolves with the wall time. */
async function bare(workers, out) {
  const file = await open(out, 'w');
  try {
    return await new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [fileURLToPath(new URL('./bare-parallel.mjs', import.meta.url)), sim.url, 'incident', batch, String(rows), String(workers)], { stdio: ['ignore', file.fd, 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e9) : reject(new Error(`bare loop exited ${code}: ${stderr}`))));
    });
  } finally {
    await file.close();
  }
}

/** The sys_ids of an NDJSON output file, and its line count. */
async function idsIn(path) {
  const ids = new Set();
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) {
    if (line === '') continue;
    lines += 1;
    ids.add(JSON.parse(line).sys_id);
  }
  return { ids, lines };
}

const results = [];
// The bare loop needs every row visible (offset paging over ACL-hidden rows is another matter);
// the benchmark's table has none hidden.
const withCeiling = process.env.NOWPIPE_BENCH_CEILING !== '0';
const ceiling = new Map([
  [1, []],
  [4, []],
]);
try {
  process.stderr.write(`warm-up run (--concurrency ${Math.max(...levels)}, not timed)\n`);
  await backfill(Math.max(...levels), join(dir, 'warm-up.ndjson'));
  await rm(join(dir, 'warm-up.ndjson'));
  // Runs go round the levels (1, 2, 4, 8, 1, 2, …) so a busy minute on the machine hits every level.
  const byLevel = new Map(levels.map((c) => [c, []]));
  for (let run = 0; run < runs; run++) {
    for (const concurrency of levels) {
      sim.requests.length = 0;
      const before = load();
      const out = join(dir, `out-${concurrency}.ndjson`);
      const simCpu = process.cpuUsage();
      const { seconds, cpu } = await backfill(concurrency, out);
      const simUsage = process.cpuUsage(simCpu);
      const after = load();
      const table = sim.requests.filter((r) => r.path.startsWith('/api/now/table/'));
      const { ids, lines } = await idsIn(out);
      await rm(out);
      const missing = [...visible].filter((id) => !ids.has(id)).length;
      const extra = [...ids].filter((id) => !visible.has(id)).length;
      byLevel.get(concurrency).push({ concurrency, seconds, cpu, simCpu: (simUsage.user + simUsage.system) / 1e6, lines, distinct: ids.size, missing, extra, requests: table.length, before, after });
      process.stderr.write(`--concurrency ${concurrency}: ${fmt(seconds, 1)} s, ${table.length} requests, ${ids.size} distinct rows (load ${before} → ${after})\n`);
    }
    if (withCeiling) {
      for (const workers of [1, 4]) {
        const out = join(dir, `bare-${workers}.ndjson`);
        const seconds = await bare(workers, out);
        const { ids } = await idsIn(out);
        await rm(out);
        if (ids.size !== visible.size) throw new Error(`the bare loop with ${workers} workers read ${ids.size} distinct rows of ${visible.size}`);
        ceiling.get(workers).push(seconds);
        process.stderr.write(`bare loop, ${workers} workers: ${fmt(seconds, 1)} s\n`);
      }
    }
  }
  for (const concurrency of levels) {
    const all = byLevel.get(concurrency).sort((a, b) => a.seconds - b.seconds);
    const mid = all[Math.floor(all.length / 2)];
    results.push({ ...mid, min: all[0].seconds, max: all.at(-1).seconds, missing: Math.max(...all.map((r) => r.missing)), extra: Math.max(...all.map((r) => r.extra)), before: all.map((r) => r.before.split(' ')[0]).join('/'), after: all.map((r) => r.after.split(' ')[0]).join('/') });
  }
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}

const base = results.find((r) => r.concurrency === 1)?.seconds;
console.log(`parallel backfill of ${fmt(rows)} rows (~1 KB each, table shape: ${shape}), pages of ${fmt(Number(batch))}, simulated cost ${LATENCY.latencyMs} ms + ${LATENCY.perRowLatencyMs} ms/row per request; ${runs === 1 ? 'one run' : `median of ${runs} runs`} per level; Node ${process.version}`);
console.log('| --concurrency | time | rows/s | speedup | table requests | nowpipe CPU | simulator CPU | rows out | distinct sys_ids = visible rows | load (1 min) before → after |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  const complete = r.missing === 0 && r.extra === 0 && r.distinct === visible.size;
  console.log(
    `| ${r.concurrency} | ${fmt(r.seconds, 1)} s${runs > 1 ? ` (${fmt(r.min, 1)}–${fmt(r.max, 1)})` : ''} | ${fmt(rows / r.seconds)} | ${base ? `${fmt(base / r.seconds, 2)}x` : '-'} | ${r.requests} | ${r.cpu === undefined ? '?' : `${fmt(r.cpu, 1)} s`} | ${fmt(r.simCpu, 1)} s | ${fmt(r.lines)} | ${complete ? `yes (${fmt(r.distinct)})` : `NO: ${r.missing} missing, ${r.extra} unknown`} | ${r.before} → ${r.after} |`,
  );
}
if (withCeiling) {
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [c1, c4] = [med(ceiling.get(1)), med(ceiling.get(4))];
  console.log(`ceiling, bench/bare-parallel.mjs (offset pages fetched, parsed and written, nothing else; same simulator, interleaved): 1 worker ${fmt(c1, 1)} s, 4 workers ${fmt(c4, 1)} s: ${fmt(c1 / c4, 2)}x`);
}
const four = results.find((r) => r.concurrency === 4);
if (base && four) console.log(`speedup at 4: ${fmt(base / four.seconds, 2)}x (target ≥ 3.5x)`);
if (results.some((r) => r.missing > 0 || r.extra > 0)) process.exitCode = 1;
