import { DateTime } from 'luxon';

/** ServiceNow's raw timestamp format: UTC, one-second precision. */
export const SN_FORMAT = 'yyyy-MM-dd HH:mm:ss';

const INPUT_FORMATS = ['yyyy-MM-dd', 'yyyy-MM-dd HH:mm:ss', 'yyyy-MM-dd HH:mm'];

/**
 * Parses a user-supplied date (`yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss` or ISO 8601). Dates without a
 * zone are UTC, as the platform's raw timestamps are. Returns undefined when it is not a date.
 */
export function parseUserDate(input: string): DateTime | undefined {
  const text = input.trim();
  for (const format of INPUT_FORMATS) {
    const dt = DateTime.fromFormat(text, format, { zone: 'utc' });
    if (dt.isValid) return dt;
  }
  const iso = DateTime.fromISO(text, { zone: 'utc', setZone: false });
  if (iso.isValid) return iso.toUTC();
  return undefined;
}

/** Formats an instant as a ServiceNow query literal (UTC, truncated to the second). */
export function toSnTimestamp(at: DateTime | Date | number): string {
  const dt = at instanceof DateTime ? at : typeof at === 'number' ? DateTime.fromMillis(at) : DateTime.fromJSDate(at);
  return dt.toUTC().toFormat(SN_FORMAT);
}

/** Parses a raw ServiceNow timestamp (always UTC). */
export function fromSnTimestamp(value: string): DateTime {
  return DateTime.fromFormat(value, SN_FORMAT, { zone: 'utc' });
}

/** `2024-01-01 10:00:00` → `2024-01-01T10:00:00Z`, for envelopes and logs. */
export function snToIso(value: string): string {
  const dt = fromSnTimestamp(value);
  return dt.isValid ? dt.toISO({ suppressMilliseconds: true })!.replace('+00:00', 'Z') : value;
}

/**
 * `2024-03-01 10:00:00` (UTC) → epoch milliseconds; undefined if it is not that shape. Without
 * luxon: it runs once per Kafka message.
 */
export function snToMillis(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(value);
  if (!m) return undefined;
  return utcMillis(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** Epoch milliseconds of a UTC date-time (month 1-12). Not Date.UTC: it puts years 0-99 in 1900-1999. */
export function utcMillis(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const at = new Date(0);
  at.setUTCFullYear(y, mo - 1, d);
  at.setUTCHours(h, mi, s, 0);
  return at.getTime();
}

export function isSnTimestamp(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value);
}

/** Adds seconds to a raw timestamp, keeping the raw format. */
export function shiftSnTimestamp(value: string, seconds: number): string {
  return fromSnTimestamp(value).plus({ seconds }).toFormat(SN_FORMAT);
}

export const EPOCH = '1970-01-01 00:00:00';
