import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEvent, RunStats } from '../pipeline/events.js';
import { snToMillis } from '../servicenow/time.js';
import type { Health } from './health.js';

export interface RunMetricsOptions {
  /** The tables of the run: each gets its series from the start, at 0. */
  tables: readonly string[];
  stats: RunStats;
  health: Health;
  /** The instance's clock now (ms), for the lag. */
  instanceNow: () => number;
  /** The local clock (ms). */
  now?: () => number;
  version: string;
}

/** A finished request to the instance, as the HTTP client reports it. */
export interface RequestSeen {
  status?: number;
  ms: number;
  error?: string;
}

/**
 * The run's metrics in Prometheus' terms. Counters follow the run's events and the HTTP client's
 * requests; what the run already counts (pages, duplicates, bad rows) is read from its stats at
 * scrape time, and so are the lag and the health.
 */
export class RunMetrics {
  readonly registry = new Registry();
  private readonly now: () => number;
  /** The rows stream's cursor of each table (ms of its timestamp). */
  private readonly cursorAt = new Map<string, number>();
  private readonly rows: Counter<'table'>;
  private readonly deletes: Counter<'table'>;
  private readonly polls: Counter<'table' | 'outcome'>;
  private readonly upToDate: Gauge<'table'>;
  private readonly requests: Counter<'status'>;
  private readonly requestSeconds: Histogram;
  private readonly retries: Counter;

  constructor(private readonly o: RunMetricsOptions) {
    const registers = [this.registry];
    const now = (this.now = o.now ?? Date.now);
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'nowpipe_build_info', help: 'Always 1; the version of nowpipe in its label.', labelNames: ['version'], registers }).set({ version: o.version }, 1);
    this.rows = new Counter({ name: 'nowpipe_rows_total', help: 'Rows written to the destination and committed to the checkpoint.', labelNames: ['table'], registers });
    this.deletes = new Counter({ name: 'nowpipe_deletes_total', help: 'Deletes (--deletes) written and committed.', labelNames: ['table'], registers });
    this.polls = new Counter({ name: 'nowpipe_polls_total', help: 'Follow polls that finished (outcome ok) or failed after their retries (outcome failed).', labelNames: ['table', 'outcome'], registers });
    this.upToDate = new Gauge({ name: 'nowpipe_up_to_date', help: '1 when the last poll read everything up to the instance clock minus --lag.', labelNames: ['table'], registers });
    this.requests = new Counter({ name: 'nowpipe_requests_total', help: 'Requests to the instance that finished, by HTTP status ("none" when no response came: network error, timeout).', labelNames: ['status'], registers });
    this.requestSeconds = new Histogram({ name: 'nowpipe_request_duration_seconds', help: 'Time of each request to the instance, to the end of its body.', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.retries = new Counter({ name: 'nowpipe_retries_total', help: 'Requests retried after a 429, a 5xx, a network error or a bad body.', registers });
    for (const table of o.tables) {
      this.rows.inc({ table }, 0);
      this.deletes.inc({ table }, 0);
      this.upToDate.set({ table }, 0);
    }
    const { stats, health } = o;
    const fromStats = (name: string, help: string, value: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    fromStats('nowpipe_pages_total', 'Responses from the instance that returned rows.', () => stats.pages);
    fromStats('nowpipe_duplicates_dropped_total', 'Row versions re-read in the --overlap window and dropped as already written.', () => stats.duplicatesDropped);
    fromStats('nowpipe_bad_rows_total', 'Rows set aside as bad (not written to the destination).', () => stats.badRows);
    const cursorAt = this.cursorAt;
    new Gauge({
      name: 'nowpipe_lag_seconds',
      help: "How far the checkpoint is behind the instance's clock: its now minus the cursor's timestamp (on a quiet table, the time since its last change).",
      labelNames: ['table'],
      registers,
      collect() {
        const instanceNow = o.instanceNow();
        for (const [table, at] of cursorAt) this.set({ table }, Math.max(0, (instanceNow - at) / 1000));
      },
    });
    new Gauge({
      name: 'nowpipe_last_success_timestamp_seconds',
      help: 'When the table last succeeded (a poll finished, a batch committed, start-up requests answered), in Unix seconds.',
      labelNames: ['table'],
      registers,
      collect() {
        for (const table of o.tables) {
          const at = health.lastSuccess(table);
          if (at !== undefined) this.set({ table }, at / 1000);
        }
      },
    });
    new Gauge({
      name: 'nowpipe_healthy',
      help: '1 while /healthz answers 200, 0 while it answers 503.',
      registers,
      collect() {
        this.set(health.status(now()).healthy ? 1 : 0);
      },
    });
  }

  handle(e: RunEvent): void {
    this.o.health.observe(e, this.now());
    switch (e.type) {
      case 'resumed':
      case 'caught-up':
        this.cursor(e.table, e.cursor?.updatedOn);
        return;
      case 'committed':
        if (e.stream === 'rows') {
          this.rows.inc({ table: e.table }, e.written);
          this.cursor(e.table, e.cursor.updatedOn);
        } else {
          this.deletes.inc({ table: e.table }, e.written);
        }
        return;
      case 'rewound':
        this.cursor(e.table, e.to.updatedOn);
        return;
      case 'waiting':
        this.upToDate.set({ table: e.table }, e.status.upToDate ? 1 : 0);
        this.cursor(e.table, e.status.cursor?.updatedOn);
        return;
      case 'poll-ok':
        this.polls.inc({ table: e.table, outcome: 'ok' });
        return;
      case 'poll-failed':
        this.polls.inc({ table: e.table, outcome: 'failed' });
        this.upToDate.set({ table: e.table }, 0);
        return;
      default:
    }
  }

  request(r: RequestSeen): void {
    this.requests.inc({ status: r.status === undefined ? 'none' : String(r.status) });
    this.requestSeconds.observe(r.ms / 1000);
  }

  retry(message: string): void {
    this.retries.inc();
    this.o.health.failed(message, this.now());
  }

  private cursor(table: string, updatedOn: string | undefined): void {
    const at = updatedOn === undefined ? undefined : snToMillis(updatedOn);
    if (at !== undefined) this.cursorAt.set(table, at);
  }
}
