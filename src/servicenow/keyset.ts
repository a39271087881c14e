import { ResponseError } from '../errors/index.js';
import { advanceQuery, compareCursor, drainQuery, type Cursor } from './query.js';

/**
 * The keyset scan of SERVICENOW.md ("Paging: the traps"), as pure decisions: which query comes
 * next, and what each row of a response means. The reader does the HTTP around it.
 *
 * About one request per page: the scan advances with `field>=T` from the cursor's second T and
 * skips the rows of T it already took (those at or before the cursor), so the usual page costs
 * no drain request. Only a page whose rows lie mostly in one second (a bulk import stamps
 * thousands of rows with one second) switches to draining that second by sys_id
 * (`field=T^sys_id>S`), because re-reading it from its start would make no progress.
 */
export interface ScanPosition {
  /** The last row taken, or where the scan starts (`sysId` '' = before any row of that second). */
  cursor: Cursor;
  /** Every row of the cursor's second is behind the scan: the next query starts after it. */
  secondDone: boolean;
  /** Reading the rest of the cursor's second by sys_id. */
  draining: boolean;
  /** Offset inside the same keyset query, only to step over a block of rows hidden by ACLs. */
  offset: number;
  /** The offset the last step was taken from (its count said rows remained past it). */
  steppedFrom?: number;
}

export interface ScanQuery {
  field: string;
  /** The user's filter, ANDed in front. */
  userQuery?: string;
  /** The high-water mark: the last second the sweep reads. */
  hi: string;
  /** A cursor inside that second to stop at (a slice cut inside a dense second): rows after it are beyond. */
  until?: Cursor;
}

export function startPosition(from: Cursor, afterSecond = false): ScanPosition {
  return { cursor: from, secondDone: afterSecond, draining: false, offset: 0 };
}

/**
 * How many rows to ask for: one more than a page when the query starts at the cursor's own row
 * (`>=` its second), which comes back again and is skipped, so a page still brings a page of
 * new rows (and a slice of five pages takes five requests, not six).
 */
export function limitFor(p: ScanPosition, pageSize: number): number {
  return !p.draining && !p.secondDone && p.offset === 0 && p.cursor.sysId !== '' ? pageSize + 1 : pageSize;
}

export function queryFor(p: ScanPosition, q: ScanQuery): string {
  if (p.draining) return drainQuery(p.cursor, q.userQuery, q.field);
  return advanceQuery(p.cursor.updatedOn, q.hi, q.userQuery, q.field, !p.secondDone);
}

/** What to do with one row of a response. `beyond`: past the high-water mark, so the sweep ends here. */
export type Admission = 'take' | 'skip' | 'beyond';

/** What a finished response means for the scan. */
export interface ResponseOutcome {
  /** Where the next request starts; undefined when the sweep is complete. */
  next?: ScanPosition;
  /** Rows stepped over as hidden by ACLs (an empty page while the count says rows remain). */
  hiddenStep?: number;
}

/**
 * Judges the rows of one response in arrival order. Rows must come back in the keyset order the
 * query asked for and inside its range; a row that does not means the instance did not honour
 * the query (it could not sort by the field, or it dropped a condition), and keyset paging is
 * not safe: the run stops rather than skip a row that was never written.
 */
export class ResponseGate {
  received = 0;
  taken = 0;
  private previous?: Cursor;
  private lastSecond = '';
  private lastSecondRows = 0;
  private beyond = false;
  cursor: Cursor;

  constructor(
    private readonly position: ScanPosition,
    private readonly query: ScanQuery,
    readonly where: { table: string; url: string },
  ) {
    this.cursor = position.cursor;
  }

  admit(c: Cursor): Admission {
    this.received += 1;
    if (this.beyond) return 'beyond';
    const { position, query } = this;
    if (this.previous && compareCursor(c, this.previous) <= 0) {
      throw this.refusal('unsorted', `rows came back out of order (${show(c)} after ${show(this.previous)})`, `the instance did not sort by ${query.field}, sys_id, so paging by key is not safe on this table: is it a database view, or a field this user cannot sort by?`);
    }
    this.previous = c;
    if (c.updatedOn === this.lastSecond) this.lastSecondRows += 1;
    else {
      this.lastSecond = c.updatedOn;
      this.lastSecondRows = 1;
    }
    if (query.until && compareCursor(c, query.until) > 0) {
      // Past the end of a slice cut inside a second: the next slice reads it.
      this.beyond = true;
      return 'beyond';
    }
    const from = position.cursor;
    const outside = position.draining
      ? c.updatedOn !== from.updatedOn || (from.sysId !== '' && c.sysId <= from.sysId)
      : c.updatedOn < from.updatedOn || (position.secondDone && c.updatedOn === from.updatedOn);
    if (outside) {
      throw this.refusal('out-of-range', `a row came back outside the range asked for (${show(c)}; asked for ${position.draining ? `${query.field}=${from.updatedOn} after sys_id ${from.sysId || '(none)'}` : `${query.field}${position.secondDone ? '>' : '>='}${from.updatedOn}`})`, `the instance ignored a condition on ${query.field}: check that the field exists on this table and that the integration user's time zone is UTC`);
    }
    if (!position.draining && c.updatedOn > query.hi) {
      // The instance ignored `<=hi`: what lies beyond is read by a later sweep, with a higher mark.
      this.beyond = true;
      return 'beyond';
    }
    if (compareCursor(c, this.cursor) <= 0) return 'skip'; // a row of the cursor's second already taken
    this.taken += 1;
    this.cursor = c;
    return 'take';
  }

