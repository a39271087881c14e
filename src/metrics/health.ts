import type { RunEvent } from '../pipeline/events.js';

export interface HealthOptions {
  /** Each table of the run, and how long it may go without a success (ms). */
  tables: ReadonlyArray<{ table: string; windowMs: number }>;
  /**
   * true with --follow: every table polls for as long as the run lasts, so each one that goes
   * silent is failing. false for a catch-up run: a table that finished goes quiet for good, so
   * only the run as a whole must keep moving.
   */
  perTable: boolean;
  /** When the run started (ms): the clock of a table with no success yet starts here (the start-up grace). */
  startedAt: number;
}

export interface HealthStatus {
  healthy: boolean;
  /** A few words for people: what is late and why, or how recent the last success is. */
  reason: string;
}

/**
 * Signs that a table is moving: the instance answered its start-up requests (reading, slices
 * planned), a batch was committed (read from the instance, written by the sink, checkpoint
 * saved), a page of hidden rows was stepped over, or a follow poll finished.
 */
const SUCCESS: ReadonlySet<RunEvent['type']> = new Set(['reading', 'slices-planned', 'committed', 'hidden-rows', 'caught-up', 'poll-ok']);

const secs = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s`;

/**
 * The rule behind /healthz, pure: healthy while every table (with --follow; the run as a whole
 * without) has had a success within its window. A failure (a poll that failed, a retry) does
 * not by itself make the run unhealthy — nowpipe rides out outages — but it is the reason given
 * once the window has passed.
 */
export class Health {
  private readonly last = new Map<string, number>();
  private lastError?: { at: number; message: string };
  /**
   * With --group: the tables this process runs now, and since when (ms). A table another member
   * runs is not this one's to watch; one given to it starts its clock when given.
   */
  private running?: Map<string, number>;

  constructor(private readonly options: HealthOptions) {}

  /** Takes what a run event says about health. */
  observe(event: RunEvent, at: number): void {
    if (SUCCESS.has(event.type) && 'table' in event && event.table !== undefined) this.last.set(event.table, at);
    else if (event.type === 'poll-failed') this.failed(`${event.table}: ${event.error.message}`, at);
  }

  /** A failure seen outside the events (a request retried): remembered as the likely reason. */
  failed(message: string, at: number): void {
    this.lastError = { at, message };
  }

  /** The tables this process runs now (--group); from the first call only they are watched. */
  runs(tables: readonly string[], at: number): void {
    const before = this.running;
    this.running = new Map(tables.map((t) => [t, before?.get(t) ?? at]));
  }

  /** When the table last succeeded (ms), if it has. */
  lastSuccess(table: string): number | undefined {
    return this.last.get(table);
  }

  status(now: number): HealthStatus {
    const { perTable, startedAt } = this.options;
    const running = this.running;
    if (running && running.size === 0) return { healthy: true, reason: 'ok\nno table of the group is given to this process now' };
    const tables = running ? this.options.tables.filter((t) => running.has(t.table)) : this.options.tables;
    // A table's clock starts with the run, or (--group) when the table was given to this process.
    const start = (table: string) => running?.get(table) ?? startedAt;
    const lastOf = (table: string) => {
      const at = this.last.get(table);
      return at !== undefined && at >= start(table) ? at : undefined;
    };
    // Without --follow, the run is one "table": its latest success against its longest window.
    const watched = perTable
      ? tables.map(({ table, windowMs }) => ({ name: table, windowMs, last: lastOf(table), start: start(table) }))
      : [{ name: tables.map((t) => t.table).join(', '), windowMs: Math.max(...tables.map((t) => t.windowMs)), last: maxOf([...this.last.values()]), start: startedAt }];
    const late = watched.filter((w) => now - (w.last ?? w.start) > w.windowMs);
    if (late.length === 0) {
      const lines = watched.map((w) =>
        w.last === undefined ? `${w.name}: starting, no poll or commit yet (${secs(now - w.start)} of ${secs(w.windowMs)})` : `${w.name}: last success ${secs(now - w.last)} ago (limit ${secs(w.windowMs)})`,
      );
      return { healthy: true, reason: `ok\n${lines.join('\n')}` };
    }
    const lines = late.map((w) =>
      w.last === undefined
        ? `${w.name}: no successful poll or commit since the start ${secs(now - w.start)} ago (limit ${secs(w.windowMs)})`
        : `${w.name}: no successful poll or commit for ${secs(now - w.last)} (limit ${secs(w.windowMs)})`,
    );
    // The last failure, if it came after a late table's last success: most likely why it is late.
    const since = Math.min(...late.map((w) => w.last ?? w.start));
    const error = this.lastError && this.lastError.at >= since ? `\nlast error ${secs(now - this.lastError.at)} ago: ${this.lastError.message}` : '';
    return { healthy: false, reason: `unhealthy\n${lines.join('\n')}${error}` };
  }
}

function maxOf(values: number[]): number | undefined {
  return values.length === 0 ? undefined : Math.max(...values);
}
