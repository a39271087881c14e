import { z } from 'zod';
import { parseUserDate, toSnTimestamp, EPOCH } from '../servicenow/time.js';
import { headerEntries, httpUrlProblem, parseHeader, type HttpHeader } from './http-rules.js';
import { SASL_MECHANISMS, SECURITY_PROTOCOLS } from './kafka-rules.js';
import { parseInstanceUrl } from './url.js';

/**
 * The one typed schema of nowpipe's settings. Every source (rc file, environment, flags) is
 * mapped onto these keys first (see keys.ts), merged, and validated (resolve.ts) so the user
 * sees every problem at once.
 */

const bool = z.preprocess((v) => {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off', ''].includes(s)) return false;
  }
  return v;
}, z.boolean());

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const seconds = (min: number, max = 86_400 * 365) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.number({ error: 'must be a number of seconds' }).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );

const date = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    const parsed = v instanceof Date ? toSnTimestamp(v) : parseUserDate(v);
    if (parsed === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${String(v)}" is not a date: use yyyy-MM-dd, "yyyy-MM-dd HH:mm:ss" or ISO 8601 (UTC)` });
      return z.NEVER;
    }
    return typeof parsed === 'string' ? parsed : toSnTimestamp(parsed);
  });

const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? (v as unknown[]).flatMap((x) => (typeof x === 'string' ? x.split(',') : [x])) : v),
  z.array(z.string()).transform((a) => a.map((s) => s.trim()).filter((s) => s.length > 0)),
);

const lower = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : v);
const upper = (v: unknown) => (typeof v === 'string' ? v.trim().toUpperCase() : v);

export const tableName = z.string().regex(/^[A-Za-z0-9_]+$/, { error: (iss) => `"${String(iss.input)}" is not a table name such as incident (letters, digits, _)` });

const instanceUrl = z.string().transform((v, ctx) => {
  const parsed = parseInstanceUrl(v);
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  }
  return parsed.url;
});

/** --oauth-token-url, --oauth-authorize-url: a full http(s) URL, never with credentials in it. */
const endpointUrl = (example: string) =>
  z.string().refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, `must be a URL such as ${example} (no credentials in it)`);

export const SINKS = ['stdout', 'file', 'kafka', 'http'] as const;
export const FORMATS = ['raw', 'envelope', 'connect-json'] as const;
export const DEFAULT_CURSOR_FIELD = 'sys_updated_on';
/** Requests in flight when --concurrency is not given. */
export const DEFAULT_CONCURRENCY = 4;
export const LOG_FORMATS = ['human', 'json'] as const;

// The settings a table may also have of its own (`tables.<name>` in the rc file), without
// defaults here so that a table without its own value takes the run's.
const batchSize = int(1, 100_000);
const pollInterval = seconds(1);
// YAML and JSON rc files may say `displayValue: true`, a boolean.
const displayValue = z.preprocess((v) => (typeof v === 'boolean' ? String(v) : lower(v)), z.enum(['false', 'true', 'all'], { error: 'must be false, true or all' }));
/** A column of the table itself, as ServiceNow names them (no dot-walking: the cursor must be sortable). */
const cursorField = z
  .string()
  .trim()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,79}$/, { error: (iss) => `"${String(iss.input)}" is not a field name such as sys_created_on (letters, digits and _, no dot-walking)` });
const topic = z.string().min(1, 'must not be empty');

export const tableSettingsSchema = z
  .object({
    displayValue: displayValue.optional(),
    batchSize: batchSize.optional(),
    pollInterval: pollInterval.optional(),
    fields: list.optional(),
    query: z.string().optional(),
    cursorField: cursorField.optional(),
    topic: topic.optional(),
    since: date.optional(),
  })
  .strict();

/**
 * Every setting, each parsed on its own (see resolve.ts) so that one bad value never hides
 * another problem, nor the rules between settings (rules.ts).
 */
