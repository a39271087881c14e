import { compareCursor, type Cursor } from '../servicenow/query.js';
import { shiftSnTimestamp } from '../servicenow/time.js';
import type { Slice, StreamName, TableProgress, VersionWindow } from './progress.js';

/**
 * The only ways progress changes. Pure: each returns a new TableProgress (or the same object
 * when nothing changed, so the caller can skip a needless write).
 */

/** A row version that was written: when it was stamped, and which version of which row it is. */
export interface Written {
  at: string;
  version: string;
}

/** The overlap window keeps at most this many versions (a dense second); past it only a duplicate is possible. */
export const MAX_RECENT_VERSIONS = 20_000;

const later = (a: Cursor | undefined, b: Cursor): Cursor => (a && compareCursor(a, b) >= 0 ? a : b);

/** The oldest second the overlap re-read behind `cursor` can reach (one more for safety). */
export function windowStart(cursor: Cursor, overlapSeconds: number): string {
  return shiftSnTimestamp(cursor.updatedOn, -Math.ceil(overlapSeconds) - 1);
}

/**
 * A stream's remembered versions: `window`, and `floor` once the cap made it forget some: every
 * row version after `floor` (in keyset order) inside the window is remembered, so the overlap
 * re-read starts there (re-reading what was forgotten would write it all again, on every poll).
 */
export interface Remembered {
  window?: VersionWindow;
  floor?: Cursor;
}

/**
 * Adds written versions to a window and forgets those older than `from`; past the cap, the
 * oldest seconds first. When even the second of `keep` (the cursor) is more than the cap holds,
 * it is forgotten too and the floor is the cursor itself: every row up to it is written, so the
 * re-read starts after it (a resume in the middle of a dense second goes on from its row). A
 * floor the window no longer reaches is dropped.
 */
export function remember(was: Remembered, written: readonly Written[], from: string, keep: Cursor): Remembered {
  const window = was.window;
  const floor = was.floor !== undefined && was.floor.updatedOn >= from ? was.floor : undefined;
  const fresh = written.filter((w) => w.at >= from);
  const stale = window !== undefined && Object.keys(window).some((second) => second < from);
  if (fresh.length === 0 && !stale && floor === was.floor) return was;
  const next: VersionWindow = {};
  for (const [second, versions] of Object.entries(window ?? {})) if (second >= from) next[second] = versions;
  const copied = new Set<string>(); // copy on write: the old window's arrays stay as they were
  for (const w of fresh) {
    if (!copied.has(w.at)) {
      next[w.at] = [...(next[w.at] ?? [])];
      copied.add(w.at);
    }
    next[w.at]!.push(w.version);
  }
  let size = Object.values(next).reduce((n, v) => n + v.length, 0);
  let forgot: Cursor | undefined;
  for (const second of Object.keys(next).sort()) {
    if (size <= MAX_RECENT_VERSIONS) break;
    size -= next[second]!.length;
    delete next[second];
    // A whole second before the cursor's: the re-read starts at the next second. The cursor's
    // own: after the cursor.
    forgot = second >= keep.updatedOn ? keep : { updatedOn: shiftSnTimestamp(second, 1), sysId: '' };
  }
  return {
    window: Object.keys(next).length > 0 ? next : undefined,
    floor: forgot !== undefined && (floor === undefined || compareCursor(forgot, floor) > 0) ? forgot : floor,
  };
}

function withRecent(p: TableProgress, stream: StreamName, r: Remembered): Pick<TableProgress, 'recent' | 'recentFrom'> {
  let recent = p.recent;
  if (r.window !== p.recent?.[stream]) {
    const next = { ...p.recent, [stream]: r.window };
    if (r.window === undefined) delete next[stream];
    recent = Object.keys(next).length > 0 ? next : undefined;
  }
  let recentFrom = p.recentFrom;
  if (r.floor !== p.recentFrom?.[stream]) {
    const next = { ...p.recentFrom, [stream]: r.floor };
    if (r.floor === undefined) delete next[stream];
    recentFrom = Object.keys(next).length > 0 ? next : undefined;
  }
  return { recent, recentFrom };
}

