import { freshProgress, type Scope, type TableProgress } from '../checkpoint/progress.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import { advance, slicesPlanned } from '../checkpoint/transitions.js';
import type { Cursor } from '../servicenow/query.js';
import type { Sink } from '../sinks/types.js';
import { backfillSlices } from './backfill.js';
import { catchUp, highWaterMark, pageBatch, sweepStart, type Stream, type Window } from './catch-up.js';
import type { Clock, InstanceTime } from './clock.js';
import { ClockWatch } from './clock-watch.js';
import type { RunEvents, RunStats } from './events.js';
import { follow } from './follow.js';
import { Pump } from './pump.js';
import { instanceIsSlower, planSlices, sliceCount } from './slices.js';

/** What to export of one table, and how. */
export interface TableJob {
  scope: Scope;
  since: string;
  until?: string;
  lag: number;
  overlap: number;
  follow: boolean;
  pollSeconds: number;
  /** Slices a large backfill may be cut into (requests in flight for the whole run). */
  concurrency: number;
  /**
   * `always` (an explicit --concurrency): slice a large backfill from the start. `when-slower`
   * (the default): read a first page with one cursor and slice the rest only when the instance
   * took longer to answer it than nowpipe took to write it (see instanceIsSlower).
   */
  slicing?: 'always' | 'when-slower';
  /** The table's rows first; then, with --deletes, its deletes. */
  streams: Stream[];
}

/** What a table run shares with the others. */
export interface RunDeps {
  sink: Sink;
  store: CheckpointStore;
  events: RunEvents;
  stats: RunStats;
  clock: Clock;
  instance: InstanceTime;
  signal: AbortSignal;
}

export interface TableOutcome {
  table: string;
  progress: TableProgress;
  /** Whether the table's position is saved (this run or before): the summary names it only then. */
  saved: boolean;
  /** What ended the table's run when it failed (a stop is not a failure). */
  error?: unknown;
  /**
   * Moves the position back before what a pipe's reader may not have read (see Pump.rewind);
   * the run calls it for every table once the output's reader went away.
   */
  rewind(): Promise<Cursor | undefined>;
}

function isStop(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err === signal.reason || ['AbortError', 'CancelError'].includes((err as Error)?.name));
}

/** Where the checkpoint stands, in words: the cursor, or how far the slices of a parallel backfill are. */
export function position(p: TableProgress): string {
  if (p.slices) return `${p.slices.filter((s) => s.done).length} of ${p.slices.length} slices done`;
  return p.cursor.updatedOn;
}

/**
 * One table: backfill from the checkpoint (or --since) up to the instance's present, in slices
 * when it is large, then catch up and, with --follow, poll until stopped. Never throws: a stop
 * (the signal) or a failure ends it with what was committed, the failure in `error`.
 */
export async function runTable(job: TableJob, deps: RunDeps): Promise<TableOutcome> {
  const table = job.scope.table;
  let pump: Pump | undefined;
  let error: unknown;
  try {
    const saved = deps.store.load(job.scope);
    pump = new Pump({ table, instance: job.scope.instance, sink: deps.sink, store: deps.store, events: deps.events, stats: deps.stats, progress: saved ?? freshProgress(job.scope, job.since) });
    await exportTable(job, deps, pump, saved);
  } catch (err) {
    if (!isStop(err, deps.signal)) error = err;
  }
  // Whatever ended it, the write in flight is committed (or fails) before the table's outcome is
  // known: a write that failed is the table's failure, even while stopping.
  await pump?.drain().catch(() => undefined);
  if (pump?.broken !== undefined) error = pump.broken;
  const rewind = async () => {
    const to = await pump?.rewind().catch(() => undefined);
    if (to) deps.events.emit({ type: 'rewound', table, to: to.cursor, reason: 'the output was closed by its reader' });
    return to?.cursor;
  };
  return { table, progress: pump?.progress ?? freshProgress(job.scope, job.since), saved: deps.store.saved(table), error, rewind };
}

