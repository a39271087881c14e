import type { CheckpointStore, Scope, TableState } from '../checkpoint/store.js';
import type { Config } from '../config/schema.js';
import { NowpipeError, RetriesExhaustedError } from '../errors/index.js';
import type { ServiceNowClient } from '../servicenow/client.js';
import { compareCursor, rangeQuery, type Cursor } from '../servicenow/query.js';
import { rawValue, type Page, type TableReader } from '../servicenow/reader.js';
import type { Row } from '../servicenow/response.js';
import { abortableSleep } from '../servicenow/retry.js';
import { fromSnTimestamp, shiftSnTimestamp, toSnTimestamp } from '../servicenow/time.js';
import { opOf } from '../sinks/format.js';
import type { ChangeRecord, Sink } from '../sinks/types.js';
import type { Reporter } from '../ui/reporter.js';
import { Acks } from './acks.js';
import { Dedup } from './dedup.js';
import { planSlices, sliceCount, sliceStartDelayMs, type SliceState } from './slices.js';

export interface RunStats {
  rows: number;
  deletes: number;
  pages: number;
  retries: number;
  /** Row versions re-read in the overlap window and dropped as already written. */
  duplicatesDropped: number;
  total?: number;
}

export function newStats(): RunStats {
  return { rows: 0, deletes: 0, pages: 0, retries: 0, duplicatesDropped: 0 };
}

/** One cursor-driven source of records: the table's rows, or its deletes from sys_audit_delete. */
export interface Stream {
  name: 'rows' | 'deletes';
  reader: TableReader;
  /** Where this stream's cursor lives in the table's checkpoint state. */
  stateKey: 'cursor' | 'deletesCursor';
  toRecord(row: Row, cursor: Cursor): ChangeRecord;
  /** Identity of a row version for the overlap dedup. */
  versionKey(row: Row, cursor: Cursor): string;
}

export function rowStream(reader: TableReader, config: Config): Stream {
  return {
    name: 'rows',
    reader,
    stateKey: 'cursor',
    toRecord: (row, c) => ({ op: opOf(row), table: config.table, instance: config.url, sysId: c.sysId, updatedOn: c.updatedOn, row }),
    versionKey: (row, c) => `${c.sysId}|${c.updatedOn}|${String(rawValue(row.sys_mod_count) ?? '')}`,
  };
}

export function deleteStream(reader: TableReader, config: Config): Stream {
  return {
    name: 'deletes',
    reader,
    stateKey: 'deletesCursor',
    toRecord: (row, c) => ({ op: 'd', table: config.table, instance: config.url, sysId: String(rawValue(row.documentkey) ?? ''), updatedOn: c.updatedOn, row: null }),
    versionKey: (_row, c) => `d|${c.sysId}`,
  };
}

export interface ExportContext {
  config: Config;
  client: ServiceNowClient;
  streams: Stream[];
  sink: Sink;
  store: CheckpointStore;
  reporter: Reporter;
  stats: RunStats;
  /** Aborted on SIGINT/SIGTERM: stop reading, keep what is durable. */
  signal: AbortSignal;
  /** Tells the run an outage is over or began; the follow loop keeps going through outages. */
  outage?: { failed(err: NowpipeError): void; recovered(): void };
}

export interface ExportResult {
  stats: RunStats;
  cursor?: Cursor;
  /** True when a signal stopped the run. */
  stopped: boolean;
  seconds: number;
}

export function scopeOf(config: Config): Scope {
  return { instance: config.url, table: config.table, query: config.query, fields: config.fields };
}

/** The high-water mark: the instance's clock minus the safety lag, never past --until. */
export function highWaterMark(serverNowMs: number, lagSeconds: number, until?: string): string {
  const hi = toSnTimestamp(serverNowMs - lagSeconds * 1000);
  if (until === undefined) return hi;
  const lastBeforeUntil = shiftSnTimestamp(until, -1);
  return lastBeforeUntil < hi ? lastBeforeUntil : hi;
}

/**
 * Where a stream's sweep starts: after the saved cursor, minus the overlap window so rows that
 * committed late behind it are read again (the dedup drops those already written).
 */
