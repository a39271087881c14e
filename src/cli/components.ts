import { DEFAULT_CONCURRENCY, typedRows, type Config } from '../config/schema.js';
import { shownUrl, urlSecrets } from '../config/http-rules.js';
import { ConfigError } from '../errors/index.js';
import { registerSecret } from '../errors/redact.js';
import { basicAuth, ServiceNowClient, type AuthProvider, type ClientEvents } from '../servicenow/client.js';
import { readableUrl } from '../servicenow/response.js';
import { OAuthProvider, type OAuthOptions } from '../servicenow/oauth.js';
import { readTlsMaterial } from '../servicenow/tls.js';
import { createTransport, DEFAULT_USER_AGENT, type Transport } from '../servicenow/transport.js';
import { saveLogin } from '../login/store.js';
import { RequestLimiter } from '../servicenow/limiter.js';
import { TableReader, type ReaderOptions } from '../servicenow/reader.js';
import { auditShape, tableShape } from '../servicenow/entry.js';
import type { RunEvents, RunStats } from '../pipeline/events.js';
import type { Stream } from '../pipeline/catch-up.js';
import type { TableJob } from '../pipeline/table-run.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../servicenow/retry.js';
import { failOnBadRow, type BadRowPolicy } from '../sinks/bad-rows.js';
import { DeadLetterFile } from '../sinks/dead-letter.js';
import { StdoutSink } from '../sinks/stdout/index.js';
import type { Sink } from '../sinks/types.js';
import { TypedSink } from '../sinks/typed/index.js';
import { jsonSchema } from '../sinks/typed/schema.js';
import { readTableTypes } from '../servicenow/dictionary.js';
import type { FileSink } from '../sinks/file/index.js';
import type { Reporter } from '../ui/reporter.js';
import { OutageLog } from '../ui/outage.js';

/** Test hook: NOWPIPE_RETRY_BASE_MS shortens backoff so fault tests do not sleep for real. */
export function retryPolicy(config: Config, env: NodeJS.ProcessEnv = process.env): RetryPolicy {
  const base = Number(env.NOWPIPE_RETRY_BASE_MS);
  return {
    ...DEFAULT_RETRY_POLICY,
    retries: config.retries,
    ...(Number.isFinite(base) && base > 0 ? { baseDelayMs: base, maxDelayMs: base * 8 } : {}),
  };
}

/** Basic auth, or OAuth (over the run's transport and retry policy) when a client id is configured. */
export function buildAuth(config: Config, options: OAuthOptions): AuthProvider {
  if (config.clientId === undefined) return basicAuth(config.user, config.password);
  const login = config.storedLogin;
  return new OAuthProvider(
    {
      url: config.url,
      tokenUrl: config.oauthTokenUrl,
      scope: config.oauthScope,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      user: config.user,
      password: config.password,
      refreshToken: config.refreshToken,
      refusedHint: login
        ? `the login stored by nowpipe login (${login.savedAt.slice(0, 10)}) has expired or been revoked (refresh tokens last 100 days unless the OAuth application says otherwise): run nowpipe login --url ${config.url} --client-id ${config.clientId} again`
        : undefined,
    },
    options,
  );
}

/** Listeners added to a client after it was built (metrics: cli/observers.ts), by client. */
const moreListeners = new WeakMap<ServiceNowClient, ClientEvents[]>();

/** Hears every request and retry of a client built by buildClient; returns how to stop. */
export function observeClient(client: ServiceNowClient, listener: ClientEvents): () => void {
  const list = moreListeners.get(client);
  if (!list) throw new Error('observeClient: the client was not built by buildClient');
  list.push(listener);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}

/** A stored login whose refresh token the instance rotates keeps the new one for the next run. */
function keepRotatedToken(config: Config, reporter: Reporter): OAuthOptions['onRefreshToken'] {
  const login = config.storedLogin;
  if (login === undefined || config.clientId === undefined) return undefined;
  const clientId = config.clientId;
  return async (refreshToken) => {
    try {
      await saveLogin(login.path, { instance: config.url, clientId, refreshToken, savedAt: new Date().toISOString() });
    } catch (err) {
      reporter.warn(`the instance replaced the stored refresh token, but nowpipe could not store the new one (${(err as Error).message}): the next run may need nowpipe login again`);
    }
  };
}

/** The one HTTP stack of a run (the TLS files are read here: an unreadable one is exit 2). */
export function buildTransport(config: Config, env: NodeJS.ProcessEnv = process.env): Transport {
  return createTransport({
    timeoutMs: config.timeout * 1000,
    connectTimeoutMs: config.connectTimeout * 1000,
    proxy: config.proxy,
    tls: readTlsMaterial({ ca: config.ca, cert: config.cert, key: config.key }, env),
    userAgent: config.userAgent,
  });
}

