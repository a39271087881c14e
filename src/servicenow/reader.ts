import { ResponseError } from '../errors/index.js';
import type { ServiceNowClient, Params } from './client.js';
import type { BatchSize } from './exchange.js';
import { advanceQuery, compareCursor, CURSOR_FIELDS, drainQuery, projection, type Cursor } from './query.js';
import type { Row, TableResponse } from './response.js';
import { isSnTimestamp } from './time.js';

export interface ReaderOptions {
  table: string;
  /** The user's extra filter, ANDed in front of the cursor conditions. */
  query?: string;
  fields?: readonly string[];
  displayValue: 'false' | 'true' | 'all';
  batchSize: number;
  /** The timestamp the cursor follows: sys_updated_on for tables, sys_created_on for sys_audit_delete. */
  cursorField?: string;
}

export interface Page {
  rows: Row[];
  /** The cursor after this page: the last row's (timestamp, sys_id). */
  cursor: Cursor;
  /** The last rows of one response (request) to the instance (unless they were all dropped). */
  end: boolean;
}

/** How much of a response is gathered before it is handed on (see sweep). */
const BATCH: BatchSize = { rows: 1_000, bytes: 1 << 20 };

export interface ReaderEvents {
  pageSizeReduced?: (from: number, to: number) => void;
  hiddenBlock?: (skipped: number) => void;
  outOfOrder?: (previous: Cursor, row: Cursor) => void;
}

/** Reads a field's raw value whether rows are raw (`"x"`) or `display_value=all` (`{value:"x"}`). */
export function rawValue(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'value' in v) return (v as { value: unknown }).value;
  return v;
}

function toDisplay(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v !== null && typeof v === 'object' && 'display_value' in v ? (v as { display_value: unknown }).display_value : v;
  }
  return out;
}

/**
 * Keyset reader for one table (SERVICENOW.md, "Paging: the traps"): drains the cursor's second by
 * sys_id, then advances by timestamp up to a high-water mark fixed for the sweep. Never pages by
 * offset, except to step over a block of ACL-hidden rows inside one keyset query.
 */
export class TableReader {
  private limit: number;
  private readonly field: string;
  /** The fields the pipeline reads from a row; the rest travels as the row's text (see parseRow). */
  private readonly keep?: ReadonlySet<string>;
  /** Responses that came back with a full page: more may be waiting past this sweep's end. */
  fullResponses = 0;

  constructor(
    private readonly client: ServiceNowClient,
    private readonly options: ReaderOptions,
    private readonly events: ReaderEvents = {},
  ) {
    this.limit = options.batchSize;
    this.field = options.cursorField ?? 'sys_updated_on';
    // Display values (`true`) are converted from the whole object, so those rows stay whole.
    this.keep = options.displayValue === 'true' ? undefined : new Set([...CURSOR_FIELDS, this.field, ...(options.fields ?? [])]);
  }

  /** The page size in use (smaller than asked once the instance cancelled a request for time). */
  get pageSize(): number {
    return this.limit;
  }

  private baseParams(): Params {
    const fields = projection(this.options.fields);
    return {
      sysparm_fields: fields === undefined ? undefined : [...new Set([...fields.split(','), this.field])].join(','),
      // display_value=true would give the cursor local-time strings; ask for both and keep the raw one.
      sysparm_display_value: this.options.displayValue === 'false' ? undefined : 'all',
    };
  }

  /**
   * One cheap request for the server clock (`Date` header) and the number of rows matching
   * `query` (for the ETA). Also proves the URL, credentials and table are good.
   */
  async probe(query: string, signal?: AbortSignal, offset = 0): Promise<{ serverNow: number; total?: number; sample?: Row }> {
    const res = await this.client.getTable(
      this.options.table,
      { sysparm_query: query, sysparm_limit: offset > 0 ? 50 : 1, sysparm_offset: offset > 0 ? offset : undefined, sysparm_fields: ['sys_id', this.field].join(',') },
      signal,
    );
    return { serverNow: res.serverDate ?? Date.now(), total: res.totalCount, sample: res.rows[0] };
  }

  /**
   * The timestamp of about the `position`-th row of `query` (ordered by the cursor field), used
   * only to cut a backfill into slices of similar size. Offset is fine here: drift only makes a
   * slice a little bigger or smaller, it cannot lose a row.
   */
  async timestampAt(query: string, position: number, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.probe(`${query}^ORDERBY${this.field}`, signal, Math.max(1, position));
    const v = res.sample ? rawValue(res.sample[this.field]) : undefined;
    return isSnTimestamp(v) ? v : undefined;
  }

