import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CheckpointError, LockError } from '../../errors/index.js';
import { withDeadline } from '../../kafka/client.js';
import { kafkaError } from '../../kafka/errors.js';
import { KAFKA_TIMEOUTS } from '../../kafka/settings.js';
import { transactionalId } from '../../kafka/transactions.js';
import { alive } from '../lock-file.js';
import type { Scope, TableProgress } from '../progress.js';
import { checkScope, parseCheckpoint, type CheckpointStore } from '../store.js';
import type { Holder, LeaseRecord } from './lease.js';
import { leaseMessage, progressKey, progressMessage } from './records.js';
import type { KafkaState } from './state.js';

export interface KafkaStoreOptions {
  state: KafkaState;
  /** Whether this store opens and closes the state (a run's one store) or shares it (a group's). */
  ownsState: boolean;
  instance: string;
  tables: readonly string[];
  staleAfterMs: number;
  /** A table held by another live run: wait for it (a group member) instead of refusing (exit 1). */
  wait: boolean;
  /** Ends a wait (the member lost the table's assignment meanwhile, or is stopping). */
  signal?: AbortSignal;
  /** Told when a lease left by a run that is gone is taken over. */
  onTakeover?: (message: string) => void;
}

interface Held {
  table: string;
  key: string;
  partition: number;
  /** Where our first `held` record landed: another's `held` after it means we lost the table. */
  heldAt: number;
  /** performance.now() when the last renewal that was acknowledged was sent. */
  renewedAt: number;
}

