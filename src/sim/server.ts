import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DateTime } from 'luxon';
import { scalar, compileFilter, compileOrder, parseEncodedQuery, rangeOn } from './encoded-query.js';
import { fmt, incident, makeRefs, parse, REFERENCE_FIELDS, rng, sysId, type Refs, type Row } from './data.js';
import { simOAuth, type SimAnswer, type SimOAuthOptions } from './oauth.js';
import { METADATA_REFERENCES, metadataRows, SIM_FIELDS, SIM_TABLES, type SimField, type SimTableDef } from './dictionary.js';

export type { Row } from './data.js';
export type { SimOAuthClient, SimOAuthOptions } from './oauth.js';

/** A trap to spring on the next `count` matching requests (default 1). */
export type Fault = { count?: number; table?: string } & (
  | { kind: 'status'; status: number; retryAfter?: number }
  | { kind: 'reset' }
  | { kind: 'truncate'; noContentLength?: boolean }
  | { kind: 'hibernate' }
  /** A cancelled transaction; with `whenLimitAbove` it hits every request asking for more rows than that. */
  | { kind: 'cancel'; whenLimitAbove?: number; status?: number }
  | { kind: 'delay'; ms: number }
);

export interface SimUser {
  user: string;
  password: string;
  deniedTables?: string[];
}

export interface SimOptions {
  port?: number;
  host?: string;
  /** Initial incident rows (default 1000). */
  rows?: number;
  seed?: number;
  /** Approximate serialised size of a raw row (default 1000 bytes). */
  rowBytes?: number;
  /** Earliest and latest stamps of the initial rows (UTC `yyyy-MM-dd HH:mm:ss`). Default: the 30 days before a minute ago. */
  start?: string;
  end?: string;
  /** Additionally `count` rows all stamped in one second (default: the middle of the range). */
  burst?: { count: number; at?: string };
  /** Share of rows hidden from the user by ACLs (applied after sysparm_limit, as the platform does). */
  aclHiddenRatio?: number;
  clockSkewMs?: number;
  latencyMs?: number;
  perRowLatencyMs?: number;
  /** Concurrent requests beyond this get 429 (semaphore exhaustion). */
  maxConcurrent?: number;
  users?: SimUser[];
  faults?: Fault[];
  /** Without ORDERBY, rows come back in no particular order (default true, as on the platform). */
  unorderedDefault?: boolean;
  /**
   * Hostile instances, for the tests: `unsorted` ignores ORDERBY (a table or view the field
   * cannot be sorted on); `totalCount` 'capped' answers min(total, limit) on page requests (the
   * one-row probe stays honest), 'inflated' a million more than there are (endless empty pages
   * past the end), 'visible' only the rows the user may see (counted after ACLs: too low when
   * rows are hidden); `dateHeaderSkewMs` moves only the Date header (a broken clock in front).
   */
  unsorted?: boolean;
  totalCount?: 'honest' | 'capped' | 'inflated' | 'visible';
  dateHeaderSkewMs?: number;
  /** OAuth at /oauth_token.do and /oauth_auth.do (see sim/oauth.ts). */
  oauth?: SimOAuthOptions;
  /**
   * More metadata beside the built-in (incident extends task): tables with their parents, and
   * dictionary entries (an entry for an element a parent also defines overrides it for the child).
   */
  dictionary?: { tables?: SimTableDef[]; fields?: SimField[] };
  /** Gives one initial incident (by position in time order, from 0) a value its field's type cannot hold, e.g. priority "abc". */
  unconvertible?: { row: number; field: string; value: string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  at: number;
  rows: number;
  auth: 'basic' | 'bearer' | 'none';
  /** The User-Agent header: tells apart the processes that share a simulator (--user-agent). */
  userAgent?: string;
  /** When the response was finished (or the connection closed): with `at`, when the request was being served. */
  doneAt?: number;
}

interface Stored {
  row: Row;
  key: string;
  hidden: boolean;
  visibleAt: number;
  json?: string;
}

class SimTable {
  rows: Stored[] = [];
  readonly byId = new Map<string, Stored>();
  readonly fields = new Set<string>(['sys_id', 'sys_created_on', 'sys_updated_on', 'sys_mod_count', 'sys_created_by', 'sys_updated_by', 'sys_class_name']);
  constructor(readonly name: string) {}

  static keyOf(row: Row): string {
    return `${String(row.sys_updated_on)}|${String(row.sys_id)}`;
  }

