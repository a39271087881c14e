import { z } from 'zod';
import { parseUserDate, toSnTimestamp, EPOCH } from '../servicenow/time.js';
import { kafkaProblems, SASL_MECHANISMS, SECURITY_PROTOCOLS } from '../sinks/kafka/validate.js';

/**
 * The one typed schema of nowpipe's settings. Every source (rc file, environment, flags) is
 * mapped onto these keys first (see keys.ts), merged, and validated here in one pass so the user
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
  (v) => (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.flatMap((x) => (typeof x === 'string' ? x.split(',') : [x])) : v),
  z.array(z.string()).transform((a) => a.map((s) => s.trim()).filter((s) => s.length > 0)),
);

const lower = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : v);
const upper = (v: unknown) => (typeof v === 'string' ? v.trim().toUpperCase() : v);

const tableName = z.string().regex(/^[A-Za-z0-9_]+$/, { error: (iss) => `"${String(iss.input)}" is not a table name such as incident (letters, digits, _)` });

const instanceUrl = z.string().transform((v, ctx) => {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(v) ? v : `https://${v}`);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL: use https://<instance>.service-now.com` });
    return z.NEVER;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `unsupported protocol ${u.protocol} (use https://)` });
    return z.NEVER;
  }
  if (u.username || u.password) {
    ctx.addIssue({ code: 'custom', message: 'do not put credentials in the URL: use --user and --password (or SERVICENOW_USER / SERVICENOW_PASSWORD)' });
    return z.NEVER;
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
});

export const SINKS = ['stdout', 'file', 'kafka'] as const;
export const FORMATS = ['raw', 'envelope'] as const;

export const configSchema = z
  .object({
    url: instanceUrl.optional(),
    /** One or more tables (`--table a --table b` or `--table a,b`). */
    table: z
      .preprocess((v) => (typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.flatMap((x) => (typeof x === 'string' ? x.split(',') : [x])) : v), z.array(z.string().trim().pipe(tableName)).min(1, 'name at least one table'))
      .optional(),
    /** Per-table settings from the rc file: `{"tables": {"incident": {"fields": ..., "query": ..., "topic": ..., "since": ...}}}`. */
    tables: z
      .record(
        tableName,
        z.object({ fields: list.optional(), query: z.string().optional(), topic: z.string().min(1).optional(), since: date.optional() }).strict(),
      )
      .optional(),
    user: z.string().min(1).optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().optional(),
    refreshToken: z.string().min(1).optional(),

    since: date.default(EPOCH),
    until: date.optional(),
    batchSize: int(1, 100_000).default(10_000),
    retries: int(0, 1000).default(8),
    timeout: seconds(1).default(120),
    connectTimeout: seconds(1).default(30),
    proxy: z.string().url('must be a URL such as http://proxy:3128').optional(),
    fields: list.optional(),
    query: z.string().optional(),
    displayValue: z.enum(['false', 'true', 'all']).default('false'),

    sink: z.enum(SINKS).default('stdout'),
    format: z.enum(FORMATS).default('raw'),
    checkpoint: z.string().min(1).default('./.nowpipe/checkpoint.json'),
    reset: bool.default(false),
    /** A lock (checkpoint, output folder) not refreshed for this long is taken over, whatever its host. */
    lockStaleAfter: seconds(2, 86_400).default(30),
    quiet: bool.default(false),
    verbose: bool.default(false),

    follow: bool.default(false),
    once: bool.default(false),
    pollInterval: seconds(1).default(20),
    lag: seconds(0, 3600).default(1),
    overlap: seconds(0, 3600).default(5),
    deletes: bool.default(false),

    concurrency: int(1, 64).default(4),
    maxRequestsPerHour: int(1).optional(),
    maxRequestsPerSecond: int(1).optional(),
    continueOnError: bool.default(false),

    // File sink (part 4): rotated NDJSON files under <output>/<table>/.
    output: z.string().min(1).optional(),
    fileMaxRows: int(1).default(1_000_000),
    fileMaxBytes: int(1024).default(128 * 1024 * 1024),
    fileMaxAge: seconds(1).default(300),
    compress: z.enum(['none', 'gzip']).default('none'),

    // Kafka sink (part 3). Cross-field rules live in sinks/kafka/validate.ts (kafkaProblems).
    topic: z.string().min(1).optional(),
    brokers: list.optional(),
    kafkaClientId: z.string().min(1).default('nowpipe'),
    /** rc only (`security.protocol`): PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
    kafkaSecurityProtocol: z.preprocess(upper, z.enum(SECURITY_PROTOCOLS, { error: 'must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL' })).optional(),
    kafkaSasl: z.preprocess(lower, z.enum(SASL_MECHANISMS, { error: 'must be plain, scram-sha-256 or scram-sha-512 (GSSAPI and OAUTHBEARER are not supported)' })).optional(),
    kafkaUsername: z.string().min(1).optional(),
    kafkaPassword: z.string().optional(),
    /** rc only (`sasl.jaas.config`): username and password are read from it. */
    kafkaJaasConfig: z.string().optional(),
    kafkaTls: bool.optional(),
    kafkaCa: z.string().min(1).optional(),
    kafkaAcks: z
      .preprocess((v) => (v === -1 || lower(v) === '-1' ? 'all' : typeof v === 'number' ? String(v) : lower(v)), z.enum(['all', '1'], { error: 'must be all (the default) or 1; 0 is not offered: without acknowledgements the checkpoint could move past rows the broker never got' }))
      .default('all'),
    kafkaRetries: int(1, 1000).default(10),
    compression: z.preprocess(lower, z.enum(['none', 'gzip'], { error: 'must be none or gzip (snappy, lz4 and zstd are not built into nowpipe)' })).default('none'),
    createTopic: bool.default(false),
    topicPartitions: int(1, 100_000).optional(),
    topicReplication: int(1, 100).optional(),
    skipOversized: bool.default(false),
  })
  .superRefine((c, ctx) => {
    if (c.until !== undefined && c.until <= c.since) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: `must be after --since (${c.since})` });
    }
    if (c.quiet && c.verbose) {
      ctx.addIssue({ code: 'custom', path: ['verbose'], message: 'cannot be combined with --quiet' });
    }
    if (c.follow && c.until !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'cannot be combined with --follow (a feed has no end)' });
    }
    if ((c.clientSecret !== undefined || c.refreshToken !== undefined) && c.clientId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientId'], message: 'OAuth needs --client-id (env SERVICENOW_CLIENT_ID) with --client-secret or --refresh-token' });
    }
    if (c.sink === 'file' && c.output === undefined) {
      ctx.addIssue({ code: 'custom', path: ['output'], message: 'required with --sink file: the folder to write the files to (--output <dir>)' });
    }
    if (c.follow && c.once) {
      ctx.addIssue({ code: 'custom', path: ['once'], message: 'cannot be combined with --follow' });
    }
    for (const p of kafkaProblems(c)) ctx.addIssue({ code: 'custom', path: p.path.split('.'), message: p.message });
  });

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
}

/** The config one table runs with: the run's settings with that table's overrides applied. */
export function configForTable(config: Config, table: string): Config {
  const own = config.tableSettings[table] ?? {};
  return {
    ...config,
    table,
    fields: own.fields ?? config.fields,
    query: own.query ?? config.query,
    topic: own.topic ?? config.topic,
    since: own.since ?? config.since,
  };
}