export function sweepStart(saved: Cursor | undefined, since: string, overlapSeconds: number): Cursor {
  if (!saved) return { updatedOn: since, sysId: '' };
  if (overlapSeconds <= 0) return saved;
  const back = shiftSnTimestamp(saved.updatedOn, -Math.ceil(overlapSeconds));
  return { updatedOn: back > since ? back : since, sysId: '' };
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err === signal.reason || ['AbortError', 'CancelError'].includes((err as Error)?.name));
}

const max = (a: Cursor | undefined, b: Cursor): Cursor => (a && compareCursor(a, b) >= 0 ? a : b);

/**
 * Reads every stream up to a high-water mark, writes each page to the sink, and commits the
 * cursor only after the sink says the page is durable: the at-least-once guarantee.
 */
export class Exporter {
  private readonly scope: Scope;
  private readonly dedup = new Map<Stream['name'], Dedup>();
  /** The highest cursor written per stream: what the checkpoint holds. */
  private readonly committed = new Map<Stream['name'], Cursor | undefined>();
  private lastPollRows = 0;
  /** The write in flight and its commit (reading goes on while the sink works). */
  private readonly acks = new Acks();
  /**
   * Each slice remembers the versions it wrote on its own: slices interleave, so one shared
   * memory could not forget by time; within a slice rows come in time order.
   */
  private readonly slicesDedup = new WeakMap<SliceState, Dedup>();

  /** The slices of a parallel backfill in progress (saved in the checkpoint). */
  private slices?: SliceState[];
  private slicesHi?: string;

  constructor(private readonly ctx: ExportContext) {
    this.scope = scopeOf(ctx.config);
    const saved: TableState | undefined = ctx.store.table(this.scope);
    for (const s of ctx.streams) {
      this.committed.set(s.name, saved?.[s.stateKey] as Cursor | undefined);
      this.dedup.set(s.name, new Dedup());
    }
    if (Array.isArray(saved?.slices) && typeof saved?.slicesHi === 'string') {
      this.slices = saved.slices as SliceState[];
      this.slicesHi = saved.slicesHi;
    }
    if (saved) {
      const before = `${saved.rows.toLocaleString('en-US')} rows written before`;
      ctx.reporter.info(
        this.slices
          ? `resuming the parallel backfill of ${ctx.config.table}: ${this.position()}, each slice from its own cursor (${before})`
          : `resuming ${ctx.config.table} after ${saved.cursor.updatedOn} (${before})`,
      );
    }
  }

  /** Where the checkpoint stands, in words: the cursor, or how far the slices of a parallel backfill are. */
  position(): string {
    if (this.slices) return `${this.slices.filter((s) => s.done).length} of ${this.slices.length} slices done`;
    return `at ${this.cursor?.updatedOn ?? this.ctx.store.table(this.scope)?.cursor.updatedOn ?? this.ctx.config.since}`;
  }

  /** The cursor of the row stream (for the summary). */
  get cursor(): Cursor | undefined {
    return this.committed.get('rows');
  }

  /**
   * Hands a page to the sink and queues its commit: once the sink says it (and everything before
   * it) is durable, the cursor advances and is committed, the stream's or, during a parallel
   * backfill, the slice's. Returns as soon as the reader may go on (see Acks).
   */
  private async deliver(stream: Stream, page: Page, slice?: SliceState): Promise<void> {
    const { stats } = this.ctx;
    const records: ChangeRecord[] = [];
    const dedup = slice ? this.sliceDedup(slice) : this.dedup.get(stream.name)!;
    for (const row of page.rows) {
      const c = stream.reader.cursorOf(row);
      if (dedup.check(stream.versionKey(row, c), c.updatedOn)) {
        stats.duplicatesDropped += 1;
        continue;
      }
      records.push(stream.toRecord(row, c));
    }
    await this.acks.add(
      () => (records.length > 0 ? this.ctx.sink.write(records) : Promise.resolve()),
      () => this.commit(stream, page, records.length, dedup, slice),
    );
  }