  /** First index whose key is >= k (keys are `ts|sys_id`; `ts|` sorts before that second, `ts|\uffff` after it). */
  bound(k: string): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rows[mid]!.key < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(s: Stored): void {
    for (const f of Object.keys(s.row)) this.fields.add(f);
    const i = this.bound(s.key);
    this.rows.splice(i, 0, s);
    this.byId.set(String(s.row.sys_id), s);
  }

  remove(s: Stored): void {
    const i = this.bound(s.key);
    if (this.rows[i] === s) this.rows.splice(i, 1);
    else this.rows = this.rows.filter((x) => x !== s);
    this.byId.delete(String(s.row.sys_id));
  }
}

export interface Simulator {
  url: string;
  port: number;
  close(): Promise<void>;
  /** The instance clock (what `Date` headers say). */
  now(): Date;
  requests: RecordedRequest[];
  faults: Fault[];
  setDown(down: boolean): void;
  insert(table: string, fields?: Partial<Row>, opts?: { stampedAt?: Date | string; visibleAfterMs?: number; hidden?: boolean }): Row;
  update(table: string, sysId: string, fields?: Partial<Row>, opts?: { stampedAt?: Date | string; visibleAfterMs?: number }): Row;
  deleteRow(table: string, sysId: string, opts?: { stampedAt?: Date | string }): void;
  /** Every row of a table, hidden ones included (copies). */
  rows(table: string): Row[];
  /** The rows a query could ever return to the user: not hidden by ACLs, committed. */
  visibleRows(table: string): Row[];
  startLiveChanges(opts: { perSecond: number; table?: string; updateRatio?: number; deleteRatio?: number; lateCommitRatio?: number; lateByMs?: number; onChange?: (op: 'c' | 'u' | 'd', row: Row) => void }): () => void;
  /** Expires every OAuth access token now (refresh tokens stay valid). */
  expireTokens(): void;
  /** Revokes every OAuth refresh token (as an admin would, or 100 days would). */
  revokeRefreshTokens(): void;
}

const HIBERNATION_PAGE = '<!DOCTYPE html><html><head><title>Instance Hibernating page</title></head><body><h1>Your instance is hibernating</h1><p>Sign in to the developer portal to wake it up.</p></body></html>';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function errorBody(message: string, detail: string | null = null): string {
  return JSON.stringify({ error: { message, detail }, status: 'failure' });
}

export async function startSimulator(options: SimOptions = {}): Promise<Simulator> {
  const random = rng(options.seed ?? 1);
  const refs: Refs = makeRefs(random);
  const rowBytes = options.rowBytes ?? 1000;
  const skew = options.clockSkewMs ?? 0;
  const clock = () => Date.now() + skew;
  const users = options.users ?? [{ user: 'admin', password: 'admin' }];
  const tables = new Map<string, SimTable>();
  const faults: Fault[] = [...(options.faults ?? [])];
  const requests: RecordedRequest[] = [];
  const oauth = simOAuth(options.oauth, users, random, clock);
  let down = false;
  let inflight = 0;
  let counter = 0;
  let baseUrl = '';

  const table = (name: string): SimTable => {
    let t = tables.get(name);
    if (!t) {
      t = new SimTable(name);
      tables.set(name, t);
    }
    return t;
  };
  const audit = table('sys_audit_delete');
  for (const f of ['tablename', 'documentkey']) audit.fields.add(f);
  for (const [name, list] of [['sys_user', refs.users], ['sys_user_group', refs.groups]] as const) {
    const t = table(name);
    for (const r of list) t.add(store({ sys_id: r.id, name: r.name, sys_created_on: '2020-01-01 00:00:00', sys_updated_on: '2020-01-01 00:00:00', sys_mod_count: '0' }, false, 0));
  }

  // Metadata: sys_db_object and sys_dictionary, read by --types and `nowpipe schema`.
  const metadata = metadataRows([...SIM_TABLES, ...(options.dictionary?.tables ?? [])], [...SIM_FIELDS, ...(options.dictionary?.fields ?? [])]);
  for (const [name, rows] of [['sys_db_object', metadata.dbObjects], ['sys_dictionary', metadata.dictionary]] as const) {
    const t = table(name);
    for (const row of rows) t.add(store(row, false, 0));
  }

  function store(row: Row, hidden: boolean, visibleAt: number): Stored {
    return { row, key: SimTable.keyOf(row), hidden, visibleAt };
  }

  // Initial data, generated in time order.
  const inc = table('incident');
  for (const f of ['number', 'short_description', 'description', 'state', 'priority', 'impact', 'urgency', 'active', 'category', 'caller_id', 'opened_by', 'assignment_group', 'opened_at', 'u_effort_hours', 'u_target_date']) inc.fields.add(f);
  const end = options.end ? parse(options.end) : Math.floor((clock() - 60_000) / 1000) * 1000;
  const start = options.start ? parse(options.start) : end - 30 * 86_400_000;
  const hiddenRatio = options.aclHiddenRatio ?? 0;
  const initial: Stored[] = [];
  const count = options.rows ?? 1000;
  for (let i = 0; i < count; i++) {
    const updated = start + Math.floor(((end - start) * (i + random())) / Math.max(1, count));
    const created = random() < 0.3 ? updated : Math.max(start, updated - Math.floor(random() * 86_400_000 * 3));
    initial.push(store(incident(++counter, created, Math.min(updated, end), random, refs, rowBytes), random() < hiddenRatio, 0));
  }
  if (options.burst) {
    const at = options.burst.at ? parse(options.burst.at) : Math.floor((start + (end - start) / 2) / 1000) * 1000;
    for (let i = 0; i < options.burst.count; i++) initial.push(store(incident(++counter, at, at, random, refs, rowBytes), random() < hiddenRatio, 0));
  }
  for (const s of initial) s.key = SimTable.keyOf(s.row);
  initial.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  inc.rows = initial;
  if (options.unconvertible) {
    const { row, field, value } = options.unconvertible;
    const s = initial[row];
    if (!s) throw new Error(`simulator: unconvertible.row ${row} is past the ${initial.length} rows`);
    s.row[field] = value;
  }
  for (const s of initial) inc.byId.set(String(s.row.sys_id), s);

  // ---- serialisation ---------------------------------------------------------------------
  const referenceOf = (field: string): string | undefined => REFERENCE_FIELDS[field] ?? METADATA_REFERENCES[field];
  const refName = (field: string, id: string): string => {
    const target = referenceOf(field);
    if (target !== 'sys_user' && target !== 'sys_user_group') return id;
    const list = target === 'sys_user_group' ? refs.groups : refs.users;
    return list.find((r) => r.id === id)?.name ?? '';
  };
  const displayDate = (v: string) => DateTime.fromFormat(v, 'yyyy-MM-dd HH:mm:ss', { zone: 'utc' }).setZone('America/Los_Angeles').toFormat('MM-dd-yyyy hh:mm:ss a');

  function render(s: Stored, fields: string[] | undefined, mode: string, excludeLinks: boolean): string {
    const plain = fields === undefined && mode === 'false' && !excludeLinks;
    if (plain && s.json !== undefined) return s.json;
    const out: Row = {};
    for (const f of fields ?? Object.keys(s.row)) {
      if (!(f in s.row)) continue;
      const v = s.row[f];
      const ref = referenceOf(f);
      const isDate = (/_on$/.test(f) || f === 'opened_at') && typeof v === 'string' && v !== '';
      if (mode === 'false') {
        out[f] = ref && !excludeLinks && v ? { link: `${baseUrl}/api/now/table/${ref}/${scalar(v)}`, value: v } : v;
      } else {
        const display = ref ? refName(f, scalar(v)) : isDate ? displayDate(scalar(v)) : v;
        if (mode === 'true') out[f] = display;
        else out[f] = ref && !excludeLinks && v ? { display_value: display, link: `${baseUrl}/api/now/table/${ref}/${scalar(v)}`, value: v } : { display_value: display, value: v };
      }
    }
    const json = JSON.stringify(out);
    if (plain) s.json = json;
    return json;
  }

  // ---- the Table API ---------------------------------------------------------------------
  function authenticate(req: IncomingMessage): { ok: boolean; user?: SimUser; kind: RecordedRequest['auth'] } {
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Basic ')) {
      const [u, ...p] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      const user = users.find((x) => x.user === u && x.password === p.join(':'));
      return { ok: user !== undefined, user, kind: 'basic' };
    }
    if (h.startsWith('Bearer ')) {
      const t = oauth.bearer(h.slice(7));
      return { ok: t.ok, user: users.find((x) => x.user === t.user) ?? { user: 'oauth', password: '' }, kind: 'bearer' };
    }
    return { ok: false, kind: 'none' };
  }

