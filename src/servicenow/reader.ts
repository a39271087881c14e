import { ConfigError, ResponseError } from '../errors/index.js';
import type { ServiceNowClient, Params } from './client.js';
import { cursorOf, rawValue, type Entry, type RowShape } from './entry.js';
import type { BatchSize } from './exchange.js';
import { countMayBeCapped, limitFor, queryFor, ResponseGate, startPosition, type ScanPosition, type ScanQuery } from './keyset.js';
import { readAhead } from './read-ahead.js';
import { projection, rangeQuery, type Cursor } from './query.js';
import type { Row, TableResponse } from './response.js';
import { isSnTimestamp } from './time.js';

export { rawValue } from './entry.js';

export interface ReaderOptions {
  table: string;
  /** The user's extra filter, ANDed in front of the cursor conditions. */
  query?: string;
  fields?: readonly string[];
  displayValue: 'false' | 'true' | 'all';
  batchSize: number;
  /** How rows become entries: the table's rows, or sys_audit_delete's as deletes. */
  shape: RowShape;
}

/** A batch of one response's rows, in keyset order, each with its cursor. */
export interface Page {
  entries: Entry[];
  /** The scan's position after these entries: the last row taken. */
  cursor: Cursor;
  /**
   * On the last batch of a response: the rows it returned in all, whether the page was full, and
   * how long the instance took to start answering (from the request to its first rows).
   */
  response?: { rows: number; full: boolean; waitMs?: number };
}

/** How much of a response is gathered before it is handed on (see sweep). */
const BATCH: BatchSize = { rows: 1_000, bytes: 1 << 20 };

export interface ReaderEvents {
  pageSizeReduced?: (from: number, to: number) => void;
  /** Rows stepped over as hidden by ACLs (an empty page while the count says rows remain). */
  hiddenRows?: (stepped: number) => void;
  /** Fields asked for with --fields that the instance did not send (it ignores unknown names). */
  fieldsMissing?: (fields: string[]) => void;
}

/** What the pipeline needs from a table: a count and clock, slice boundaries, and keyset sweeps. */
export interface KeysetReader {
  readonly table: string;
  /** The page size in use (smaller than asked once the instance cancelled a request for time). */
  readonly pageSize: number;
  probe(from: string, signal?: AbortSignal): Promise<{ serverNow: number; total?: number }>;
  cursorAt(from: string, hi: string, position: number, signal?: AbortSignal): Promise<Cursor | undefined>;
  sweep(from: Cursor, hi: string, signal?: AbortSignal, options?: SweepOptions): AsyncIterable<Page>;
}

export interface SweepOptions {
  /** Leave out the whole second `from.updatedOn` (a slice boundary owned by the slice before). */
  afterSecond?: boolean;
  /** Stop after this cursor, inside the second `hi` (a slice boundary cut inside a dense second). */
  until?: Cursor;
  /** Ask for the next page while the consumer still writes this one (about a page more memory). */
  readAhead?: boolean;
}

function toDisplay(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v !== null && typeof v === 'object' && 'display_value' in v ? (v).display_value : v;
  }
  return out;
}

/**
 * Keyset reader for one table (SERVICENOW.md, "Paging: the traps"; the decisions are in
 * keyset.ts). Never pages by offset, except to step over a block of ACL-hidden rows inside one
 * keyset query.
 */
export class TableReader implements KeysetReader {
  private limit: number;
  private readonly field: string;
  /** The fields the pipeline reads from a row; the rest travels as the row's text (see parseRow). */
  private readonly keep?: ReadonlySet<string>;
  /** --fields not yet seen in any row (checked on the first response with rows). */
  private unseenFields?: string[];

  constructor(
    private readonly client: ServiceNowClient,
    private readonly options: ReaderOptions,
    private readonly events: ReaderEvents = {},
  ) {
    this.limit = options.batchSize;
    this.field = options.shape.field;
    // Display values (`true`) are converted from the whole object, so those rows stay whole.
    this.keep = options.displayValue === 'true' ? undefined : new Set([...options.shape.reads, ...(options.fields ?? [])]);
    if (options.fields?.length) this.unseenFields = [...options.fields];
  }

  get table(): string {
    return this.options.table;
  }

  get pageSize(): number {
    return this.limit;
  }