async function exportTable(job: TableJob, deps: RunDeps, pump: Pump, saved: TableProgress | undefined): Promise<void> {
  const { events, stats, signal, clock } = deps;
  const table = job.scope.table;
  if (saved) events.emit({ type: 'resumed', table, cursor: saved.cursor, slices: saved.slices && { done: saved.slices.filter((s) => s.done).length, of: saved.slices.length }, rowsBefore: saved.rows });
  const window: Window = { since: job.since, overlap: job.overlap };
  const watch = new ClockWatch(table, events, clock);
  const rows = job.streams[0]!;
  const from = sweepStart(pump.progress.cursor, window, pump.progress.recentFrom?.rows);
  const probe = await rows.reader.probe(from.updatedOn, signal);
  watch.check(probe.serverNow, saved?.cursor, job.overlap);
  if (probe.total !== undefined) stats.total = (stats.total ?? 0) + probe.total;
  const hi = highWaterMark(probe.serverNow, job.lag, job.until);
  events.emit({ type: 'reading', table, from: from.updatedOn, hi, total: probe.total });
  if (!saved && job.since > hi) {
    events.emit({ type: 'warning', table, message: `--since ${job.since} is after the instance's present (${hi} UTC, its clock minus --lag): there is nothing to read${job.follow ? ' until then' : ''}` });
  }
  let slicedTo: string | undefined;
  const count = sliceCount(probe.total, job.concurrency, rows.reader.pageSize);
  if (!pump.progress.slices && count > 1) {
    let after: Cursor | undefined;
    if (job.slicing !== 'always') {
      const sample = await firstPage(pump, rows, hi, window, signal, clock);
      if (sample) events.emit({ type: 'first-page', table, waitMs: sample.waitMs, workMs: sample.workMs, slice: instanceIsSlower(sample) });
      if (!sample || !instanceIsSlower(sample)) return finish(job, deps, pump, hi, window, watch, undefined);
      // The slices start right after the page read, not after the saved cursor: on a resumed run
      // that page re-read the overlap window behind it, which may hold more than a page.
      after = sample.last;
    }
    const read = pump.progress.rows - (saved?.rows ?? 0);
    const remaining = Math.max(count * rows.reader.pageSize, probe.total! - read);
    const slices = await planSlices(rows.reader, after?.updatedOn ?? from.updatedOn, hi, remaining, count, signal, after);
    events.emit({ type: 'slices-planned', table, slices });
    await pump.update((p) => slicesPlanned(p, slices, hi));
    slicedTo = hi;
  }
  if (pump.progress.slices) await backfillSlices(pump, rows.reader, job.overlap, clock, signal);
  await finish(job, deps, pump, hi, window, watch, slicedTo);
}

/**
 * The first page of a backfill with one cursor, to judge who is the bottleneck: how long the
 * instance took to start answering, and how long nowpipe then took until the page was committed.
 * Undefined when that page was not full (the backfill is done, or nearly).
 */
async function firstPage(pump: Pump, stream: Stream, hi: string, window: Window, signal: AbortSignal, clock: RunDeps['clock']): Promise<{ waitMs: number; workMs: number; last: Cursor } | undefined> {
  const from = sweepStart(pump.progress.cursor, window, pump.progress.recentFrom?.rows);
  let firstAt: number | undefined;
  try {
    for await (const page of stream.reader.sweep(from, hi, signal)) {
      firstAt ??= clock.now();
      await pump.deliver(pageBatch('rows', page, (p, written) => advance(p, 'rows', page.cursor, written, window.overlap)));
      if (page.response) {
        await pump.drain();
        const { full, waitMs } = page.response;
        return full && waitMs !== undefined ? { waitMs, workMs: clock.now() - firstAt, last: page.cursor } : undefined;
      }
    }
  } finally {
    await pump.drain().catch(() => undefined);
  }
  await pump.drain();
  return undefined;
}

/** Catch up to `hi` (every stream), then, with --follow, poll until stopped. */
async function finish(job: TableJob, deps: RunDeps, pump: Pump, hi: string, window: Window, watch: ClockWatch, slicedTo: string | undefined): Promise<void> {
  const { events, signal, clock } = deps;
  const table = job.scope.table;
  // Slices planned in this run read every row up to `hi`: re-reading the overlap behind the
  // highest of them would cost requests and find nothing a single sweep would have found.
  await catchUp(pump, job.streams, hi, window, signal, slicedTo === hi ? ['rows'] : []);
  if (!job.follow || signal.aborted) return;
  events.emit({ type: 'caught-up', table, cursor: pump.progress.cursor, pollSeconds: job.pollSeconds });
  await follow(pump, { table, streams: job.streams, window, lag: job.lag, pollSeconds: job.pollSeconds, clock, instance: deps.instance, watch, events, signal });
}
