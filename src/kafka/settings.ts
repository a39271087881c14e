/** The SASL mechanisms kafkajs speaks without plug-ins. */
export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/**
 * kafkajs's retry settings, for the producer and the cluster alike. The defaults give a broker
 * about two minutes to come back (300 ms doubling to 30 s between attempts: 0.3 + 0.6 + … +
 * 30 + 30 + 30 ≈ 128 s) before a write fails and the run exits 1.
 */
export interface KafkaRetryPolicy {
  retries: number;
  initialRetryTimeMs: number;
  maxRetryTimeMs: number;
  multiplier: number;
  /** Randomisation of each delay (±20 %). */
  factor: number;
}

export const DEFAULT_KAFKA_RETRY: KafkaRetryPolicy = { retries: 10, initialRetryTimeMs: 300, maxRetryTimeMs: 30_000, multiplier: 2, factor: 0.2 };

/** The longest the retries of one write may wait in total, by the policy's own schedule. */
export function retryScheduleMs(p: KafkaRetryPolicy): number {
  let total = 0;
  let delay = p.initialRetryTimeMs;
  for (let i = 0; i < p.retries; i++) {
    total += Math.min(delay * (1 + p.factor), p.maxRetryTimeMs);
    delay = Math.min(delay * p.multiplier, p.maxRetryTimeMs);
  }
  return Math.round(total);
}

export const KAFKA_TIMEOUTS = {
  /** TCP (+ TLS) connect to one broker. */
  connectMs: 10_000,
  /** SASL handshake. */
  authenticationMs: 10_000,
  /** One request, and the broker's wait for the in-sync replicas on a produce. */
  requestMs: 30_000,
  /** The whole health check at open: reach, authenticate, find or create the topics. */
  healthCheckMs: 45_000,
  /** Disconnecting at close. */
  closeMs: 10_000,
};

/** How to reach a Kafka cluster: what the sink and the state store share. */
export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  tls?: { caFile?: string };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  retry: KafkaRetryPolicy;
}
