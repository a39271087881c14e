// Smoke test for the local single-node Kafka broker started by `bash scripts/kafka.sh start`.
// It never skips: when no broker is reachable every test fails with a message saying how to start one.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka as KafkaType, KafkaConfig, Producer, SASLOptions } from 'kafkajs';
import { BROKERS, requireBroker, SASL_BROKER, SASL_PASSWORD, SASL_USER } from './helpers.js';

const { Kafka, logLevel } = kafkajs;

function client(config: Partial<KafkaConfig> & { brokers: string[] }): KafkaType {
  return new Kafka({
    clientId: 'nowpipe-broker-test',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 10000,
    ...config,
  });
}

describe('local Kafka broker (PLAINTEXT)', () => {
  const kafka = client({ brokers: BROKERS });
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  const topic = `nowpipe-smoke-${randomUUID()}`;

  afterAll(async () => {
    await consumer?.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    if (admin) {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  });

  it('creates a topic, produces and consumes one message', async () => {
    await requireBroker(BROKERS[0], 'broker');
    admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toContain(topic);

    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const value = JSON.stringify({ sys_id: randomUUID(), at: new Date().toISOString() });
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value }] });
    expect(meta?.errorCode).toBe(0);

    consumer = kafka.consumer({ groupId: `nowpipe-smoke-${randomUUID()}`, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received = await new Promise<{ key: string | undefined; value: string | undefined }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message consumed from ${topic} within 30 s`)), 30_000);
      consumer!
        .run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: message.key?.toString(), value: message.value?.toString() });
          },
        })
        .catch(reject);
    });
    expect(received).toEqual({ key: 'k1', value });
  }, 60_000);
});

describe('local Kafka broker (SASL_PLAINTEXT)', () => {
  const saslClient = (sasl: SASLOptions) =>
    client({ brokers: [SASL_BROKER], sasl, retry: { retries: 0 } });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    'accepts %s with nowpipe/nowpipe-secret',
    async (mechanism) => {
      await requireBroker(SASL_BROKER, 'SASL listener');
      const admin = saslClient({ mechanism, username: SASL_USER, password: SASL_PASSWORD }).admin();
      try {
        await admin.connect();
        expect(Array.isArray(await admin.listTopics())).toBe(true);
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
    30_000,
  );

  it.each(['plain', 'scram-sha-256'] as const)('rejects %s with a wrong password', async (mechanism) => {
    await requireBroker(SASL_BROKER, 'SASL listener');
    const admin = saslClient({ mechanism, username: SASL_USER, password: 'wrong-password' }).admin();
    try {
      await expect(admin.connect()).rejects.toMatchObject({
        name: 'KafkaJSSASLAuthenticationError',
      });
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }, 30_000);
});
