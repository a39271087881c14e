import { fullRow, rowJson } from '../servicenow/response.js';
import { snToIso } from '../servicenow/time.js';
import type { ChangeRecord } from './types.js';

export type Format = 'raw' | 'envelope';

/** The value of a record in the chosen format, as an object (Kafka and files serialise it). */
export function recordValue(r: ChangeRecord, format: Format): unknown {
  if (format === 'envelope') {
    return { op: r.op, table: r.table, sys_id: r.sysId, ts: snToIso(r.updatedOn), instance: r.instance, record: r.row && fullRow(r.row) };
  }
  if (r.op === 'd') return { sys_id: r.sysId, __deleted: true, sys_updated_on: r.updatedOn };
  return r.row && fullRow(r.row);
}

/**
 * The record as JSON text in the chosen format (no newline): a Kafka value, an NDJSON line's
 * body. A row is written as the exact text the instance sent (cheaper than serialising it again,
 * faithful to the byte, and safe for rows nested deeper than JSON.stringify can recurse): every
 * row read from the instance has it (parseRow). Only rows built in code are serialised.
 */
export function formatJson(r: ChangeRecord, format: Format): string {
  const text = r.row ? rowJson(r.row) : undefined;
  if (text === undefined) return JSON.stringify(recordValue(r, format));
  if (format === 'raw') return text;
  const head = JSON.stringify({ op: r.op, table: r.table, sys_id: r.sysId, ts: snToIso(r.updatedOn), instance: r.instance });
  return `${head.slice(0, -1)},"record":${text}}`;
}

/** One NDJSON line, newline included. */
export function formatLine(r: ChangeRecord, format: Format): string {
  return `${formatJson(r, format)}\n`;
}
