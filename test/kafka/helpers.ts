// Shared by the Kafka integration tests: the broker address, a real consumer, topics, and a
// private broker for the tests that stop one. They never skip: no broker, every test fails.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';
import type { Admin, Kafka as KafkaType, KafkaConfig } from 'kafkajs';
import type { TailRecord } from '../../src/kafka/tail.js';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

export const BROKERS = (process.env.NOWPIPE_KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
export const SASL_BROKER = process.env.NOWPIPE_KAFKA_SASL_BROKER ?? `127.0.0.1:${process.env.KAFKA_SASL_PORT ?? '9094'}`;
export const SASL_USER = 'nowpipe';
export const SASL_PASSWORD = 'nowpipe-secret';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/kafka.sh');
const SHARED_HOME = process.env.NOWPIPE_KAFKA_HOME ?? resolve(import.meta.dirname, '../../.kafka');

function tcpReachable(hostPort: string, timeoutMs = 3000): Promise<string | null> {
  const i = hostPort.lastIndexOf(':');
  return new Promise((done) => {
    const sock = net.connect({ host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) });
    const end = (err: string | null) => {
      sock.destroy();
      done(err);
    };
    sock.setTimeout(timeoutMs, () => end(`timed out after ${timeoutMs} ms`));
    sock.once('connect', () => end(null));
    sock.once('error', (e) => end(e.message));
  });
}

/** Awaited at the start of every test, so a missing broker fails each test with this message (never a skip). */
export async function requireBroker(hostPort = BROKERS[0]!, what = 'broker'): Promise<void> {
  const err = await tcpReachable(hostPort);
  if (err !== null) throw new Error(`No Kafka ${what} reachable at ${hostPort} (${err}). Start one with: bash scripts/kafka.sh start (or point NOWPIPE_KAFKA_BROKERS at one)`);
}

/**
 * Starts `setUp` in beforeAll but lets each test await it: a broker that cannot start fails
 * every test with its reason (a throwing beforeAll would only mark them skipped). Returns
 * `required` for the tests and `settled` for afterAll.
 */
export function setUpOnce(setUp: () => Promise<void>): { required: () => Promise<void>; settled: () => Promise<unknown> } {
  let ready: Promise<unknown> = Promise.resolve();
  beforeAll(() => {
    ready = setUp().then(
      () => undefined,
      (err: unknown) => err,
    );
  });
  return {
    required: async () => {
      const err: unknown = await ready;
      if (err instanceof Error) throw err;
      if (err) throw new Error(JSON.stringify(err));
    },
    settled: () => ready,
  };
}

function kafka(brokers = BROKERS, extra: Partial<KafkaConfig> = {}): KafkaType {
  return new Kafka({ clientId: 'nowpipe-kafka-test', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 5000, requestTimeout: 15000, ...extra });
}

export function uniqueTopic(what: string): string {
  return `nowpipe-test-${what}-${randomUUID().slice(0, 8)}`;
}

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>, brokers = BROKERS): Promise<T> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates a topic that keeps its records: the simulator's rows are weeks old and each record's
 * timestamp is its row's sys_updated_on, so under the broker's default retention (7 days, by
 * timestamp) the broker's retention check (every 5 minutes) would delete a test's records
 * between its run and its read. A test that wants retention says so in `configs`.
 */
export async function createTopic(topic: string, options: { partitions?: number; configs?: Record<string, string>; brokers?: string[] } = {}): Promise<void> {
  const configs = { 'retention.ms': '-1', ...options.configs };
  await withAdmin(async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: options.partitions ?? 1, replicationFactor: 1, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
    });
    if (!created) throw new Error(`topic ${topic} already exists`);
  }, options.brokers);
}

export async function topicExists(topic: string, brokers = BROKERS): Promise<boolean> {
  return withAdmin(async (admin) => (await admin.listTopics()).includes(topic), brokers);
}

export async function deleteTopics(topics: string[], brokers = BROKERS): Promise<void> {
  if (topics.length === 0) return;
  await withAdmin(async (admin) => {
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((t) => existing.has(t));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone });
  }, brokers).catch(() => undefined);
}

