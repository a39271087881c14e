import type { Cursor } from '../servicenow/query.js';
import { rangeQuery } from '../servicenow/query.js';
import type { TableReader } from '../servicenow/reader.js';

/**
 * One slice of a parallel backfill: rows with start < ts <= end (start inclusive for the first
 * slice), read by its own keyset scan whose cursor is saved in the checkpoint.
 */
export interface SliceState {
  start: string;
  end: string;
  /** The first slice owns its start second; later ones start after it. */
  first: boolean;
  cursor?: Cursor;
  done: boolean;
}

/** How many slices a backfill of `total` rows deserves: none unless it spans several pages. */
export function sliceCount(total: number | undefined, concurrency: number, batchSize: number): number {
  if (total === undefined || concurrency < 2) return 1;
  return Math.max(1, Math.min(concurrency, Math.floor(total / batchSize)));
}

/**
 * Cuts [from, hi] at timestamps found by position, so each slice holds about the same number of
 * rows (by X-Total-Count) and finishes at about the same time. Boundaries are whole seconds, so
 * however dense a second is, it belongs to exactly one slice.
 */
export function slicesFromBoundaries(from: string, hi: string, boundaries: Array<string | undefined>): SliceState[] {
  const cuts = [...new Set(boundaries.filter((b): b is string => b !== undefined && b > from && b < hi))].sort();
  const edges = [from, ...cuts, hi];
  const slices: SliceState[] = [];
  for (let i = 0; i + 1 < edges.length; i++) slices.push({ start: edges[i]!, end: edges[i + 1]!, first: i === 0, done: false });
  return slices;
}

export async function planSlices(reader: TableReader, query: string | undefined, from: string, hi: string, total: number, count: number, signal?: AbortSignal): Promise<SliceState[]> {
  const range = rangeQuery(from, hi, query);
  const boundaries = await Promise.all(
    Array.from({ length: count - 1 }, (_, i) => reader.timestampAt(range, Math.floor((total * (i + 1)) / count), signal)),
  );
  return slicesFromBoundaries(from, hi, boundaries);
}