  private baseParams(): Params {
    const fields = projection(this.options.fields);
    return {
      sysparm_fields: fields === undefined ? undefined : [...new Set([...fields.split(','), ...this.options.shape.reads])].join(','),
      // display_value=true would give the cursor local-time strings; ask for both and keep the raw one.
      sysparm_display_value: this.options.displayValue === 'false' ? undefined : 'all',
    };
  }

  /**
   * One cheap request for the server clock (`Date` header) and the number of rows from `from`
   * on (for slices and the ETA). Also proves the URL, credentials and table are good.
   */
  async probe(from: string, signal?: AbortSignal): Promise<{ serverNow: number; total?: number }> {
    const res = await this.client.getTable(this.options.table, { sysparm_query: rangeQuery(from, '9999-12-31 23:59:59', this.options.query, this.field), sysparm_limit: 1, sysparm_fields: ['sys_id', this.field].join(',') }, signal);
    const sample = res.rows[0];
    if (sample && !isSnTimestamp(rawValue(sample[this.field]))) {
      // ServiceNow drops a condition on an unknown field: the keyset would not be a keyset.
      const got = rawValue(sample[this.field]);
      throw new ConfigError(
        got === undefined
          ? `cursor field: ${this.options.table} has no field ${this.field} (the instance ignored it)`
          : `cursor field: ${this.options.table}.${this.field} is not a date-time (got ${JSON.stringify(got)})`,
        { hint: 'page by a date-time field of the table itself, such as sys_updated_on (the default) or sys_created_on (--cursor-field)' },
      );
    }
    return { serverNow: res.serverDate ?? Date.now(), total: res.totalCount };
  }

  /**
   * The cursor of about the `position`-th row from `from` to `hi` in keyset order, used only to
   * cut a backfill into slices of similar size, also inside a dense second. Offset is fine here:
   * drift only makes a slice a little bigger or smaller, it cannot lose a row.
   */
  async cursorAt(from: string, hi: string, position: number, signal?: AbortSignal): Promise<Cursor | undefined> {
    const res = await this.client.getTable(
      this.options.table,
      { sysparm_query: `${rangeQuery(from, hi, this.options.query, this.field)}^ORDERBY${this.field}^ORDERBYsys_id`, sysparm_limit: 50, sysparm_offset: Math.max(1, position), sysparm_fields: ['sys_id', this.field].join(',') },
      signal,
    );
    // A page of 50, not 1: sysparm_limit applies before ACLs, and the row at the position may be hidden.
    const row = res.rows[0];
    if (!row) return undefined;
    const ts = rawValue(row[this.field]);
    const id = rawValue(row.sys_id);
    return isSnTimestamp(ts) && typeof id === 'string' && id !== '' ? { updatedOn: ts, sysId: id } : undefined;
  }

  /**
   * Every row after `from` up to and including the second `hi` (or only up to `until` in it),
   * as batches in keyset order.
   *
   * A batch is about 1 MiB of one response, handed on while the rest of the response is still
   * arriving, so memory does not grow with --batch-size. A response that breaks off after some
   * rows goes on from the last row taken, within the retry budget.
   */
  sweep(from: Cursor, hi: string, signal?: AbortSignal, options: SweepOptions = {}): AsyncGenerator<Page> {
    const pages = this.scan(from, hi, signal, options);
    return options.readAhead ? readAhead(pages, (p) => p.entries.length, this.limit + BATCH.rows) : pages;
  }

