import type { StreamName, TableProgress } from '../checkpoint/progress.js';
import { advance } from '../checkpoint/transitions.js';
import type { KeysetReader, Page } from '../servicenow/reader.js';
import { shiftSnTimestamp, toSnTimestamp } from '../servicenow/time.js';
import { compareCursor, type Cursor } from '../servicenow/query.js';
import type { Batch, Pump } from './pump.js';

/** A cursor-driven source of one table: its rows, or its deletes from sys_audit_delete. */
export interface Stream {
  name: StreamName;
  reader: KeysetReader;
}

export interface Window {
  since: string;
  /** Seconds re-read behind the cursor on every sweep, for rows that committed late. */
  overlap: number;
}

/** The high-water mark: the instance's clock minus the safety lag, never past --until. */
export function highWaterMark(instanceNowMs: number, lagSeconds: number, until?: string): string {
  const hi = toSnTimestamp(instanceNowMs - lagSeconds * 1000);
  if (until === undefined) return hi;
  const lastBeforeUntil = shiftSnTimestamp(until, -1);
  return lastBeforeUntil < hi ? lastBeforeUntil : hi;
}

/**
 * Where a stream's sweep starts: the saved cursor, minus the overlap window, so rows that
 * committed late behind it are read again (the versions already written are dropped).
 */
export function sweepStart(saved: Cursor | undefined, window: Window, floor?: Cursor): Cursor {
  if (!saved) return { updatedOn: window.since, sysId: '' };
  if (window.overlap <= 0) return saved;
  const back = shiftSnTimestamp(saved.updatedOn, -Math.ceil(window.overlap));
  const start = { updatedOn: back > window.since ? back : window.since, sysId: '' };
  // What the versions' cap forgot would be written again: start after it (never after the cursor).
  if (floor === undefined || compareCursor(floor, start) <= 0) return start;
  return compareCursor(floor, saved) < 0 ? floor : saved;
}

export function streamCursor(progress: TableProgress, stream: StreamName): Cursor | undefined {
  return stream === 'deletes' ? progress.deletesCursor : progress.cursor;
}

/** A page of a sweep as a batch for the pump: its entries, the responses it ends, and how progress moves. */
export function pageBatch(stream: StreamName, page: Page, commit: Batch['commit']): Batch {
  return { stream, entries: page.entries, pages: page.response && page.response.rows > 0 ? 1 : 0, commit };
}

/**
 * One sweep of a stream up to `hi` into the pump. Returns whether any response came back full
 * (more rows may have arrived meanwhile: poll again at once). The caller drains the pump.
 */
export async function sweepInto(pump: Pump, stream: Stream, hi: string, window: Window, signal: AbortSignal): Promise<boolean> {
  const from = sweepStart(streamCursor(pump.progress, stream.name), window, pump.progress.recentFrom?.[stream.name]);
  let full = false;
  for await (const page of stream.reader.sweep(from, hi, signal)) {
    if (page.response?.full) full = true;
    await pump.deliver(pageBatch(stream.name, page, (p, written) => advance(p, stream.name, page.cursor, written, window.overlap)));
  }
  return full;
}

/** One catch-up of every stream (but `skip`) up to `hi`, everything committed when it returns. */
export async function catchUp(pump: Pump, streams: readonly Stream[], hi: string, window: Window, signal: AbortSignal, skip: readonly StreamName[] = []): Promise<boolean> {
  let full = false;
  try {
    for (const stream of streams) {
      if (skip.includes(stream.name)) continue;
      if (await sweepInto(pump, stream, hi, window, signal)) full = true;
    }
  } catch (err) {
    // What was written before the failure (or the stop) is committed; a failed write is the
    // error even while stopping, or the run would look like a clean stop.
    await pump.drain().catch(() => undefined);
    throw pump.broken ?? err;
  }
  await pump.drain();
  return full;
}
