import { rawValue } from './entry.js';
import type { Row } from './response.js';
import { utcMillis } from './time.js';

/**
 * Typed rows (--types): a raw row's string values converted by each field's type in the table's
 * dictionary (sys_dictionary.internal_type). Pure, so every conversion is tested directly.
 */

/** What a field's values become. Anything the table says that is not listed stays a string. */
export type TypeKind = 'string' | 'integer' | 'number' | 'boolean' | 'datetime' | 'date' | 'reference';

export interface FieldType {
  element: string;
  kind: TypeKind;
  /** sys_dictionary.internal_type as the instance names it (`integer`, `glide_date_time`, …). */
  internalType: string;
  /** The table of the dictionary entry: the table itself, or the parent it inherits the field from. */
  definedOn: string;
  label?: string;
  maxLength?: number;
  /** For references: the table referred to. */
  reference?: string;
}

export interface TableTypes {
  table: string;
  /** The table, then its parents up to the root (`incident`, `task`). */
  lineage: string[];
  label?: string;
  fields: ReadonlyMap<string, FieldType>;
}

const KINDS: Record<string, TypeKind> = {
  integer: 'integer',
  longint: 'integer',
  decimal: 'number',
  float: 'number',
  currency: 'number',
  price: 'number',
  boolean: 'boolean',
  glide_date_time: 'datetime',
  due_date: 'datetime',
  calendar_date_time: 'datetime',
  glide_date: 'date',
  reference: 'reference',
};

export function kindOf(internalType: string): TypeKind {
  return KINDS[internalType.trim().toLowerCase()] ?? 'string';
}

/** Where empty means "no value" (null): every kind but string, where "" is a value. */
export const nullable = (kind: TypeKind): boolean => kind !== 'string';

/**
 * `json`: the typed row as nowpipe writes it (date-times ISO 8601 UTC, dates yyyy-MM-dd).
 * `connect`: the payload of a Kafka Connect JsonConverter envelope, whose schema gives
 * date-times as Timestamp (int64 ms since the epoch) and dates as Date (int32 days).
 */
export type TypedMode = 'json' | 'connect';

/** A value its field's type cannot hold: the row is bad (see sinks/bad-rows.ts). */
export class UnconvertibleValue extends Error {
  override readonly name = 'UnconvertibleValue';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`field ${field}: ${reason}`);
  }
}