  /** After the sink made a page durable: advance the cursor and commit the checkpoint. */
  private async commit(stream: Stream, page: Page, written: number, dedup: Dedup, slice?: SliceState): Promise<void> {
    const { store, stats, config } = this.ctx;
    const pageCursor = page.cursor;
    const state = store.table(this.scope);
    const base = { cursor: state?.cursor ?? { updatedOn: config.since, sysId: '' }, rows: (state?.rows ?? 0) + written };
    if (slice) {
      slice.cursor = max(slice.cursor, pageCursor);
      store.set(this.scope, { ...base, slices: this.slices });
      await store.commit();
      dedup.evictBefore(shiftSnTimestamp(slice.cursor.updatedOn, -Math.ceil(config.overlap) - 1));
    } else {
      const prev = this.committed.get(stream.name);
      const next = max(prev, pageCursor);
      if (prev === undefined || compareCursor(next, prev) > 0 || written > 0) {
        store.set(this.scope, { ...base, ...(stream.name === 'rows' ? { cursor: next } : {}), [stream.stateKey]: next });
        await store.commit();
        this.committed.set(stream.name, next);
      }
      // Rows older than the overlap behind the cursor will never be re-read: forget them.
      dedup.evictBefore(shiftSnTimestamp(next.updatedOn, -Math.ceil(config.overlap) - 1));
    }
    if (stream.name === 'rows') stats.rows += written;
    else stats.deletes += written;
    if (page.end) stats.pages += 1; // pages as requested from the instance, not as handed on
    this.lastPollRows += written;
  }

  private sliceDedup(slice: SliceState): Dedup {
    let d = this.slicesDedup.get(slice);
    if (!d) {
      d = new Dedup();
      this.slicesDedup.set(slice, d);
    }
    return d;
  }

  /** A parallel backfill of the row stream: every slice concurrently, each resumable. */
  private async runSlices(hi: string): Promise<void> {
    const { signal, reporter, stats, config, store } = this.ctx;
    const rows = this.ctx.streams[0]!;
    const slices = this.slices!;
    reporter.verbose(`parallel backfill in ${slices.length} slices: ${slices.map((s) => `${s.start}…${s.end}`).join(', ')}`);
    const inner = new AbortController();
    const onAbort = () => inner.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let firstError: unknown;
    await Promise.all(
      slices
        .filter((s) => !s.done)
        .map(async (slice, index, started) => {
          try {
            await abortableSleep(sliceStartDelayMs(index, started.length), inner.signal);
            const from = slice.cursor ?? { updatedOn: slice.start, sysId: '' };
            const afterSecond = slice.cursor === undefined && !slice.first;
            for await (const page of rows.reader.sweep(from, slice.end, inner.signal, { afterSecond })) {
              await this.deliver(rows, page, slice);
              reporter.progress({ ...stats, detail: `${slices.filter((s) => s.done).length}/${slices.length} slices done` });
            }
            // Done only once its last page is durable: `done` is saved with the next commit.
            await this.acks.add(() => Promise.resolve(), () => {
              slice.done = true;
            });
          } catch (err) {
            // One slice failing stops the others; each keeps what it committed.
            firstError ??= err;
            inner.abort(err);
          }
        }),
    );
    // What was written before a failure or a stop is committed; a failed write is the error.
    let drainError: unknown;
    await this.acks.drain().catch((err: unknown) => (drainError = err));
    signal.removeEventListener('abort', onAbort);
    if (firstError !== undefined) throw signal.aborted ? signal.reason : firstError;
    if (drainError !== undefined) throw drainError;
    // Every slice is complete: the table goes on as one cursor, at the highest row written, and
    // the overlap re-read behind it must know what the slices wrote there.
    const dedup = this.dedup.get('rows')!;
    for (const slice of slices) dedup.absorb(this.sliceDedup(slice));
    const top = slices.reduce<Cursor | undefined>((acc, s) => (s.cursor ? max(acc, s.cursor) : acc), this.committed.get('rows'));
    const state = store.table(this.scope);
    const cursor = top ?? state?.cursor ?? { updatedOn: config.since, sysId: '' };
    store.set(this.scope, { cursor, rows: state?.rows ?? 0, slices: undefined, slicesHi: undefined });
    await store.commit();
    this.committed.set('rows', top);
    this.slices = undefined;
    void hi;
  }

