/**
 * Encoded queries for keyset paging on (sys_updated_on, sys_id) (see SERVICENOW.md, "Paging"):
 * advance by timestamp from the cursor's second up to a fixed high-water mark, and drain a dense
 * second by sys_id (which query comes when is decided in keyset.ts).
 */

export interface Cursor {
  /** Raw `sys_updated_on` (UTC, `yyyy-MM-dd HH:mm:ss`) of the last row written. */
  updatedOn: string;
  /** `sys_id` of the last row written in that second; '' means none of that second yet. */
  sysId: string;
}

/** The fields the cursor and change detection need, added to any projection. */
export const CURSOR_FIELDS = ['sys_id', 'sys_updated_on', 'sys_created_on', 'sys_mod_count'] as const;

/** A literal `^` inside a value is written `^^`. */
export function escapeValue(value: string): string {
  return value.replaceAll('^', '^^');
}

function and(userQuery: string | undefined, ours: string): string {
  return userQuery ? `${userQuery}^${ours}` : ours;
}

/** Rows of the cursor's second after the cursor's sys_id. */
export function drainQuery(cursor: Cursor, userQuery?: string, field = 'sys_updated_on'): string {
  const ts = escapeValue(cursor.updatedOn);
  const after = cursor.sysId === '' ? '' : `^sys_id>${escapeValue(cursor.sysId)}`;
  return and(userQuery, `${field}=${ts}${after}^ORDERBYsys_id`);
}

/**
 * Rows from the second `from` (or after it, with `inclusive` false) up to and including the
 * high-water second, in keyset order. Starting inclusive re-reads the rows of `from` already
 * taken (the client skips them) instead of spending a request on draining that second.
 */
export function advanceQuery(from: string, hi: string, userQuery?: string, field = 'sys_updated_on', inclusive = false): string {
  return and(userQuery, `${field}${inclusive ? '>=' : '>'}${escapeValue(from)}^${field}<=${escapeValue(hi)}^ORDERBY${field}^ORDERBYsys_id`);
}

/** Everything a sweep from `since` to `hi` will read (for counts and ETA). */
export function rangeQuery(since: string, hi: string, userQuery?: string, field = 'sys_updated_on'): string {
  return and(userQuery, `${field}>=${escapeValue(since)}^${field}<=${escapeValue(hi)}`);
}

/**
 * Problems with a user's extra filter. It is ANDed in front of ours, which is only sound for
 * plain AND/OR conditions: `^NQ` would scope our cursor to its last part, ORDERBY fights ours.
 */
export function userQueryProblems(query: string): string[] {
  const problems: string[] = [];
  const unescaped = query.replaceAll('^^', '');
  if (/\^NQ/.test(unescaped)) problems.push('query: ^NQ (OR of whole queries) cannot be combined with the cursor; run one export per part instead');
  if (/(^|\^)ORDERBY/.test(unescaped)) problems.push('query: remove ORDERBY; nowpipe orders by sys_updated_on, sys_id itself');
  if (/javascript:/i.test(unescaped)) problems.push('query: javascript: expressions are evaluated in the session user\'s time zone; use UTC literals such as sys_created_on>=2024-01-01 00:00:00');
  if (/(^|\^)$/.test(unescaped) || unescaped.startsWith('^')) problems.push('query: must not start or end with ^');
  return problems;
}

/** The projection to request: the user's fields plus the cursor fields, or undefined for all. */
export function projection(fields: readonly string[] | undefined): string | undefined {
  if (!fields || fields.length === 0) return undefined;
  const all = new Set([...CURSOR_FIELDS, ...fields]);
  return [...all].join(',');
}

/** Total order of cursors, as the instance sorts them (plain string comparison). */
export function compareCursor(a: Cursor, b: Cursor): number {
  if (a.updatedOn !== b.updatedOn) return a.updatedOn < b.updatedOn ? -1 : 1;
  if (a.sysId === b.sysId) return 0;
  return a.sysId < b.sysId ? -1 : 1;
}
