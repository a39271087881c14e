// Kafka sink throughput: 100,000 rows of about 1 KB from the simulator into a local broker via
// the built CLI (`--sink kafka`: idempotent, acks=all), beside kcat producing the same rows
// (keyed, same headers, acks=all, idempotent) from an NDJSON file as the reference. Also
// `--sink stdout > /dev/null`, to show what reading the instance alone costs.
// Usage: npm run build && node bench/kafka.mjs [rows] [runs]
// Broker: NOWPIPE_KAFKA_BROKERS (default 127.0.0.1:9092; start one with bash scripts/kafka.sh start).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, openSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startSimulator } from '../dist/sim/index.js';
import { BIN, fmt, load, median } from './lib.mjs';

const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const brokers = (process.env.NOWPIPE_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

let kcatVersion;
try {
  kcatVersion = execFileSync('kcat', ['-V']).toString();
} catch {
  console.error('bench/kafka.mjs: kcat is not installed; it is the reference producer (Debian/Ubuntu: apt-get install -y kcat)');
  process.exit(1);
}

const { Kafka, logLevel } = kafkajs;
const admin = new Kafka({ clientId: 'nowpipe-bench', brokers, logLevel: logLevel.NOTHING }).admin();
try {
  await admin.connect();
} catch (err) {
  console.error(`bench/kafka.mjs: no Kafka broker at ${brokers.join(',')} (${err.message}); start one with: bash scripts/kafka.sh start`);
  process.exit(1);
}

function time(cmd, args, { stdin, stdout = 'ignore', env = {} } = {}) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [stdin ? 'pipe' : 'ignore', stdout, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    if (stdin) stdin.pipe(child.stdin);
    child.on('close', (code) => (code === 0 ? done(Number(process.hrtime.bigint() - started) / 1e9) : fail(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
}

async function freshTopic(name) {
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  return name;
}

async function countIn(topic) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
}

const dir = await mkdtemp(join(tmpdir(), 'nowpipe-bench-kafka-'));
const sim = await startSimulator({ rows, rowBytes: 1000, seed: 7, aclHiddenRatio: 0 });
const common = ['--url', sim.url, '--table', 'incident', '--user', 'admin', '--quiet'];
const env = { SERVICENOW_PASSWORD: 'admin' };
const topics = [];
const stamp = Date.now().toString(36);
try {
  // kcat's input: the same rows as nowpipe exports them, one `sys_id<TAB>row JSON` line each
  // (JSON text never holds a raw tab).
  const ndjson = join(dir, 'rows.ndjson');
  const keyed = join(dir, 'rows.keyed');
  const fd = openSync(ndjson, 'w');
  await time(process.execPath, [BIN, ...common, '--checkpoint', join(dir, 'cp-ref.json')], { env, stdout: fd });
  closeSync(fd);
  await keyLines(ndjson, keyed);
  const valueBytes = (await stat(ndjson)).size - rows; // without the newlines

  const cases = [
    { name: 'nowpipe --sink stdout > /dev/null (reading alone)', run: (i) => time(process.execPath, [BIN, ...common, '--checkpoint', join(dir, `cp-s${i}.json`)], { env }) },
    {
      name: 'nowpipe --sink kafka',
      kafka: true,
      run: async (i) => {
        const t = await freshTopic(`nowpipe-bench-${stamp}-np-${i}`);
        topics.push(t);
        const s = await time(process.execPath, [BIN, ...common, '--checkpoint', join(dir, `cp-k${i}.json`), '--sink', 'kafka', '--brokers', brokers.join(','), '--topic', t], { env });
        return { s, topic: t };
      },
    },
    {
      name: 'kcat -P (reference, from the file)',
      kafka: true,
      run: async (i) => {
        const t = await freshTopic(`nowpipe-bench-${stamp}-kcat-${i}`);
        topics.push(t);
        const headers = ['-H', 'nowpipe.table=incident', '-H', `nowpipe.instance=${sim.url}`, '-H', 'nowpipe.op=u'];
        const s = await time('kcat', ['-P', '-q', '-b', brokers.join(','), '-t', t, '-K', '\t', '-X', 'acks=all', '-X', 'enable.idempotence=true', ...headers], { stdin: createReadStream(keyed) });
        return { s, topic: t };
      },
    },
  ];
  const results = new Map(cases.map((c) => [c.name, []]));
  const loads = [load()];
  // Interleaved so a slow moment of the (shared) machine hits every case alike.
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const out = await c.run(i);
      const s = typeof out === 'number' ? out : out.s;
      if (c.kafka) {
        const n = await countIn(out.topic);
        if (n !== rows) throw new Error(`${c.name}: ${n} messages in ${out.topic}, expected ${rows}`);
      }
      results.get(c.name).push(s);
    }
    loads.push(load());
  }

  const kcat = median(results.get(cases[2].name));
  console.log(`${fmt(rows)} rows of ~1 KB (${fmt(valueBytes / 1e6, 1)} MB of values), 1 partition, acks=all + idempotent, median of ${runs} runs, Node ${process.version}, kcat ${/Version (\S+)/.exec(kcatVersion)?.[1] ?? '?'} (librdkafka ${/librdkafka (\S+)/.exec(kcatVersion)?.[1] ?? '?'})`);
  console.log(`load average (1/5/15 min) before and after each round: ${loads.join(' → ')}`);
  console.log('| producer | time | rows/s | MB/s | vs kcat |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const c of cases) {
    const s = median(results.get(c.name));
    console.log(`| ${c.name} | ${fmt(s, 2)} s | ${fmt(rows / s)} | ${fmt(valueBytes / 1e6 / s, 1)} | ${c.kafka ? `${fmt(kcat / s, 2)}x` : '—'} |`);
  }
} finally {
  await sim.close();
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
}

async function keyLines(from, to) {
  const { createInterface } = await import('node:readline');
  const out = createWriteStream(to);
  for await (const line of createInterface({ input: createReadStream(from) })) {
    if (!line) continue;
    const id = /"sys_id":"([^"]+)"/.exec(line)[1];
    if (!out.write(`${id}\t${line}\n`)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}
