import type { Cursor } from '../servicenow/query.js';
import { toSnTimestamp } from '../servicenow/time.js';
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
 * position. A clock far off, or behind the cursor, does not lose rows (nothing is read past the
 * instance's present), but a run that reads nothing must say why.
 */
export class ClockWatch {
  private readonly said = new Map<string, number>();

  constructor(
    private readonly table: string,
    private readonly events: RunEvents,
    private readonly clock: Clock,
  ) {}

  check(instanceNow: number, cursor: Cursor | undefined): void {
    const local = this.clock.now();
    const skew = instanceNow - local;
    if (Math.abs(skew) > SKEW_WARN_MS) {
      this.warn('skew', `the instance's clock (${toSnTimestamp(instanceNow)} UTC, from its Date header) is ${span(skew)} ${skew > 0 ? 'ahead of' : 'behind'} the local clock; nowpipe reads up to the instance's clock`);
    }
    if (cursor && cursor.updatedOn > toSnTimestamp(instanceNow)) {
      this.warn('behind', `the instance's clock (${toSnTimestamp(instanceNow)} UTC) is behind the position of ${this.table} (${cursor.updatedOn}): nothing newer can be read until the instance's clock passes it`);
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
