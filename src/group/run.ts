import kafkajs from 'kafkajs';
import type { Admin, Consumer } from 'kafkajs';
import { KafkaCheckpointStore } from '../checkpoint/kafka/store.js';
import { freshProgress } from '../checkpoint/progress.js';
import type { KafkaState } from '../checkpoint/kafka/state.js';
import { ConfigError } from '../errors/index.js';
import { clientConfig } from '../kafka/client.js';
import { kafkaError, type KafkaErrorContext } from '../kafka/errors.js';
import { KafkaLogs, type KafkaNotices } from '../kafka/logs.js';
import type { KafkaConnection } from '../kafka/settings.js';
import { serialSink, type RunResult } from '../pipeline/run.js';
import { runTable, type RunDeps, type TableJob, type TableOutcome } from '../pipeline/table-run.js';
import { stickyTablesAssigner, tablesByPartition } from './assign.js';
import { checkGroupTables } from './descriptor.js';

/** A table's outcome once its lease is released: another member may hold it, so it is never moved back. */
const nothingToRewind = (): Promise<undefined> => Promise.resolve(undefined);

const { Kafka } = kafkajs;

export interface GroupOptions {
  group: string;
  /** The topic the group shares the tables through (one partition per table). */
  assignTopic: string;
  connection: KafkaConnection;
  /** The state topic's connection, open; each table the member runs gets a store on it. */
  state: KafkaState;
  instance: string;
  /** A member not heard from for this long loses its tables (the consumer group's session timeout). */
  sessionTimeoutMs: number;
  notices: KafkaNotices;
  /** Told the tables this member runs whenever they change (its health watches only those). */
  onRunning?: (tables: string[]) => void;
}

/** The brokers refuse session timeouts below their group.min.session.timeout.ms (6 s by default). */
const MIN_SESSION_MS = 6_000;
const MAX_SESSION_MS = 300_000;

interface Running {
  table: string;
  stop: AbortController;
  outcome: Promise<unknown>;
}

/**
 * A member of a group of processes sharing the tables (--group). The tables map onto the
 * partitions of an assignment topic, and each member is a kafkajs consumer of it in the group:
 * the group coordinator decides which member runs which table, and moves a dead member's tables
 * to the others once its session times out. nowpipe elects nothing and sends no heartbeat of
 * its own; kafkajs does.
 *
 * On each new assignment the member stops the tables it lost (gracefully: the write in flight
 * committed, the position saved, the lease released) and starts those it gained, each resuming
 * from the state topic. Tables it keeps run on through the rebalance. A table is never run by
 * two members at once, whatever the order in which members learn of a rebalance: a member
 * starts a table only once it holds the table's lease (the same lease a single run takes),
 * which the previous member releases after its last save — or which runs out, if it died.
 *
 * Runs until `signal` (a stop) or a table fails; the sink is closed before it returns.
 */
