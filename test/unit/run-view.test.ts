import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newStats, RunEvents } from '../../src/pipeline/events.js';
import { OutageLog } from '../../src/ui/outage.js';
import { Reporter } from '../../src/ui/reporter.js';
import { RecentRate, RunView } from '../../src/ui/run-view.js';

function view(now = { t: Date.UTC(2026, 10, 30, 12) }) {
  const stream = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
  let text = '';
  (stream as unknown as PassThrough).on('data', (d: Buffer) => (text += d.toString()));
  const reporter = new Reporter({ stream, env: { NO_COLOR: '1' } });
  const stats = newStats();
  const events = new RunEvents();
  const v = new RunView(reporter, stats, new OutageLog(reporter), () => now.t);
  v.attach(events);
  return { v, stats, events, now, text: () => text };
}

describe('the run view', () => {
  it('a quiet table while following: up to date, when the last change was, 1 change, no ETA', () => {
    const { v, stats, events, now } = view();
    stats.rows = 2000;
    stats.total = 2000;
    stats.pages = 1;
    events.emit({ type: 'caught-up', table: 'incident', cursor: { updatedOn: '2026-10-31 12:00:00', sysId: 'a' }, pollSeconds: 20 });
    events.emit({
      type: 'waiting',
      table: 'incident',
      status: { cursor: { updatedOn: '2026-10-31 12:00:00', sysId: 'a' }, instanceNow: now.t, lastPollChanges: 1, upToDate: true, nextPollAt: now.t + 4_200 },
    });
    const line = v.line();
    expect(line).toContain('up to date · last change 30d ago · last poll 1 change · next poll in 5s');
    expect(line).not.toMatch(/ETA|%|behind/);
  });

  it('a backfill: rows, rate, pages, percent and ETA, the position', () => {
    const { v, stats, events, now } = view();
    stats.total = 10_000;
    events.emit({ type: 'committed', table: 'incident', stream: 'rows', written: 0, cursor: { updatedOn: '2024-01-01 00:00:00', sysId: 'a' } });
    now.t += 2000;
    stats.rows = 2000;
    stats.pages = 2;
    events.emit({ type: 'committed', table: 'incident', stream: 'rows', written: 2000, cursor: { updatedOn: '2024-02-01 00:00:00', sysId: 'b' } });
    expect(v.line()).toMatch(/^2,000 rows · 1,000 rows\/s · 2 pages · 20% · ETA 8s · at 2024-02-01 00:00:00$/);
  });

  it('stepping over hidden rows shows on the line, and is said once past a large number', () => {
    const { v, events, text } = view();
    events.emit({ type: 'hidden-rows', table: 'incident', stepped: 900, total: 900 });
    expect(v.line()).toContain('stepping over rows hidden by ACLs: 900 so far');
    events.emit({ type: 'hidden-rows', table: 'incident', stepped: 99_100, total: 100_000 });
    events.emit({ type: 'hidden-rows', table: 'incident', stepped: 900, total: 100_900 });
    expect(text().match(/stepped over/g)).toHaveLength(1);
  });

  it('the rate is over the last seconds, not since the start', () => {
    const r = new RecentRate(10_000);
    expect(r.perSecond(0, 0)).toBe(0);
    expect(r.perSecond(100_000, 60_000)).toBeCloseTo(100_000 / 60, 0);
    expect(r.perSecond(100_000, 70_000)).toBe(0);
    expect(r.perSecond(100_050, 75_000)).toBeCloseTo(50 / 15, 1);
  });
});
