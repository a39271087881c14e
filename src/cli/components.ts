import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors/index.js';
import { basicAuth, ServiceNowClient, type AuthProvider, type ClientEvents } from '../servicenow/client.js';
import { readableUrl } from '../servicenow/response.js';
import { OAuthProvider, type OAuthOptions } from '../servicenow/oauth.js';
import { readTlsMaterial } from '../servicenow/tls.js';
import { createTransport } from '../servicenow/transport.js';
import { RequestLimiter } from '../servicenow/limiter.js';
import { TableReader, type ReaderOptions } from '../servicenow/reader.js';
import { auditShape, tableShape } from '../servicenow/entry.js';
import type { RunEvents, RunStats } from '../pipeline/events.js';
import type { Stream } from '../pipeline/catch-up.js';
import type { TableJob } from '../pipeline/table-run.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../servicenow/retry.js';
import { StdoutSink } from '../sinks/stdout/index.js';
import type { Sink } from '../sinks/types.js';
import type { Reporter } from '../ui/reporter.js';
import { OutageLog } from '../ui/outage.js';

/** Test hook: NOWPIPE_RETRY_BASE_MS shortens backoff so fault tests do not sleep for real. */
function retryPolicy(config: Config, env: NodeJS.ProcessEnv): RetryPolicy {
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
    },
    options,
  );
}

/**
 * The client of the run and its one transport, which OAuth shares. The TLS files are read here,
 * before anything connects (an unreadable one is exit 2).
 */
export function buildClient(config: Config, reporter: Reporter, stats: RunStats, outage = new OutageLog(reporter), env = process.env): ServiceNowClient {
  const transport = createTransport({
    timeoutMs: config.timeout * 1000,
    connectTimeoutMs: config.connectTimeout * 1000,
    proxy: config.proxy,
    tls: readTlsMaterial({ ca: config.ca, cert: config.cert, key: config.key }, env),
    userAgent: config.userAgent,
  });
  const retry = retryPolicy(config, env);
  const events: ClientEvents = {
    request: (r) => {
      reporter.verbose(
        `${r.method} ${readableUrl(r.url)} → ${r.status ?? 'no response'}${r.rows !== undefined ? ` (${r.rows} rows)` : ''} ${r.ms} ms${r.error ? ` — ${r.error}` : ''}`,
      );
      if (!r.error) outage.recovered();
    },
    retry: (err, attempt, delay) => {
      stats.retries += 1;
      outage.failed(err, delay);
      reporter.verbose(`retry ${attempt} of ${config.retries} in ${(delay / 1000).toFixed(1)} s`);
    },
  };
  return new ServiceNowClient({
    url: config.url,
    auth: buildAuth(config, { transport, retry, onRetry: events.retry }),
    user: config.user,
    timeoutMs: config.timeout * 1000,
    connectTimeoutMs: config.connectTimeout * 1000,
    transport,
    retry,
    limiter: new RequestLimiter({
      concurrency: config.concurrency,
      perHour: config.maxRequestsPerHour,
      perSecond: config.maxRequestsPerSecond,
      onHourlyWait: (until) =>
        reporter.info(`--max-requests-per-hour ${config.maxRequestsPerHour}: the hour's requests are spent; the next starts at ${new Date(until).toISOString().slice(0, 19).replace('T', ' ')} UTC`),
    }),
    events,
  });
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
    concurrency: config.concurrency,
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

/** `reporter`: the run's, so a sink's notices do not tear its progress line. */
export async function buildSink(config: Config, reporter: Reporter): Promise<Sink> {
  switch (config.sink) {
    case 'stdout':
      return new StdoutSink(config.format);
    case 'file': {
      const { FileSink } = await import('../sinks/file/index.js');
      return new FileSink({
        dir: config.output!, // the schema requires it with --sink file
        tables: config.tableNames,
        format: config.format,
        compress: config.compress,
        maxRows: config.fileMaxRows,
        maxBytes: config.fileMaxBytes,
        maxAgeSeconds: config.fileMaxAge,
        notice: (message) => reporter.info(`file sink: ${message}`),
        warn: (message) => reporter.warn(message),
        lockStaleAfterSeconds: config.lockStaleAfter,
      });
    }
    case 'kafka': {
      // kafkajs (about 14 MB resident) is loaded only by runs that write to Kafka.
      const [{ KafkaSink }, { kafkaSettings }] = await Promise.all([import('../sinks/kafka/index.js'), import('./kafka-settings.js')]);
      // --exactly-once: the records go through the state store's transactional producers.
      const transactions = config.exactlyOnce ? (await (await import('./state.js')).kafkaStateFor(config, reporter)).transactions : undefined;
      return new KafkaSink({ settings: kafkaSettings(config), reporter, transactions });
    }
    default:
      throw new ConfigError(`sink: "${config.sink}" is not available in this version of nowpipe`);
  }
}
