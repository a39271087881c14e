import { describe, expect, it } from 'vitest';
import { POLL_MARGIN_MS, PROBE_SLACK_MS, ServerClock } from '../../src/servicenow/clock.js';
import { rng } from '../../src/sim/data.js';
import { ClockWatch } from '../../src/pipeline/clock-watch.js';
import { RunEvents } from '../../src/pipeline/events.js';


/**
 * An instance whose clock is `offset` ms ahead of ours. A request sent at local `sentAt` is
 * stamped `toServer` ms later and its response arrives `back` ms after that; `Date` is truncated
 * to the second, as HTTP servers write it.
 */
function exchange(offset: number, sentAt: number, toServer: number, back: number) {
  const stampedAt = sentAt + toServer;
  return { date: Math.floor((stampedAt + offset) / 1000) * 1000, sentAt, receivedAt: stampedAt + back };
}

const T0 = 1_700_000_000_000;

describe('ServerClock: the instance clock from Date headers', () => {
  it('knows nothing before the first response, and then never runs ahead of the instance', () => {
    const clock = new ServerClock();
    expect(clock.now(T0)).toBeUndefined();
    expect(clock.nextPoll(T0 + 1000, T0)).toBe(T0 + 1000);
    // Stamped 0.9 s into the instance's second: the header says .000, so the estimate is 0.9 s (+ the way back) early.
    const offset = 3_600_000 + 100;
    const sample = exchange(offset, T0 + 795, 5, 5); // stamped at instance time …:00.900
    clock.observe(sample);
    expect(clock.now(sample.receivedAt)).toBe(sample.date);
    expect(clock.now(sample.receivedAt)! - (sample.receivedAt + offset)).toBeCloseTo(-905, 6);
    expect(clock.lower(sample.receivedAt)!).toBeLessThanOrEqual(offset);
    expect(clock.upper(sample.receivedAt)!).toBeGreaterThan(offset);
  });

  it('takes the highest lower bound: converges from below as responses land at different points of the second', () => {
    const clock = new ServerClock(0);
    const offset = -12_345.678;
    const phases = [700, 350, 120, 20, 900, 2];
    let t = T0;
    const errors: number[] = [];
    for (const p of phases) {
      // Send so the request is stamped `p` ms after the instance's second turns.
      const turn = Math.ceil((t + offset) / 1000) * 1000 - offset;
      t = turn + p - 3;
      clock.observe(exchange(offset, t, 3, 3));
      errors.push(offset - clock.lower(t)!);
      t += 1000;
    }
    for (const e of errors) expect(e).toBeGreaterThanOrEqual(0);
    // Never worse than before; finally within the best phase (2 ms) plus the way back (3 ms).
    for (let i = 1; i < errors.length; i++) expect(errors[i]!).toBeLessThanOrEqual(errors[i - 1]!);
    expect(errors.at(-1)!).toBeCloseTo(5, 3);
  });

  it('is never ahead and never excludes the true offset, over many random exchanges', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = rng(seed); // seeded, so a failing case can be replayed
      const offset = (rnd() - 0.5) * 7_200_000;
      const clock = new ServerClock(0);
      let t = T0 + rnd() * 1000;
      for (let i = 0; i < 300; i++) {
        t += 50 + rnd() * 1500;
        const s = exchange(offset, t, rnd() * 80, rnd() * 80);
        clock.observe(s);
        const at = s.receivedAt + rnd() * 500;
        expect(clock.now(at)!).toBeLessThanOrEqual(at + offset);
        expect(clock.upper(at)!).toBeGreaterThanOrEqual(offset);
      }
      // Random phases pin it down to about the round trip.
      expect(offset - clock.lower(t)!).toBeLessThan(80);
    }
  });

  it('allows for drift: a bound loses 100 ppm of its age', () => {
    const clock = new ServerClock();
    const s = exchange(0, T0, 1, 1);
    clock.observe(s);
    const before = clock.lower(s.receivedAt)!;
    expect(before - clock.lower(s.receivedAt + 100_000)!).toBeCloseTo(10, 6);
    expect(clock.upper(s.receivedAt + 100_000)! - clock.upper(s.receivedAt)!).toBeCloseTo(10, 6);
  });

  it('starts again when the instance clock is stepped back (bounds that disagree), and stays behind it', () => {
    const clock = new ServerClock(0);
    let t = T0;
    for (const p of [10, 500, 990]) {
      clock.observe(exchange(0, t + p, 1, 1));
      t += 1000;
    }
    expect(clock.lower(t)!).toBe(-12); // the best sample: stamped 11 ms into a second, 1 ms back
    const stepped = -4_321; // NTP stepped the instance back 4.3 s
    const s = exchange(stepped, t + 200, 1, 1);
    clock.observe(s);
    expect(clock.now(s.receivedAt)!).toBeLessThanOrEqual(s.receivedAt + stepped);
    expect(clock.upper(s.receivedAt)!).toBeGreaterThanOrEqual(stepped);
  });

  it('ignores a sample whose times make no sense', () => {
    const clock = new ServerClock();
    clock.observe({ date: Number.NaN, sentAt: T0, receivedAt: T0 + 1 });
    clock.observe({ date: T0, sentAt: T0 + 5, receivedAt: T0 });
    expect(clock.now(T0)).toBeUndefined();
  });
});

