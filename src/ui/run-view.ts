import type { RunEvent, RunEvents, RunStats } from '../pipeline/events.js';
import { snToMillis } from '../servicenow/time.js';
import type { OutageLog } from './outage.js';
import { count, duration, formatCount, type Reporter } from './reporter.js';

/** Past this many rows stepped over as hidden, the run says so once: a count that never ends looks like a hang. */
export const HIDDEN_ROWS_WARNING = 100_000;

/** The rate over the last few seconds: a follow run's average since start says nothing. */
export class RecentRate {
  private readonly samples: Array<{ at: number; value: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  perSecond(value: number, at: number): number {
    this.samples.push({ at, value });
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (at - first.at) / 1000;
    return seconds >= 1 ? (value - first.value) / seconds : 0;
  }
}

/**
 * What a person sees of a run on stderr: it subscribes to the run's events and keeps one status
 * line (rows, recent rate, pages, each table's position or follow status) and says warnings,
 * resumes and outages as lines of their own.
 */
export class RunView {
  private readonly detail = new Map<string, string>();
  private readonly rate = new RecentRate();
  private following = false;

  constructor(
    private readonly reporter: Reporter,
    private readonly stats: RunStats,
    private readonly outage: OutageLog,
    private readonly now: () => number = Date.now,
  ) {
    // From the start: the first second's rate is the rows since the run began, not 0.
    this.rate.perSecond(0, now());
  }

  attach(events: RunEvents): () => void {
    return events.on((e) => this.handle(e));
  }

  handle(e: RunEvent): void {
    const { reporter } = this;
    switch (e.type) {
      case 'resumed':
        reporter.info(
          e.slices
            ? `resuming the parallel backfill of ${e.table}: ${e.slices.done} of ${e.slices.of} slices done, each slice from its own cursor (${count(e.rowsBefore, 'row')} written before)`
            : `resuming ${e.table} after ${e.cursor.updatedOn} (${count(e.rowsBefore, 'row')} written before)`,
          { table: e.table },
        );
        return;
      case 'reading':
        reporter.verbose(`reading ${e.table} from ${e.from} to ${e.hi} (about ${e.total === undefined ? '?' : formatCount(e.total)} rows)`, { table: e.table });
        return;
      case 'first-page':
        reporter.verbose(
          `${e.table}: the instance took ${e.waitMs} ms to start answering a page, nowpipe ${e.workMs} ms to write it: ${e.slice ? 'the instance is the bottleneck, slicing the rest' : 'one cursor is as fast'}`,
        );
        return;
      case 'slices-planned':
        reporter.verbose(`parallel backfill of ${e.table} in ${e.slices.length} slices: ${e.slices.map((s) => `${s.start}…${s.end}`).join(', ')}`, { table: e.table });
        return;
      case 'committed':
        this.detail.set(e.table, e.slices ? `${e.slices.done}/${e.slices.of} slices done` : `at ${e.cursor.updatedOn}`);
        break;
      case 'hidden-rows': {
        this.detail.set(e.table, `stepping over rows hidden by ACLs: ${formatCount(e.total)} so far`);
        if (e.total >= HIDDEN_ROWS_WARNING) {
          reporter.warnOnce(
            `hidden:${e.table}`,
            `${e.table}: stepped over ${formatCount(e.total)} rows hidden by ACLs so far (empty pages while X-Total-Count says rows remain); if this never ends, the instance's count is wrong or this user may read very little of the table`,
            { table: e.table },
          );
        }
        break;
      }
      case 'warning':
        if (e.once) reporter.warnOnce(e.once, e.message, { table: e.table });
        else reporter.warn(e.message, { table: e.table });
        return;
      case 'info':
        reporter.info(e.message, { table: e.table });
        return;
      case 'caught-up':
        this.following = true;
        reporter.info(`caught up at ${e.cursor?.updatedOn ?? '-'}; following ${e.table} every ${e.pollSeconds} s`, { table: e.table });
        return;
      case 'waiting':
        this.detail.set(e.table, this.followStatus(e.status));
        break;
      case 'poll-failed':
        this.outage.failed(e.error);
        return;
      case 'poll-ok':
        this.outage.recovered();
        return;
      case 'rewound':
        reporter.verbose(`${e.reason}: the position of ${e.table} moved back to ${e.to.updatedOn}, before what it may not have read`, { table: e.table });
        return;
    }
    this.render();
  }

  private followStatus(s: Extract<RunEvent, { type: 'waiting' }>['status']): string {
    const stamped = s.cursor && s.cursor.sysId !== '' ? snToMillis(s.cursor.updatedOn) : undefined;
    const where = !s.upToDate
      ? `at ${s.cursor?.updatedOn ?? '-'}`
      : stamped === undefined
        ? 'up to date · no change yet'
        : `up to date · last change ${duration(Math.max(0, (s.instanceNow - stamped) / 1000))} ago`;
    const next = Math.max(0, Math.ceil((s.nextPollAt - this.now()) / 1000));
    return `${where} · last poll ${count(s.lastPollChanges, 'change')} · next poll in ${next}s`;
  }

  /** The status line now. */
  line(): string {
    const { stats } = this;
    const rate = this.rate.perSecond(stats.rows + stats.deletes, this.now());
    const parts = [count(stats.rows, 'row'), `${formatCount(Math.round(rate))} rows/s`, count(stats.pages, 'page')];
    if (stats.deletes > 0) parts.splice(1, 0, count(stats.deletes, 'delete'));
    if (stats.retries > 0) parts.push(count(stats.retries, 'retry', 'retries'));
    if (!this.following && stats.total !== undefined && stats.total > 0 && rate > 0 && stats.rows < stats.total) {
      parts.push(`${Math.floor((stats.rows / stats.total) * 100)}%`, `ETA ${duration((stats.total - stats.rows) / rate)}`);
    }
    const several = this.detail.size > 1;
    for (const [table, d] of this.detail) parts.push(several ? `${table} ${d}` : d);
    return parts.join(' · ');
  }

  render(): void {
    this.reporter.status(this.line());
  }
}
