import type { RunEvents, RunStats } from '../pipeline/events.js';
import { Health } from './health.js';
import { RunMetrics, type RequestSeen } from './run-metrics.js';
import { startMetricsServer } from './server.js';

export { Health, type HealthOptions, type HealthStatus } from './health.js';

export interface MetricsOptions {
  host: string;
  port: number;
  tables: ReadonlyArray<{ table: string; windowMs: number }>;
  /** --follow: health per table (see Health). */
  follow: boolean;
  events: RunEvents;
  stats: RunStats;
  instanceNow: () => number;
  version: string;
  now?: () => number;
}

/** What the run hands the metrics beyond its events: the HTTP client's requests and retries. */
export interface Metrics {
  url: string;
  request(r: RequestSeen): void;
  retry(message: string): void;
  /** With --group: the tables this process runs now (health watches only those). */
  runs(tables: readonly string[]): void;
  /** Stops listening to the events and closes the server. */
  close(): Promise<void>;
}

/**
 * The metrics and health endpoint of a run: subscribes to its events and serves /metrics and
 * /healthz until closed. Loaded only when --metrics-port is set (prom-client costs start-up time).
 */
export async function startMetrics(o: MetricsOptions): Promise<Metrics> {
  const now = o.now ?? Date.now;
  const health = new Health({ tables: o.tables, perTable: o.follow, startedAt: now() });
  const metrics = new RunMetrics({ tables: o.tables.map((t) => t.table), stats: o.stats, health, instanceNow: o.instanceNow, now, version: o.version });
  const server = await startMetricsServer({
    host: o.host,
    port: o.port,
    metrics: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    health: () => health.status(now()),
  });
  const off = o.events.on((e) => metrics.handle(e));
  return {
    url: server.url,
    request: (r) => metrics.request(r),
    retry: (message) => metrics.retry(message),
    runs: (tables) => health.runs(tables, now()),
    close: async () => {
      off();
      await server.close();
    },
  };
}