  /** One catch-up of every stream (but `skip`) up to `hi`. Returns true when a page came back full. */
  async catchUp(hi: string, skip: ReadonlyArray<Stream['name']> = []): Promise<boolean> {
    const { config, signal, reporter, stats } = this.ctx;
    let full = false;
    try {
      for (const stream of this.ctx.streams) {
        if (skip.includes(stream.name)) continue;
        const from = sweepStart(this.committed.get(stream.name), config.since, config.overlap);
        const fullBefore = stream.reader.fullResponses;
        for await (const page of stream.reader.sweep(from, hi, signal)) {
          await this.deliver(stream, page);
          reporter.progress({ ...stats, detail: `at ${page.cursor.updatedOn}` });
        }
        if (stream.reader.fullResponses > fullBefore) full = true;
      }
    } catch (err) {
      // Commit what was written before the failure (or the stop); the failure is the error.
      await this.acks.drain().catch(() => undefined);
      throw err;
    }
    await this.acks.drain();
    return full;
  }

  /** Backfill, then (with --follow) poll until stopped. */
  async run(): Promise<ExportResult> {
    const { config, reporter, stats, signal, client } = this.ctx;
    const started = Date.now();
    const done = (stopped: boolean): ExportResult => ({ stats, cursor: this.cursor, stopped, seconds: (Date.now() - started) / 1000 });
    try {
      const rows = this.ctx.streams[0]!;
      const from = sweepStart(this.committed.get('rows'), config.since, config.overlap);
      const probe = await rows.reader.probe(rangeQuery(from.updatedOn, '9999-12-31 23:59:59', config.query), signal);
      if (probe.total !== undefined) stats.total = (stats.total ?? 0) + probe.total;
      let hi = highWaterMark(probe.serverNow, config.lag, config.until);
      reporter.verbose(`reading ${config.table} from ${from.updatedOn} to ${hi} (about ${probe.total ?? '?'} rows)`);
      if (!this.slices) {
        const count = sliceCount(probe.total, config.concurrency, rows.reader.pageSize);
        if (count > 1) {
          this.slices = await planSlices(rows.reader, config.query, from.updatedOn, hi, probe.total!, count, signal);
          this.slicesHi = hi;
          const state = this.ctx.store.table(this.scope);
          this.ctx.store.set(this.scope, { cursor: state?.cursor ?? { updatedOn: config.since, sysId: '' }, rows: state?.rows ?? 0, slices: this.slices, slicesHi: hi });
          await this.ctx.store.commit();
        }
      }
      const slicedTo = this.slices ? this.slicesHi : undefined;
      if (this.slices) await this.runSlices(this.slicesHi!);
      // Slices planned in this run read every row up to `hi`: re-reading the overlap behind the
      // highest of them would cost requests and find nothing a single sweep would have found.
      await this.catchUp(hi, slicedTo === hi ? ['rows'] : []);
      if (!config.follow) return done(signal.aborted);

      reporter.info(`caught up at ${this.cursor?.updatedOn ?? config.since}; following ${config.table} every ${config.pollInterval} s`);
      for (;;) {
        const pollStarted = Date.now();
        this.lastPollRows = 0;
        let full = false;
        try {
          hi = highWaterMark(client.serverNow(), config.lag);
          full = await this.catchUp(hi);
          this.ctx.outage?.recovered();
        } catch (err) {
          if (isAbort(err, signal)) throw err;
          // Through an outage the feed keeps polling; it resumes by itself when the instance returns.
          const transient = err instanceof RetriesExhaustedError || (err instanceof NowpipeError && err.retriable);
          if (!transient) throw err;
          this.ctx.outage?.failed(err as NowpipeError);
        }
        if (full) continue; // more is waiting: catch up without sleeping
        // Wake just after the instance's clock turns a second, when the high-water mark moves.
        const wake = client.nextPollAt(pollStarted + config.pollInterval * 1000);
        while (Date.now() < wake) {
          const lagSeconds = this.cursor ? Math.max(0, Math.round((client.serverNow() - fromSnTimestamp(this.cursor.updatedOn).toMillis()) / 1000)) : 0;
          reporter.progress({
            ...stats,
            detail: `cursor ${this.cursor?.updatedOn ?? '-'} · ${lagSeconds}s behind · last poll ${this.lastPollRows} changes · next poll in ${Math.ceil((wake - Date.now()) / 1000)}s`,
          });
          await abortableSleep(Math.min(1000, wake - Date.now()), signal);
        }
      }
    } catch (err) {
      if (isAbort(err, signal)) return done(true);
      throw err;
    }
  }
}
