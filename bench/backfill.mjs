// npm run bench: backfill 100,000 rows of about 1 KB from the simulator to stdout (/dev/null),
// against a bare loop that only fetches and parses the same pages. Reports time, rows/s and peak
// memory (resident, VmHWM). `--concurrency 1` reads exactly the bare loop's pages, one at a
// time: that is the comparison the target is about. The default (--concurrency 4) is shown too.
// Usage: npm run build && node bench/backfill.mjs [rows] [runs]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, median, run } from './lib.mjs';

const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 5);
const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-'));
const nowpipe = (concurrency) => (i) =>
  run(process.execPath, [BIN, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, `cp-${concurrency}-${i}.json`), '--quiet', '--concurrency', String(concurrency)], {
    env: { SERVICENOW_PASSWORD: 'admin' },
  });
const cases = [
  { name: 'bare fetch loop (same pages, parse only, no output)', go: () => run(process.execPath, ['bench/bare-fetch.mjs', sim.url, 'incident', '10000']) },
  { name: 'nowpipe --concurrency 1 → stdout (/dev/null)', go: nowpipe(1) },
  { name: 'nowpipe (default --concurrency 4) → stdout (/dev/null)', go: nowpipe(4) },
];
const results = new Map(cases.map((c) => [c.name, []]));
try {
  // Interleaved, so a slow moment of the machine hits every case alike.
  for (let i = 0; i < runs; i++) for (const c of cases) results.get(c.name).push(await c.go(i));
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
const bytes = rows * 1000;
const seconds = (name) => median(results.get(name).map((r) => r.seconds));
const bare = seconds(cases[0].name);
console.log(`backfill of ${fmt(rows)} rows (~1 KB each), median of ${runs} runs, Node ${process.version}`);
console.log('| | time | rows/s | MB/s (at 1 KB a row) | vs bare loop | peak memory (max of runs) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const c of cases) {
  const s = seconds(c.name);
  const peak = Math.max(...results.get(c.name).map((r) => r.peakMb));
  console.log(`| ${c.name} | ${fmt(s, 2)} s | ${fmt(rows / s)} | ${fmt(bytes / s / 1e6, 1)} | ${fmt(s / bare, 2)}x | ${fmt(peak)} MB |`);
}
console.log('targets: nowpipe --concurrency 1 within 1.5x of the bare loop, under 200 MB peak');
