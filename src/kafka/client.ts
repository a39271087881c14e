import { readFile } from 'node:fs/promises';
import type { KafkaConfig, RetryOptions, SASLOptions } from 'kafkajs';
import { CheckpointError, ConfigError, SinkError } from '../errors/index.js';
import { probeKafka } from './probe.js';
import { KAFKA_TIMEOUTS, type KafkaConnection, type KafkaRetryPolicy } from './settings.js';

/** The retries of a health check: enough for a blip, short enough to answer within seconds. */
export const CHECK_RETRY: KafkaRetryPolicy = { retries: 2, initialRetryTimeMs: 300, maxRetryTimeMs: 1_000, multiplier: 2, factor: 0.2 };

export function retryOptions(p: KafkaRetryPolicy): RetryOptions {
  return { retries: p.retries, initialRetryTime: p.initialRetryTimeMs, maxRetryTime: p.maxRetryTimeMs, multiplier: p.multiplier, factor: p.factor };
}

/** Rejects with `onTimeout()` if `work` has not settled within `ms`. */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export type ClientConfig = Omit<KafkaConfig, 'logCreator' | 'logLevel'>;

/** The kafkajs client settings of a connection (the CA file read here: unreadable is exit 2). */
export async function clientConfig(c: KafkaConnection, retry: KafkaRetryPolicy, caSetting = 'kafkaCa'): Promise<ClientConfig> {
  let ssl: KafkaConfig['ssl'];
  if (c.tls) {
    if (c.tls.caFile === undefined) ssl = true;
    else {
      try {
        ssl = { ca: [await readFile(c.tls.caFile, 'utf8')] };
      } catch (err) {
        throw new ConfigError(`${caSetting}: cannot read ${c.tls.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
  }
  return {
    clientId: c.clientId,
    brokers: c.brokers,
    ssl,
    // A copy each time: kafkajs adds its authenticator to the object it is given.
    sasl: c.sasl ? ({ ...c.sasl } as SASLOptions) : undefined,
    connectionTimeout: KAFKA_TIMEOUTS.connectMs,
    authenticationTimeout: KAFKA_TIMEOUTS.authenticationMs,
    requestTimeout: KAFKA_TIMEOUTS.requestMs,
    retry: retryOptions(retry),
  };
}

/**
 * Each bootstrap address answers as a Kafka broker does (see probe.ts), before kafkajs reads
 * from it. `subject` says whose brokers they are in the message.
 */
export async function requireKafka(c: KafkaConnection, ssl: KafkaConfig['ssl'], subject: 'sink' | 'state'): Promise<void> {
  const tls = ssl === true ? {} : ssl || undefined;
  const verdicts = await Promise.all(c.brokers.map(async (address) => ({ address, verdict: await probeKafka(address, { tls, clientId: c.clientId, timeoutMs: KAFKA_TIMEOUTS.connectMs }) })));
  for (const { address, verdict } of verdicts) {
    if (verdict.kind !== 'not-kafka') continue;
    const flag = subject === 'state' ? '--state-brokers (or --brokers)' : '--brokers';
    const message = `kafka ${subject}: ${address} does not speak Kafka: ${verdict.answer}`;
    const hint = `check ${flag}: the host:port of a Kafka listener (not a web or other service)${tls ? '' : '; a TLS listener needs --kafka-tls'}`;
    throw subject === 'state' ? new CheckpointError(message, { exitCode: 1, hint }) : new SinkError(message, { hint });
  }
}