  /**
   * The next position once the response is complete. `total` is X-Total-Count (rows matching
   * the query before ACLs removed any), `hasNext` the Link header's next page. Both are hints: a
   * full page always means "maybe more", whatever the count says.
   */
  finish(limit: number, total: number | undefined, hasNext: boolean): ResponseOutcome {
    const p = this.position;
    if (this.beyond) return {};
    // The last row of a slice cut inside a second: its range is read to the end.
    if (this.query.until && compareCursor(this.cursor, this.query.until) === 0) return {};
    const full = this.received >= limit;
    if (this.taken > 0) {
      if (!full && !rowsRemain(p.offset, this.received, total, hasNext)) return this.exhausted(this.cursor);
      if (p.draining) return { next: { ...p, cursor: this.cursor, offset: 0, steppedFrom: undefined } };
      // The next query starts at the cursor's second again and skips what was taken of it: when
      // that is much of a page (a dense second), draining the second by sys_id goes further.
      const dense = this.lastSecondRows > limit / 2;
      return { next: { cursor: this.cursor, secondDone: false, draining: dense, offset: 0 } };
    }
    // Every row came back already taken: the cursor's second fills the page (hidden rows
    // included), so starting at it again makes no progress; or the page is short and its count
    // does not account for every row, so rows of that second may follow, hidden in this window.
    // Drain the second by sys_id, then go on after it: no offsets, whatever the count is worth.
    if (this.received > 0) return full || rowsRemain(p.offset, this.received, total, hasNext) ? { next: { ...p, secondDone: false, draining: true, offset: 0, steppedFrom: undefined } } : this.exhausted(p.cursor);
    // An empty page: a block of rows hidden by ACLs, or the end; only the count can tell. While
    // it counts rows past those stepped over, step over the block inside this same query, a
    // little less than a page so a row leaving the window meanwhile cannot make the step jump
    // past a visible one. (The reader stops when the count falls below the rows stepped over.)
    if (hasNext || (total !== undefined && total > p.offset)) {
      const step = Math.max(1, limit - Math.ceil(limit / 10));
      return { next: { ...p, offset: p.offset + step, steppedFrom: p.offset }, hiddenStep: step };
    }
    return this.exhausted(p.cursor);
  }

  /** This query has nothing more: a drained second goes on after it; an advance is complete. */
  private exhausted(cursor: Cursor): ResponseOutcome {
    if (this.position.draining) return { next: { cursor, secondDone: true, draining: false, offset: 0 } };
    return {};
  }

  /** Where to go on after a response that broke off after some rows (a reset, a cut-off body). */
  resumeAfterBreak(): ScanPosition {
    const p = this.position;
    return { cursor: this.cursor, secondDone: p.secondDone && compareCursor(this.cursor, p.cursor) === 0, draining: p.draining, offset: 0 };
  }

  private refusal(problem: 'unsorted' | 'out-of-range', what: string, why: string): ResponseError {
    return new ResponseError(`${this.where.table}: ${what}`, { problem, method: 'GET', url: this.where.url, retriable: false }, {
      hint: `${why}; nothing after the last row written was saved, so no row is lost`,
    });
  }
}

/**
 * Whether rows matching the query may remain past this short page with rows taken. It never ends
 * a query on the count's word alone (a count may lie low, be counted after ACLs, or be capped at
 * the page: some instances answer min(total, limit)), unless every row the count promised came
 * back: one more request, from the last row, confirms the end.
 */
function rowsRemain(offset: number, received: number, total: number | undefined, hasNext: boolean): boolean {
  return hasNext || total !== offset + received;
}

/** A count that says nothing past this page: capped at the page asked for, met by a short page after stepping. */
export function countMayBeCapped(offset: number, limit: number, received: number, total: number | undefined, hasNext: boolean): boolean {
  return !hasNext && offset > 0 && received < limit && total === limit;
}

const show = (c: Cursor) => `${c.updatedOn} ${c.sysId}`;
