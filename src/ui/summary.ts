import type { RunStats } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import { position } from '../pipeline/table-run.js';
import { count, formatCount } from './reporter.js';

export interface SummaryContext {
  tableNames: readonly string[];
  deletes: boolean;
  /** The run failed (a table, the lease): said first, whatever else. */
  failed: boolean;
  stopped: boolean;
  seconds: number;
  /** Where the position is saved (a path); undefined to leave it unnamed (demo's temporary one). */
  checkpoint?: string;
  /** Where the data went, from the sink (`3 files in out/incident`, `topic servicenow.incident`). */
  destination?: string;
  /** Where bad rows went (--dead-letter). */
  deadLetter?: string;
}

/**
 * The one line a run ends with: what happened, how much, where the data went, and where the
 * position is saved — named only when it really was saved.
 */
export function summaryLine(result: RunResult, stats: RunStats, c: SummaryContext): string {
  const status = c.failed ? 'failed' : c.stopped ? 'stopped' : 'done';
  const rate = c.seconds > 0 ? Math.round(stats.rows / c.seconds) : stats.rows;
  const extra = [
    c.deletes ? count(stats.deletes, 'delete') : '',
    stats.duplicatesDropped > 0 ? `${formatCount(stats.duplicatesDropped)} re-read duplicates dropped` : '',
    stats.badRows > 0 ? `${count(stats.badRows, 'bad row')} set aside${c.deadLetter ? ` in ${c.deadLetter}` : ''}` : '',
  ].filter(Boolean);
  const head = `${status}: ${count(stats.rows, 'row')} of ${c.tableNames.join(', ')}${extra.length ? ` (${extra.join(', ')})` : ''} in ${c.seconds.toFixed(1)} s (${formatCount(rate)} rows/s), ${count(stats.pages, 'page')}, ${count(stats.retries, 'retry', 'retries')}`;
  const to = c.destination ? ` → ${c.destination}` : '';
  return `${head}${to}; ${where(result, c)}`;
}

function where(result: RunResult, c: SummaryContext): string {
  const saved = result.tables.filter((t) => t.saved);
  const into = c.checkpoint ? ` saved to ${c.checkpoint}` : '';
  if (result.tables.length === 1) {
    const t = result.tables[0]!;
    return t.saved ? `position ${position(t.progress)}${into}` : 'no position saved (no batch of rows was written in full)';
  }
  if (saved.length === 0) return 'no position saved (no batch of rows was written in full)';
  return `${saved.length === result.tables.length ? 'positions' : `positions of ${saved.map((t) => t.table).join(', ')}`}${into}`;
}