/** A value as a message may quote it: short, one line. */
function quote(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';

/**
 * The whole number's exact digits (JSON numbers have no size limit: a value beyond 2^53 keeps
 * every digit in the text, and a reader that parses into int64 — Kafka Connect, Java, Python,
 * jq 1.7 — gets it exactly). Beyond the 64-bit range nothing downstream can hold it: refused.
 */
function integerText(v: string, internalType: string): string {
  const t = v.trim();
  const m = /^([+-]?)0*(\d+)$/.exec(t);
  if (!m) throw new Error(`${quote(v)} is not a whole number (${internalType})`);
  const digits = m[2]!;
  const negative = m[1] === '-' && digits !== '0';
  const limit = negative ? INT64_MIN_ABS : INT64_MAX;
  if (digits.length > 19 || (digits.length === 19 && digits > limit)) throw new Error(`${quote(v)} does not fit a 64-bit integer (${internalType})`);
  return negative ? `-${digits}` : digits;
}

/**
 * A decimal's exact digits as a JSON number (`.5` → `0.5`, `+1.` → `1`). Currency values may come
 * as `USD;12.50`: the amount is kept, the code dropped.
 */
function decimalText(v: string, internalType: string): string {
  const t = v.trim().replace(/^[A-Za-z]{3};/, '');
  const m = /^([+-]?)0*(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(t);
  const whole = m?.[2] ?? '';
  const fraction = m?.[3] ?? '';
  if (!m || (whole === '' && fraction === '' && !/\d/.test(t)) || !Number.isFinite(Number(t))) throw new Error(`${quote(v)} is not a number (${internalType})`);
  const exp = m[4] === undefined ? '' : `e${m[4]}`;
  return `${m[1] === '-' ? '-' : ''}${whole || '0'}${fraction ? `.${fraction}` : ''}${exp}`;
}

function booleanText(v: string, internalType: string): string {
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1') return 'true';
  if (t === 'false' || t === '0') return 'false';
  throw new Error(`${quote(v)} is not true or false (${internalType})`);
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether y-m-d h:m:s is a real moment (not 2024-02-30, not 25:00). Arithmetic only: it runs for every date of every row. */
function real(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): boolean {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= DAYS[mo - 1]! + (leap ? 1 : 0);
}

/** Milliseconds since the epoch of a UTC date and time, years 0–99 included (Date.UTC maps those to 1900–1999). */

/** Raw date-times are `yyyy-MM-dd HH:mm:ss`, UTC (SERVICENOW.md, "Time"). */
function dateTimeText(v: string, internalType: string, mode: TypedMode): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(v.trim());
  const n = m ? [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!] : undefined;
  if (!n || !real(n[0]!, n[1]!, n[2]!, n[3], n[4], n[5])) throw new Error(`${quote(v)} is not a date-time yyyy-MM-dd HH:mm:ss (${internalType})`);
  return mode === 'connect' ? String(utcMillis(n[0]!, n[1]!, n[2]!, n[3], n[4], n[5])) : `"${m![1]}-${m![2]}-${m![3]}T${m![4]}:${m![5]}:${m![6]}Z"`;
}

function dateText(v: string, internalType: string, mode: TypedMode): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  if (!m || !real(+m[1]!, +m[2]!, +m[3]!)) throw new Error(`${quote(v)} is not a date yyyy-MM-dd (${internalType})`);
  return mode === 'connect' ? String(utcMillis(+m[1]!, +m[2]!, +m[3]!) / 86_400_000) : `"${m[1]}-${m[2]}-${m[3]}"`;
}

/** A value that stays as it came: strings as they are; anything else (not from a raw row) as JSON, or its JSON text in a string for Connect. */
function keptText(v: unknown, mode: TypedMode): string {
  if (typeof v === 'string') return JSON.stringify(v);
  const text = JSON.stringify(v) ?? 'null';
  return mode === 'connect' && v !== null ? JSON.stringify(text) : text;
}

/**
 * One value as JSON text, converted by its field's type. Raw rows carry every value as a string,
 * references as `{link, value}` (the value, a sys_id, is kept). Throws a plain Error with the
 * reason when the type cannot hold the value.
 */
export function valueText(v: unknown, type: FieldType | undefined, mode: TypedMode): string {
  const kind = type?.kind ?? 'string';
  if (kind === 'string') return keptText(v, mode);
  if (v === null || v === undefined) return 'null';
  v = rawValue(v);
  if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
  if (typeof v !== 'string') throw new Error(`${quote(v)} is not a ${type!.internalType} value`);
  if (v === '') return 'null';
  const t = type!.internalType;
  switch (kind) {
    case 'integer':
      return integerText(v, t);
    case 'number':
      return decimalText(v, t);
    case 'boolean':
      return booleanText(v, t);
    case 'datetime':
      return dateTimeText(v, t, mode);
    case 'date':
      return dateText(v, t, mode);
    case 'reference':
      return JSON.stringify(v);
  }
}

/** `"name":`, kept: a table has a few hundred field names and every row repeats them. */
const KEYS = new Map<string, string>();
function keyText(key: string): string {
  let text = KEYS.get(key);
  if (text === undefined) {
    if (KEYS.size >= 10_000) KEYS.clear();
    text = `${JSON.stringify(key)}:`;
    KEYS.set(key, text);
  }
  return text;
}

/**
 * The typed row as JSON text, fields in the order the instance sent them. Fields the dictionary
 * does not know (added after it was read, dot-walked ones) stay as they came. Throws
 * UnconvertibleValue naming the first field its type cannot hold.
 */
export function typedRowText(row: Row, fields: ReadonlyMap<string, FieldType>, mode: TypedMode): string {
  let out = '{';
  for (const key of Object.keys(row)) {
    let text: string;
    try {
      text = valueText(row[key], fields.get(key), mode);
    } catch (err) {
      // A value nested deeper than JSON.stringify can recurse is as unconvertible as "abc" in an integer.
      const reason = err instanceof RangeError ? 'nested too deeply to convert' : (err as Error).message;
      throw new UnconvertibleValue(key, reason);
    }
    out += `${out.length > 1 ? ',' : ''}${keyText(key)}${text}`;
  }
  return `${out}}`;
}