export const configFields = {
  url: instanceUrl.optional(),
  /** One or more tables (`--table a --table b` or `--table a,b`). */
  table: z
    .preprocess((v) => (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? (v as unknown[]).flatMap((x) => (typeof x === 'string' ? x.split(',') : [x])) : v), z.array(z.string().trim().pipe(tableName)).min(1, 'name at least one table'))
    .optional(),
  /** Per-table settings from the rc file: `{"tables": {"incident": {"batchSize": 500, "query": ...}}}`. */
  tables: z.record(tableName, tableSettingsSchema).optional(),
  user: z.string().min(1, 'must not be empty').optional(),
  password: z.string().optional(),
  passwordFile: z.string().optional(),
  clientId: z.string().min(1, 'must not be empty').optional(),
  clientSecret: z.string().optional(),
  refreshToken: z.string().min(1, 'must not be empty').optional(),
  // TLS to the instance (PEM files, read when the client is built), User-Agent, custom OAuth setups.
  ca: z.string().min(1).optional(),
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  userAgent: z.string().regex(/^[\t\x20-\x7e\x80-\xff]+$/, 'must be one line of printable text').optional(),
  oauthTokenUrl: endpointUrl('https://login.acme.com/oauth_token.do').optional(),
  oauthScope: z.string().min(1).optional(),
  // `nowpipe login` (issue 13, item 2): the authorize page, a fixed redirect port for an OAuth
  // application registered with one, and how long to wait for the browser.
  oauthAuthorizeUrl: endpointUrl('https://login.acme.com/oauth_auth.do').optional(),
  redirectPort: int(1, 65_535).optional(),
  loginTimeout: seconds(1, 86_400).default(300),

  since: date.default(EPOCH),
  until: date.optional(),
  batchSize: batchSize.default(10_000),
  retries: int(0, 1000).default(8),
  timeout: seconds(1).default(120),
  connectTimeout: seconds(1).default(30),
  proxy: z.string().url('must be a URL such as http://proxy:3128').optional(),
  fields: list.optional(),
  query: z.string().optional(),
  displayValue: displayValue.default('false'),
  /** The timestamp the export pages and follows by (issue 13: sys_created_on for append-only tables). */
  cursorField: cursorField.default(DEFAULT_CURSOR_FIELD),

  sink: z.preprocess(lower, z.enum(SINKS, { error: 'must be stdout, file, kafka or http' })).default('stdout'),
  format: z.preprocess(lower, z.enum(FORMATS, { error: 'must be raw, envelope or connect-json' })).default('raw'),
  // Typed rows (issue 13): values converted by the table's dictionary. connect-json implies it.
  types: bool.default(false),
  /** A lock (checkpoint, output folder) not refreshed for this long is taken over, whatever its host. */
  lockStaleAfter: seconds(2, 86_400).default(30),
  checkpoint: z.string().min(1, 'must not be empty').default('./.nowpipe/checkpoint.json'),
  reset: bool.default(false),
  quiet: bool.default(false),
  verbose: bool.default(false),

  follow: bool.default(false),
  once: bool.default(false),
  pollInterval: pollInterval.default(20),
  lag: seconds(0, 3600).default(1),
  overlap: seconds(0, 3600).default(5),
  deletes: bool.default(false),

  /** Unset: up to DEFAULT_CONCURRENCY, and a backfill is sliced only when the instance is slow. */
  concurrency: int(1, 64).optional(),
  maxRequestsPerHour: int(1).optional(),
  maxRequestsPerSecond: int(1).optional(),
  continueOnError: bool.default(false),

  // File sink (part 4): rotated NDJSON files under <output>/<table>/.
  output: z.string().min(1, 'must not be empty').optional(),
  fileMaxRows: int(1).default(1_000_000),
  fileMaxBytes: int(1024).default(128 * 1024 * 1024),
  fileMaxAge: seconds(1).default(300),
  compress: z.preprocess(lower, z.enum(['none', 'gzip'], { error: 'must be none or gzip' })).default('none'),

  // Kafka sink (part 3). Cross-field rules live in kafka-rules.ts (kafkaProblems).
  topic: topic.optional(),
  brokers: list.optional(),
  kafkaClientId: z.string().min(1, 'must not be empty').default('nowpipe'),
  /** rc only (`security.protocol`): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  kafkaSecurityProtocol: z.preprocess(upper, z.enum(SECURITY_PROTOCOLS, { error: 'must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL' })).optional(),
  kafkaSasl: z.preprocess(lower, z.enum(SASL_MECHANISMS, { error: 'must be plain, scram-sha-256 or scram-sha-512 (GSSAPI and OAUTHBEARER are not supported)' })).optional(),
  kafkaUsername: z.string().min(1, 'must not be empty').optional(),
  kafkaPassword: z.string().optional(),
  /** rc only (`sasl.jaas.config`): username and password are read from it. */
  kafkaJaasConfig: z.string().optional(),
  kafkaTls: bool.optional(),
  kafkaCa: z.string().min(1, 'must not be empty').optional(),
  kafkaAcks: z
    .preprocess((v) => (v === -1 || lower(v) === '-1' ? 'all' : typeof v === 'number' ? String(v) : lower(v)), z.enum(['all', '1'], { error: 'must be all (the default) or 1; 0 is not offered: without acknowledgements the checkpoint could move past rows the broker never got' }))
    .default('all'),
  kafkaRetries: int(1, 1000).default(10),
  compression: z.preprocess(lower, z.enum(['none', 'gzip'], { error: 'must be none or gzip (snappy, lz4 and zstd are not built into nowpipe)' })).default('none'),
  createTopic: bool.default(false),
  topicPartitions: int(1, 100_000).optional(),
  topicReplication: int(1, 100).optional(),
  skipOversized: bool.default(false),

  // Webhook sink (issue 13, item 1) and bad rows (item 7); rules in http-rules.ts.
  httpUrl: z
    .string()
    .transform((v, ctx) => {
      const problem = httpUrlProblem(v);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      return problem === undefined ? v.trim() : z.NEVER;
    })
    .optional(),
  httpSecret: z.string().min(1, 'must not be empty').optional(),
  /** `--http-header 'Name: value'` (repeatable); rc `httpHeaders` as a list or an object. */
  httpHeader: z
    .unknown()
    .transform((v, ctx): HttpHeader[] => {
      const entries = headerEntries(v);
      if (entries === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be "Name: value" entries, or an object of header names and values' });
        return z.NEVER;
      }
      const headers: HttpHeader[] = [];
      for (const e of entries) {
        const h = parseHeader(e);
        if ('problem' in h) ctx.addIssue({ code: 'custom', message: h.problem });
        else headers.push(h);
      }
      return headers;
    })
    .optional(),
  httpMaxBytes: int(1024, 1 << 30).default(4 * 1024 * 1024),
  httpRetries: int(0, 1000).default(8),
  onBadRow: z.preprocess(lower, z.enum(['fail', 'skip'], { error: 'must be fail or skip' })).optional(),
  deadLetter: z.string().min(1, 'must not be empty').optional(),
  // Metrics and logs (issue 12, items 4-5): Prometheus metrics and a health probe over HTTP
  // (metrics/), JSON lines on stderr (ui/reporter.ts).
  metricsPort: int(0, 65_535).optional(),
  /** Default 127.0.0.1 (see cli/observers.ts): only this machine unless told otherwise. */
  metricsHost: z.string().trim().min(1, 'must not be empty').optional(),
  logFormat: z.preprocess(lower, z.enum(LOG_FORMATS, { error: 'must be human or json' })).default('human'),

  // State in Kafka, exactly once, many workers (part 9). Rules: state-rules.ts.
  /** Where the checkpoint lives: the --checkpoint file, or a compacted Kafka topic. */
  state: z.preprocess(lower, z.enum(['file', 'kafka'], { error: 'must be file or kafka' })).default('file'),
  stateTopic: z.string().min(1, 'must not be empty').optional(),
  /** The state topic's brokers when not --brokers (same credentials and TLS settings). */
  stateBrokers: list.optional(),
  exactlyOnce: bool.default(false),
  group: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,200}$/, { error: (iss) => `"${String(iss.input)}" is not a group name: letters, digits, ".", "_" and "-", at most 200` })
    .optional(),
};