export async function runGroup(jobs: readonly TableJob[], deps: Omit<RunDeps, 'store'>, options: GroupOptions): Promise<RunResult> {
  const byPartition = tablesByPartition(jobs.map((j) => j.scope.table));
  const jobOf = new Map(jobs.map((j) => [j.scope.table, j]));
  const sessionTimeout = Math.min(MAX_SESSION_MS, Math.max(MIN_SESSION_MS, options.sessionTimeoutMs));
  const config = await clientConfig(options.connection, options.connection.retry);
  const logs = new KafkaLogs(options.notices, 0); // the consumer speaks with --verbose only
  const kafka = new Kafka({ ...config, logLevel: logs.level, logCreator: logs.creator });
  const context = (action: KafkaErrorContext['action']): KafkaErrorContext => ({ ...options.state.context(action), topic: options.assignTopic });

  const admin = kafka.admin();
  await admin.connect().catch((err: unknown) => {
    throw kafkaError(err, context('connect'));
  });
  try {
    await ensureAssignTopic(admin, options.assignTopic, byPartition.length, context);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  await checkGroupTables(options.state, options.group, byPartition);

  const sink = serialSink(deps.sink);
  await sink.open();
  const running = new Map<string, Running>();
  const outcomes = new Map<string, TableOutcome>();
  const failures: TableOutcome[] = [];
  const member = new AbortController();
  const onStop = () => member.abort(deps.signal.reason);
  deps.signal.addEventListener('abort', onStop, { once: true });

  const told = () => options.onRunning?.([...running.keys()].sort());
  told();

  const start = (table: string) => {
    const job = jobOf.get(table)!;
    const stop = new AbortController();
    const signal = AbortSignal.any([member.signal, stop.signal]);
    const outcome = (async (): Promise<TableOutcome & { ran: boolean }> => {
      const store = new KafkaCheckpointStore({ state: options.state, ownsState: false, instance: options.instance, tables: [table], staleAfterMs: options.state.staleAfterMs, wait: true, signal });
      try {
        // Waits while the member that ran the table before still holds it (it is stopping).
        await store.open({ reset: false });
      } catch (error) {
        await store.close();
        return { table, progress: freshProgress(job.scope, job.since), saved: false, error: signal.aborted ? undefined : error, ran: false, rewind: nothingToRewind };
      }
      deps.events.emit({ type: 'info', table, message: `group ${options.group}: this member runs ${table}` });
      try {
        const o = await runTable(job, { ...deps, sink, store, signal: AbortSignal.any([signal, store.lost]) });
        // The output's reader went away (a log shipper restarting): move the table back before
        // what it may not have read, while this member still holds it (see runTables).
        if (sink.pipe?.closed()) await o.rewind();
        // The table's lease lost to another member (this one stalled) is a failure, not a stop:
        // the member ends and the group moves its tables, rather than leave this one unread.
        const lost = store.lost.aborted && !signal.aborted ? (store.lost.reason as unknown) : undefined;
        return { ...o, error: o.error ?? lost, ran: true, rewind: nothingToRewind };
      } finally {
        await store.close();
      }
    })().then((o) => {
      running.delete(table);
      told();
      if (o.ran) outcomes.set(table, o);
      // A failure (not a stop) ends the member: its tables go to the others.
      if (o.error !== undefined) {
        failures.push(o);
        member.abort(o.error);
      }
      return o;
    });
    running.set(table, { table, stop, outcome });
    told();
  };

  /** Stops what the member lost and starts what it gained; one reconciliation at a time. */
  let reconciling: Promise<void> = Promise.resolve();
  const reconcile = (assigned: string[]) => {
    reconciling = reconciling.then(async () => {
      if (member.signal.aborted) return;
      const lost = [...running.values()].filter((r) => !assigned.includes(r.table));
      for (const r of lost) r.stop.abort(new DOMException('the table moved to another member', 'AbortError'));
      await Promise.all(lost.map((r) => r.outcome));
      for (const r of lost) deps.events.emit({ type: 'info', table: r.table, message: `group ${options.group}: ${r.table} moved to another member` });
      for (const table of assigned) if (!running.has(table) && !member.signal.aborted) start(table);
    });
  };

  const consumer: Consumer = kafka.consumer({
    groupId: options.group,
    sessionTimeout,
    rebalanceTimeout: 2 * sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 6)),
    // The assignment topic stays empty: a fetch only waits, and the member heartbeats between.
    maxWaitTimeInMs: Math.min(1_000, Math.floor(sessionTimeout / 6)),
    allowAutoTopicCreation: false,
    partitionAssigners: [stickyTablesAssigner(() => [...running.keys()].map((t) => byPartition.indexOf(t)))],
  });
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const partitions = payload.memberAssignment[options.assignTopic] ?? [];
    reconcile(partitions.map((p) => byPartition[p]!).filter(Boolean));
  });
  const groupFailed = (err: unknown) => {
    const error = kafkaError(err, context('connect'));
    if (failures.length === 0) failures.push({ table: options.group, progress: freshProgress(jobs[0]!.scope, jobs[0]!.since), saved: false, error, rewind: nothingToRewind });
    member.abort(error);
  };
  // kafkajs resolves consumer.run() even when joining the group fails for good (no READ on the
  // group, another protocol under the same group id): it reports a crash it will not restart
  // from. The member then has no tables and never will: a failure, not a clean end.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart && !member.signal.aborted) groupFailed(payload.error);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [options.assignTopic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    await new Promise<void>((resolve) => {
      if (member.signal.aborted) resolve();
      member.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (err) {
    groupFailed(err);
  } finally {
    deps.signal.removeEventListener('abort', onStop);
    // Leave the group only once every table is stopped and released: the others then take them at once.
    await reconciling.catch(() => undefined);
    await Promise.all([...running.values()].map((r) => r.outcome));
    await consumer.disconnect().catch(() => undefined);
    await sink.close();
  }
  return { tables: [...outcomes.values()], failures };
}

/** The assignment topic: created with a partition per table, or refused when it has another count (exit 2). */
async function ensureAssignTopic(admin: Admin, topic: string, partitions: number, context: (a: KafkaErrorContext['action']) => KafkaErrorContext): Promise<void> {
  const existing = await admin.listTopics().catch((err: unknown) => {
    throw kafkaError(err, context('check'));
  });
  if (!existing.includes(topic)) {
    await admin
      .createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }] })
      .catch((err: unknown) => {
        if ((err as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return;
        throw kafkaError(err, context('create'));
      });
    return;
  }
  const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch((err: unknown) => {
    throw kafkaError(err, context('check'));
  });
  const count = meta.topics[0]?.partitions.length ?? 0;
  if (count !== partitions) {
    throw new ConfigError(`--group: topic ${topic} has ${count} partitions, one per table of the group; this process was started with ${partitions} tables`, {
      hint: 'start every member with the same --table list, or use another --group name (or delete the topic to change the group\'s tables)',
    });
  }
}
