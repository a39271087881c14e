// Start-up: how long `nowpipe --version` takes, and how long an export takes from its start to
// its first request to the instance (loading modules, reading the config, building the client).
// Usage: npm run build && node bench/startup.mjs [runs]
import { spawn } from 'node:child_process';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load, median } from './lib.mjs';

const runs = Number(process.argv[2] ?? 9);
const sim = await startSimulator({ rows: 10, seed: 3 });

function time(args, untilFirstRequest) {
  return new Promise((resolve, reject) => {
    const before = sim.requests.length;
    const started = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SERVICENOW_PASSWORD: 'admin' } });
    child.on('error', reject);
    child.on('close', () => {
      const first = sim.requests[before];
      resolve(untilFirstRequest ? (first ? first.at - started : NaN) : Date.now() - started);
    });
  });
}

const version = [];
const firstRequest = [];
try {
  for (let i = 0; i < runs; i++) {
    version.push(await time(['--version'], false));
    firstRequest.push(await time(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', `/tmp/nowpipe-bench-startup-${process.pid}.json`, '--reset', '--quiet'], true));
  }
} finally {
  await sim.close();
}
console.log(`start-up, median of ${runs} runs (load ${load()}), Node ${process.version}`);
console.log('| | median | range |');
console.log('| --- | --- | --- |');
console.log(`| nowpipe --version | ${fmt(median(version))} ms | ${fmt(Math.min(...version))}–${fmt(Math.max(...version))} ms |`);
console.log(`| export: start to first request | ${fmt(median(firstRequest))} ms | ${fmt(Math.min(...firstRequest))}–${fmt(Math.max(...firstRequest))} ms |`);
