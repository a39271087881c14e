import type { Slice } from '../checkpoint/progress.js';
import type { KeysetReader } from '../servicenow/reader.js';
import { shiftSnTimestamp } from '../servicenow/time.js';

/**
 * Planning a parallel backfill. A slice holds the rows with start < ts <= end and is read by
 * its own keyset scan, whose cursor is saved in the checkpoint.
 */

/** How many slices a backfill of `total` rows deserves: none unless it spans several pages. */
export function sliceCount(total: number | undefined, concurrency: number, batchSize: number): number {
  if (total === undefined || concurrency < 2) return 1;
  return Math.max(1, Math.min(concurrency, Math.floor(total / batchSize)));
}

/**
 * Cuts [from, hi] at timestamps found by position, so each slice holds about the same number of
 * rows (by X-Total-Count) and finishes at about the same time. Boundaries are whole seconds, so
 * however dense a second is, it belongs to exactly one slice. The first slice starts a second
 * before the range, so it owns the range's first second.
 */
export function slicesFromBoundaries(from: string, hi: string, boundaries: Array<string | undefined>): Slice[] {
  const cuts = [...new Set(boundaries.filter((b): b is string => b !== undefined && b > from && b < hi))].sort();
  const edges = [shiftSnTimestamp(from, -1), ...cuts, hi];
  const slices: Slice[] = [];
  for (let i = 0; i + 1 < edges.length; i++) slices.push({ start: edges[i]!, end: edges[i + 1]!, first: false, done: false });
  return slices;
}

/**
 * Where the slices of `total` rows end: the timestamp of the last row of each share. A slice
 * ending at the first row of the next share would hold one row too many, and that one row costs
 * the slice a whole extra request (and the run, which waits for its slowest slice).
 */
export function cutPositions(total: number, count: number): number[] {
  return Array.from({ length: count - 1 }, (_, i) => Math.floor((total * (i + 1)) / count) - 1);
}

export async function planSlices(reader: KeysetReader, from: string, hi: string, total: number, count: number, signal?: AbortSignal): Promise<Slice[]> {
  const boundaries = await Promise.all(cutPositions(total, count).map((position) => reader.timestampAt(from, hi, position, signal)));
  return slicesFromBoundaries(from, hi, boundaries);
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
