import { FileCheckpointStore } from '../checkpoint/store.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { KafkaState } from '../checkpoint/kafka/state.js';
import { parseBroker, resolveSecurity } from '../config/kafka-rules.js';
import type { Config } from '../config/schema.js';
import { DEFAULT_STATE_TOPIC, stateBrokers } from '../config/state-rules.js';
import { DEFAULT_KAFKA_RETRY, type KafkaConnection } from '../kafka/settings.js';
import type { Reporter } from '../ui/reporter.js';

/** What a run needs of its checkpoint store: the file's, or the one in Kafka. */
export type RunStore = CheckpointStore & {
  /** Aborted when another run took the checkpoint (or a table's lease) over. */
  readonly lost: AbortSignal;
  /** For a forced exit that cannot await. */
  releaseLockSync(): void;
};

/** How to reach the state topic's brokers: --state-brokers or --brokers, with the --kafka-* credentials. */
export function stateConnection(config: Config): KafkaConnection {
  const { security } = resolveSecurity({ ...config, sink: 'kafka', table: config.tableNames, tables: config.tableSettings });
  return {
    brokers: stateBrokers(config).map((b) => parseBroker(b) ?? b),
    clientId: config.kafkaClientId,
    tls: security.tls ? { caFile: config.kafkaCa } : undefined,
    sasl: security.sasl,
    retry: { ...DEFAULT_KAFKA_RETRY, retries: config.kafkaRetries },
  };
}

/**
 * The run's connection to the state topic. The Kafka sink of --exactly-once sends through its
 * transactional producers, so the sink and the store of one run (one config) share it.
 */
const states = new WeakMap<Config, KafkaState>();

export async function kafkaStateFor(config: Config, reporter: Reporter): Promise<KafkaState> {
  let state = states.get(config);
  if (!state) {
    const { KafkaState } = await import('../checkpoint/kafka/state.js');
    state = new KafkaState({
      connection: stateConnection(config),
      topic: config.stateTopic ?? DEFAULT_STATE_TOPIC,
      staleAfterMs: config.lockStaleAfter * 1000,
      exactlyOnce: config.exactlyOnce,
      notices: reporter,
    });
    states.set(config, state);
  }
  return state;
}

/** The checkpoint store of a run: the --checkpoint file, or (--state kafka) the state topic. */
export async function buildStore(config: Config, reporter: Reporter): Promise<RunStore> {
  const lease = { staleAfterMs: config.lockStaleAfter * 1000, onTakeover: (m: string) => reporter.warn(m) };
  if (config.state !== 'kafka') return new FileCheckpointStore(config.checkpoint, lease);
  const { KafkaCheckpointStore } = await import('../checkpoint/kafka/store.js');
  return new KafkaCheckpointStore({
    state: await kafkaStateFor(config, reporter),
    ownsState: true,
    instance: config.url,
    tables: config.tableNames,
    staleAfterMs: lease.staleAfterMs,
    wait: false,
    onTakeover: lease.onTakeover,
  });
}