const rememberedOf = (p: TableProgress, stream: StreamName): Remembered => ({ window: p.recent?.[stream], floor: p.recentFrom?.[stream] });

function withoutUndefined(p: TableProgress): TableProgress {
  if (p.recent === undefined) delete p.recent;
  if (p.recentFrom === undefined) delete p.recentFrom;
  return p;
}

/** A stream's rows up to `to` are durable: its cursor moves there and the versions are remembered. */
export function advance(p: TableProgress, stream: StreamName, to: Cursor, written: readonly Written[], overlapSeconds: number): TableProgress {
  const key = stream === 'rows' ? 'cursor' : 'deletesCursor';
  const cursor = later(p[key], to);
  const r = withRecent(p, stream, remember(rememberedOf(p, stream), written, windowStart(cursor, overlapSeconds), cursor));
  if (cursor === p[key] && written.length === 0 && r.recent === p.recent && r.recentFrom === p.recentFrom) return p;
  const next: TableProgress = withoutUndefined({ ...p, [key]: cursor, ...r });
  if (stream === 'rows') next.rows = p.rows + written.length;
  else next.deletes = (p.deletes ?? 0) + written.length;
  return next;
}

/** A parallel backfill was planned: slices ending at `hi`, each to be read from its start. */
export function slicesPlanned(p: TableProgress, slices: readonly Slice[], hi: string): TableProgress {
  return { ...p, slices: slices.map((s) => ({ ...s })), slicesHi: hi };
}

function replaceSlice(p: TableProgress, index: number, change: (s: Slice) => Slice): Slice[] {
  const slices = p.slices;
  if (!slices || !slices[index]) throw new Error(`no slice ${index} in progress`);
  return slices.map((s, i) => (i === index ? change(s) : s));
}

/**
 * One slice's rows up to `to` are durable. The versions are remembered behind the highest slice
 * cursor: the overlap re-read after the backfill starts behind the highest row of all.
 */
export function sliceAdvanced(p: TableProgress, index: number, to: Cursor, written: readonly Written[], overlapSeconds: number): TableProgress {
  const slices = replaceSlice(p, index, (s) => ({ ...s, cursor: later(s.cursor, to) }));
  const top = slices.reduce<Cursor>((acc, s) => (s.cursor ? later(acc, s.cursor) : acc), p.cursor);
  const r = withRecent(p, 'rows', remember(rememberedOf(p, 'rows'), written, windowStart(top, overlapSeconds), top));
  return withoutUndefined({ ...p, slices, rows: p.rows + written.length, ...r });
}

/** A slice is read to its end (its last rows durable). */
export function sliceDone(p: TableProgress, index: number): TableProgress {
  return { ...p, slices: replaceSlice(p, index, (s) => ({ ...s, done: true })) };
}

/** Every slice is done: the table goes on as one cursor, at the highest row written. */
export function slicesMerged(p: TableProgress, overlapSeconds: number): TableProgress {
  if (!p.slices) return p;
  if (p.slices.some((s) => !s.done)) throw new Error('slices merged before every slice was done');
  const cursor = p.slices.reduce<Cursor>((acc, s) => (s.cursor ? later(acc, s.cursor) : acc), p.cursor);
  const { slices: _slices, slicesHi: _hi, ...rest } = p;
  return withoutUndefined({ ...rest, cursor, ...withRecent(p, 'rows', remember(rememberedOf(p, 'rows'), [], windowStart(cursor, overlapSeconds), cursor)) });
}

/** Whether this version of a row is already written (it lies in the remembered window). */
export function written(p: TableProgress, stream: StreamName, at: string, version: string): boolean {
  const versions = p.recent?.[stream]?.[at];
  if (versions === undefined) return false;
  if (versions.length < 16) return versions.includes(version);
  let set = indexes.get(versions);
  if (!set) indexes.set(versions, (set = new Set(versions)));
  return set.has(version);
}

/** Lookup sets for the long lists of a dense second; a window's lists never change once made. */
const indexes = new WeakMap<string[], Set<string>>();
