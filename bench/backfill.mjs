// npm run bench: backfill 100,000 rows of about 1 KB from the simulator to stdout (/dev/null),
// against a bare loop that only fetches and parses the same pages. Reports rows/s and peak memory.
// Usage: node bench/backfill.mjs [rows] [runs]
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, median, run } from './lib.mjs';

const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
const checkpointDir = (await import('node:fs/promises')).mkdtemp((await import('node:os')).tmpdir() + '/nowpipe-bench-');
const dir = await checkpointDir;
const results = { nowpipe: [], bare: [] };
try {
  for (let i = 0; i < runs; i++) {
    results.bare.push(await run(process.execPath, ['bench/bare-fetch.mjs', sim.url, 'incident', '10000']));
    results.nowpipe.push(
      await run(process.execPath, [BIN, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', `${dir}/cp-${i}.json`, '--quiet'], {
        env: { SERVICENOW_PASSWORD: 'admin' },
      }),
    );
  }
} finally {
  await sim.close();
}
const n = median(results.nowpipe.map((r) => r.seconds));
const b = median(results.bare.map((r) => r.seconds));
const peak = Math.max(...results.nowpipe.map((r) => r.peakMb));
const bytes = rows * 1000;
console.log(`backfill of ${fmt(rows)} rows (~1 KB each), median of ${runs} runs, Node ${process.version}`);
console.log(`| | time | rows/s | MB/s | peak memory |`);
console.log(`| --- | --- | --- | --- | --- |`);
console.log(`| nowpipe → stdout (/dev/null) | ${fmt(n, 2)} s | ${fmt(rows / n)} | ${fmt(bytes / n / 1e6, 1)} | ${fmt(peak)} MB |`);
console.log(`| bare fetch loop (same pages, no output) | ${fmt(b, 2)} s | ${fmt(rows / b)} | ${fmt(bytes / b / 1e6, 1)} | ${fmt(Math.max(...results.bare.map((r) => r.peakMb)))} MB |`);
console.log(`ratio nowpipe / bare loop: ${fmt(n / b, 2)}x (target ≤ 1.5x); peak memory ${fmt(peak)} MB (target < 200 MB)`);
