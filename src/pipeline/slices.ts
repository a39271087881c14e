import type { Slice } from '../checkpoint/progress.js';
import { compareCursor, type Cursor } from '../servicenow/query.js';
import type { KeysetReader, SweepOptions } from '../servicenow/reader.js';
import { shiftSnTimestamp } from '../servicenow/time.js';

/**
 * Planning a parallel backfill. A slice holds the rows after its start up to and including its
 * end, in keyset order, and is read by its own keyset scan whose cursor is saved in the checkpoint.
 */

/** How many slices a backfill of `total` rows deserves: none unless it spans several pages. */
export function sliceCount(total: number | undefined, concurrency: number, batchSize: number): number {
  if (total === undefined || concurrency < 2) return 1;
  return Math.max(1, Math.min(concurrency, Math.floor(total / batchSize)));
}

/**
 * Whether the instance, not nowpipe, is the bottleneck, judged on one page: it took longer to
 * start answering than nowpipe took to parse, write and commit what it answered. Then several
 * slices in flight pay; otherwise (an instance that answers at once) one cursor is as fast and
 * lighter, since nowpipe's own work does not split.
 */
export function instanceIsSlower(sample: { waitMs: number; workMs: number }): boolean {
  // Clearly slower: an instance that takes about as long as nowpipe gains little from slices
  // (nowpipe's share does not split) and they cost memory.
  return sample.waitMs > 2 * sample.workMs;
}

/**
 * Cuts [from, hi] at the rows found by position, so each slice holds about the same number of
 * rows (by X-Total-Count) and finishes at about the same time. A cut is a row (its timestamp and
 * sys_id), so a dense second (a bulk import) is shared between slices like any other range. The
 * first slice starts a second before the range, so it owns the range's first second.
 */
export function slicesFromBoundaries(from: string, hi: string, cuts: Array<Cursor | undefined>, after?: Cursor): Slice[] {
  const inside = cuts.filter((c): c is Cursor => c !== undefined && c.updatedOn >= from && c.updatedOn <= hi && (!after || compareCursor(c, after) > 0));
  const sorted = inside.sort(compareCursor).filter((c, i, all) => i === 0 || compareCursor(c, all[i - 1]!) !== 0);
  // After rows already read (a first page), the first slice starts right after the last of them.
  const start = after ? { at: after.updatedOn, id: after.sysId } : { at: shiftSnTimestamp(from, -1) };
  const edges: Array<{ at: string; id?: string }> = [start, ...sorted.map((c) => ({ at: c.updatedOn, id: c.sysId })), { at: hi }];
  const slices: Slice[] = [];
  for (let i = 0; i + 1 < edges.length; i++) {
    const [a, b] = [edges[i]!, edges[i + 1]!];
    slices.push({ start: a.at, end: b.at, ...(a.id !== undefined ? { startId: a.id } : {}), ...(b.id !== undefined ? { endId: b.id } : {}), first: false, done: false });
  }
  return slices;
}

/**
 * Where the slices of `total` rows end: the last row of each share. A slice ending at the first
 * row of the next share would hold one row too many, and that one row costs the slice a whole
 * extra request (and the run, which waits for its slowest slice).
 */
export function cutPositions(total: number, count: number): number[] {
  return Array.from({ length: count - 1 }, (_, i) => Math.floor((total * (i + 1)) / count) - 1);
}

export async function planSlices(reader: KeysetReader, from: string, hi: string, total: number, count: number, signal?: AbortSignal, after?: Cursor): Promise<Slice[]> {
  const cuts = await Promise.all(cutPositions(total, count).map((position) => reader.cursorAt(from, hi, position, signal)));
  return slicesFromBoundaries(from, hi, cuts, after);
}

/** Where a slice's scan starts (its cursor, or its start) and where it stops. */
export function sliceSweep(s: Slice): { from: Cursor; options: SweepOptions } {
  const until = s.endId !== undefined ? { updatedOn: s.end, sysId: s.endId } : undefined;
  if (s.cursor) return { from: s.cursor, options: { until } };
  if (s.startId !== undefined) return { from: { updatedOn: s.start, sysId: s.startId }, options: { until } };
  return { from: { updatedOn: s.start, sysId: '' }, options: { afterSecond: !s.first, until } };
}

/**
 * How long the `index`-th of `count` slices waits before its first request. Slices that start
 * together stay together: their pages come back in the same moment and are parsed on one core at
 * the same time, so every slice waits for all of them, round after round (in bench/parallel.mjs
 * at --concurrency 4, pages whose simulated cost is 2.3 s took 3.2 to 3.9 s). Starting them
 * 300 ms apart, spread over at most a second, keeps their pages apart for the whole backfill.
 */
export function sliceStartDelayMs(index: number, count: number): number {
  return index * Math.min(300, 1000 / Math.max(1, count - 1));
}
