import { AuthError, ConfigError, HttpError, ResponseError } from '../errors/index.js';
import { redirectError } from './transport-errors.js';

export type Row = Record<string, unknown>;

/** Where a row keeps the exact JSON text the instance sent for it (not enumerable, never copied by a spread). */
const ROW_JSON = Symbol('nowpipe.rowJson');

/**
 * Parses one row's text and remembers the text, so sinks can write it as it came instead of
 * serialising the object again. Every row keeps its text: serialising a deeply nested row again
 * (JSON.stringify recurses) can overflow the stack, so a row the instance sent must never need it.
 *
 * Line breaks (a pretty-printing proxy) would break NDJSON, so they become spaces. That changes
 * nothing: valid JSON cannot hold a raw line break inside a string (control characters must be
 * escaped there, as `\n`), so every CR or LF in the text is whitespace between tokens.
 *
 * With `keep`, the row holds only those fields: the text is the row, the
 * fields are what nowpipe reads (cursor, op). A page then costs its text, not its text plus an
 * object graph of the same size. `fullRow` gives the whole row back.
 */
export function parseRow(text: string, keep?: ReadonlySet<string>): Row {
  const parsed = JSON.parse(text) as Row;
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SyntaxError('a result element is not an object');
  if (text.indexOf('\n') !== -1 || text.indexOf('\r') !== -1) text = text.replace(/[\r\n]/g, ' ');
  let row = parsed;
  if (keep) {
    row = {};
    for (const f of keep) if (f in parsed) row[f] = parsed[f];
  }
  Object.defineProperty(row, ROW_JSON, { value: text });
  return row;
}

/** Every field of a row, also of one parsed with `keep`. */
export function fullRow(row: Row): Row {
  const text = rowJson(row);
  return text === undefined ? row : (JSON.parse(text) as Row);
}

/**
 * A row whose text is `text` (a row nowpipe rewrote: typed with --types): sinks write the text,
 * as they write a row's text from the instance. `fields`: what code may still read off it.
 */
export function rowWithJson(text: string, fields: Row = {}): Row {
  Object.defineProperty(fields, ROW_JSON, { value: text });
  return fields;
}

/** The row's JSON text as the instance sent it, when known. */
export function rowJson(row: Row): string | undefined {
  return (row as { [ROW_JSON]?: string })[ROW_JSON];
}

