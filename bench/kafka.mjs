// Kafka sink throughput: 100,000 rows of about 1 KB from the simulator into a local broker via
// the built CLI (`--sink kafka`: idempotent, acks=all), beside kcat producing the same rows
// (keyed, same headers, acks=all, idempotent) from an NDJSON file as the reference. Also
// `--sink stdout > /dev/null`, to show what reading the instance alone costs.
// Usage: npm run build && node bench/kafka.mjs [rows] [runs]
// Broker: NOWPIPE_KAFKA_BROKERS (default 127.0.0.1:9092; start one with bash scripts/kafka.sh start).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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

/** GNU time, when present, reports the CPU seconds the producer itself used (user + system). */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * The broker's CPU seconds so far, from /proc (Linux), when its pid is known: NOWPIPE_KAFKA_PID,
 * or the pid file of scripts/kafka.sh. The two cores are shared by the simulator, nowpipe and
 * the broker, so what each of them burns is what bounds the wall time.
 */
const brokerPid = process.env.NOWPIPE_KAFKA_PID ?? (existsSync('.kafka/kafka.pid') ? readFileSync('.kafka/kafka.pid', 'utf8').replace(/\D/g, '') : undefined);
function brokerCpu() {
  if (!brokerPid) return undefined;
  try {
    const fields = readFileSync(`/proc/${brokerPid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/** Runs one producer; resolves with its wall time and the CPU seconds of it, the simulator (this process) and the broker. */
async function time(cmd, args, { stdin, stdout = 'ignore', env = {} } = {}) {
  const cpuFile = join(dir, 'cpu.txt');
  const sim0 = process.cpuUsage();
  const broker0 = brokerCpu();
  const seconds = await new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const [c, a] = GNU_TIME ? [GNU_TIME, ['-o', cpuFile, '-f', '%U %S', cmd, ...args]] : [cmd, args];
    const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: [stdin ? 'pipe' : 'ignore', stdout, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    if (stdin) stdin.pipe(child.stdin);
    child.on('close', (code) => (code === 0 ? done(Number(process.hrtime.bigint() - started) / 1e9) : fail(new Error(`${cmd} exited ${code}: ${stderr}`))));
  });
  const sim = process.cpuUsage(sim0);
  const broker1 = brokerCpu();
  const own = GNU_TIME ? (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).map(Number).reduce((x, y) => x + y, 0) : undefined;
  return { s: seconds, cpu: { own, sim: (sim.user + sim.system) / 1e6, broker: broker0 === undefined || broker1 === undefined ? undefined : broker1 - broker0 } };
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
    { name: 'nowpipe --sink stdout > /dev/null (reading alone)', run: async (i) => await time(process.execPath, [BIN, ...common, '--checkpoint', join(dir, `cp-s${i}.json`)], { env }) },
    {
      name: 'nowpipe --sink kafka',
      kafka: true,
      run: async (i) => {
        const t = await freshTopic(`nowpipe-bench-${stamp}-np-${i}`);
        topics.push(t);
        return { ...(await time(process.execPath, [BIN, ...common, '--checkpoint', join(dir, `cp-k${i}.json`), '--sink', 'kafka', '--brokers', brokers.join(','), '--topic', t], { env })), topic: t };
      },
    },
    {
      name: 'kcat -P (reference, from the file)',
      kafka: true,
      run: async (i) => {
        const t = await freshTopic(`nowpipe-bench-${stamp}-kcat-${i}`);
        topics.push(t);
        const headers = ['-H', 'nowpipe.table=incident', '-H', `nowpipe.instance=${sim.url}`, '-H', 'nowpipe.op=u'];
        return { ...(await time('kcat', ['-P', '-q', '-b', brokers.join(','), '-t', t, '-K', '\t', '-X', 'acks=all', '-X', 'enable.idempotence=true', ...headers], { stdin: createReadStream(keyed) })), topic: t };
      },
    },
  ];
  const results = new Map(cases.map((c) => [c.name, []]));
  const cpus = new Map(cases.map((c) => [c.name, []]));
  const loads = [load()];
  // Interleaved so a slow moment of the (shared) machine hits every case alike.
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const out = await c.run(i);
      const s = out.s;
      cpus.get(c.name).push(out.cpu);
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
  const stdoutTime = median(results.get(cases[0].name));
  const cpu = (name, k) => {
    const v = cpus.get(name).map((x) => x[k]).filter((x) => x !== undefined);
    return v.length === 0 ? '?' : `${fmt(median(v), 1)} s`;
  };
  console.log('| producer | time | rows/s | MB/s | vs stdout | vs kcat | its CPU | simulator CPU | broker CPU |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cases) {
    const s = median(results.get(c.name));
    console.log(`| ${c.name} | ${fmt(s, 2)} s | ${fmt(rows / s)} | ${fmt(valueBytes / 1e6 / s, 1)} | ${c === cases[1] ? `${fmt(s / stdoutTime, 2)}x` : '—'} | ${c.kafka ? `${fmt(kcat / s, 2)}x` : '—'} | ${cpu(c.name, 'own')} | ${cpu(c.name, 'sim')} | ${cpu(c.name, 'broker')} |`);
  }
  console.log('CPU: medians; the simulator runs in this process, which for kcat also feeds its stdin. Target: --sink kafka at most 1.3x --sink stdout.');
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