  private async *scan(from: Cursor, hi: string, signal: AbortSignal | undefined, options: SweepOptions): AsyncGenerator<Page> {
    if (from.updatedOn > hi) return;
    const scan: ScanQuery = { field: this.field, userQuery: this.options.query, hi, until: options.until };
    let position: ScanPosition | undefined = startPosition(from, options.afterSecond);
    const retrier = this.client.retrier(signal);
    const where = { table: this.options.table, url: this.client.tableUrl(this.options.table, {}) };
    while (position) {
      const limit = limitFor(position, this.limit);
      const gate: ResponseGate = new ResponseGate(position, scan, where);
      const sentAt = Date.now();
      let waitMs: number | undefined;
      let res: TableResponse | undefined;
      let failure: unknown;
      try {
        const stream = this.client.streamTable(
          this.options.table,
          { ...this.baseParams(), sysparm_query: queryFor(position, scan), sysparm_limit: limit, sysparm_offset: position.offset > 0 ? position.offset : undefined },
          signal,
          this.keep,
          BATCH,
        );
        try {
          // No reading ahead by default (see SweepOptions.readAhead): against an instance that
          // answers at once the socket's buffers keep the transfer going, and a batch that lives
          // one batch long dies young in the garbage collector's nursery.
          for (;;) {
            const r = await stream.next();
            if (r.done) {
              res = r.value;
              break;
            }
            waitMs ??= Date.now() - sentAt;
            const entries = this.admit(r.value.rows, gate);
            const response = r.value.last ? { rows: gate.received, full: gate.received >= limit, waitMs } : undefined;
            if (entries.length > 0 || (response && response.rows > 0)) yield { entries, cursor: gate.cursor, response };
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
        if (signal?.aborted) throw failure; // stopping: nothing more is written
        if (failure instanceof ResponseError && (failure.problem === 'unsorted' || failure.problem === 'out-of-range')) throw failure;
        // The platform's transaction quota cancels long requests: a smaller page gets through.
        if (failure instanceof ResponseError && failure.problem === 'cancelled' && gate.received === 0 && this.limit > 1) {
          const was = this.limit;
          this.limit = Math.max(1, Math.floor(this.limit / 2));
          this.events.pageSizeReduced?.(was, this.limit);
          continue;
        }
        // Broke off after some rows (a reset, a cut-off body): go on from the last row taken.
        // (Failures before any row were retried by streamTable.)
        if (gate.received === 0) throw failure;
        // A break that still brought rows is progress: the retry budget is for failures in a row.
        if (gate.taken > 0) retrier.reset();
        await retrier.after(failure);
        position = gate.resumeAfterBreak();
        continue;
      }
      retrier.reset();
      let total = res.totalCount;
      if (countMayBeCapped(position.offset, limit, gate.received, total, res.hasNext)) total = await this.recount(position, scan, signal);
      // A step was taken because the count said rows remained past where it started; a count
      // now no higher than that is not the count before ACLs (one made after them, a lie): it
      // cannot tell more hidden rows from the end, so stop.
      if (position.offset > 0 && !res.hasNext && (total === undefined || total <= (position.steppedFrom ?? 0))) throw this.badCount(total, position.offset);
      const outcome = gate.finish(limit, total, res.hasNext);
      if (outcome.hiddenStep) this.events.hiddenRows?.(outcome.hiddenStep);
      position = outcome.next;
    }
  }

  /**
   * The count of a stepping query asked alone (one row, as the probe asks): a count equal to the
   * page asked for may be capped at it (min(total, limit)), which says nothing about the rows
   * past this offset.
   */
  private async recount(position: ScanPosition, scan: ScanQuery, signal: AbortSignal | undefined): Promise<number | undefined> {
    const res = await this.client.getTable(this.options.table, { sysparm_query: queryFor(position, scan), sysparm_limit: 1, sysparm_fields: 'sys_id' }, signal);
    return res.totalCount;
  }

  private badCount(total: number | undefined, offset: number): ResponseError {
    return new ResponseError(
      `${this.options.table}: X-Total-Count ${total === undefined ? 'is missing' : `says ${total} rows`} after ${offset} rows hidden by ACLs were stepped over, so it cannot tell whether more hidden rows or the end follow`,
      // Retriable: in --follow the next poll starts the query again (rows may have moved while
      // they were stepped over); a backfill stops with exit 1.
      { problem: 'bad-count', method: 'GET', url: this.client.tableUrl(this.options.table, {}), retriable: true },
      { hint: 'the instance (or a proxy) reports a count that contradicts its rows (is it counted after ACLs?); nothing after the last row written was saved, so no row is lost: rerun, and if it repeats, ask the admin how X-Total-Count is produced' },
    );
  }

  /** The rows of a response the gate takes, as entries (display values applied). */
  private admit(rows: Row[], gate: ResponseGate): Entry[] {
    const entries: Entry[] = [];
    const { shape, displayValue } = this.options;
    for (const row of rows) {
      const c = cursorOf(row, this.field, gate.where);
      const verdict = gate.admit(c);
      if (verdict !== 'take') continue;
      entries.push(shape.entry(row, c, displayValue === 'true' ? toDisplay(row) : row));
    }
    if (this.unseenFields && rows.length > 0) this.checkFields(rows);
    return entries;
  }

  /** ServiceNow drops unknown names from sysparm_fields silently: say so once (a typo?). */
  private checkFields(rows: Row[]): void {
    const missing = this.unseenFields!.filter((f) => !rows.some((r) => f in r));
    this.unseenFields = undefined;
    if (missing.length > 0) this.events.fieldsMissing?.(missing);
  }
}
