// An in-memory world for the pipeline: a scripted table, a sink that can fail or stall, a
// checkpoint store in memory and a fake clock. No HTTP: each test runs in milliseconds.
import { MemoryCheckpointStore } from '../../src/checkpoint/store.js';
import type { Clock, InstanceTime } from '../../src/pipeline/clock.js';
import { newStats, RunEvents, type RunEvent } from '../../src/pipeline/events.js';
import { runTables } from '../../src/pipeline/run.js';
import type { TableJob } from '../../src/pipeline/table-run.js';
import { rawText, tableShape } from '../../src/servicenow/entry.js';
import { compareCursor, type Cursor } from '../../src/servicenow/query.js';
import type { KeysetReader, Page, SweepOptions } from '../../src/servicenow/reader.js';
import { toSnTimestamp } from '../../src/servicenow/time.js';
import type { ChangeRecord, Sink } from '../../src/sinks/types.js';

export const T0 = Date.UTC(2024, 0, 1);
export const ts = (secondsAfterT0: number) => toSnTimestamp(T0 + secondsAfterT0 * 1000);

export interface FakeRow {
  sys_id: string;
  sys_updated_on: string;
  sys_created_on: string;
  sys_mod_count: string;
  /** Local ms before which the row is not visible (a late commit). */
  visibleAt?: number;
}

/** A fake local clock: sleeping moves time on at once; `onSleep` lets a test act between polls. */
export class FakeClock implements Clock {
  onSleep?: (ms: number) => void;
  constructor(public t = T0 + 86_400_000) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.t += Math.max(0, ms);
    this.onSleep?.(ms);
    await Promise.resolve();
    if (signal?.aborted) throw signal.reason;
  }
}

export function instanceOf(clock: FakeClock, skewMs = 0): InstanceTime {
  return { now: () => clock.now() + skewMs, nextPoll: (due) => due };
}

let counter = 0;
export function row(second: number, id?: string, mod = 0): FakeRow {
  const sysId = id ?? (++counter).toString(16).padStart(32, '0');
  return { sys_id: sysId, sys_updated_on: ts(second), sys_created_on: ts(mod === 0 ? second : 0), sys_mod_count: String(mod) };
}

/**
 * A table the pipeline reads through the KeysetReader contract: every visible row after the
 * cursor up to the high-water mark, in keyset order, in pages of `pageSize`.
 */
export class FakeTable implements KeysetReader {
  rows: FakeRow[] = [];
  requests = 0;
  /** How long the fake instance "took" to start answering each page (reported, not waited). */
  waitMs?: number;
  constructor(
    readonly table: string,
    public pageSize: number,
    private readonly clock: FakeClock,
  ) {}

  add(...rows: FakeRow[]): void {
    for (const r of rows) {
      this.rows = this.rows.filter((x) => x.sys_id !== r.sys_id);
      this.rows.push(r);
    }
    this.rows.sort((a, b) => compareCursor(key(a), key(b)));
  }

  visible(): FakeRow[] {
    return this.rows.filter((r) => (r.visibleAt ?? 0) <= this.clock.now());
  }

  async probe(from: string): Promise<{ serverNow: number; total?: number }> {
    this.requests += 1;
    return { serverNow: this.clock.now(), total: this.visible().filter((r) => r.sys_updated_on >= from).length };
  }

  async cursorAt(from: string, hi: string, position: number): Promise<Cursor | undefined> {
    this.requests += 1;
    const r = this.visible().filter((x) => x.sys_updated_on >= from && x.sys_updated_on <= hi)[position];
    return r && key(r);
  }

  async *sweep(from: Cursor, hi: string, signal?: AbortSignal, options: SweepOptions = {}): AsyncGenerator<Page> {
    let cursor = from;
    const shape = tableShape();
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      this.requests += 1;
      const after = (r: FakeRow) => (options.afterSecond && r.sys_updated_on === from.updatedOn ? false : compareCursor(key(r), cursor) > 0);
      const within = (r: FakeRow) => r.sys_updated_on <= hi && (!options.until || compareCursor(key(r), options.until) <= 0);
      const page = this.visible().filter((r) => after(r) && within(r)).slice(0, this.pageSize);
      await Promise.resolve();
      if (page.length === 0) return;
      const entries = page.map((r) => shape.entry({ ...r }, key(r), { ...r }));
      // Handed on in two batches, as the reader hands on a response while it streams in; only
      // the last says the response ended.
      const half = Math.ceil(entries.length / 2);
      if (entries.length > 1) yield { entries: entries.slice(0, half), cursor: entries[half - 1]!.cursor };
      cursor = key(page.at(-1)!);
      yield { entries: entries.length > 1 ? entries.slice(half) : entries, cursor, response: { rows: page.length, full: page.length === this.pageSize, waitMs: this.waitMs } };
      if (page.length < this.pageSize) return;
    }
  }
}

const key = (r: FakeRow): Cursor => ({ updatedOn: r.sys_updated_on, sysId: r.sys_id });

/** A sink that keeps what it was given; a write can be made to fail, or to wait until released. */
export class FakeSink implements Sink {
  readonly name = 'fake';
  readonly written: ChangeRecord[] = [];
  writes = 0;
  /** Fails the write with this number (1-based) with `failWith`. */
  failAt?: number;
  failWith: Error = new Error('the sink failed');
  /** While set, writes wait for it. */
  gate?: Promise<void>;
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async write(records: ChangeRecord[]): Promise<void> {
    this.writes += 1;
    if (this.gate) await this.gate;
    if (this.writes === this.failAt) throw this.failWith;
    this.written.push(...records);
  }
}

export interface World {
  clock: FakeClock;
  table: FakeTable;
  store: MemoryCheckpointStore;
  sink: FakeSink;
  events: RunEvent[];
}

export function world(pageSize = 10): World {
  const clock = new FakeClock();
  return { clock, table: new FakeTable('incident', pageSize, clock), store: new MemoryCheckpointStore(), sink: new FakeSink(), events: [] };
}

export function job(w: World, extra: Partial<TableJob> = {}): TableJob {
  return {
    scope: { instance: 'https://acme.service-now.com', table: 'incident' },
    since: ts(0),
    lag: 0,
    overlap: 5,
    follow: false,
    pollSeconds: 1,
    concurrency: 1,
    // As an explicit --concurrency: slice whenever concurrency asks for it.
    slicing: 'always',
    streams: [{ name: 'rows', reader: w.table }],
    ...extra,
  };
}

/** One run of the pipeline over the world; `onEvent` may stop it (abort) at any point. */
export async function run(w: World, extra: Partial<TableJob> = {}, onEvent?: (e: RunEvent, stop: () => void) => void) {
  const events = new RunEvents();
  const stats = newStats();
  const controller = new AbortController();
  events.on((e) => {
    w.events.push(e);
    onEvent?.(e, () => controller.abort(new DOMException('stopped', 'AbortError')));
  });
  await w.store.open({ reset: false });
  const result = await runTables([job(w, extra)], { sink: w.sink, store: w.store, events, stats, clock: w.clock, instance: instanceOf(w.clock), signal: controller.signal }, { continueOnError: false });
  return { result, stats, outcome: result.tables[0]! };
}

/** sys_id|sys_updated_on|sys_mod_count of what the sink received. */
export const versions = (records: readonly ChangeRecord[]) => records.map((r) => `${r.sysId}|${r.updatedOn}|${rawText(r.row?.sys_mod_count)}`);
