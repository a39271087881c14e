import { Worker } from 'node:worker_threads';
import type { KafkaConfig, ProducerConfig } from 'kafkajs';
import type { KafkaLogs } from './logs.js';

/** A kafkajs error as it crosses the thread boundary (rebuilt as an Error for errors.ts). */
export interface SerializedError {
  name: string;
  message: string;
  type?: string;
  code?: string | number;
  retriable?: boolean;
  topic?: string;
  broker?: string;
  cause?: SerializedError;
  errors?: SerializedError[];
}

/** A message as the worker hands it to kafkajs. */
export interface WireMessage {
  /** Set when the writer chooses (the state topic); otherwise from the key. */
  partition?: number;
  key: string;
  value: string | null;
  headers: Record<string, string>;
  timestamp?: string;
}

/** One produce request: messages grouped by topic, in order. */
export type ProduceRequest = Array<{ topic: string; messages: WireMessage[] }>;

/** A send that failed at one of its requests. */
export class RequestFailed extends Error {
  constructor(
    readonly request: number,
    readonly error: Error,
  ) {
    super(error.message, { cause: error });
    this.name = 'RequestFailed';
  }
}

/** Each producer of the worker has a name: `data` (the sink's), `state`, `tx:<table>`. */
export type ToWorker =
  | { type: 'connect'; id: number; producer: string; kafka: Omit<KafkaConfig, 'logCreator' | 'logLevel'>; config: Omit<ProducerConfig, 'createPartitioner'>; logLevel: number }
  | { type: 'send'; id: number; producer: string; requests: ProduceRequest[]; acks: number; timeout: number; gzip: boolean }
  /** Ends the producer's open transaction (one is begun by the first send after the last end). */
  | { type: 'commit' | 'abort'; id: number; producer: string }
  | { type: 'disconnect'; id: number; producer: string }
  | { type: 'close'; id: number };

/** Where a send's last request landed: the first offset written in each partition. */
export type Landed = Array<{ topic: string; partition: number; offset: number }>;

export type FromWorker =
  | { type: 'done'; id: number; landed?: Landed }
  /** `request`: which of a send's requests failed (the ones before it were acknowledged). */
  | { type: 'failed'; id: number; error: SerializedError; request?: number }
  | { type: 'log'; entry: Parameters<ReturnType<KafkaLogs['creator']>>[0] };

function revive(s: SerializedError): Error {
  const e = new Error(s.message) as Error & Record<string, unknown>;
  e.name = s.name;
  for (const k of ['type', 'code', 'retriable', 'topic', 'broker'] as const) if (s[k] !== undefined) e[k] = s[k];
  if (s.cause) e.cause = revive(s.cause);
  if (s.errors) e.errors = s.errors.map(revive);
  return e;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * The main thread's end of the producer worker: each call is one message to the worker and
 * resolves (or rejects with the kafkajs error, rebuilt) when the worker has finished it. The
 * worker holds named producers: the sink's, the state store's, and with --exactly-once one
 * transactional producer per table.
 */
export class ProducerLink {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (landed: Landed) => void; reject: (err: Error) => void }>();
  private nextId = 1;
  private exited?: Error;

  constructor(logs: KafkaLogs) {
    this.worker = new Worker(new URL('./producer-worker.js', import.meta.url));
    const log = logs.creator();
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'log') return log(m.entry);
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'done') p.resolve(m.landed ?? []);
      else p.reject(m.request === undefined ? revive(m.error) : new RequestFailed(m.request, revive(m.error)));
    });
    const fail = (err: Error) => {
      this.exited = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the Kafka producer thread exited (code ${code})`)));
  }

  private call(message: Distribute<ToWorker>): Promise<Landed> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<Landed>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  /**
   * Connects a producer under a name. A transactional one (`config.transactionalId`) also
   * initialises its transactions now: that fences every older producer with the same id and
   * aborts the transaction it left open.
   */
  async connect(kafka: Omit<KafkaConfig, 'logCreator' | 'logLevel'>, config: Omit<ProducerConfig, 'createPartitioner'>, logLevel: number, producer = 'data'): Promise<void> {
    await this.call({ type: 'connect', producer, kafka, config, logLevel });
  }

  /**
   * Produce requests, sent one after the other by the worker (it does not wait for this thread
   * between them). Rejects with RequestFailed naming the first request that failed. On a
   * transactional producer they join its open transaction (begun if none is). Resolves with
   * where the last request's records landed.
   */
  send(requests: ProduceRequest[], acks: number, timeout: number, gzip: boolean, producer = 'data'): Promise<Landed> {
    return this.call({ type: 'send', producer, requests, acks, timeout, gzip });
  }

  /** Commits (or aborts) a transactional producer's open transaction; nothing when none is open. */
  async end(producer: string, how: 'commit' | 'abort'): Promise<void> {
    await this.call({ type: how, producer });
  }

  /** Disconnects one producer (the thread and the others go on). */
  async disconnect(producer: string): Promise<void> {
    await this.call({ type: 'disconnect', producer });
  }

  /** Disconnects every producer (bounded by the caller) and ends the thread. */
  async close(): Promise<void> {
    try {
      await this.call({ type: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }

  /** Ends the thread at once (a failed open, a timed-out close). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