/** A URL as a person reads it: the query decoded (`sys_updated_on>=2024-01-01 00:00:00^…`). */
export function readableUrl(url: string): string {
  try {
    const u = new URL(url);
    const query = [...u.searchParams].map(([k, v]) => `${k}=${v}`).join('&');
    return `${u.origin}${u.pathname}${query ? `?${query}` : ''}`;
  } catch {
    return url;
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body; when the rows were split out while streaming, the rest of it (`{"result":[],...}`). */
  body: string;
  /** When the rows were split out while streaming: whether the body ended where its JSON did (false: cut off). */
  complete?: boolean;
  /** Body size in bytes, for messages. */
  bytes?: number;
  method: string;
  /** The request URL with no credentials in it (they travel in headers). */
  url: string;
}

export interface TableResponse {
  rows: Row[];
  /** Rows matching the query before ACLs removed any (`X-Total-Count`), when sent. */
  totalCount?: number;
  /** The instance's clock (`Date` header), in ms. */
  serverDate?: number;
  /** The `Link` header offers a next page. */
  hasNext: boolean;
}

function header(headers: RawResponse['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `Retry-After` as seconds or an HTTP date; falls back to `X-RateLimit-Reset` (UNIX seconds). */
export function retryAfterMs(headers: RawResponse['headers'], now = Date.now()): number | undefined {
  const ra = header(headers, 'retry-after');
  if (ra !== undefined && ra.trim() !== '') {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(ra);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now);
  return undefined;
}

function errorMessage(parsed: unknown): string | undefined {
  if (!parsed || typeof parsed !== 'object') return undefined;
  const e = (parsed as { error?: unknown }).error;
  if (typeof e === 'string') return e;
  if (e && typeof e === 'object') {
    const { message, detail } = e as { message?: unknown; detail?: unknown };
    return [message, detail].filter((x) => typeof x === 'string' && x !== '').join(': ') || 'unknown error';
  }
  return undefined;
}

function tryParse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const HIBERNATING = /hibernat/i;

/**
 * Turns one HTTP exchange into rows or a meaningful error. Pure, so every trap in
 * SERVICENOW.md (hibernation page, cut-off body, cancelled transaction) is tested directly.
 */
export function interpretTableResponse(res: RawResponse, context: { table: string; user?: string; oauth?: boolean }): TableResponse {
  const { status, method, url, body } = res;
  const details = { method, url };
  const contentType = header(res.headers, 'content-type') ?? '';
  const parsed = contentType.includes('json') ? tryParse(body) : undefined;
  const message = errorMessage(parsed);

  if (status === 401) {
    throw new AuthError(`the instance refused the credentials${message ? ` (${message})` : ''} (${method} ${url})`, {
      hint: context.oauth
        ? 'the instance refused a fresh OAuth token: check that the OAuth application is active and its user may use the REST API'
        : 'check --user and --password (or SERVICENOW_USER / SERVICENOW_PASSWORD); the account must be allowed to use the REST API',
    });
  }
  if (status === 403) {
    throw new AuthError(`user ${context.user ?? '(anonymous)'} may not read table ${context.table}${message ? ` (${message})` : ''} (${method} ${url})`, {
      hint: `grant the user a role with read access to ${context.table} (for example itil for task tables) and the rest_service role`,
    });
  }
  if (status === 400 && message && /invalid table/i.test(message)) {
    throw new ConfigError(`--table: "${context.table}" does not exist on the instance (${message})`, {
      hint: 'check --table: use the table name (incident), not its label (Incident)',
    });
  }
  if (status === 404) {
    throw new HttpError(`not found${message ? `: ${message}` : ''}`, { status, method, url, retriable: false }, {
      hint: 'check --url: it must be the instance root, such as https://acme.service-now.com',
    });
  }
  if (status === 429 || status >= 500) {
    throw new HttpError(status === 429 ? `rate limited${message ? ` (${message})` : ''}` : `server error${message ? ` (${message})` : ''}`, {
      status,
      method,
      url,
      retriable: true,
      retryAfterMs: retryAfterMs(res.headers),
    });
  }
  if (status >= 300 && status < 400) {
    throw redirectError(status, header(res.headers, 'location'), { method, url, what: 'the instance' });
  }
  if (status < 200 || status >= 300) {
    if (message && /transaction cancelled/i.test(message)) {
      throw new ResponseError(`the instance cancelled the request for time (${message})`, { problem: 'cancelled', retriable: false, ...details });
    }
    throw new HttpError(`unexpected response${message ? `: ${message}` : ''}`, { status, method, url, retriable: false }, { hint: 'check --query and --fields' });
  }
  if (!contentType.includes('json')) {
    if (HIBERNATING.test(body)) {
      throw new ResponseError('the instance is hibernating (it answered with its wake-up page)', { problem: 'not-json', ...details }, {
        hint: 'wake the developer instance at developer.servicenow.com; nowpipe retries meanwhile',
      });
    }
    throw new ResponseError(`expected JSON but got ${contentType || 'no content type'} (${res.bytes ?? body.length} bytes)`, { problem: 'not-json', ...details });
  }
  if (parsed === undefined || res.complete === false) {
    throw new ResponseError(`the response body is not valid JSON (${res.bytes ?? body.length} bytes; cut off?)`, { problem: 'truncated', ...details });
  }
  if (message !== undefined) {
    if (/transaction cancelled/i.test(message)) {
      throw new ResponseError(`the instance cancelled the request for time (${message})`, { problem: 'cancelled', retriable: false, ...details });
    }
    throw new ResponseError(`the instance returned an error: ${message}`, { problem: 'error-body', ...details });
  }
  // Streamed: the shell (`{"result":[],...}`) still says whether there was a result array at all.
  const result = (parsed as { result?: unknown }).result;
  if (!Array.isArray(result)) {
    throw new ResponseError('the response has no result array', { problem: 'error-body', ...details });
  }
  const total = header(res.headers, 'x-total-count');
  const date = header(res.headers, 'date');
  const link = header(res.headers, 'link');
  const serverDate = date ? Date.parse(date) : NaN;
  return {
    rows: result as Row[],
    totalCount: total !== undefined && /^\d+$/.test(total) ? Number(total) : undefined,
    serverDate: Number.isNaN(serverDate) ? undefined : serverDate,
    hasNext: link !== undefined && /rel="next"/.test(link),
  };
}
