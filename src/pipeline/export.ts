import type { CheckpointStore, Scope } from '../checkpoint/store.js';
import type { Config } from '../config/schema.js';
import type { Cursor } from '../servicenow/query.js';
import { rangeQuery } from '../servicenow/query.js';
import type { Page, TableReader } from '../servicenow/reader.js';
import { shiftSnTimestamp, toSnTimestamp } from '../servicenow/time.js';
import { toRecord } from '../sinks/format.js';
import type { Sink } from '../sinks/types.js';
import type { Reporter } from '../ui/reporter.js';

export interface RunStats {
  rows: number;
  pages: number;
  retries: number;
  total?: number;
}

export interface ExportContext {
  config: Config;
  reader: TableReader;
  sink: Sink;
  store: CheckpointStore;
  reporter: Reporter;
  stats: RunStats;
  /** Aborted on SIGINT/SIGTERM: stop reading, keep what is durable. */
  signal: AbortSignal;
}

export interface ExportResult {
  stats: RunStats;
  cursor: Cursor;
  /** True when a signal stopped the run before the range was exhausted. */
  stopped: boolean;
  seconds: number;
}

export function scopeOf(config: Config): Scope {
  return { instance: config.url, table: config.table, query: config.query, fields: config.fields };
}

/** The high-water mark: the instance's clock minus the safety lag, never past --until. */
export function highWaterMark(serverNowMs: number, lagSeconds: number, until?: string): string {
  const hi = toSnTimestamp(serverNowMs - lagSeconds * 1000);
  if (until === undefined) return hi;
  const lastBeforeUntil = shiftSnTimestamp(until, -1);
  return lastBeforeUntil < hi ? lastBeforeUntil : hi;
}

/**
 * Writes one page and then, only after the sink says it is durable, commits the cursor.
 * This order is the whole at-least-once guarantee.
 */
export async function deliverPage(ctx: ExportContext, scope: Scope, page: Page): Promise<void> {
  const { config, sink, store, stats } = ctx;
  const records = page.rows.map((row) => toRecord(row, config.table, config.url, ctx.reader.cursorOf(row)));
  await sink.write(records);
  const prev = store.table(scope);
  store.set(scope, { cursor: page.cursor, rows: (prev?.rows ?? 0) + records.length });
  await store.commit();
  stats.rows += records.length;
  stats.pages += 1;
}

function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err === signal.reason || (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'CancelError');
}

/** The backfill: every row from the checkpoint (or --since) up to the high-water mark. */
export async function runBackfill(ctx: ExportContext): Promise<ExportResult> {
  const { config, reader, reporter, stats, signal } = ctx;
  const scope = scopeOf(config);
  const saved = ctx.store.table(scope);
  let cursor: Cursor = saved?.cursor ?? { updatedOn: config.since, sysId: '' };
  if (saved) {
    reporter.info(`resuming ${config.table} after ${cursor.updatedOn} (${saved.rows.toLocaleString('en-US')} rows written before)`);
  }
  const started = Date.now();
  try {
    const probe = await reader.probe(rangeQuery(cursor.updatedOn, '9999-12-31 23:59:59', config.query), signal);
    const hi = highWaterMark(probe.serverNow, config.lag, config.until);
    stats.total = probe.total;
    reporter.verbose(`reading ${config.table} from ${cursor.updatedOn} to ${hi} (server clock ${new Date(probe.serverNow).toISOString()}, about ${probe.total ?? '?'} rows)`);
    reporter.startProgress();
    for await (const page of reader.sweep(cursor, hi, signal)) {
      await deliverPage(ctx, scope, page);
      cursor = page.cursor;
      reporter.progress({ ...stats, detail: `at ${cursor.updatedOn}` });
    }
  } catch (err) {
    if (isAbort(err, signal)) return { stats, cursor, stopped: true, seconds: (Date.now() - started) / 1000 };
    throw err;
  } finally {
    reporter.stopProgress();
  }
  return { stats, cursor, stopped: signal.aborted, seconds: (Date.now() - started) / 1000 };
}