  cursorOf(row: Row): Cursor {
    const ts = rawValue(row[this.field]);
    const id = rawValue(row.sys_id);
    if (!isSnTimestamp(ts) || typeof id !== 'string' || id === '') {
      throw new ResponseError(`a row came back without a raw ${this.field} and sys_id (got ${JSON.stringify(ts)})`, {
        problem: 'error-body',
        method: 'GET',
        url: this.client.tableUrl(this.options.table, {}),
        retriable: false,
      });
    }
    return { updatedOn: ts, sysId: id };
  }

  /**
   * Every row after `from` up to and including the second `hi`, as pages in cursor order.
   * Empty pages are not yielded. The generator ends when the range is exhausted. With
   * `afterSecond`, the whole second `from.updatedOn` is excluded (a slice boundary owned by the
   * slice before).
   *
   * A page here is a batch of about 1 MiB of one response, handed on while the rest of the
   * response is still arriving, so memory does not grow with --batch-size. `end` marks a response's last batch. A response
   * that breaks off after some rows goes on from the last row taken, within the retry budget.
   */
  async *sweep(from: Cursor, hi: string, signal?: AbortSignal, options: { afterSecond?: boolean } = {}): AsyncGenerator<Page> {
    if (from.updatedOn > hi) return;
    let cursor = from;
    let draining = !options.afterSecond;
    let offset = 0;
    const output = this.options.displayValue === 'true' ? toDisplay : (r: Row) => r;
    const retrier = this.client.retrier(signal);
    for (;;) {
      const query = draining ? drainQuery(cursor, this.options.query, this.field) : advanceQuery(cursor.updatedOn, hi, this.options.query, this.field);
      const limit = this.limit;
      let received = 0;
      let taken = 0;
      // Rows of this response in cursor order, past the cursor, within hi.
      const take = (batch: Row[], end: boolean): Page | undefined => {
        const rows: Row[] = [];
        for (const row of batch) {
          const c = this.cursorOf(row);
          if (compareCursor(c, cursor) <= 0) {
            // Sorted keyset results never go backwards; a row that does was already written.
            this.events.outOfOrder?.(cursor, c);
            continue;
          }
          if (c.updatedOn > hi) continue;
          rows.push(output(row));
          cursor = c;
        }
        taken += rows.length;
        return rows.length > 0 ? { rows, cursor, end } : undefined;
      };
      let res: TableResponse | undefined;
      let failure: unknown;
      try {
        const stream = this.client.streamTable(
          this.options.table,
          { ...this.baseParams(), sysparm_query: query, sysparm_limit: limit, sysparm_offset: offset > 0 ? offset : undefined },
          signal,
          this.keep,
          BATCH,
        );
        try {
          // No reading ahead while the consumer writes: the socket's buffers keep the transfer
          // going, and a batch that lives one batch long dies young in the garbage collector's
          // nursery (reading ahead cost 40 MB of peak memory and no measurable time).
          for (;;) {
            const r = await stream.next();
            if (r.done) {
              res = r.value;
              break;
            }
            received += r.value.rows.length;
            const page = take(r.value.rows, r.value.last);
            if (page) yield page;
          }
        } finally {
          // A consumer that stops early leaves the response half read: close it (its connection
          // and limiter slot).
          await stream.return(undefined as never).catch(() => undefined);
        }
      } catch (err) {
        failure = err;
      }
      if (res === undefined) {
        const err = failure;
        if (signal?.aborted) throw err; // stopping: nothing more is written
        // The platform's transaction quota cancels long requests: a smaller page gets through.
        if (err instanceof ResponseError && err.problem === 'cancelled' && received === 0 && this.limit > 1) {
          const was = this.limit;
          this.limit = Math.max(1, Math.floor(this.limit / 2));
          this.events.pageSizeReduced?.(was, this.limit);
          continue;
        }
        // Broke off after some rows (a reset, a cut-off body): go on from the last row taken.
        // (Failures before any row were retried by streamTable.)
        if (received === 0) throw err;
        await retrier.after(err);
        draining = true;
        offset = 0;
        continue;
      }
      retrier.reset();
      if (received >= limit) this.fullResponses += 1;
      // X-Total-Count counts rows before ACLs hide any, so it says whether this query has more
      // rows past this page even when the page came back short or empty.
      const more = res.totalCount !== undefined ? offset + limit < res.totalCount : res.hasNext || received >= limit;

      if (taken > 0) {
        offset = 0;
        if (more) draining = true;
        else if (draining) draining = false;
        else return;
      } else if (more) {
        // A block of rows hidden by ACLs: step over it within this same keyset query. Step a
        // little less than a page so a hidden row leaving the window mid-step cannot make us
        // jump past a visible one.
        const step = Math.max(1, limit - Math.ceil(limit / 10));
        offset += step;
        this.events.hiddenBlock?.(step);
      } else if (draining) {
        draining = false;
        offset = 0;
      } else {
        return;
      }
    }
  }
}
