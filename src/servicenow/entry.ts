import { ResponseError } from '../errors/index.js';
import type { Cursor } from './query.js';
import type { Row } from './response.js';
import { isSnTimestamp } from './time.js';

/** c: created in this version, u: updated, d: deleted. */
export type Op = 'c' | 'u' | 'd';

/**
 * One row as the pipeline sees it: the row to write and what the reader read out of it. The
 * reader is the only code that reads a timestamp or a sys_id out of a row, so a display-value
 * row (`--display-value true`, dates in the user's time zone) still carries its raw cursor.
 */
export interface Entry {
  /** What is written (display values already applied); null for a delete. */
  row: Row | null;
  /** The row's keyset position: raw cursor timestamp and sys_id. */
  cursor: Cursor;
  op: Op;
  /** The sys_id of the record the change is about (for a delete: the deleted record's). */
  subject: string;
  /** Identifies this version of the row among those stamped in the same second (for the overlap dedup). */
  version: string;
}

/** Reads a field's raw value whether rows are raw (`"x"`) or `display_value=all` (`{value:"x"}`). */
export function rawValue(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && 'value' in v) return (v).value;
  return v;
}

/** A field's raw value as text: a string as it is, anything else as JSON ('' when absent). */
export function rawText(v: unknown): string {
  const raw = rawValue(v);
  if (typeof raw === 'string') return raw;
  return raw === undefined || raw === null ? '' : JSON.stringify(raw);
}

/** How a table's rows become entries; `sys_audit_delete` rows become deletes (see auditShape). */
export interface RowShape {
  /** The timestamp the cursor follows. */
  readonly field: string;
  /** The fields this shape reads (always requested, whatever --fields says). */
  readonly reads: readonly string[];
  entry(row: Row, cursor: Cursor, output: Row): Entry;
}

/** Created in this version when created == updated, as the Cloud Elements seed decides it. */
function opOf(row: Row): 'c' | 'u' {
  const created = rawValue(row.sys_created_on);
  const updated = rawValue(row.sys_updated_on);
  if (typeof created === 'string' && typeof updated === 'string') return created === updated ? 'c' : 'u';
  return rawValue(row.sys_mod_count) === '0' ? 'c' : 'u';
}

export function tableShape(field = 'sys_updated_on'): RowShape {
  return {
    field,
    reads: ['sys_id', 'sys_updated_on', 'sys_created_on', 'sys_mod_count', field],
    entry: (row, cursor, output) => ({
      row: output,
      cursor,
      op: opOf(row),
      subject: cursor.sysId,
      version: `${cursor.sysId}/${rawText(row.sys_mod_count)}`,
    }),
  };
}

/** Rows of sys_audit_delete: each one the delete of `documentkey`, keyed by (sys_created_on, sys_id). */
export function auditShape(): RowShape {
  return {
    field: 'sys_created_on',
    reads: ['sys_id', 'sys_created_on', 'tablename', 'documentkey'],
    entry: (row, cursor) => ({ row: null, cursor, op: 'd', subject: rawText(row.documentkey), version: cursor.sysId }),
  };
}

/**
 * The row's keyset position, from raw values whatever the display setting. A row without them
 * cannot be placed, so the run stops naming what is missing.
 */
export function cursorOf(row: Row, field: string, where: { table: string; url: string }): Cursor {
  const ts = rawValue(row[field]);
  const id = rawValue(row.sys_id);
  const missing = [];
  if (typeof id !== 'string' || id === '') missing.push(`sys_id (got ${JSON.stringify(id ?? null)})`);
  if (!isSnTimestamp(ts)) missing.push(`a raw ${field} (got ${JSON.stringify(ts ?? null)})`);
  if (missing.length > 0) {
    throw new ResponseError(`a row of ${where.table} came back without ${missing.join(' and without ')}`, {
      problem: 'error-body',
      method: 'GET',
      url: where.url,
      retriable: false,
    });
  }
  return { updatedOn: ts as string, sysId: id as string };
}
