/**
 * The rules of the webhook sink's settings and of bad rows, pure (no I/O): the config calls
 * `httpProblems` and `badRowProblems` with every other rule, so a bad value is reported before
 * anything connects (exit 2). Nothing here ever quotes a header's value or a URL's query: they
 * carry secrets (API keys, tokens).
 */
import { passwordForms } from './url.js';
import type { Problem } from './kafka-rules.js';

/** One `--http-header`, split. */
export interface HttpHeader {
  name: string;
  value: string;
}

/** Headers nowpipe sets itself on every POST: a user's header may not replace them. */
export const RESERVED_HEADERS = ['content-type', 'content-length', 'transfer-encoding', 'host', 'connection', 'x-nowpipe-batch-id', 'x-nowpipe-signature'];

/** RFC 9110's token: the characters a header name may have. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * `Name: value` (the flag, or an rc list entry), or an rc object's [name, value]: the header,
 * or what is wrong with it. The value is never quoted in the problem.
 */
export function parseHeader(entry: string | [string, unknown]): HttpHeader | { problem: string } {
  let name: string;
  let value: unknown;
  if (typeof entry === 'string') {
    const colon = entry.indexOf(':');
    if (colon <= 0) return { problem: 'must be "Name: value", e.g. "X-Api-Key: <key>" (the value is not shown here: it may be a secret)' };
    name = entry.slice(0, colon).trim();
    value = entry.slice(colon + 1);
  } else {
    [name, value] = entry;
  }
  if (typeof value !== 'string') return { problem: `header ${name}: its value must be text` };
  if (!TOKEN.test(name)) return { problem: `"${name.slice(0, 40)}" is not a header name (letters, digits and !#$%&'*+.^_\`|~-, no spaces)` };
  if (RESERVED_HEADERS.includes(name.toLowerCase())) return { problem: `${name} is set by nowpipe itself and cannot be replaced` };
  const trimmed = value.trim();
  if (trimmed === '') return { problem: `header ${name}: the value is empty` };
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(trimmed)) return { problem: `header ${name}: the value must be one line of printable text` };
  return { name, value: trimmed };
}

const isHeader = (e: unknown): e is HttpHeader => typeof e === 'object' && e !== null && typeof (e as HttpHeader).name === 'string' && 'value' in e;

/** The entries of `httpHeader` as given (flags: a list; rc: a list or an object) or as parsed. */
export function headerEntries(raw: unknown): Array<string | [string, unknown]> | undefined {
  if (typeof raw === 'string') return [raw];
  if (Array.isArray(raw)) return raw.map((e): string | [string, unknown] => (isHeader(e) ? [e.name, e.value] : typeof e === 'string' ? e : String(e)));
  if (typeof raw === 'object' && raw !== null) return Object.entries(raw);
  return undefined;
}

/** Every header value (trimmed) in a raw `httpHeader` setting: all secrets, for redaction. */
export function headerSecrets(raw: unknown): string[] {
  const out: string[] = [];
  for (const e of headerEntries(raw) ?? []) {
    const h = parseHeader(e);
    if ('value' in h) out.push(h.value);
    else if (typeof e === 'string') out.push(e); // unparsable: the whole entry may be the secret
  }
  return out;
}

/**
 * `--http-url`: an http(s) URL, or what is wrong with it. Credentials and a query are allowed
 * (a receiver may want them) but never shown (see shownUrl).
 */
export function httpUrlProblem(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return 'must be a URL such as https://hooks.acme.com/servicenow';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `unsupported protocol ${u.protocol} (use https:// or http://)`;
  if (u.hash !== '') return 'must not have a #fragment (it is never sent)';
  return undefined;
}

/** The URL as people may see it: no user:password, the query as `?…` (it may carry a token). */
export function shownUrl(value: string): string {
  try {
    const u = new URL(value);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(the --http-url)';
  }
}

/** The secrets inside a URL: its password and its query's values (8 characters or more: tokens, not flags). */
export function urlSecrets(value: unknown): string[] {
  if (typeof value !== 'string' || !URL.canParse(value.trim())) return [];
  const u = new URL(value.trim());
  const out = [...passwordForms(u.password), ...[...u.searchParams.values()].filter((v) => v.length >= 8)];
  return out.filter((v) => v !== '');
}

/** What the schema hands over: only the keys these rules look at. */
export interface HttpInput {
  sink?: string;
  httpUrl?: string;
  onBadRow?: 'fail' | 'skip';
  deadLetter?: string;
  skipOversized?: boolean;
}

/** Every problem of the webhook settings (only meaningful with `--sink http`). */
export function httpProblems(c: HttpInput, failed: ReadonlySet<string>): Problem[] {
  if (c.sink !== 'http' || c.httpUrl !== undefined || failed.has('httpUrl')) return [];
  return [{ path: 'httpUrl', message: 'required with --sink http: the receiver, e.g. --http-url https://hooks.acme.com/servicenow' }];
}

/**
 * `--on-bad-row skip` (or its older name `--skip-oversized`) sets rows aside in the dead-letter
 * file, so it needs one: a row is never dropped without a record of it. `--dead-letter` without
 * skip would never be written: refused rather than silently unused.
 */
export function badRowProblems(c: HttpInput): Problem[] {
  const problems: Problem[] = [];
  if (c.skipOversized && c.onBadRow === 'fail') problems.push({ path: 'skipOversized', message: 'is another name for --on-bad-row skip: it contradicts --on-bad-row fail' });
  const skip = c.onBadRow === 'skip' || c.skipOversized === true;
  if (skip && c.deadLetter === undefined) {
    const flag = c.onBadRow === 'skip' ? 'onBadRow' : 'skipOversized';
    problems.push({ path: flag, message: 'needs --dead-letter <file>: the file where rows that cannot be written are kept, with the reason (nowpipe never drops a row without a record of it)' });
  }
  if (!skip && c.deadLetter !== undefined) problems.push({ path: 'deadLetter', message: 'only used with --on-bad-row skip (the default, fail, stops the run at the first bad row): add --on-bad-row skip or drop --dead-letter' });
  return problems;
}