/** A record as read back: the shape nowpipe's own topic reader gives (src/kafka/tail.ts). */
export type Consumed = TailRecord;

/**
 * Each partition's offsets: where the log starts and ends now (kafkajs's admin asks as
 * read_committed: the end is the last stable offset, before any transaction still open).
 */
export async function endOffsets(topic: string, brokers = BROKERS): Promise<Map<number, { low: number; high: number }>> {
  const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic), brokers);
  return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
}

/**
 * Everything in the topic now (or from `from`'s offsets on), read back by a real consumer in its
 * own group, in offset order per partition: by default as read_committed (records of aborted
 * transactions left out), with `uncommitted` every record written (up to the end of the last
 * finished transaction).
 */
export async function readTopic(topic: string, options: { brokers?: string[]; from?: Map<number, { high: number }>; timeoutMs?: number; uncommitted?: boolean } = {}): Promise<Consumed[]> {
  const brokers = options.brokers ?? BROKERS;
  const ends = await endOffsets(topic, brokers);
  const start = (p: number) => options.from?.get(p)?.high ?? ends.get(p)!.low;
  const want = [...ends].filter(([p, o]) => o.high > start(p));
  const out: Consumed[] = [];
  if (want.length === 0) return out;
  const consumer = kafka(brokers).consumer({ groupId: `nowpipe-test-${randomUUID()}`, allowAutoTopicCreation: false, sessionTimeout: 10_000, readUncommitted: options.uncommitted === true });
  const next = new Map<number, number>();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`read ${out.length} messages of ${topic}, expected more within ${options.timeoutMs ?? 60_000} ms`)), options.timeoutMs ?? 60_000);
      const complete = () => want.every(([p, o]) => (next.get(p) ?? 0) >= o.high);
      // A transactional topic ends with a commit marker, which no message reaches: every batch
      // (also one of markers only) moves the position.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        next.set(payload.partition, Math.max(next.get(payload.partition) ?? 0, Number(payload.lastOffset) + 1));
        if (complete()) {
          clearTimeout(timer);
          done();
        }
      });
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const offset = Number(message.offset);
            next.set(partition, offset + 1);
            if (offset >= start(partition) && offset < ends.get(partition)!.high) {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
              out.push({ partition, offset, key: message.key?.toString() ?? null, value: message.value === null ? null : message.value.toString(), headers, timestamp: Number(message.timestamp) });
            }
            if (complete()) {
              clearTimeout(timer);
              done();
            }
          },
        })
        .catch(fail);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = net.createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => done(port));
    });
  });
}

/**
 * A broker of the test's own (scripts/kafka.sh with its own state folder and ports), for tests
 * that stop and restart one: the shared broker is never touched. Its jars are copied from the
 * shared broker's cache when there is one (no Maven run).
 */