describe('ServerClock.nextPoll: polls just after the instance second turns', () => {
  /**
   * Runs a follow loop against an instance `offset` ms ahead: each poll is one exchange at the time
   * nextPoll chose. Returns, per poll, the instance time it started at and the clock's bounds.
   */
  function followLoop(offset: number, polls: number, rtt = 4, intervalMs = 1000) {
    const clock = new ServerClock();
    let now = T0 + 123.4;
    clock.observe(exchange(offset, now, rtt / 2, rtt / 2)); // the backfill's last page
    now += rtt;
    const starts: Array<{ local: number; intoSecond: number; lower: number; width: number }> = [];
    let pollStarted = now;
    for (let i = 0; i < polls; i++) {
      const at = clock.nextPoll(pollStarted + intervalMs, now);
      expect(at).toBeGreaterThanOrEqual(now);
      now = at;
      pollStarted = now;
      starts.push({ local: now, intoSecond: (((now + offset) % 1000) + 1000) % 1000, lower: clock.lower(now)!, width: clock.uncertainty(now)! });
      clock.observe(exchange(offset, now, rtt / 2, rtt / 2));
      now += rtt + 1; // the poll's work
    }
    // A probe is the poll sent shortly before its second's regular poll.
    const probe = starts.map((s, i) => i + 1 < starts.length && starts[i + 1]!.local - s.local < 500);
    return { clock, starts, probe, now };
  }

  it('bisects the second: within a few polls the bounds are tight, and regular polls land just after the turn', () => {
    const rtt = 4;
    const loose = PROBE_SLACK_MS + 2 * rtt;
    for (const offset of [0, 437.25, -999.5, 86_400_000 + 1.75]) {
      const { clock, starts, probe, now } = followLoop(offset, 40, rtt);
      expect(offset - clock.lower(now)!).toBeGreaterThanOrEqual(0);
      expect(offset - clock.lower(now)!).toBeLessThanOrEqual(loose);
      // From the 15th poll on, every regular poll starts between the margin and the margin plus
      // the probe threshold after the turn (the estimate trails by at most the width of the bounds).
      starts.forEach((s, i) => {
        if (i < 15 || probe[i]) return;
        expect(s.intoSecond).toBeGreaterThanOrEqual(POLL_MARGIN_MS - 1e-6);
        expect(s.intoSecond).toBeLessThanOrEqual(POLL_MARGIN_MS + loose + 1);
      });
    }
  });

  it('keeps a steady period: regular polls one second apart, plus a probe poll just before one now and then', () => {
    const { starts, probe } = followLoop(250.5, 200);
    const regular = starts.filter((_, i) => !probe[i]);
    const gaps = regular.slice(1).map((s, i) => s.local - regular[i]!.local);
    // Converging, the estimate moves and a gap can shrink or stretch; then every gap is the interval,
    // give or take a correction of the estimate (at most the probe threshold).
    expect(gaps.every((g) => g > 400 && g < 1600)).toBe(true);
    for (const g of gaps.slice(10)) expect(Math.abs(g - 1000)).toBeLessThan(PROBE_SLACK_MS + 2 * 4);
    expect(gaps.slice(10).filter((g) => Math.abs(g - 1000) < 1).length).toBeGreaterThan(gaps.length * 0.9);
    // Probes: a handful while converging, then about one a minute as drift widens the bounds.
    expect(probe.slice(0, 20).filter(Boolean).length).toBeLessThanOrEqual(8);
    expect(probe.slice(20).filter(Boolean).length).toBeLessThanOrEqual(6);
  });

  it('keeps probing as the drift allowance widens the bounds, and the estimate never passes the instance', () => {
    const { starts, probe } = followLoop(-33.3, 600); // 10 minutes of 1 s polls
    const later = probe.slice(30).filter(Boolean).length;
    expect(later).toBeGreaterThan(2);
    expect(later).toBeLessThan(30);
    for (const s of starts) expect(s.lower).toBeLessThanOrEqual(-33.3);
  });

  it('rounds to the nearest turn for long intervals and polls at once when a poll overran', () => {
    const clock = new ServerClock(0);
    clock.observe({ date: T0, sentAt: T0 - 1, receivedAt: T0 }); // offset in [0, 999]: loose
    clock.observe({ date: T0, sentAt: T0 + 999, receivedAt: T0 + 1000 }); // not turned yet at +999: [0, 1]
    expect(clock.uncertainty(T0 + 1000)).toBe(1);
    // Interval 20 s: the turn nearest to the due time.
    expect(clock.nextPoll(T0 + 20_400, T0 + 1000)).toBe(T0 + 20_000 + POLL_MARGIN_MS);
    expect(clock.nextPoll(T0 + 20_600, T0 + 1000)).toBe(T0 + 21_000 + POLL_MARGIN_MS);
    // A poll that took longer than its interval: the next turn after now.
    expect(clock.nextPoll(T0 + 3000, T0 + 3700)).toBe(T0 + 4000 + POLL_MARGIN_MS);
  });
});

