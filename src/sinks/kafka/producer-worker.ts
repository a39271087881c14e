/**
 * The kafkajs producer, on a worker thread: encoding a record batch in kafkajs (per-record
 * buffers, 64-bit Long arithmetic, a JavaScript CRC-32C) costs about as much CPU as reading the
 * rows from the instance, so it runs beside the reader instead of between its pages.
 * Speaks the messages of producer-link.ts; one request at a time, as the link sends them.
 */
import { parentPort } from 'node:worker_threads';
import kafkajs from 'kafkajs';
import type { ICustomPartitioner, KafkaConfig, Producer, ProducerConfig, TopicMessages } from 'kafkajs';
import { installKafkajsSpeedups } from './kafkajs-speedups.js';
import { keyPartitioner } from './partitioner.js';
import type { FromWorker, SerializedError, ToWorker } from './producer-link.js';

const { Kafka, CompressionTypes } = kafkajs;
installKafkajsSpeedups();
const port = parentPort!;
let producer: Producer | undefined;

function serialize(err: unknown, depth = 0): SerializedError {
  const e = (err ?? {}) as Record<string, unknown>;
  const out: SerializedError = { name: String(e.name ?? 'Error'), message: String(e.message ?? err) };
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

async function handle(m: ToWorker): Promise<void> {
  try {
    switch (m.type) {
      case 'connect': {
        const config: KafkaConfig = {
          ...m.kafka,
          logLevel: m.logLevel,
          logCreator: () => (entry) => post({ type: 'log', entry: { namespace: entry.namespace, level: entry.level, label: entry.label, log: { message: entry.log.message, broker: entry.log.broker, error: entry.log.error, retryCount: entry.log.retryCount } as never } }),
        };
        const options: ProducerConfig = { ...m.producer, createPartitioner: keyPartitioner as unknown as ICustomPartitioner };
        producer = new Kafka(config).producer(options);
        await producer.connect();
        post({ type: 'done', id: m.id });
        break;
      }
      case 'send':
        for (let i = 0; i < m.requests.length; i++) {
          try {
            await producer!.sendBatch({
              topicMessages: m.requests[i] as TopicMessages[],
              acks: m.acks,
              timeout: m.timeout,
              compression: m.gzip ? CompressionTypes.GZIP : CompressionTypes.None,
            });
          } catch (err) {
            post({ type: 'failed', id: m.id, error: serialize(err), request: i });
            return;
          }
        }
        post({ type: 'done', id: m.id });
        break;
      case 'close':
        await producer?.disconnect();
        post({ type: 'done', id: m.id });
        break;
    }
  } catch (err) {
    post({ type: 'failed', id: m.id, error: serialize(err) });
  }
}
