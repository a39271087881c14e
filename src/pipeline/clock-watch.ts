import type { Cursor } from '../servicenow/query.js';
import { shiftSnTimestamp, toSnTimestamp } from '../servicenow/time.js';
import type { Clock } from './clock.js';
import type { RunEvents } from './events.js';

/** Further apart than this, the two clocks are worth a word (`check` uses the same). */
export const SKEW_WARN_MS = 60_000;
/** In follow mode a clock problem that lasts is said again this often. */
export const REPEAT_MS = 3_600_000;

function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

/**
 * Checks the instance's clock (its `Date` header) against the local one and against the saved
 * position. A clock far off, or behind the cursor, does not by itself lose rows (nothing is read
 * past the instance's present), but a run that reads nothing must say why, and a clock behind a
 * row already written may have been set back: the warning says what that would cost.
 */
export class ClockWatch {
  private readonly said = new Map<string, number>();

  constructor(
    private readonly table: string,
    private readonly events: RunEvents,
    private readonly clock: Clock,
  ) {}

  check(instanceNow: number, cursor: Cursor | undefined, overlapSeconds = 0): void {
    const local = this.clock.now();
    const skew = instanceNow - local;
    if (Math.abs(skew) > SKEW_WARN_MS) {
      this.warn('skew', `the instance's clock (${toSnTimestamp(instanceNow)} UTC, from its Date header) is ${span(skew)} ${skew > 0 ? 'ahead of' : 'behind'} the local clock; nowpipe reads up to the instance's clock`);
    }
    const present = toSnTimestamp(instanceNow);
    if (cursor && cursor.updatedOn > present) {
      // A row cursor (not a --since in the future) was stamped by this same clock. Either the
      // Date header is wrong (a proxy, a broken clock in front) or the clock was set back; then
      // the rows it stamps until it passes the position would fall behind the re-read.
      const setBack =
        cursor.sysId !== '' && present < shiftSnTimestamp(cursor.updatedOn, -Math.ceil(overlapSeconds))
          ? `. If its clock was really set back, rows it stamps before it passes the position fall behind the --overlap re-read and are not read: rerun once it is right with --reset --since <a time before it went back>`
          : '';
      this.warn('behind', `the instance's clock (${present} UTC) is behind the position of ${this.table} (${cursor.updatedOn}): nothing newer can be read until the instance's clock passes it${setBack}`);
    }
  }

  private warn(key: string, message: string): void {
    const now = this.clock.now();
    const last = this.said.get(key);
    if (last !== undefined && now - last < REPEAT_MS) return;
    this.said.set(key, now);
    this.events.emit({ type: 'warning', table: this.table, message });
  }
}