describe('ClockWatch: what the instance clock says about the saved position', () => {
  const at = (iso: string) => Date.parse(`${iso}Z`);
  const make = () => {
    const warnings: string[] = [];
    const events = new RunEvents();
    events.on((e) => e.type === 'warning' && warnings.push(e.message));
    return { warnings, watch: new ClockWatch('incident', events, { now: () => at('2024-03-01T12:00:00'), sleep: () => Promise.resolve() }) };
  };

  it('a clock behind a row already written, by more than the overlap: the warning says a set-back clock would leave rows behind the re-read', () => {
    const { watch, warnings } = make();
    watch.check(at('2024-03-01T11:50:00'), { updatedOn: '2024-03-01 12:00:00', sysId: 'abc' }, 5);
    expect(warnings.filter((w) => w.includes('behind the position'))).toEqual([
      "the instance's clock (2024-03-01 11:50:00 UTC) is behind the position of incident (2024-03-01 12:00:00): nothing newer can be read until the instance's clock passes it. If its clock was really set back, rows it stamps before it passes the position fall behind the --overlap re-read and are not read: rerun once it is right with --reset --since <a time before it went back>",
    ]);
  });

  it('within the overlap, or a --since in the future (no row written there): the plain warning', () => {
    for (const [now, cursor] of [
      ['2024-03-01T11:59:57', { updatedOn: '2024-03-01 12:00:00', sysId: 'abc' }],
      ['2024-03-01T11:00:00', { updatedOn: '2024-03-01 12:00:00', sysId: '' }],
    ] as const) {
      const { watch, warnings } = make();
      watch.check(at(now), cursor, 5);
      const behind = warnings.filter((w) => w.includes('behind the position'));
      expect(behind).toHaveLength(1);
      expect(behind[0]).toMatch(/is behind the position of incident \(2024-03-01 12:00:00\): nothing newer can be read until the instance's clock passes it$/);
    }
  });
});