  function takeFault(tableName: string | undefined, limit: number): Fault | undefined {
    for (let i = 0; i < faults.length; i++) {
      const f = faults[i]!;
      if (f.table !== undefined && f.table !== tableName) continue;
      if (f.kind === 'cancel' && f.whenLimitAbove !== undefined) {
        if (limit > f.whenLimitAbove) return f;
        continue;
      }
      const left = (f.count ?? 1) - 1;
      if (left <= 0) faults.splice(i, 1);
      else f.count = left;
      return f;
    }
    return undefined;
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}, delayMs = 0, truncate?: { noContentLength?: boolean }): void {
    const go = () => {
      if (res.destroyed) return;
      res.statusCode = status;
      res.setHeader('Date', new Date(clock() + (options.dateHeaderSkewMs ?? 0)).toUTCString());
      res.setHeader('Content-Type', headers['Content-Type'] ?? 'application/json;charset=UTF-8');
      for (const [k, v] of Object.entries(headers)) if (k !== 'Content-Type') res.setHeader(k, v);
      const buf = Buffer.from(body, 'utf8');
      if (truncate) {
        if (!truncate.noContentLength) res.setHeader('Content-Length', String(buf.length));
        res.write(buf.subarray(0, Math.floor(buf.length / 2)));
        // Cut the connection mid-body (with a declared length the client sees a premature close).
        if (truncate.noContentLength) res.end();
        else setImmediate(() => res.socket?.destroy());
        return;
      }
      res.setHeader('Content-Length', String(buf.length));
      res.end(buf);
    };
    if (delayMs > 0) setTimeout(go, delayMs);
    else go();
  }

  function answer(res: ServerResponse, rec: RecordedRequest, a: SimAnswer): void {
    rec.status = a.status;
    send(res, a.status, a.body, a.headers);
  }

  function handleTable(req: IncomingMessage, res: ServerResponse, url: URL, rec: RecordedRequest, user: SimUser | undefined): void {
    const m = /^\/api\/now\/(?:v[12]\/)?table\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m || req.method !== 'GET') {
      rec.status = 400;
      return send(res, 400, errorBody('Requested URI does not represent any resource'));
    }
    const name = decodeURIComponent(m[1]!);
    const q = url.searchParams;
    const limit = Math.max(1, Number(q.get('sysparm_limit') ?? 10000) || 10000);
    const offset = Math.max(0, Number(q.get('sysparm_offset') ?? 0) || 0);
    const fault = takeFault(name, limit);
    if (fault) {
      switch (fault.kind) {
        case 'reset':
          rec.status = 0;
          req.socket.destroy();
          return;
        case 'status': {
          rec.status = fault.status;
          const headers: Record<string, string> = {};
          if (fault.status === 429) {
            if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter);
            headers['X-RateLimit-Limit'] = '1000';
            headers['X-RateLimit-Reset'] = String(Math.floor(clock() / 1000) + (fault.retryAfter ?? 1));
            return send(res, 429, errorBody('Rate limit exceeded', 'Too many requests'), headers);
          }
          if (fault.status === 503) return send(res, 503, '<html><body>Service Unavailable</body></html>', { 'Content-Type': 'text/html' });
          return send(res, fault.status, errorBody('Internal server error'));
        }
        case 'hibernate':
          rec.status = 200;
          return send(res, 200, HIBERNATION_PAGE, { 'Content-Type': 'text/html;charset=UTF-8' });
        case 'cancel':
          rec.status = fault.status ?? 200;
          return send(res, fault.status ?? 200, errorBody('Transaction cancelled: maximum execution time exceeded', 'Check logs for error trace or enable glide.rest.debug property to verify REST request processing'));
        case 'delay':
        case 'truncate':
          break;
      }
    }
    const t = tables.get(name);
    if (!t) {
      rec.status = 400;
      return send(res, 400, errorBody(`Invalid table ${name}`));
    }
    if (user?.deniedTables?.includes(name)) {
      rec.status = 403;
      return send(res, 403, errorBody('Insufficient rights to query records', `Fields present in the query do not have permission to be read`));
    }
    const now = clock();
    const mode = q.get('sysparm_display_value') ?? 'false';
    const excludeLinks = q.get('sysparm_exclude_reference_link') === 'true';
    const fieldsParam = q.get('sysparm_fields');
    const fields = fieldsParam ? fieldsParam.split(',').map((f) => f.trim()).filter((f) => t.fields.has(f)) : undefined;

    if (m[2]) {
      // One record: `{"result": {...}}`, or 404 when it is missing or hidden by ACLs.
      const s = t.byId.get(m[2]);
      if (!s || s.visibleAt > now || s.hidden) {
        rec.status = 404;
        return send(res, 404, errorBody('No Record found', "Record doesn't exist or ACL restricts the record retrieval"));
      }
      rec.status = 200;
      rec.rows = 1;
      return send(res, 200, `{"result":${render(s, fields, mode, excludeLinks)}}`);
    }
    let scrambled: Stored[] | undefined;
    const parsed = parseEncodedQuery(q.get('sysparm_query') ?? '', t.fields);
    const filter = compileFilter(parsed);
    // Binary-search the rows (kept sorted by sys_updated_on, sys_id) for plain range queries.
    let from = 0;
    let to = t.rows.length;
    const range = rangeOn(parsed, 'sys_updated_on');
    if (range?.low !== undefined) from = t.bound(range.lowInclusive ? `${range.low}|` : `${range.low}|\uffff`);
    if (range?.high !== undefined) to = t.bound(range.highInclusive ? `${range.high}|\uffff` : `${range.high}|`);
    const matched: Stored[] = [];
    for (let i = from; i < to; i++) {
      const s = t.rows[i]!;
      if (s.visibleAt <= now && filter(s.row)) matched.push(s);
    }
    const order = options.unsorted ? undefined : compileOrder(parsed);
    if (order) {
      let sorted = true;
      for (let i = 1; i < matched.length && sorted; i++) if (order(matched[i - 1]!.row, matched[i]!.row) > 0) sorted = false;
      if (!sorted) matched.sort((a, b) => order(a.row, b.row));
    } else if ((options.unsorted || options.unorderedDefault !== false) && matched.length > 1) {
      // No ORDERBY: the platform promises no order. Give a stable scramble (a stride
      // permutation), computed for the requested window only so big tables stay cheap.
      const n = matched.length;
      let stride = Math.floor(n * 0.618) | 1;
      while (gcd(stride, n) !== 1) stride += 2;
      const window: Stored[] = [];
      for (let i = offset; i < Math.min(n, offset + limit); i++) window.push(matched[(i * stride + 7) % n]!);
      scrambled = window;
    }
    const total =
      options.totalCount === 'inflated'
        ? matched.length + 1_000_000
        : options.totalCount === 'capped' && limit > 1
          ? Math.min(matched.length, limit)
          : options.totalCount === 'visible'
            ? matched.filter((s) => !s.hidden).length
            : matched.length;
    // sysparm_limit applies before ACLs: the page can come back short, or empty.
    const page = (scrambled ?? matched.slice(offset, offset + limit)).filter((s) => !s.hidden);
    const body = `{"result":[${page.map((s) => render(s, fields, mode, excludeLinks)).join(',')}]}`;
    const headers: Record<string, string> = {};
    if (q.get('sysparm_no_count') !== 'true') headers['X-Total-Count'] = String(total);
    if (total > limit) {
      const link = (o: number, rel: string) => {
        const u = new URL(url.toString());
        u.searchParams.set('sysparm_offset', String(o));
        return `<${baseUrl}${u.pathname}${u.search}>;rel="${rel}"`;
      };
      const links = [link(0, 'first')];
      if (offset > 0) links.push(link(Math.max(0, offset - limit), 'prev'));
      if (offset + limit < total) links.push(link(offset + limit, 'next'));
      links.push(link(Math.floor((total - 1) / limit) * limit, 'last'));
      headers.Link = links.join(',');
    }
    rec.status = 200;
    rec.rows = page.length;
    const delay = (options.latencyMs ?? 0) + (options.perRowLatencyMs ?? 0) * page.length + (fault?.kind === 'delay' ? fault.ms : 0);
    send(res, 200, body, headers, delay, fault?.kind === 'truncate' ? { noContentLength: fault.noContentLength } : undefined);
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const rec: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0, at: clock(), rows: 0, auth: 'none', userAgent: req.headers['user-agent'] };
    requests.push(rec);
    res.on('close', () => (rec.doneAt = clock()));
    if (down) {
      req.socket.destroy();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (url.pathname === '/oauth_token.do' && req.method === 'POST') return answer(res, rec, oauth.token(req.headers['content-type'] ?? '', body));
      if (url.pathname === '/oauth_auth.do' && req.method === 'GET') return answer(res, rec, oauth.authorize(url.searchParams));
      const auth = authenticate(req);
      rec.auth = auth.kind;
      if (!auth.ok) {
        rec.status = 401;
        return send(res, 401, errorBody('User Not Authenticated', 'Required to provide Auth information'), { 'WWW-Authenticate': 'Basic realm="Service-now"' });
      }
      if (options.maxConcurrent !== undefined && inflight >= options.maxConcurrent) {
        rec.status = 429;
        return send(res, 429, errorBody('Maximum concurrent requests exceeded', 'Semaphore exhausted'), { 'Retry-After': '1' });
      }
      inflight++;
      res.on('close', () => inflight--);
      handleTable(req, res, url, rec, auth.user);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;

  // ---- changes ---------------------------------------------------------------------------
  const stamp = (at: Date | string | undefined) => (at === undefined ? fmt(clock()) : typeof at === 'string' ? at : fmt(at.getTime()));

  const sim: Simulator = {
    url: baseUrl,
    port,
    now: () => new Date(clock()),
    requests,
    faults,
    setDown(d) {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
    insert(name, fields = {}, opts = {}) {
      const t = table(name);
      const ts = stamp(opts.stampedAt);
      const row: Row =
        name === 'incident'
          ? { ...incident(++counter, parse(ts), parse(ts), random, refs, rowBytes), ...fields, sys_created_on: ts, sys_updated_on: ts, sys_mod_count: '0' }
          : { sys_id: sysId(random), ...fields, sys_created_on: ts, sys_updated_on: ts, sys_mod_count: '0' };
      t.add(store(row, opts.hidden ?? false, clock() + (opts.visibleAfterMs ?? 0)));
      return { ...row };
    },
    update(name, id, fields = {}, opts = {}) {
      const t = table(name);
      const s = t.byId.get(id);
      if (!s) throw new Error(`simulator: no row ${id} in ${name}`);
      t.remove(s);
      const row = { ...s.row, ...fields, sys_updated_on: stamp(opts.stampedAt), sys_mod_count: String(Number(s.row.sys_mod_count ?? 0) + 1) };
      t.add(store(row, s.hidden, clock() + (opts.visibleAfterMs ?? 0)));
      return { ...row };
    },
    deleteRow(name, id, opts = {}) {
      const t = table(name);
      const s = t.byId.get(id);
      if (!s) throw new Error(`simulator: no row ${id} in ${name}`);
      t.remove(s);
      const ts = stamp(opts.stampedAt);
      audit.add(store({ sys_id: sysId(random), tablename: name, documentkey: id, sys_created_on: ts, sys_updated_on: ts, sys_created_by: 'admin', sys_mod_count: '0' }, false, 0));
    },
    rows: (name) => (tables.get(name)?.rows ?? []).map((s) => ({ ...s.row })),
    visibleRows: (name) => (tables.get(name)?.rows ?? []).filter((s) => !s.hidden && s.visibleAt <= clock()).map((s) => ({ ...s.row })),
    startLiveChanges(o) {
      const name = o.table ?? 'incident';
      const timer = setInterval(() => {
        const t = table(name);
        const dice = random();
        const late = random() < (o.lateCommitRatio ?? 0);
        const lateBy = o.lateByMs ?? 2000;
        const opts = late ? { stampedAt: new Date(clock() - lateBy), visibleAfterMs: lateBy / 2 } : {};
        const live = t.rows.filter((s) => !s.hidden);
        if (dice < (o.deleteRatio ?? 0) && live.length > 10) {
          const victim = live[Math.floor(random() * live.length)]!.row;
          sim.deleteRow(name, String(victim.sys_id));
          o.onChange?.('d', victim);
        } else if (dice < (o.deleteRatio ?? 0) + (o.updateRatio ?? 0.5) && live.length > 0) {
          const row = sim.update(name, String(live[Math.floor(random() * live.length)]!.row.sys_id), { state: String(1 + Math.floor(random() * 7)) }, opts);
          o.onChange?.('u', row);
        } else {
          const row = sim.insert(name, {}, opts);
          o.onChange?.('c', row);
        }
      }, Math.max(1, Math.round(1000 / o.perSecond)));
      return () => clearInterval(timer);
    },
    expireTokens: () => oauth.expireTokens(),
    revokeRefreshTokens: () => oauth.revokeRefreshTokens(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return sim;
}