/**
 * The client of the run and its one transport, which OAuth shares. The TLS files are read here,
 * before anything connects (an unreadable one is exit 2).
 */
export function buildClient(config: Config, reporter: Reporter, stats: RunStats, outage = new OutageLog(reporter), env = process.env): ServiceNowClient {
  const transport = buildTransport(config, env);
  const retry = retryPolicy(config, env);
  const more: ClientEvents[] = [];
  const events: ClientEvents = {
    request: (r) => {
      reporter.verbose(
        `${r.method} ${readableUrl(r.url)} → ${r.status ?? 'no response'}${r.rows !== undefined ? ` (${r.rows} rows)` : ''} ${r.ms} ms${r.error ? ` — ${r.error}` : ''}`,
      );
      if (!r.error) outage.recovered();
      for (const l of more) l.request?.(r);
    },
    retry: (err, attempt, delay) => {
      stats.retries += 1;
      outage.failed(err, delay);
      reporter.verbose(`retry ${attempt} of ${config.retries} in ${(delay / 1000).toFixed(1)} s`);
      for (const l of more) l.retry?.(err, attempt, delay);
    },
  };
  const client = new ServiceNowClient({
    url: config.url,
    auth: buildAuth(config, { transport, retry, onRetry: events.retry, onRefreshToken: keepRotatedToken(config, reporter) }),
    user: config.user,
    timeoutMs: config.timeout * 1000,
    connectTimeoutMs: config.connectTimeout * 1000,
    transport,
    retry,
    limiter: new RequestLimiter({
      concurrency: config.concurrency ?? DEFAULT_CONCURRENCY,
      perHour: config.maxRequestsPerHour,
      perSecond: config.maxRequestsPerSecond,
      onHourlyWait: (until) =>
        reporter.info(`--max-requests-per-hour ${config.maxRequestsPerHour}: the hour's requests are spent; the next starts at ${new Date(until).toISOString().slice(0, 19).replace('T', ' ')} UTC`),
    }),
    events,
  });
  moreListeners.set(client, more);
  return client;
}

/** The reader of a table's rows, and with --deletes of its deletes, as the pipeline's job. */
export function tableJob(config: Config, client: ServiceNowClient, events: RunEvents): TableJob {
  const streams: Stream[] = [{ name: 'rows', reader: buildReader(config, client, events) }];
  if (config.deletes) streams.push({ name: 'deletes', reader: buildDeletesReader(config, client, events) });
  return {
    scope: { instance: config.url, table: config.table, query: config.query, fields: config.fields, cursorField: config.cursorField === 'sys_updated_on' ? undefined : config.cursorField },
    since: config.since,
    until: config.until,
    lag: config.lag,
    overlap: config.overlap,
    follow: config.follow,
    pollSeconds: config.pollInterval,
    concurrency: config.concurrency ?? DEFAULT_CONCURRENCY,
    // Asked for in so many words: slice. Left to the default: slice only a slow instance.
    slicing: config.concurrency === undefined ? 'when-slower' : 'always',
    streams,
  };
}

export function buildReader(config: Config, client: ServiceNowClient, events: RunEvents): TableReader {
  return readerFor(client, events, config.table, {
    table: config.table,
    query: config.query,
    fields: config.fields,
    displayValue: config.displayValue,
    batchSize: config.batchSize,
    shape: tableShape(config.cursorField),
  });
}

/** The reader of sys_audit_delete for the table: keyset on (sys_created_on, sys_id). */
export function buildDeletesReader(config: Config, client: ServiceNowClient, events: RunEvents): TableReader {
  return readerFor(client, events, config.table, {
    table: 'sys_audit_delete',
    query: `tablename=${config.table}`,
    displayValue: 'false',
    batchSize: config.batchSize,
    shape: auditShape(),
  });
}

function readerFor(client: ServiceNowClient, events: RunEvents, table: string, options: ReaderOptions): TableReader {
  let hidden = 0;
  return new TableReader(client, options, {
    pageSizeReduced: (from, to) => events.emit({ type: 'warning', table, message: `the instance cancelled a request for time; page size ${from} → ${to}` }),
    hiddenRows: (stepped) => {
      hidden += stepped;
      events.emit({ type: 'hidden-rows', table, stepped, total: hidden });
    },
    fieldsMissing: (fields) =>
      events.emit({
        type: 'warning',
        table,
        once: `fields:${table}`,
        message: `--fields: ${fields.join(', ')} never came back from ${options.table}: ${fields.length === 1 ? 'no such field' : 'no such fields'} (ServiceNow ignores unknown names; a typo?)`,
      }),
  });
}

