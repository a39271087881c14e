// Against latency that looks like a real instance: 300 ms plus 0.3 ms per row returned, pages of
// 10,000, 100,000 rows of about 1 KB. nowpipe with --concurrency 1 and 4 (and the default), next
// to a plain `curl | jq` page loop (bench/curl-jq.sh). Output to a file, checked afterwards.
// Usage: npm run build && node bench/realistic.mjs [rows] [runs]
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load, median, ROOT } from './lib.mjs';

const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 1);
const sim = await startSimulator({ rows, rowBytes: 1000, seed: 17, aclHiddenRatio: 0, latencyMs: 300, perRowLatencyMs: 0.3 });
const visible = new Set(sim.visibleRows('incident').map((r) => r.sys_id));
const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-real-'));

async function timed(cmd, args, out) {
  const file = await open(out, 'w');
  try {
    return await new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, SERVICENOW_PASSWORD: 'admin' }, stdio: ['ignore', file.fd, 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e9) : reject(new Error(`${cmd} exited ${code}\n${stderr}`))));
    });
  } finally {
    await file.close();
  }
}

async function distinct(path) {
  const ids = new Set();
  for await (const line of createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity })) if (line) ids.add(JSON.parse(line).sys_id);
  return ids;
}

const nowpipe = (...extra) => [process.execPath, [BIN, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, `cp-${Math.random()}.json`), '--quiet', ...extra]];
const cases = [
  { name: '`curl | jq` page loop', cmd: () => ['bash', ['bench/curl-jq.sh', sim.url, 'incident', '10000']] },
  { name: 'nowpipe --concurrency 1', cmd: () => nowpipe('--concurrency', '1') },
  { name: 'nowpipe, default settings', cmd: () => nowpipe() },
  { name: 'nowpipe --concurrency 4', cmd: () => nowpipe('--concurrency', '4') },
];
const results = new Map(cases.map((c) => [c.name, []]));
try {
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const before = sim.requests.length;
      const out = join(dir, 'out.ndjson');
      const [cmd, args] = c.cmd();
      const seconds = await timed(cmd, args, out);
      const ids = await distinct(out);
      const complete = ids.size === visible.size && [...ids].every((id) => visible.has(id));
      results.get(c.name).push({ seconds, requests: sim.requests.length - before, complete });
      process.stderr.write(`${c.name}: ${fmt(seconds, 1)} s\n`);
    }
  }
} finally {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(`${fmt(rows)} rows (~1 KB each), pages of 10,000, simulated cost 300 ms + 0.3 ms per row; ${runs === 1 ? 'one run' : `median of ${runs}`}; load ${load()}`);
console.log('| | time | rows/s | requests | every row |');
console.log('| --- | --- | --- | --- | --- |');
for (const c of cases) {
  const rs = results.get(c.name);
  const s = median(rs.map((r) => r.seconds));
  console.log(`| ${c.name} | ${fmt(s, 1)} s | ${fmt(rows / s)} | ${median(rs.map((r) => r.requests))} | ${rs.every((r) => r.complete) ? 'yes' : 'NO'} |`);
}
