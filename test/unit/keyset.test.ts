import { describe, expect, it } from 'vitest';
import { ResponseError } from '../../src/errors/index.js';
import { countMayBeCapped, limitFor, queryFor, ResponseGate, startPosition, type ScanPosition } from '../../src/servicenow/keyset.js';

const T = '2024-01-01 10:00:00';
const T2 = '2024-01-01 10:00:01';
const HI = '2024-01-02 00:00:00';
const scan = { field: 'sys_updated_on', hi: HI };
const where = { table: 'incident', url: 'https://acme/api/now/table/incident' };
const c = (updatedOn: string, sysId: string) => ({ updatedOn, sysId });
const gate = (p: ScanPosition) => new ResponseGate(p, scan, where);

describe('keyset scan', () => {
  it('advances from a cursor inclusively (one request per page, no drain request)', () => {
    expect(queryFor(startPosition(c(T, 'b')), scan)).toBe(`sys_updated_on>=${T}^sys_updated_on<=${HI}^ORDERBYsys_updated_on^ORDERBYsys_id`);
    expect(queryFor(startPosition(c(T, ''), true), scan)).toBe(`sys_updated_on>${T}^sys_updated_on<=${HI}^ORDERBYsys_updated_on^ORDERBYsys_id`);
    expect(queryFor({ cursor: c(T, 'b'), secondDone: false, draining: true, offset: 0 }, scan)).toBe(`sys_updated_on=${T}^sys_id>b^ORDERBYsys_id`);
  });

  it('skips the rows of the cursor second already taken, and takes the rest', () => {
    const g = gate(startPosition(c(T, 'b')));
    expect(['a', 'b', 'c'].map((id) => g.admit(c(T, id)))).toEqual(['skip', 'skip', 'take']);
    expect(g.admit(c(T2, 'a'))).toBe('take');
    expect(g.cursor).toEqual(c(T2, 'a'));
  });

  it('stops the run on rows out of keyset order: never skips a row that was not written', () => {
    const g = gate(startPosition(c(T, '')));
    g.admit(c(T2, 'b'));
    const err = (() => {
      try {
        g.admit(c(T, 'z'));
      } catch (e) {
        return e as ResponseError;
      }
    })();
    expect(err).toBeInstanceOf(ResponseError);
    expect(err!.problem).toBe('unsorted');
    expect(err!.retriable).toBe(false);
    expect(err!.exitCode).toBe(1);
    expect(err!.message).toMatch(/^incident: rows came back out of order/);
    expect(err!.hint).toMatch(/did not sort by sys_updated_on, sys_id/);
  });

  it('stops the run on a row outside the range asked for (a condition the instance dropped)', () => {
    expect(() => gate(startPosition(c(T2, ''))).admit(c(T, 'a'))).toThrow(/outside the range asked for/);
    expect(() => gate({ cursor: c(T, 'm'), secondDone: false, draining: true, offset: 0 }).admit(c(T, 'a'))).toThrow(/outside the range/);
  });

  it('a full page means "maybe more", whatever X-Total-Count says', () => {
    const g = gate(startPosition(c(T, '')));
    for (let i = 0; i < 10; i++) g.admit(c(`2024-01-01 10:00:${String(10 + i)}`, 'a'));
    // The count says 10 (min(total, limit)): the page is full, so the scan goes on.
    expect(g.finish(10, 10, false).next).toMatchObject({ cursor: c('2024-01-01 10:00:19', 'a'), draining: false, offset: 0 });
  });

  it('a short page ends the scan when the count agrees, and goes on when it says rows remain (hidden by ACLs)', () => {
    const a = gate(startPosition(c(T, '')));
    a.admit(c(T2, 'a'));
    expect(a.finish(10, 1, false).next).toBeUndefined();
    const b = gate(startPosition(c(T, '')));
    b.admit(c(T2, 'a'));
    expect(b.finish(10, 25, false).next).toMatchObject({ cursor: c(T2, 'a'), offset: 0 });
  });

  it('a short page whose count reaches exactly to its end (a count capped at the page) is confirmed by one more request', () => {
    const g = gate(startPosition(c(T, '')));
    for (let i = 0; i < 9; i++) g.admit(c(`2024-01-01 10:00:1${i}`, 'a')); // one of ten hidden by an ACL
    expect(g.finish(10, 10, false).next).toMatchObject({ cursor: c('2024-01-01 10:00:18', 'a'), offset: 0 });
  });

  it('a short page with rows ends the scan only when every counted row came back: a count that may lie low is confirmed', () => {
    const g = gate(startPosition(c(T, '')));
    for (let i = 0; i < 6; i++) g.admit(c(`2024-01-01 10:00:1${i}`, 'a'));
    // 6 of 10 came back (the rest hidden by ACLs) and the count says 8: it cannot be trusted to
    // say nothing follows (a count made after ACLs, or one that went stale, looks the same).
    expect(g.finish(10, 8, false).next).toMatchObject({ cursor: c('2024-01-01 10:00:15', 'a'), offset: 0 });
  });

  it('after stepping over hidden rows, a count equal to the page asked for may be capped at it: the reader asks the count alone', () => {
    expect(countMayBeCapped(9, 10, 0, 10, false)).toBe(true);
    expect(countMayBeCapped(9, 10, 3, 10, false)).toBe(true);
    expect(countMayBeCapped(0, 10, 0, 10, false)).toBe(false); // at the start a capped count still says "step"
    expect(countMayBeCapped(9, 10, 0, 10, true)).toBe(false);
    expect(countMayBeCapped(9, 10, 0, 500, false)).toBe(false);
    expect(countMayBeCapped(9, 10, 10, 10, false)).toBe(false); // a full page needs no count
  });

  it('an empty page steps on while the count says any row lies past the offset (one made after ACLs would say fewer), and ends when it does not', () => {
    expect(gate(startPosition(c(T, ''))).finish(10, 4, false)).toMatchObject({ next: { offset: 9, steppedFrom: 0 }, hiddenStep: 9 });
    expect(gate({ ...startPosition(c(T, '')), offset: 9, steppedFrom: 0 }).finish(10, 9, false).next).toBeUndefined();
  });

  it('a short page of rows already taken whose count does not account for them all: the second is drained, no offsets', () => {
    const g = gate(startPosition(c(T, 'b')));
    g.admit(c(T, 'a'));
    g.admit(c(T, 'b'));
    expect(g.finish(11, 5, false).next).toMatchObject({ cursor: c(T, 'b'), draining: true, offset: 0 });
    const done = gate(startPosition(c(T, 'b')));
    done.admit(c(T, 'a'));
    done.admit(c(T, 'b'));
    expect(done.finish(11, 2, false).next).toBeUndefined();
  });

  it('a count the rows contradict is not trusted: one more request confirms the end', () => {
    const g = gate(startPosition(c(T, '')));
    g.admit(c(T2, 'a'));
    g.admit(c(T2, 'b'));
    expect(g.finish(10, 1, false).next).toMatchObject({ cursor: c(T2, 'b') });
    expect(gate(startPosition(c(T2, 'b'))).finish(10, undefined, false).next).toBeUndefined();
  });

  it('steps over an empty page while rows remain, inside the same query', () => {
    const out = gate(startPosition(c(T, ''))).finish(10, 25, false);
    expect(out.hiddenStep).toBe(9);
    expect(out.next).toMatchObject({ cursor: c(T, ''), offset: 9 });
  });

  it('drains a dense second by sys_id: a page mostly in the cursor second, or one that only repeats it', () => {
    const g = gate(startPosition(c(T, '')));
    for (let i = 0; i < 8; i++) g.admit(c(T, `id${i}`));
    expect(g.finish(10, 100, false).next).toMatchObject({ cursor: c(T, 'id7'), draining: true });
    const repeat = gate(startPosition(c(T, 'id7')));
    for (let i = 0; i < 8; i++) repeat.admit(c(T, `id${i}`));
    expect(repeat.finish(10, 100, false).next).toMatchObject({ cursor: c(T, 'id7'), draining: true, offset: 0 });
  });

  it('a drained second goes on after it', () => {
    const p: ScanPosition = { cursor: c(T, 'id7'), secondDone: false, draining: true, offset: 0 };
    const g = gate(p);
    g.admit(c(T, 'id8'));
    expect(g.finish(10, 1, false).next).toEqual({ cursor: c(T, 'id8'), secondDone: true, draining: false, offset: 0 });
  });

  it('asks for one row more when the query starts at the cursor row (it comes back and is skipped)', () => {
    expect(limitFor(startPosition(c(T, 'b')), 100)).toBe(101);
    expect(limitFor(startPosition(c(T, '')), 100)).toBe(100);
    expect(limitFor(startPosition(c(T, 'b'), true), 100)).toBe(100);
    expect(limitFor({ cursor: c(T, 'b'), secondDone: false, draining: true, offset: 0 }, 100)).toBe(100);
    expect(limitFor({ cursor: c(T, 'b'), secondDone: false, draining: false, offset: 90 }, 100)).toBe(100);
  });

  it('a slice cut inside a second ends at its last row, with no request to confirm, and never reads past it', () => {
    const until = c(T2, 'm');
    const g = new ResponseGate(startPosition(c(T, '')), { ...scan, until }, where);
    expect(g.admit(c(T2, 'a'))).toBe('take');
    expect(g.admit(c(T2, 'm'))).toBe('take');
    expect(g.finish(2, 100, false).next).toBeUndefined(); // full, yet done: its last row is the cut
    const past = new ResponseGate(startPosition(c(T, '')), { ...scan, until }, where);
    past.admit(c(T2, 'a'));
    expect(past.admit(c(T2, 'z'))).toBe('beyond');
    expect(past.finish(2, 100, false).next).toBeUndefined();
  });

  it('a response cut off goes on from the last row taken, in the same mode', () => {
    const draining: ScanPosition = { cursor: c(T, 'b'), secondDone: false, draining: true, offset: 0 };
    const g = gate(draining);
    g.admit(c(T, 'c'));
    expect(g.resumeAfterBreak()).toEqual({ cursor: c(T, 'c'), secondDone: false, draining: true, offset: 0 });
  });

  it('rows past the high-water mark end the sweep (read by a later one)', () => {
    const g = gate(startPosition(c(T, '')));
    expect(g.admit(c(T2, 'a'))).toBe('take');
    expect(g.admit(c('2024-01-03 00:00:00', 'a'))).toBe('beyond');
    expect(g.finish(10, 99, false).next).toBeUndefined();
  });
});