export const configSchema = z.object(configFields);

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** What a run needs: the schema's output with the credentials resolved. */
export interface Config extends Omit<ParsedConfig, 'passwordFile' | 'url' | 'table' | 'tables'> {
  url: string;
  /** The table this config is for (the first one named, or the one `configForTable` picked). */
  table: string;
  /** Every table of the run, in the order given. */
  tableNames: string[];
  tableSettings: NonNullable<ParsedConfig['tables']>;
  /** The refresh token is `nowpipe login`'s, from this credentials file: keep it current, and a refusal says to log in again. */
  storedLogin?: { path: string; savedAt: string };
}

/** Whether rows are typed: --types, or --format connect-json, which is made of typed rows. */
export function typedRows(c: { types?: boolean; format?: string }): boolean {
  return c.types === true || c.format === 'connect-json';
}

/** The config one table runs with: the run's settings with that table's overrides applied. */
export function configForTable(config: Config, table: string): Config {
  const own = config.tableSettings[table] ?? {};
  return {
    ...config,
    table,
    displayValue: own.displayValue ?? config.displayValue,
    batchSize: own.batchSize ?? config.batchSize,
    pollInterval: own.pollInterval ?? config.pollInterval,
    fields: own.fields ?? config.fields,
    query: own.query ?? config.query,
    cursorField: own.cursorField ?? config.cursorField,
    topic: own.topic ?? config.topic,
    since: own.since ?? config.since,
  };
}