export class OwnBroker {
  private constructor(
    readonly home: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(): Promise<OwnBroker> {
    const home = await mkdtemp(join(tmpdir(), 'nowpipe-kafka-own-'));
    if (existsSync(join(SHARED_HOME, 'libs', '.complete'))) cpSync(join(SHARED_HOME, 'libs'), join(home, 'libs'), { recursive: true });
    const [port, controller, sasl] = [await freePort(), await freePort(), await freePort()];
    const env = { ...process.env, NOWPIPE_KAFKA_HOME: home, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller), KAFKA_SASL_PORT: String(sasl), KAFKA_START_TIMEOUT: '180', KAFKA_HEAP_OPTS: '-Xms128m -Xmx384m' };
    return new OwnBroker(home, port, env);
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  private async script(command: 'start' | 'stop'): Promise<void> {
    try {
      await run('bash', [SCRIPT, command], { env: this.env, timeout: 240_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`bash scripts/kafka.sh ${command} (NOWPIPE_KAFKA_HOME=${this.home}) failed: ${e.stderr ?? e.message}`, { cause: err });
    }
  }

  start(): Promise<void> {
    return this.script('start');
  }

  stop(): Promise<void> {
    return this.script('stop');
  }

  /** Stops it and removes its folder. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.home, { recursive: true, force: true });
  }
}

/**
 * A broker with a SASL_SSL listener (PLAIN, user nowpipe), as Confluent Cloud offers one, signed
 * by a throwaway CA made here with keytool: scripts/kafka.sh has no TLS listener, so this runs
 * the same jars with its own server.properties. Inter-broker traffic stays on a PLAINTEXT port.
 */
export class TlsBroker {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    readonly home: string,
    readonly port: number,
    private readonly plainPort: number,
    readonly caFile: string,
  ) {}

  static async create(): Promise<TlsBroker> {
    const libs = join(SHARED_HOME, 'libs');
    if (!existsSync(join(libs, '.complete'))) throw new Error(`no Kafka jars in ${libs}: run bash scripts/kafka.sh start once to fetch them`);
    const home = await mkdtemp(join(tmpdir(), 'nowpipe-kafka-tls-'));
    const [port, plainPort, controllerPort] = [await freePort(), await freePort(), await freePort()];
    const ks = join(home, 'broker.p12');
    await run('keytool', ['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '2', '-dname', 'CN=127.0.0.1', '-ext', 'SAN=ip:127.0.0.1,dns:localhost', '-keystore', ks, '-storetype', 'PKCS12', '-storepass', 'changeit', '-keypass', 'changeit']);
    const caFile = join(home, 'ca.pem');
    await run('keytool', ['-exportcert', '-rfc', '-alias', 'broker', '-keystore', ks, '-storepass', 'changeit', '-file', caFile]);
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      'controller.listener.names=CONTROLLER',
      `listeners=PLAINTEXT://127.0.0.1:${plainPort},CONTROLLER://127.0.0.1:${controllerPort},SASL_SSL://127.0.0.1:${port}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${plainPort},SASL_SSL://127.0.0.1:${port}`,
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${join(home, 'data')}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'auto.create.topics.enable=false',
      'sasl.enabled.mechanisms=PLAIN',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${SASL_PASSWORD}";`,
      `ssl.keystore.location=${ks}`,
      'ssl.keystore.type=PKCS12',
      'ssl.keystore.password=changeit',
      'ssl.key.password=changeit',
    ];
    writeFileSync(join(home, 'server.properties'), `${props.join('\n')}\n`);
    writeFileSync(join(home, 'log4j.properties'), 'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n');
    const cp = `${libs}/*`;
    await run('java', ['-Xmx256m', '-cp', cp, `-Dlog4j.configuration=file:${join(home, 'log4j.properties')}`, 'kafka.tools.StorageTool', 'format', `--cluster-id=${randomBytes(16).toString('base64url')}`, '-c', join(home, 'server.properties')], { timeout: 120_000 });
    return new TlsBroker(home, port, plainPort, caFile);
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  async start(): Promise<void> {
    const child = spawn('java', ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-cp', `${join(SHARED_HOME, 'libs')}/*`, `-Dlog4j.configuration=file:${join(this.home, 'log4j.properties')}`, 'kafka.Kafka', join(this.home, 'server.properties')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`the TLS broker exited (${child.exitCode}):\n${this.output.slice(-3000)}`);
      if ((await tcpReachable(`127.0.0.1:${this.port}`, 500)) === null && (await tcpReachable(`127.0.0.1:${this.plainPort}`, 500)) === null) {
        // Listening is not serving: wait until a plain admin call answers.
        const ok = await withAdmin(async (a) => a.listTopics(), [`127.0.0.1:${this.plainPort}`]).then(
          () => true,
          () => false,
        );
        if (ok) return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the TLS broker did not start within 180 s:\n${this.output.slice(-3000)}`);
  }

  /** Topics are made over the PLAINTEXT port (no credentials needed). */
  get adminBrokers(): string[] {
    return [`127.0.0.1:${this.plainPort}`];
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.home, { recursive: true, force: true });
  }
}