/**
 * --on-bad-row: fail (the default) stops the run at a row the sink cannot write; skip (or its
 * older name --skip-oversized) appends it to --dead-letter, checked here before anything moves.
 */
async function badRowPolicy(config: Config, reporter: Reporter): Promise<BadRowPolicy> {
  if (config.onBadRow !== 'skip' && !config.skipOversized) return failOnBadRow;
  const file = new DeadLetterFile({ path: config.deadLetter!, notices: reporter }); // the rules require it with skip
  await file.prepare();
  return file;
}

/**
 * `reporter`: the run's, so a sink's notices do not tear its progress line. `client`: the run's,
 * for --types to read the tables' dictionaries (without it, one of its own is built).
 */
export async function buildSink(config: Config, reporter: Reporter, client: ServiceNowClient): Promise<Sink> {
  const badRows = await badRowPolicy(config, reporter);
  const { sink, files } = await destination(config, reporter, badRows);
  if (!typedRows(config)) return sink;
  // --types: rows are converted by each table's dictionary, read once at open, before the
  // destination sees them; a row that cannot be is a bad row.
  return new TypedSink(sink, {
    tables: config.tableNames,
    typesOf: (table) => readTableTypes(client, table),
    mode: config.format === 'connect-json' ? 'connect' : 'json',
    rawDeletes: config.format === 'raw',
    badRows,
    published: files && ((types) => files.writeBeside(types.table, 'schema.json', `${JSON.stringify(jsonSchema(types), null, 2)}\n`)),
  });
}

/** The destination itself: stdout, the file sink (also returned as such, for schema.json) or Kafka. */
async function destination(config: Config, reporter: Reporter, badRows: BadRowPolicy): Promise<{ sink: Sink; files?: FileSink }> {
  // connect-json is raw rows (Kafka's tombstones for deletes) whose text the TypedSink made an envelope.
  const format = config.format === 'connect-json' ? 'raw' : config.format;
  switch (config.sink) {
    case 'stdout':
      return { sink: new StdoutSink(format) };
    case 'file': {
      const { FileSink } = await import('../sinks/file/index.js');
      const files = new FileSink({
        dir: config.output!, // the schema requires it with --sink file
        tables: config.tableNames,
        format,
        compress: config.compress,
        maxRows: config.fileMaxRows,
        maxBytes: config.fileMaxBytes,
        maxAgeSeconds: config.fileMaxAge,
        notice: (message) => reporter.info(`file sink: ${message}`),
        warn: (message) => reporter.warn(message),
        lockStaleAfterSeconds: config.lockStaleAfter,
      });
      return { sink: files, files };
    }
    case 'kafka': {
      // kafkajs (about 14 MB resident) is loaded only by runs that write to Kafka.
      const [{ KafkaSink }, { kafkaSettings }] = await Promise.all([import('../sinks/kafka/index.js'), import('./kafka-settings.js')]);
      // --exactly-once: the records go through the state store's transactional producers.
      const transactions = config.exactlyOnce ? (await (await import('./state.js')).kafkaStateFor(config, reporter)).transactions : undefined;
      return { sink: new KafkaSink({ settings: kafkaSettings(config), reporter, badRows, transactions }) };
    }
    case 'http': {
      const { HttpSink } = await import('../sinks/http/index.js');
      const url = config.httpUrl!; // the rules require it with --sink http
      // Registered here too, not only when the config is loaded: demo resolves its own config.
      for (const secret of [config.httpSecret, ...(config.httpHeader ?? []).map((h) => h.value), ...urlSecrets(url)]) registerSecret(secret);
      const sink = new HttpSink({
        url,
        shownUrl: shownUrl(url),
        format,
        secret: config.httpSecret,
        headers: config.httpHeader ?? [],
        maxBytes: config.httpMaxBytes,
        // The backoff of the instance's requests, with the webhook's own budget: a receiver in
        // trouble is not the instance in trouble, and either may deserve more patience.
        retry: { ...retryPolicy(config, process.env), retries: config.httpRetries },
        timeoutMs: config.timeout * 1000,
        connectTimeoutMs: config.connectTimeout * 1000,
        userAgent: config.userAgent ?? DEFAULT_USER_AGENT,
        badRows,
        notices: reporter,
      });
      return { sink };
    }
    default:
      throw new ConfigError(`--sink: "${String(config.sink)}" is not available in this version of nowpipe`);
  }
}
