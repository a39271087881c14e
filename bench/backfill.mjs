// npm run bench: backfill rows of about 1 KB from the simulator (no latency) to stdout
// (/dev/null), beside a bare loop that only fetches and parses the same pages. Reports time,
// rows/s, peak memory (resident, VmHWM) and table requests per 1,000 rows; cases interleaved,
// medians. The default (no --concurrency) is the case the targets are about.
//
// Usage: npm run build && node bench/backfill.mjs [rows] [runs]
//        node bench/backfill.mjs requests   20,000 rows in pages of 1,000: table requests
//        node bench/backfill.mjs memory     peak memory at the default from 100,000 to 1,000,000 rows
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load, median, run } from './lib.mjs';

const mode = Number.isNaN(Number(process.argv[2] ?? '0')) ? process.argv[2] : 'time';
const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-'));
let counter = 0;

function nowpipe(sim, ...extra) {
  return run(process.execPath, [BIN, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, `cp-${counter++}.json`), '--quiet', ...extra], { env: { SERVICENOW_PASSWORD: 'admin' } });
}

const tableRequests = (sim) => sim.requests.filter((r) => r.path === '/api/now/table/incident').length;

/** Runs `go` and counts the table requests it made. */
async function counted(sim, go) {
  const before = tableRequests(sim);
  const r = await go();
  return { ...r, requests: tableRequests(sim) - before };
}

try {
  if (mode === 'time') {
    const rows = Number(process.argv[2] ?? 100_000);
    const runs = Number(process.argv[3] ?? 5);
    const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
    const cases = [
      { name: 'bare fetch loop (same pages, JSON.parse only, no output)', go: () => run(process.execPath, ['bench/bare-fetch.mjs', sim.url, 'incident', '10000']) },
      { name: 'nowpipe, default settings → stdout (/dev/null)', go: () => nowpipe(sim) },
      { name: 'nowpipe --concurrency 1 → stdout (/dev/null)', go: () => nowpipe(sim, '--concurrency', '1') },
      { name: 'nowpipe --concurrency 4 → stdout (/dev/null)', go: () => nowpipe(sim, '--concurrency', '4') },
    ];
    const results = new Map(cases.map((c) => [c.name, []]));
    try {
      // Interleaved, so a slow moment of the machine hits every case alike.
      for (let i = 0; i < runs; i++) for (const c of cases) results.get(c.name).push(await counted(sim, c.go));
    } finally {
      await sim.close();
    }
    const seconds = (name) => median(results.get(name).map((r) => r.seconds));
    const bare = seconds(cases[0].name);
    console.log(`backfill of ${fmt(rows)} rows (~1 KB each), median of ${runs} runs, Node ${process.version}, load ${load()}`);
    console.log('| | time | rows/s | vs bare loop | peak memory (max of runs) | table requests per 1,000 rows |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const c of cases) {
      const s = seconds(c.name);
      const rs = results.get(c.name);
      console.log(`| ${c.name} | ${fmt(s, 2)} s | ${fmt(rows / s)} | ${fmt(s / bare, 2)}x | ${fmt(Math.max(...rs.map((r) => r.peakMb)))} MB | ${fmt((median(rs.map((r) => r.requests)) / rows) * 1000, 2)} |`);
    }
    console.log('targets: the default within 1.3x of the bare loop and at most 150 MB');
  } else if (mode === 'requests') {
    const sim = await startSimulator({ rows: 20_000, rowBytes: 200, seed: 8, aclHiddenRatio: 0 });
    try {
      const one = await counted(sim, () => nowpipe(sim, '--batch-size', '1000', '--concurrency', '1'));
      const four = await counted(sim, () => nowpipe(sim, '--batch-size', '1000', '--concurrency', '4'));
      console.log('20,000 rows, pages of 1,000 (20 pages): table requests');
      console.log('| | table requests | target |');
      console.log('| --- | --- | --- |');
      console.log(`| --concurrency 1 | ${one.requests} | ≤ 23 (pages + 3) |`);
      console.log(`| --concurrency 4 (3 requests find the cuts) | ${four.requests} | |`);
    } finally {
      await sim.close();
    }
  } else if (mode === 'memory') {
    console.log(`peak memory at the default settings (max of 2 runs), load ${load()}`);
    console.log('| rows | time | peak memory |');
    console.log('| --- | --- | --- |');
    for (const rows of [100_000, 300_000, 1_000_000]) {
      const sim = await startSimulator({ rows, rowBytes: 1000, seed: 9, aclHiddenRatio: 0 });
      try {
        const rs = [await nowpipe(sim), await nowpipe(sim)];
        console.log(`| ${fmt(rows)} | ${fmt(median(rs.map((r) => r.seconds)), 1)} s | ${fmt(Math.max(...rs.map((r) => r.peakMb)))} MB |`);
      } finally {
        await sim.close();
      }
    }
    console.log('target: at most 150 MB, flat from 100,000 to 1,000,000 rows');
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
