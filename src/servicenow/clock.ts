/**
 * The instance's clock, estimated from `Date` headers so that it is never ahead of the instance.
 *
 * A `Date` header is truncated to the second and was stamped somewhere between sending the request
 * and receiving the response, so every response bounds the offset (instance clock minus ours):
 *
 *     Date − received  ≤  offset  <  Date + 1 s − sent
 *
 * The estimate is the highest lower bound seen: it converges to the true offset from below and is
 * never ahead. Bounds age by `driftPpm` of their age, in case the two clocks run at slightly
 * different rates. A lower bound above an upper one means a clock was stepped: start again from the
 * newest response, which is sound on its own.
 *
 * Only a response stamped just after the instance's clock turns a second is a tight lower bound,
 * and polls at a steady period land at the same point of the second every time. So `nextPoll`, while
 * the bounds are far apart, sends one extra poll where the middle of the bounds says the second
 * turns: whichever side of the turn it was stamped, it halves the interval (bisection, as htpdate
 * does). Regular polls start just after the lower bound says the second turned, which is when the
 * high-water mark moves.
 *
 * All times are local monotonic milliseconds; the caller converts.
 */

/** How fast the two clocks may drift apart, in parts per million (a poor crystal, no NTP). */
export const DRIFT_PPM = 100;
/** A regular poll starts this long after the instance's second turned (by the lower bound). */
export const POLL_MARGIN_MS = 20;
/** Probe while the bounds are further apart than this plus two round trips. */
export const PROBE_SLACK_MS = 30;

export interface ClockSample {
  /** The `Date` header, ms since the epoch (a whole second). */
  date: number;
  /** Local monotonic ms: the request was sent no earlier than this… */
  sentAt: number;
  /** …and its response headers had arrived by this. */
  receivedAt: number;
}

interface Bound {
  offset: number;
  at: number;
}

export class ServerClock {
  private lo?: Bound;
  private up?: Bound;
  private minRoundTrip = Infinity;
  /** The instance second (ms) the last probe poll was aimed at, until its regular poll is scheduled. */
  private probed?: number;

  constructor(private readonly driftPpm = DRIFT_PPM) {}

  observe(sample: ClockSample): void {
    const { date, sentAt, receivedAt } = sample;
    if (!Number.isFinite(date) || !(receivedAt >= sentAt)) return;
    const lower = date - receivedAt;
    const upper = date + 1000 - sentAt;
    this.minRoundTrip = Math.min(this.minRoundTrip, receivedAt - sentAt);
    if (this.lo === undefined || this.up === undefined || lower > this.upper(receivedAt)! || upper < this.lower(receivedAt)!) {
      this.lo = { offset: lower, at: receivedAt };
      this.up = { offset: upper, at: receivedAt };
      return;
    }
    if (lower > this.lower(receivedAt)!) this.lo = { offset: lower, at: receivedAt };
    if (upper < this.upper(receivedAt)!) this.up = { offset: upper, at: receivedAt };
  }

  /** The highest offset the instance's clock can be shown to be ahead of ours at local time `t`. */
  lower(t: number): number | undefined {
    return this.lo && this.lo.offset - (this.driftPpm / 1e6) * Math.max(0, t - this.lo.at);
  }

  upper(t: number): number | undefined {
    return this.up && this.up.offset + (this.driftPpm / 1e6) * Math.max(0, t - this.up.at);
  }

  /** The instance's clock at local time `t`, never ahead of it; undefined before any response. */
  now(t: number): number | undefined {
    const lower = this.lower(t);
    return lower === undefined ? undefined : t + lower;
  }

  /** How far apart the bounds are at `t` (ms). */
  uncertainty(t: number): number | undefined {
    return this.lo && this.upper(t)! - this.lower(t)!;
  }

  /**
   * When to start the next poll, given when it is due and the time now: just after the instance's
   * clock turns the second nearest to `due` (so a steady period stays steady), or sooner for a
   * probe while the estimate is loose, and right after a probe for the same second's regular poll.
   */
  nextPoll(due: number, now: number): number {
    if (this.lo === undefined) return Math.max(due, now);
    if (this.probed !== undefined) {
      const second = this.probed;
      this.probed = undefined;
      return Math.max(now, second - this.lower(now)! + POLL_MARGIN_MS);
    }
    const lower = this.lower(due)!;
    const earliest = Math.max(now, due - 500);
    const second = Math.ceil((earliest - POLL_MARGIN_MS + lower) / 1000) * 1000;
    const regular = second - lower + POLL_MARGIN_MS;
    if (this.uncertainty(due)! > PROBE_SLACK_MS + 2 * this.minRoundTrip) {
      const middle = (lower + this.upper(due)!) / 2;
      const probe = second - middle;
      if (probe >= now) {
        this.probed = second;
        return probe;
      }
    }
    return regular;
  }
}

/** Local monotonic ms on the epoch's scale: immune to steps of the wall clock. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
