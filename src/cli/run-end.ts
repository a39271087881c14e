import type { Config } from '../config/schema.js';
import { OutputClosedError } from '../errors/index.js';
import type { RunStats } from '../pipeline/events.js';
import type { RunResult } from '../pipeline/run.js';
import type { Reporter } from '../ui/reporter.js';
import { summaryLine } from '../ui/summary.js';
import { reportError } from './exit.js';

export interface RunEnd {
  /** The tables the summary names. */
  tableNames: readonly string[];
  /** Stopped by a signal. */
  stopped: boolean;
  /** The run's lease on its checkpoint lost to another run: the first failure. */
  lost?: unknown;
  /** Where the position is saved; undefined leaves it unnamed (demo's temporary one). */
  checkpoint?: string;
  destination?: string;
}

/**
 * How an export ends, a single run or a group member alike: the summary line (unless the run
 * failed before writing anything), then each failure; the exit code is the first one's. The
 * reader of stdout going away (`| head`) is a quiet stop, not a failure.
 */
export function endRun(reporter: Reporter, config: Config, result: RunResult, stats: RunStats, end: RunEnd): number {
  const failures: Array<{ table?: string; error?: unknown }> = result.failures.filter((f) => !(f.error instanceof OutputClosedError));
  const closed = failures.length < result.failures.length;
  if (end.lost !== undefined) failures.unshift({ error: end.lost });
  if (failures.length === 0 || stats.rows + stats.deletes > 0) {
    reporter.summary(
      summaryLine(result, stats, {
        tableNames: end.tableNames,
        deletes: config.deletes,
        failed: failures.length > 0,
        stopped: end.stopped || closed,
        seconds: reporter.elapsedSeconds(),
        checkpoint: end.checkpoint,
        destination: end.destination,
        deadLetter: config.deadLetter,
      }),
    );
  }
  let code = 0;
  for (const [i, { table, error }] of failures.entries()) {
    if (table && config.tableNames.length > 1 && error instanceof Error && !error.message.startsWith(`${table}: `)) error.message = `${table}: ${error.message}`;
    const c = reportError(error, reporter);
    if (i === 0) code = c;
  }
  return code;
}
