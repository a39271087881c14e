/**
 * The kafkajs producers, on a worker thread: encoding a record batch in kafkajs (per-record
 * buffers, 64-bit Long arithmetic, a JavaScript CRC-32C) costs about as much CPU as reading the
 * rows from the instance, so it runs beside the reader instead of between its pages.
 * Speaks the messages of producer-link.ts; each producer sends one request at a time, as the
 * link sends them.
 */
import { parentPort } from 'node:worker_threads';
import kafkajs from 'kafkajs';
import type { KafkaConfig, Producer, ProducerConfig, Transaction } from 'kafkajs';
import { installKafkajsSpeedups } from './kafkajs-speedups.js';
import { keyPartitioner } from './partitioner.js';
import type { FromWorker, Landed, SerializedError, ToWorker } from './producer-link.js';

const { Kafka, CompressionTypes } = kafkajs;
installKafkajsSpeedups();
const port = parentPort!;

interface Named {
  producer: Producer;
  transactional: boolean;
  /** The open transaction of a transactional producer. */
  transaction?: Transaction;
}
const producers = new Map<string, Named>();

function serialize(err: unknown, depth = 0): SerializedError {
  const e = (err ?? {}) as Record<string, unknown>;
  const text = (v: unknown, otherwise: string) => (typeof v === 'string' ? v : v === undefined || v === null ? otherwise : JSON.stringify(v));
  const out: SerializedError = { name: text(e.name, 'Error'), message: text(e.message, text(err, '')) };
  for (const k of ['type', 'code', 'retriable', 'topic', 'broker'] as const) {
    if (e[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = e[k];
  }
  if (depth < 5 && e.cause !== undefined && e.cause !== err) out.cause = serialize(e.cause, depth + 1);
  if (depth < 5 && Array.isArray(e.errors)) out.errors = e.errors.slice(0, 3).map((x) => serialize(x, depth + 1));
  return out;
}

const post = (m: FromWorker) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  void handle(m);
});

function named(name: string): Named {
  const p = producers.get(name);
  if (!p) throw new Error(`no Kafka producer "${name}" on the producer thread`);
  return p;
}

async function handle(m: ToWorker): Promise<void> {
  try {
    switch (m.type) {
      case 'connect': {
        const config: KafkaConfig = {
          ...m.kafka,
          logLevel: m.logLevel,
          logCreator: () => (entry) => post({ type: 'log', entry: { namespace: entry.namespace, level: entry.level, label: entry.label, log: { message: entry.log.message, broker: entry.log.broker as string | undefined, error: entry.log.error as string | undefined, retryCount: entry.log.retryCount as number | undefined } } }),
        };
        const options: ProducerConfig = { ...m.config, createPartitioner: keyPartitioner };
        const producer = new Kafka(config).producer(options);
        await producer.connect();
        const transactional = m.config.transactionalId !== undefined;
        if (transactional) {
          // InitProducerId with the transactional id, now rather than at the first write: it
          // fences older producers of the id and aborts what they left open. An empty
          // transaction sends nothing else.
          await (await producer.transaction()).abort();
        }
        producers.set(m.producer, { producer, transactional });
        post({ type: 'done', id: m.id });
        break;
      }
      case 'send': {
        const p = named(m.producer);
        if (p.transactional) p.transaction ??= await p.producer.transaction();
        const target = p.transaction ?? p.producer;
        let landed: Landed = [];
        for (let i = 0; i < m.requests.length; i++) {
          try {
            const meta = await target.sendBatch({
              topicMessages: m.requests[i],
              acks: m.acks,
              timeout: m.timeout,
              compression: m.gzip ? CompressionTypes.GZIP : CompressionTypes.None,
            });
            landed = meta.map((r) => ({ topic: r.topicName, partition: r.partition, offset: Number(r.baseOffset ?? r.offset ?? -1) }));
          } catch (err) {
            post({ type: 'failed', id: m.id, error: serialize(err), request: i });
            return;
          }
        }
        post({ type: 'done', id: m.id, landed });
        break;
      }
      case 'commit':
      case 'abort': {
        const p = named(m.producer);
        const transaction = p.transaction;
        p.transaction = undefined;
        if (transaction?.isActive()) await (m.type === 'commit' ? transaction.commit() : transaction.abort());
        post({ type: 'done', id: m.id });
        break;
      }
      case 'disconnect': {
        const p = producers.get(m.producer);
        producers.delete(m.producer);
        await p?.producer.disconnect();
        post({ type: 'done', id: m.id });
        break;
      }
      case 'close':
        await Promise.all([...producers.values()].map((p) => p.producer.disconnect()));
        producers.clear();
        post({ type: 'done', id: m.id });
        break;
    }
  } catch (err) {
    post({ type: 'failed', id: m.id, error: serialize(err) });
  }
}
