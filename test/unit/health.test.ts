import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/errors/index.js';
import { Health } from '../../src/metrics/health.js';
import type { RunEvent } from '../../src/pipeline/events.js';

const T0 = 1_000_000;
const cursor = { updatedOn: '2024-01-01 00:00:00', sysId: 'a' };
const pollOk = (table: string): RunEvent => ({ type: 'poll-ok', table });
const committed = (table: string): RunEvent => ({ type: 'committed', table, stream: 'rows', written: 3, cursor });

describe('the health rule behind /healthz', () => {
  it('is healthy during the start-up grace: one window from the start, before any success', () => {
    const h = new Health({ tables: [{ table: 'incident', windowMs: 3000 }], perTable: true, startedAt: T0 });
    expect(h.status(T0 + 2999)).toMatchObject({ healthy: true });
    expect(h.status(T0 + 2999).reason).toContain('incident: starting, no poll or commit yet');
    expect(h.status(T0 + 3001)).toMatchObject({ healthy: false });
    expect(h.status(T0 + 3001).reason).toMatch(/^unhealthy\nincident: no successful poll or commit since the start 3 s ago \(limit 3 s\)/);
  });

  it('with --follow, every table must succeed within its own window; a failed poll alone changes nothing', () => {
    const h = new Health({ tables: [{ table: 'incident', windowMs: 3000 }, { table: 'problem', windowMs: 60_000 }], perTable: true, startedAt: T0 });
    h.observe(committed('incident'), T0 + 1000);
    h.observe(pollOk('problem'), T0 + 1000);
    h.observe({ type: 'poll-failed', table: 'incident', error: new HttpError('Service Unavailable', { status: 503, method: 'GET', url: 'https://x/api', retriable: true }) }, T0 + 2000);
    expect(h.status(T0 + 4000).healthy).toBe(true); // 3 s since incident's last success: not more
    const late = h.status(T0 + 4001);
    expect(late.healthy).toBe(false);
    expect(late.reason).toContain('incident: no successful poll or commit for 3 s (limit 3 s)');
    expect(late.reason).not.toContain('problem'); // problem is fine
    expect(late.reason).toMatch(/last error 2 s ago: incident: .*503/);
    // It comes back with the next success.
    h.observe(pollOk('incident'), T0 + 5000);
    expect(h.status(T0 + 5000)).toMatchObject({ healthy: true });
    expect(h.status(T0 + 5000).reason).toContain('incident: last success 0 s ago (limit 3 s)');
  });

  it('counts start-up progress, commits, hidden pages and polls as successes; not warnings or resumes', () => {
    for (const e of [
      { type: 'reading', table: 't', from: 'a', hi: 'b' },
      { type: 'slices-planned', table: 't', slices: [] },
      committed('t'),
      { type: 'hidden-rows', table: 't', stepped: 1, total: 1 },
      { type: 'caught-up', table: 't', pollSeconds: 1 },
      pollOk('t'),
    ] satisfies RunEvent[]) {
      const h = new Health({ tables: [{ table: 't', windowMs: 1000 }], perTable: true, startedAt: T0 });
      h.observe(e, T0 + 5000);
      expect(h.lastSuccess('t'), e.type).toBe(T0 + 5000);
    }
    const h = new Health({ tables: [{ table: 't', windowMs: 1000 }], perTable: true, startedAt: T0 });
    h.observe({ type: 'warning', table: 't', message: 'x' }, T0 + 500);
    h.observe({ type: 'resumed', table: 't', cursor, rowsBefore: 1 }, T0 + 500);
    expect(h.lastSuccess('t')).toBeUndefined();
    expect(h.status(T0 + 1500).healthy).toBe(false);
  });

  it('without --follow, the run as a whole must move: a table that finished goes quiet for good', () => {
    const h = new Health({ tables: [{ table: 'small', windowMs: 3000 }, { table: 'big', windowMs: 5000 }], perTable: false, startedAt: T0 });
    h.observe(committed('small'), T0 + 100); // small is done
    for (let t = 1000; t <= 20_000; t += 1000) h.observe(committed('big'), T0 + t);
    expect(h.status(T0 + 20_000).healthy).toBe(true);
    expect(h.status(T0 + 25_000).healthy).toBe(true); // the longest window of the run
    expect(h.status(T0 + 25_001)).toMatchObject({ healthy: false });
    expect(h.status(T0 + 25_001).reason).toContain('small, big: no successful poll or commit for 5 s (limit 5 s)');
  });

  it('gives the last failure as the reason only when it came after the last success', () => {
    const h = new Health({ tables: [{ table: 't', windowMs: 1000 }], perTable: true, startedAt: T0 });
    h.failed('HTTP 429 long ago', T0 + 10);
    h.observe(pollOk('t'), T0 + 100);
    expect(h.status(T0 + 2000).reason).not.toContain('last error');
    h.failed('connection refused', T0 + 1500);
    expect(h.status(T0 + 2000).reason).toContain('last error 1 s ago: connection refused');
  });

  it('with --group, only the tables this process runs are watched, each from when it was given', () => {
    const h = new Health({ tables: [{ table: 'incident', windowMs: 3000 }, { table: 'problem', windowMs: 3000 }], perTable: true, startedAt: T0 });
    h.runs([], T0);
    // Nothing given yet (or another member runs everything): nothing of this process's is late.
    expect(h.status(T0 + 60_000)).toEqual({ healthy: true, reason: 'ok\nno table of the group is given to this process now' });
    h.runs(['incident'], T0 + 60_000);
    expect(h.status(T0 + 62_000).healthy).toBe(true);
    expect(h.status(T0 + 62_000).reason).not.toContain('problem');
    expect(h.status(T0 + 63_001)).toMatchObject({ healthy: false });
    h.observe(pollOk('incident'), T0 + 63_500);
    expect(h.status(T0 + 64_000).healthy).toBe(true);
    // Given away and given back: a success from before does not count for the new turn.
    h.runs([], T0 + 65_000);
    h.runs(['incident'], T0 + 70_000);
    expect(h.status(T0 + 73_001).reason).toMatch(/^unhealthy\nincident: no successful poll or commit since the start 3 s ago/);
  });
});