const agoText = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s ago`;

/**
 * The checkpoint kept in a compacted Kafka topic (--state kafka): each table's progress is a
 * record keyed by instance and table, so a run started anywhere — a container with an empty
 * folder — resumes where the last one stopped. It holds the same JSON as the checkpoint file,
 * validated the same way, with the same fingerprint rule.
 *
 * Two runs never export the same table at once: each table has a lease in the same topic
 * (lease.ts), taken at open, renewed every few seconds and released at close. A second run is
 * refused (exit 1) while the lease lives, or waits for it in a group. A lease left by a run that
 * died is taken over at once on its own host (its pid is gone), else once it is older than
 * --lock-stale-after. A holder that could not renew for that long, or sees another run take the
 * table, stops before its next save (`lost`).
 *
 * With --exactly-once each table's checkpoint record commits the transaction its records are in
 * (kafka/transactions.ts); its producer is started once the lease is won, which fences every
 * older producer of the table and aborts what it left open.
 */
export class KafkaCheckpointStore implements CheckpointStore {
  readonly where: string;
  private readonly held = new Map<string, Held>();
  private readonly loaded = new Map<string, TableProgress | undefined>();
  private readonly savedTables = new Set<string>();
  private readonly lostController = new AbortController();
  /** Aborted (with the LockError as reason) when a table's lease is lost. */
  readonly lost: AbortSignal = this.lostController.signal;
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;
  /** The renewal in flight (one at a time). */
  private renewing?: Promise<void>;

  constructor(private readonly options: KafkaStoreOptions) {
    this.where = options.state.where;
  }

  private get state(): KafkaState {
    return this.options.state;
  }

  private keyOf(table: string): string {
    return progressKey(this.options.instance, table);
  }

  async open(options: { reset: boolean }): Promise<void> {
    if (this.options.ownsState) await this.state.open();
    try {
      const unwatch = this.state.book.onRecord((key, record, offset, effective) => effective && this.watch(key, record, offset));
      const onCrash = () => this.lose([...this.held.values()], `the state topic can no longer be read (${(this.state.crashed.reason as Error)?.message})`);
      this.state.crashed.addEventListener('abort', onCrash, { once: true });
      this.unlisten = () => {
        unwatch();
        this.state.crashed.removeEventListener('abort', onCrash);
      };
      const won = await Promise.allSettled(this.options.tables.map((t) => this.acquire(t)));
      const refused = won.find((w): w is PromiseRejectedResult => w.status === 'rejected');
      if (refused) throw refused.reason;
      this.timer = setInterval(() => void this.renew(), Math.max(100, Math.min(5_000, Math.floor(this.options.staleAfterMs / 6))));
      this.timer.unref();
      for (const h of this.held.values()) {
        // Read the table's last checkpoint once every transaction that could still commit one
        // has ended. Without transactions, that is every record before our `held`. With them, an
        // older producer of the table (a zombie) is fenced only when ours opened, after `held`: a
        // commit of its could land between the two, so read up to a mark written after the fence.
        const upTo = this.state.transactions ? await this.state.mark(h.partition, h.table) : h.heldAt;
        await this.state.committedPassed(h.partition, upTo, this.options.signal);
        if (options.reset) {
          await this.state.write(progressMessage(h.key, h.partition, null)).catch((err: unknown) => {
            throw kafkaError(err, this.state.context('write', h.table));
          });
          this.loaded.set(h.table, undefined);
        } else {
          this.loaded.set(h.table, this.parse(h.table, this.state.progressOf(h.key)));
          if (this.loaded.get(h.table)) this.savedTables.add(h.table);
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private parse(table: string, text: string | null | undefined): TableProgress | undefined {
    if (text === undefined || text === null) return undefined;
    const file = parseCheckpoint(`in ${this.where} (key ${this.keyOf(table)})`, text);
    return file.tables[table];
  }

  /** Wins the table's lease: claim, read up to the claim, and hold it if the claim was accepted. */
  private async acquire(table: string): Promise<void> {
    const key = this.keyOf(table);
    const partition = this.state.partitionOf(key);
    const me = this.state.me;
    let gone: string[] = [];
    let takeover: string | undefined;
    for (let attempt = 1; ; attempt++) {
      this.options.signal?.throwIfAborted();
      if (attempt > 100) throw new LockError(`could not take the lease on ${table} in ${this.where}: other runs keep contending for it`);
      const claim = await this.writeLease(key, partition, { type: 'claim', ...me, gone: gone.length > 0 ? gone : undefined }, table);
      await this.state.leasesPassed(partition, claim, this.options.signal);
      const decision = this.state.book.decision(key, me.owner);
      if (decision?.offset !== claim) continue; // not read as ours (the topic changed under us?): claim again
      if (decision.accepted) break;
      const blocker = decision.blocker!;
      if (this.goneHere(blocker) && !gone.includes(blocker.owner)) {
        gone = [...gone, blocker.owner];
        takeover = `took over the lease on ${table} in ${this.where} left by nowpipe pid ${blocker.pid} (no longer running)`;
        continue;
      }
      if (!this.options.wait) throw this.refusal(table, blocker, decision.at);
      await this.changeOf(key, blocker, decision.at);
    }
    const sentAt = performance.now();
    const heldAt = await this.writeLease(key, partition, { type: 'held', ...me }, table);
    this.held.set(table, { table, key, partition, heldAt, renewedAt: sentAt });
    if (takeover) this.options.onTakeover?.(takeover);
    if (this.state.transactions) {
      await this.state.transactions.open(table, transactionalId(this.state.topic, key)).catch((err: unknown) => {
        throw kafkaError(err, this.state.context('connect', table));
      });
    }
  }

  /**
   * A holder of this host whose process is gone (kill -9), or an earlier process with our pid (a
   * container). Only within one process space: containers that share a host name do not share pids.
   */
  private goneHere(h: Holder): boolean {
    if (h.host !== hostname()) return false;
    if (h.space !== undefined && h.space !== this.state.me.space) return false;
    return h.pid === process.pid || !alive(h.pid);
  }

  /** Waits until the lease may have changed: a record of the key, or the blocker's lease running out. */
  private changeOf(key: string, blocker: Holder, at: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const until = Math.max(200, blocker.seenAt + this.options.staleAfterMs - at + 100);
      const timer = setTimeout(done, Math.min(until, this.options.staleAfterMs));
      const off = this.state.book.onRecord((k, r) => {
        if (k === key && r.type !== 'claim') done();
      });
      const signal = this.options.signal;
      signal?.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  private refusal(table: string, h: Holder, at: number): LockError {
    const where = h.host === hostname() ? 'this host' : `host ${h.host}`;
    return new LockError(`another nowpipe (pid ${h.pid} on ${where}, started ${h.startedAt}, lease renewed ${agoText(at - h.seenAt)}) is exporting ${table} with the state in ${this.where}`, {
      hint: `wait for it to finish or stop it; a lease left by a run that is gone is taken over ${this.options.staleAfterMs / 1000} s after its last renewal (--lock-stale-after)`,
    });
  }

  private async writeLease(key: string, partition: number, record: LeaseRecord, table: string): Promise<number> {
    const landed = await this.state.write(leaseMessage(key, partition, record)).catch((err: unknown) => {
      throw kafkaError(err, this.state.context('write', table));
    });
    return landed.offset;
  }

  /** Another run's `held` after ours: it took the table (we were stalled past the stale time). */
  private watch(key: string, record: LeaseRecord, offset: number): void {
    if (record.type !== 'held' || record.owner === this.state.me.owner) return;
    for (const h of this.held.values()) {
      if (h.key === key && offset > h.heldAt) this.lose([h], `nowpipe pid ${record.pid} on ${record.host === hostname() ? 'this host' : `host ${record.host}`} took it over`);
    }
  }

  private async renew(): Promise<void> {
    // One renewal at a time: with the brokers away, renewals stacking up behind a write that
    // retries would each have to fail before a stop could finish.
    if (this.renewing) return;
    this.renewing = this.renewEach().finally(() => {
      this.renewing = undefined;
    });
    await this.renewing;
  }

  private async renewEach(): Promise<void> {
    for (const h of [...this.held.values()]) {
      if (!this.held.has(h.table)) continue; // released (or lost) meanwhile
      const sentAt = performance.now();
      // Not renewed for the stale time (this process was stopped, or the brokers were away):
      // another run may hold the table now, and renewing would take it back from under it.
      if (sentAt - h.renewedAt > this.options.staleAfterMs) {
        this.lose([h], `it could not be renewed for ${this.options.staleAfterMs / 1000} s (was this process stopped?)`);
        continue;
      }
      try {
        await this.writeLease(h.key, h.partition, { type: 'held', ...this.state.me }, h.table);
        if (this.held.has(h.table)) h.renewedAt = sentAt;
      } catch (err) {
        if (performance.now() - h.renewedAt > this.options.staleAfterMs) this.lose([h], `it could not be renewed for ${this.options.staleAfterMs / 1000} s (${(err as Error).message})`);
      }
    }
  }

  private lose(tables: Held[], why: string): void {
    if (tables.length === 0) return;
    for (const h of tables) this.held.delete(h.table);
    const names = tables.map((h) => h.table).join(', ');
    const error = new LockError(`lost the lease on ${names} in ${this.where}: ${why}; stopped so that two runs never write at once`, {
      hint: 'the checkpoint is intact; the run that took over goes on from it',
    });
    if (!this.lost.aborted) this.lostController.abort(error);
  }

  /** Throws when the table's lease is lost, or could not be renewed for the stale time. */
  private assertHeld(table: string): void {
    const h = this.held.get(table);
    if (h && performance.now() - h.renewedAt > this.options.staleAfterMs) this.lose([h], `it could not be renewed for ${this.options.staleAfterMs / 1000} s`);
    if (!this.held.has(table)) throw this.lost.reason instanceof Error ? this.lost.reason : new LockError(`no lease on ${table} in ${this.where}`);
  }

  load(scope: Scope): TableProgress | undefined {
    try {
      return checkScope(`in ${this.where} (key ${this.keyOf(scope.table)})`, this.loaded.get(scope.table), scope);
    } catch (err) {
      if (err instanceof CheckpointError) {
        throw new CheckpointError(err.message, { exitCode: 2, hint: 'use another --state-topic for this export, or --reset to discard the old position and start over' });
      }
      throw err;
    }
  }

  saved(table: string): boolean {
    return this.savedTables.has(table);
  }

  async save(progress: TableProgress): Promise<void> {
    const table = progress.scope.table;
    this.assertHeld(table);
    const h = this.held.get(table)!;
    const message = progressMessage(h.key, h.partition, progress);
    try {
      const tx = this.state.transactions;
      if (tx) await tx.commit(table, [[{ topic: this.state.topic, messages: [message] }]], KAFKA_TIMEOUTS.requestMs);
      else await this.state.write(message);
    } catch (err) {
      throw kafkaError(err, this.state.context('write', table));
    }
    this.savedTables.add(table);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unlisten?.();
    const held = [...this.held.values()];
    // A renewal in flight checks `held` before each write, and the state's writes go in order:
    // no `held` lands after the `released` below.
    this.held.clear();
    // Released so that the next run (or group member) need not wait for the lease to run out.
    await Promise.all(
      held.map(async (h) => {
        // Bounded: with the brokers gone, a stop must not outlast a container's grace period.
        await this.state.transactions?.close(h.table, KAFKA_TIMEOUTS.closeMs).catch(() => undefined);
        await withDeadline(this.writeLease(h.key, h.partition, { type: 'released', ...this.state.me }, h.table), KAFKA_TIMEOUTS.closeMs, () => new Error('timed out')).catch(() => undefined);
      }),
    );
    if (this.options.ownsState) await this.state.close();
  }

  /** For a forced exit that cannot await: nothing to do, a lease left behind is taken over (its pid is gone). */
  releaseLockSync(): void {}
}
