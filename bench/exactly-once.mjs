// What --state kafka and --exactly-once cost: 100,000 rows of about 1 KB from the simulator into
// a one-partition topic through the built CLI, three ways, interleaved, median of the runs:
//   --sink kafka                                  (the checkpoint in a file)
//   --sink kafka --state kafka                    (the checkpoint in a compacted topic)
//   --sink kafka --state kafka --exactly-once     (each batch and its checkpoint in one transaction)
// Usage: npm run build && node bench/exactly-once.mjs [rows] [runs]
// Broker: NOWPIPE_KAFKA_BROKERS (default 127.0.0.1:9092; start one with bash scripts/kafka.sh start).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load, median, run } from './lib.mjs';

const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const brokers = (process.env.NOWPIPE_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

const { Kafka, logLevel } = kafkajs;
const admin = new Kafka({ clientId: 'nowpipe-bench', brokers, logLevel: logLevel.NOTHING }).admin();
try {
  await admin.connect();
} catch (err) {
  console.error(`bench/exactly-once.mjs: no Kafka broker at ${brokers.join(',')} (${err.message}); start one with: bash scripts/kafka.sh start`);
  process.exit(1);
}

const stamp = Date.now().toString(36);
const topics = [];
async function freshTopic(name) {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  topics.push(name);
  return name;
}

/** Records in the topic: the offsets, less one commit marker per transaction with --exactly-once (checked against `rows`). */
async function offsetsIn(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
}

const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-eos-'));
const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
const env = { SERVICENOW_PASSWORD: 'admin' };
const cases = [
  { name: '--sink kafka (checkpoint file)', extra: (i) => ['--checkpoint', join(dir, `cp-${i}.json`)] },
  { name: '--sink kafka --state kafka', extra: (i) => ['--state', 'kafka', '--state-topic', `nowpipe-bench-state-${stamp}-s${i}`] },
  { name: '--sink kafka --state kafka --exactly-once', extra: (i) => ['--state', 'kafka', '--state-topic', `nowpipe-bench-state-${stamp}-e${i}`, '--exactly-once'] },
];
const times = cases.map(() => []);
const loads = [load()];
try {
  for (let i = 0; i < runs; i++) {
    for (const [c, kase] of cases.entries()) {
      const topic = await freshTopic(`nowpipe-bench-eos-${stamp}-${c}-${i}`);
      const args = ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--quiet', '--sink', 'kafka', '--brokers', brokers.join(','), '--topic', topic, ...kase.extra(i)];
      const { seconds } = await run(process.execPath, [BIN, ...args], { env, cwd: dir });
      const n = await offsetsIn(topic);
      if (c < 2 ? n !== rows : n < rows || n > rows * 1.01) throw new Error(`${kase.name}: ${n} offsets in ${topic}, expected ${rows}${c < 2 ? '' : ' and one marker per transaction'}`);
      if (kase.extra(i).includes('--state-topic')) topics.push(kase.extra(i)[kase.extra(i).indexOf('--state-topic') + 1]);
      times[c].push(seconds);
    }
    loads.push(load());
  }
  console.log(`${fmt(rows)} rows of about 1 KB, median of ${runs}; load average (1/5/15 min) before and after each round: ${loads.join(' → ')}\n`);
  console.log('| run | time | rows/s | vs --sink kafka |');
  console.log('| --- | --- | --- | --- |');
  const base = median(times[0]);
  for (const [c, kase] of cases.entries()) {
    const t = median(times[c]);
    console.log(`| nowpipe ${kase.name} | ${fmt(t, 2)} s | ${fmt(rows / t)} | ${fmt(t / base, 2)}x |`);
  }
  console.log(`\nall times (s): ${cases.map((k, c) => `${k.name}: ${times[c].map((t) => fmt(t, 2)).join(', ')}`).join('; ')}`);
} finally {
  await sim.close();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
}
