// Follow-mode benchmark: the built CLI (`--follow --poll-interval 1`, stdout piped) against the
// simulator in this process, with steady live changes.
//
//   latency: the time from each change on the simulator (its onChange) to its line on stdout, over
//            a few hundred inserts and updates; median, p95, max, every change exactly once, and
//            what the latency is made of (lag, poll wait, clock estimate, request and output).
//   memory:  follow for N minutes with inserts, updates and deletes (`--deletes`), sampling the
//            child's resident memory (VmRSS); reports it after warm-up and at the end.
//
// Usage: npm run build, then
//   node bench/follow.mjs latency [changes=300] [--rate 5] [--skew <ms>] [--late <share>] [--late-by <ms>] [-- <extra nowpipe flags, e.g. --lag 2>]
//     --skew: the simulator's clock runs this far ahead of ours; --late: this share of changes is
//     stamped --late-by (default 3000) ms in the past and becomes visible half of that later (a
//     4.5 s commit lag by default, inside the 5 s overlap)
//   node bench/follow.mjs memory [minutes=30] [--rate 20] [--every 15] [--warmup 2]
//   NOWPIPE_BIN=/elsewhere/bin/nowpipe.js node bench/follow.mjs latency   (compare another build)
// The 30-minute run belongs in the background:
//   nohup node bench/follow.mjs memory 30 > /tmp/follow-memory.txt 2>&1 &
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load } from './lib.mjs';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const extra = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const args = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const mode = args[0];
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const positional = args.slice(1).find((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
const bin = process.env.NOWPIPE_BIN ?? BIN;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const parseSn = (ts) => Date.parse(`${ts.replace(' ', 'T')}Z`);
const sorted = (xs) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile. */
const pct = (s, p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
const sec = (ms) => fmt(ms / 1000, 2);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** Starts `nowpipe --follow` on the simulator; each stdout line goes to `onLine(obj, simNowMs)`. */
async function follow(sim, flags, onLine) {
  const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-follow-'));
  const child = spawn(
    process.execPath,
    [bin, '--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--follow', '--poll-interval', '1', ...flags],
    { env: { ...process.env, SERVICENOW_PASSWORD: 'admin', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let buf = '';
  let lines = 0;
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d) => {
    const at = sim.now().getTime();
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines++;
      onLine(JSON.parse(line), at);
    }
  });
  const exit = new Promise((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while (!stderr.includes('caught up')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nowpipe did not catch up (exit ${child.exitCode})\n${stderr}`);
    await sleep(20);
  }
  return { child, exit, stderr: () => stderr, lines: () => lines, dir };
}

/**
 * Bookkeeping of changes made and lines seen. A row changed twice between two polls only ever
 * shows its last version: the earlier one is "superseded", not missing.
 */
function ledger(sim) {
  const made = new Map(); // key → change
  const bySysId = new Map(); // sys_id → keys in order
  const arrived = new Map(); // key → arrival times (sim clock ms)
  return {
    made,
    change(op, row) {
      const key = op === 'd' ? `d|${row.sys_id}` : `${row.sys_id}|${row.sys_mod_count}`;
      made.set(key, { op, key, sysId: String(row.sys_id), stamp: op === 'd' ? undefined : String(row.sys_updated_on), at: sim.now().getTime() });
      const list = bySysId.get(String(row.sys_id)) ?? [];
      list.push(key);
      bySysId.set(String(row.sys_id), list);
    },
    line(obj, at) {
      const key = obj.__deleted ? `d|${obj.sys_id}` : `${obj.sys_id}|${obj.sys_mod_count}`;
      if (!made.has(key)) return; // the backfill
      const list = arrived.get(key) ?? [];
      list.push(at);
      arrived.set(key, list);
    },
    firstArrival: (key) => arrived.get(key)?.[0],
    pending() {
      let n = 0;
      for (const c of made.values()) if (!arrived.has(c.key) && !this.superseded(c)) n++;
      return n;
    },
    superseded(c) {
      const list = bySysId.get(c.sysId);
      return list.indexOf(c.key) < list.length - 1 && list.slice(list.indexOf(c.key) + 1).some((k) => arrived.has(k));
    },
    summary() {
      const out = { changes: made.size, once: 0, duplicated: 0, missing: 0, superseded: 0, latencies: [] };
      for (const c of made.values()) {
        const times = arrived.get(c.key);
        if (!times) {
          if (this.superseded(c)) out.superseded++;
          else out.missing++;
          continue;
        }
        if (times.length > 1) out.duplicated++;
        else out.once++;
        out.latencies.push(times[0] - c.at);
      }
      return out;
    },
  };
}

async function latency() {
  const target = Number(positional ?? 300);
  const rate = option('rate', 5);
  const skew = option('skew', 0);
  const lateShare = option('late', 0);
  const lateBy = option('late-by', 3000);
  const lagIdx = extra.indexOf('--lag');
  const lagMs = (lagIdx >= 0 ? Number(extra[lagIdx + 1]) : 1) * 1000;
  const sim = await startSimulator({ rows: 5000, rowBytes: 1000, seed: 11, clockSkewMs: skew });
  const book = ledger(sim);
  const loadBefore = load();
  const feed = await follow(sim, ['--format', 'raw', ...extra], (o, at) => book.line(o, at));
  await sleep(3000); // a few polls before the first change
  const stop = sim.startLiveChanges({ perSecond: rate, updateRatio: 0.5, lateCommitRatio: lateShare, lateByMs: lateBy, onChange: (op, row) => book.change(op, row) });
  while (book.made.size < target) await sleep(50);
  stop();
  const deadline = Date.now() + 15_000;
  while (book.pending() > 0 && Date.now() < deadline) await sleep(100);
  await sleep(2000); // a few more polls: nothing may come out twice
  feed.child.kill('SIGTERM');
  const code = await feed.exit;
  await sim.close();
  const loadAfter = load();

  const s = book.summary();
  // A late commit is stamped seconds before it is made: its latency is the commit lag plus ours.
  const isLate = (c) => parseSn(c.stamp) < c.at - Math.min(1500, lateBy / 2);
  const onTime = [...book.made.values()].filter((c) => !isLate(c));
  const lat = sorted(onTime.filter((c) => book.firstArrival(c.key) !== undefined).map((c) => book.firstArrival(c.key) - c.at));
  const late = [...book.made.values()].filter(isLate);
  // What each change waited for, from the simulator's request log (its clock): the instance's
  // clock passing the change's second plus the lag; the next poll; the first poll whose
  // high-water mark covered it (later than the one before when the clock estimate was behind);
  // then that request and the line reaching stdout.
  const reads = sim.requests
    .filter((r) => r.path === '/api/now/table/incident' && r.query.sysparm_limit !== '1' && /sys_updated_on>=?\d.*sys_updated_on<=/.test(r.query.sysparm_query ?? '')) // sweeps, not the count probe
    .map((r) => ({ at: r.at, hi: parseSn(/sys_updated_on<=([0-9-]+ [0-9:]+)/.exec(r.query.sysparm_query)[1]) }));
  const ahead = reads.filter((r) => r.hi > Math.floor((r.at - lagMs) / 1000) * 1000).length;
  const parts = { lag: [], poll: [], clock: [], request: [] };
  const firstRead = (pred) => reads.find(pred);
  for (const c of onTime) {
    const line = book.firstArrival(c.key);
    if (line === undefined) continue;
    const stamp = parseSn(c.stamp);
    const eligible = stamp + lagMs;
    const nextPoll = firstRead((r) => r.at >= eligible);
    const covering = firstRead((r) => r.hi >= stamp && r.at >= c.at);
    if (!nextPoll || !covering) continue;
    parts.lag.push(eligible - c.at);
    parts.poll.push(nextPoll.at - eligible);
    parts.clock.push(covering.at - nextPoll.at);
    parts.request.push(line - covering.at);
  }
  const polls = new Set(reads.map((r) => r.hi)).size;

  console.log(`follow latency: ${s.changes} changes (inserts and updates, ${rate}/s) → stdout, --poll-interval 1${extra.length ? ` ${extra.join(' ')}` : ''}, clock skew ${skew} ms, Node ${process.version}`);
  console.log(`load average (1/5/15 min): ${loadBefore} before, ${loadAfter} after; exit code ${code}`);
  console.log('');
  console.log('| changes | exactly once | duplicated | missing | superseded | median | p95 | max | mean |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  console.log(`| ${s.changes}${late.length ? ` (${late.length} late)` : ''} | ${s.once} | ${s.duplicated} | ${s.missing} | ${s.superseded} | ${sec(pct(lat, 50))} s | ${sec(pct(lat, 95))} s | ${sec(lat.at(-1))} s | ${sec(mean(lat))} s |`);
  console.log('');
  console.log('| part of the latency | mean | p95 |');
  console.log('| --- | --- | --- |');
  const row = (name, xs) => console.log(`| ${name} | ${sec(mean(xs))} s | ${sec(pct(sorted(xs), 95))} s |`);
  row(`until the instance clock passes the change's second + lag (${lagMs / 1000} s)`, parts.lag);
  row('then until the next poll', parts.poll);
  row('then until a poll whose high-water mark covers it (clock estimate)', parts.clock);
  row('that request, the dedup and the line on stdout', parts.request);
  console.log('');
  if (late.length) {
    const arrived = late.filter((c) => book.firstArrival(c.key) !== undefined);
    const afterVisible = sorted(arrived.map((c) => book.firstArrival(c.key) - (c.at + lateBy / 2)));
    console.log(`late commits (stamped ${sec(lateBy)} s back, visible ${sec(lateBy / 2)} s later): ${late.length}, arrived ${arrived.length}; after becoming visible: ${afterVisible.length ? `median ${sec(pct(afterVisible, 50))} s, max ${sec(afterVisible.at(-1))} s` : '—'}`);
  }
  console.log(`${reads.length} range reads, ${polls} distinct high-water marks; reads past (instance clock − lag): ${ahead}`);
  console.log(`target p95 < 2.5 s: ${pct(lat, 95) < 2500 ? 'met' : 'NOT met'}; every change exactly once: ${s.missing === 0 && s.duplicated === 0 ? 'yes' : 'NO'}`);
}

async function memory() {
  const minutes = Number(positional ?? 30);
  const rate = option('rate', 20);
  const every = option('every', 15) * 1000;
  const warmup = option('warmup', 2) * 60_000;
  const sim = await startSimulator({ rows: 2000, rowBytes: 1000, seed: 12 });
  const book = ledger(sim);
  const feed = await follow(sim, ['--format', 'raw', '--deletes', ...extra], (o, at) => book.line(o, at));
  const stop = sim.startLiveChanges({ perSecond: rate, updateRatio: 0.5, deleteRatio: 0.05, onChange: (op, row) => book.change(op, row) });
  const started = Date.now();
  const samples = [];
  console.log(`follow memory: ${minutes} min, ${rate} changes/s (45% inserts, 50% updates, 5% deletes), --poll-interval 1 --deletes, Node ${process.version}`);
  console.log('| minute | RSS | changes made | lines out | load (1/5/15) |');
  console.log('| --- | --- | --- | --- | --- |');
  while (Date.now() - started < minutes * 60_000) {
    await sleep(Math.min(every, minutes * 60_000 - (Date.now() - started)));
    if (feed.child.exitCode !== null) throw new Error(`nowpipe exited early (${feed.child.exitCode})\n${feed.stderr()}`);
    const { rss } = rssKb(feed.child.pid);
    const sample = { t: Date.now() - started, rss: rss / 1024, made: book.made.size, lines: feed.lines(), load: load() };
    samples.push(sample);
    console.log(`| ${fmt(sample.t / 60_000, 1)} | ${fmt(sample.rss, 1)} MB | ${fmt(sample.made)} | ${fmt(sample.lines)} | ${sample.load} |`);
  }
  stop();
  const deadline = Date.now() + 15_000;
  while (book.pending() > 0 && Date.now() < deadline) await sleep(100);
  await sleep(2000);
  const { hwm } = rssKb(feed.child.pid);
  feed.child.kill('SIGTERM');
  const code = await feed.exit;
  await sim.close();

  const s = book.summary();
  const lat = sorted(s.latencies);
  // Single samples swing with garbage collection: compare the median of a window just after the
  // warm-up with the median of the last window (2 minutes, or a fifth of a short run).
  const win = Math.min(2 * 60_000, (minutes * 60_000) / 5);
  const after = samples.filter((x) => x.t >= warmup);
  const early = after.filter((x) => x.t < warmup + win).map((x) => x.rss);
  const late = samples.filter((x) => x.t > samples.at(-1).t - win).map((x) => x.rss);
  const warm = pct(sorted(early), 50);
  const endRss = pct(sorted(late), 50);
  const top = Math.max(...after.map((x) => x.rss));
  const growth = (endRss - warm) / warm;
  const minute = (ms) => fmt(ms / 60_000, 1);
  console.log('');
  console.log(`| RSS after warm-up (median, min ${minute(warmup)}–${minute(warmup + win)}) | at the end (median, last ${minute(win)} min) | change | highest sample after warm-up | peak (VmHWM) |`);
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${fmt(warm, 1)} MB | ${fmt(endRss, 1)} MB | ${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)}% | ${fmt(top, 1)} MB | ${fmt(hwm / 1024, 1)} MB |`);
  console.log('');
  console.log(`changes ${s.changes}: exactly once ${s.once}, duplicated ${s.duplicated}, missing ${s.missing}, superseded ${s.superseded}; latency median ${sec(pct(lat, 50))} s, p95 ${sec(pct(lat, 95))} s, max ${sec(lat.at(-1))} s; exit code ${code}`);
  console.log(`flat within 10% (end vs after warm-up): ${Math.abs(growth) <= 0.1 ? 'yes' : 'NO'}`);
}

if (mode === 'latency') await latency();
else if (mode === 'memory') await memory();
else {
  console.error('usage: node bench/follow.mjs latency [changes] [--rate n] [--skew ms] [-- flags] | memory [minutes] [--rate n] [--every s] [--warmup min]');
  process.exitCode = 2;
}
