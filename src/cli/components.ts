import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors/index.js';
import { basicAuth, ServiceNowClient, type AuthProvider } from '../servicenow/client.js';
import { readableUrl } from '../servicenow/response.js';
import { OAuthProvider } from '../servicenow/oauth.js';
import { RequestLimiter } from '../servicenow/limiter.js';
import { TableReader } from '../servicenow/reader.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../servicenow/retry.js';
import { StdoutSink } from '../sinks/stdout/index.js';
import type { Sink } from '../sinks/types.js';
import type { Reporter } from '../ui/reporter.js';
import type { RunStats } from '../pipeline/export.js';
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

/** Basic auth, or OAuth when a client id is configured. */
export function buildAuth(config: Config): AuthProvider {
  if (config.clientId === undefined) return basicAuth(config.user, config.password);
  return new OAuthProvider({
    url: config.url,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    user: config.user,
    password: config.password,
    refreshToken: config.refreshToken,
    timeoutMs: config.timeout * 1000,
  });
}

export function buildClient(config: Config, reporter: Reporter, stats: RunStats, outage = new OutageLog(reporter), env = process.env): ServiceNowClient {
  return new ServiceNowClient({
    url: config.url,
    auth: buildAuth(config),
    user: config.user,
    timeoutMs: config.timeout * 1000,
    connectTimeoutMs: config.connectTimeout * 1000,
    proxy: config.proxy,
    retry: retryPolicy(config, env),
    limiter: new RequestLimiter({
      concurrency: config.concurrency,
      perHour: config.maxRequestsPerHour,
      perSecond: config.maxRequestsPerSecond,
      onHourlyWait: (until) =>
        reporter.info(`--max-requests-per-hour ${config.maxRequestsPerHour}: the hour's requests are spent; the next starts at ${new Date(until).toISOString().slice(0, 19).replace('T', ' ')} UTC`),
    }),
    events: {
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
    },
  });
}

export function buildReader(config: Config, client: ServiceNowClient, reporter: Reporter): TableReader {
  return readerFor(client, reporter, { table: config.table, query: config.query, fields: config.fields, displayValue: config.displayValue, batchSize: config.batchSize });
}

/** The reader of sys_audit_delete for the table: keyset on (sys_created_on, sys_id). */
export function buildDeletesReader(config: Config, client: ServiceNowClient, reporter: Reporter): TableReader {
  return readerFor(client, reporter, {
    table: 'sys_audit_delete',
    query: `tablename=${config.table}`,
    fields: ['sys_id', 'sys_created_on', 'tablename', 'documentkey'],
    displayValue: 'false',
    batchSize: config.batchSize,
    cursorField: 'sys_created_on',
  });
}

function readerFor(client: ServiceNowClient, reporter: Reporter, options: ConstructorParameters<typeof TableReader>[1]): TableReader {
  return new TableReader(
    client,
    options,
    {
      pageSizeReduced: (from, to) => reporter.warn(`the instance cancelled a request for time; page size ${from} → ${to}`),
      hiddenBlock: (n) => reporter.verbose(`an empty page while rows remain (hidden by ACLs?): stepping over ${n} rows`),
      outOfOrder: (prev, row) =>
        reporter.warnOnce(
          'order',
          `rows came back out of order (${row.updatedOn} ${row.sysId} after ${prev.updatedOn} ${prev.sysId}); skipped as already written. Is the integration user's time zone UTC?`,
        ),
    },
  );
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
      const { KafkaSink, kafkaSettings } = await import('../sinks/kafka/index.js');
      return new KafkaSink({ settings: kafkaSettings(config), reporter });
    }
    default:
      throw new ConfigError(`sink: "${config.sink}" is not available in this version of nowpipe`);
  }
}
