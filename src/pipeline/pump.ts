import type { StreamName, TableProgress } from '../checkpoint/progress.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import { MAX_RECENT_VERSIONS, written as alreadyWritten, type Written } from '../checkpoint/transitions.js';
import type { Entry } from '../servicenow/entry.js';
import type { ChangeRecord, Sink } from '../sinks/types.js';
import type { RunEvents, RunStats } from './events.js';

/** Rows of one stream read from the instance, and how progress moves once they are durable. */
export interface Batch {
  stream: StreamName;
  entries: Entry[];
  /** The progress once these entries (those not written before) are durable. Pure. */
  commit(progress: TableProgress, written: Written[]): TableProgress;
  /** Responses from the instance that returned rows and ended with this batch (for the count of pages). */
  pages: number;
}

export interface PumpOptions {
  table: string;
  instance: string;
  sink: Sink;
  store: CheckpointStore;
  events: RunEvents;
  stats: RunStats;
  /** Where the table stands when the run starts (saved, or fresh). */
  progress: TableProgress;
}

/**
 * source → sink → commit, for one table. One write is in flight at a time: a batch is filtered
 * (versions already written, by the progress committed so far), written, and its progress
 * committed once the sink says it is durable; the next write starts only after that. Reading
 * the next batch overlaps the write. So the checkpoint never passes a write that failed, commits
 * land in order, and after a crash a rerun repeats at most the one batch written and not yet
 * committed.
 *
 * A failure (a write, a save) is final: every later call rethrows it, so nothing is ever
 * committed past it.
 */
export class Pump {
  private committed: TableProgress;
  private tail: Promise<void> = Promise.resolve();
  private failure?: { error: unknown };
  /** Committed progress with the pipe's byte count at that moment, for a rewind (see rewind). */
  private readonly history: Array<{ bytes: number; progress: TableProgress }> = [];
  private readonly floorSaid = new Set<string>();

  constructor(private readonly options: PumpOptions) {
    this.committed = options.progress;
    const pipe = options.sink.pipe;
    if (pipe) this.history.push({ bytes: pipe.handedOn(), progress: options.progress });
  }

  /** The progress committed so far. */
  get progress(): TableProgress {
    return this.committed;
  }

  /** The failure that broke the pump, if any. */
  get broken(): unknown {
    return this.failure?.error;
  }

  /**
   * Queues a batch behind the writes queued before it (first come, first written). Resolves
   * once its write has started, so the caller may read on; rejects with an earlier failure.
   */
  deliver(batch: Batch): Promise<void> {
    return new Promise<void>((started, refused) => {
      this.enqueue(async () => {
        if (this.failure) return refused(this.failure.error);
        const { stats, sink, table, instance } = this.options;
        const fresh = batch.entries.filter((e) => !alreadyWritten(this.committed, batch.stream, e.cursor.updatedOn, e.version));
        stats.duplicatesDropped += batch.entries.length - fresh.length;
        const records: ChangeRecord[] = fresh.map((e) => ({ op: e.op, table, instance, sysId: e.subject, updatedOn: e.cursor.updatedOn, row: e.row }));
        const writing = records.length > 0 ? sink.write(records) : Promise.resolve();
        started();
        const skipped = (await writing)?.skipped ?? 0;
        await this.commit(batch.commit(this.committed, fresh.map((e) => ({ at: e.cursor.updatedOn, version: e.version }))));
        // Rows set aside as bad are past (the checkpoint moves over them) but not written.
        stats.badRows += skipped;
        if (batch.stream === 'rows') stats.rows += fresh.length - skipped;
        else stats.deletes += fresh.length - skipped;
        stats.pages += batch.pages;
        const cursor = batch.stream === 'rows' ? this.committed.cursor : this.committed.deletesCursor;
        const slices = this.committed.slices;
        if (cursor) {
          this.options.events.emit({ type: 'committed', table, stream: batch.stream, written: fresh.length, cursor, slices: slices && { done: slices.filter((s) => s.done).length, of: slices.length } });
        }
      }, refused);
    });
  }

  /** A change of progress with no data (slices planned, a slice done, merged), committed in order. */
  update(transition: (progress: TableProgress) => TableProgress): Promise<void> {
    return new Promise<void>((done, refused) => {
      this.enqueue(async () => {
        if (this.failure) return refused(this.failure.error);
        await this.commit(transition(this.committed));
        done();
      }, refused);
    });
  }

  /** Waits until everything queued so far is committed; throws the pump's failure if there is one. */
  async drain(): Promise<void> {
    await this.tail;
    this.check();
  }

  /** Runs `work` after everything queued before it; a failure breaks the pump for good. */
  private enqueue(work: () => Promise<void>, onFailure: (error: unknown) => void): void {
    this.tail = this.tail.then(work).catch((error: unknown) => {
      this.failure ??= { error };
      onFailure(error);
    });
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  private async commit(next: TableProgress): Promise<void> {
    if (next === this.committed) return;
    await this.options.store.save(next);
    const was = this.committed;
    this.committed = next;
    this.sayFloor(was, next);
    const pipe = this.options.sink.pipe;
    if (pipe) this.remember(pipe.handedOn(), pipe.unreadAtMost, next);
  }

  /** Once per stream and run: the versions' cap made the overlap re-read start later (see transitions.remember). */
  private sayFloor(was: TableProgress, next: TableProgress): void {
    for (const stream of ['rows', 'deletes'] as const) {
      const floor = next.recentFrom?.[stream];
      if (floor === undefined || floor === was.recentFrom?.[stream] || this.floorSaid.has(stream)) continue;
      const at = floor.sysId === '' ? floor.updatedOn : `${floor.updatedOn} (after sys_id ${floor.sysId})`;
      this.floorSaid.add(stream);
      this.options.events.emit({
        type: 'warning',
        table: this.options.table,
        message: `more than ${MAX_RECENT_VERSIONS.toLocaleString('en-US')} row versions ${stream === 'deletes' ? 'of deletes ' : ''}were stamped within --overlap of each other: until the position moves on, the overlap re-read starts at ${at} (rows committing late with an earlier stamp would not be read; the versions before it were forgotten to keep the checkpoint small)`,
      });
    }
  }

  /** Keeps the newest commit at least `unreadAtMost` bytes back, and every commit after it. */
  private remember(bytes: number, unreadAtMost: number, progress: TableProgress): void {
    this.history.push({ bytes, progress });
    while (this.history.length > 1 && this.history[1]!.bytes <= bytes - unreadAtMost) this.history.shift();
  }

  /**
   * The output's reader went away (`| head`): what it had not read yet is lost with it. Moves
   * the checkpoint back to the last commit whose bytes it had certainly read: all but the last
   * `unreadAtMost` bytes handed on. A rerun then repeats rows rather than miss them. Returns
   * the progress it moved back to, or undefined when there was nothing to move.
   */
  async rewind(): Promise<TableProgress | undefined> {
    const pipe = this.options.sink.pipe;
    if (!pipe) return undefined;
    await this.tail;
    const limit = pipe.handedOn() - pipe.unreadAtMost;
    let target = this.history[0]!;
    for (const h of this.history) if (h.bytes <= limit) target = h;
    if (target.progress === this.committed) return undefined;
    const { store, table } = this.options;
    // Only a position this run saved needs moving back; one never saved stays unsaved.
    if (!store.saved(table)) return undefined;
    await store.save(target.progress);
    this.committed = target.progress;
    this.history.splice(this.history.indexOf(target) + 1);
    return target.progress;
  }
}
