import { configForTable, type Config } from '../config/schema.js';
import { ConfigError } from '../errors/index.js';
import { VERSION } from '../errors/version.js';
import type { RunEvents, RunStats } from '../pipeline/events.js';
import type { ServiceNowClient } from '../servicenow/client.js';
import type { Reporter } from '../ui/reporter.js';
import { observeClient } from './components.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

/** What a run is watched through besides its view: metrics and health (--metrics-port), log counters. */
export interface Observers {
  /** With --group: the tables this process runs now (health watches only those). */
  runs(tables: readonly string[]): void;
  /** Stops them (the metrics server stops listening); safe to call more than once. */
  close(): Promise<void>;
}

export interface Observed {
  reporter: Reporter;
  events: RunEvents;
  stats: RunStats;
  client: ServiceNowClient;
}

/**
 * How long a table may go without a success before /healthz says 503: three poll intervals,
 * but never less than one request's --timeout (a request is not known to have failed before).
 */
export function healthWindowMs(config: Config, table: string): number {
  return Math.max(3 * configForTable(config, table).pollInterval, config.timeout) * 1000;
}

/**
 * Attaches what watches a run from outside: the JSON log lines' counters and, with
 * --metrics-port, the metrics and health server (which fails here, before anything is read,
 * when it cannot listen). runExport calls it once the client is built, and closes it when the
 * run ends.
 */
export async function attachObservers(config: Config, run: Observed): Promise<Observers> {
  const { reporter, stats } = run;
  reporter.counters = () => ({ rows: stats.rows, deletes: stats.deletes, pages: stats.pages, retries: stats.retries, duplicatesDropped: stats.duplicatesDropped, badRows: stats.badRows });
  if (config.metricsPort === undefined) return { runs: () => undefined, close: async () => undefined };
  const host = config.metricsHost ?? DEFAULT_METRICS_HOST;
  // prom-client is loaded only by runs that serve metrics: start-up time counts in every cron run.
  const { startMetrics } = await import('../metrics/index.js');
  const metrics = await startMetrics({
    host,
    port: config.metricsPort,
    tables: config.tableNames.map((table) => ({ table, windowMs: healthWindowMs(config, table) })),
    follow: config.follow,
    events: run.events,
    stats,
    instanceNow: () => run.client.serverNow(),
    version: VERSION,
  }).catch((err: unknown) => {
    throw listenError(err, host, config.metricsPort!);
  });
  const unobserve = observeClient(run.client, {
    request: (r) => metrics.request(r),
    retry: (err) => metrics.retry(err.message),
  });
  reporter.info(`metrics on ${metrics.url}/metrics, health on ${metrics.url}/healthz`, { url: metrics.url });
  let closing: Promise<void> | undefined;
  return {
    runs: (tables) => metrics.runs(tables),
    close: () => {
      unobserve();
      return (closing ??= metrics.close());
    },
  };
}

/** Why the server could not listen, in the words of the flags to change (exit 2). */
function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(`--metrics-port ${port}: ${at} is already in use by another program (another nowpipe?)`, { hint: 'choose a free port with --metrics-port, or stop what listens there', cause: err });
    case 'EACCES':
      return new ConfigError(`--metrics-port ${port}: not allowed to listen on ${at} (ports below 1024 need privileges)`, { hint: 'choose a port from 1024 up, e.g. --metrics-port 9464', cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`--metrics-host ${host}: not an address of this machine`, { hint: 'use 127.0.0.1 (this machine only, the default), 0.0.0.0 (every interface) or one of its addresses', cause: err });
    default:
      return err;
  }
}
