import { describe, expect, it } from 'vitest';
import { freshProgress } from '../../src/checkpoint/progress.js';
import { advance, MAX_RECENT_VERSIONS, remember, sliceAdvanced, sliceDone, slicesMerged, slicesPlanned, written } from '../../src/checkpoint/transitions.js';
import { sweepStart } from '../../src/pipeline/catch-up.js';

const scope = { instance: 'https://acme.service-now.com', table: 'incident' };
const p0 = freshProgress(scope, '2024-01-01 00:00:00');
const c = (updatedOn: string, sysId: string) => ({ updatedOn, sysId });

describe('progress transitions', () => {
  it('advance moves the cursor forward only, counts rows, remembers versions inside the overlap window', () => {
    const p1 = advance(p0, 'rows', c('2024-01-01 00:00:10', 'b'), [{ at: '2024-01-01 00:00:02', version: 'a/0' }, { at: '2024-01-01 00:00:10', version: 'b/0' }], 5);
    expect(p1.cursor).toEqual(c('2024-01-01 00:00:10', 'b'));
    expect(p1.rows).toBe(2);
    expect(p1.recent?.rows).toEqual({ '2024-01-01 00:00:10': ['b/0'] });
    expect(written(p1, 'rows', '2024-01-01 00:00:10', 'b/0')).toBe(true);
    expect(written(p1, 'rows', '2024-01-01 00:00:10', 'b/1')).toBe(false);
    const back = advance(p1, 'rows', c('2024-01-01 00:00:05', 'z'), [], 5);
    expect(back).toBe(p1); // nothing changed: the same object, no write needed
    const deletes = advance(p1, 'deletes', c('2024-01-01 00:00:07', 'd'), [{ at: '2024-01-01 00:00:07', version: 'd' }], 5);
    expect(deletes.deletesCursor).toEqual(c('2024-01-01 00:00:07', 'd'));
    expect(deletes.deletes).toBe(1);
    expect(deletes.rows).toBe(2);
    expect(p1.deletesCursor).toBeUndefined(); // pure: the old progress is untouched
  });

  it('the window forgets seconds the overlap cannot reach, and holds at most MAX_RECENT_VERSIONS', () => {
    const many = Array.from({ length: MAX_RECENT_VERSIONS + 10 }, (_, i) => ({ at: i < 10 ? '2024-01-01 00:00:09' : '2024-01-01 00:00:10', version: `v${i}` }));
    const r = remember({}, many, '2024-01-01 00:00:04', c('2024-01-01 00:00:10', 'z'));
    expect(Object.values(r.window!).flat()).toHaveLength(MAX_RECENT_VERSIONS);
    expect(r.window!['2024-01-01 00:00:09']).toBeUndefined(); // the oldest second goes first
    // …and the re-read will start after it: from there every version is remembered.
    expect(r.floor).toEqual(c('2024-01-01 00:00:10', ''));
    const later = remember(r, [], '2024-01-01 00:00:11', c('2024-01-01 00:00:12', 'a'));
    expect(later).toEqual({ window: undefined, floor: undefined });
  });

  it("the cursor's own second past the cap is forgotten too, and the re-read starts after the cursor: the checkpoint stays bounded", () => {
    const dense = Array.from({ length: MAX_RECENT_VERSIONS + 500 }, (_, i) => ({ at: '2024-01-01 00:00:10', version: `v${i}` }));
    const r = remember({}, [{ at: '2024-01-01 00:00:08', version: 'old' }, ...dense], '2024-01-01 00:00:04', c('2024-01-01 00:00:10', 'z'));
    expect(r.window).toBeUndefined();
    expect(r.floor).toEqual(c('2024-01-01 00:00:10', 'z'));
    // More rows of that second after the cursor: remembered again from there, the floor kept.
    const more = remember(r, [{ at: '2024-01-01 00:00:10', version: 'w1' }], '2024-01-01 00:00:04', c('2024-01-01 00:00:10', 'zz'));
    expect(more).toEqual({ window: { '2024-01-01 00:00:10': ['w1'] }, floor: c('2024-01-01 00:00:10', 'z') });
    const p = advance(p0, 'rows', c('2024-01-01 00:00:10', 'z'), dense, 5);
    expect(p.recent).toBeUndefined();
    expect(p.recentFrom).toEqual({ rows: c('2024-01-01 00:00:10', 'z') });
  });

  it('the overlap re-read starts at the floor: what the cap forgot is not written again on every poll', () => {
    const window = { since: '2024-01-01 00:00:00', overlap: 5 };
    const cursor = c('2024-01-01 00:00:10', 'z');
    expect(sweepStart(cursor, window)).toEqual(c('2024-01-01 00:00:05', ''));
    expect(sweepStart(cursor, window, c('2024-01-01 00:00:09', ''))).toEqual(c('2024-01-01 00:00:09', ''));
    expect(sweepStart(cursor, window, c('2024-01-01 00:00:10', 'm'))).toEqual(c('2024-01-01 00:00:10', 'm'));
    // Never after the cursor, and a floor the window no longer reaches changes nothing.
    expect(sweepStart(cursor, window, c('2024-01-01 00:00:12', ''))).toEqual(cursor);
    expect(sweepStart(cursor, window, c('2024-01-01 00:00:02', ''))).toEqual(c('2024-01-01 00:00:05', ''));
    // The floor travels in the checkpoint with the window, per stream.
    const dense = Array.from({ length: MAX_RECENT_VERSIONS + 1 }, (_, i) => ({ at: '2024-01-01 00:00:10', version: `v${i}` }));
    const p = advance(advance(p0, 'rows', c('2024-01-01 00:00:08', 'a'), [{ at: '2024-01-01 00:00:08', version: 'a' }], 5), 'rows', cursor, dense, 5);
    expect(p.recentFrom).toEqual({ rows: cursor });
  });

  it('slices: each advances on its own; merged only once all are done, at the highest row', () => {
    const planned = slicesPlanned(p0, [
      { start: '2023-12-31 23:59:59', end: '2024-01-10 00:00:00', first: false, done: false },
      { start: '2024-01-10 00:00:00', end: '2024-01-20 00:00:00', first: false, done: false },
    ], '2024-01-20 00:00:00');
    const a = sliceAdvanced(planned, 1, c('2024-01-19 00:00:00', 'y'), [{ at: '2024-01-19 00:00:00', version: 'y/0' }], 5);
    const b = sliceAdvanced(a, 0, c('2024-01-05 00:00:00', 'x'), [{ at: '2024-01-05 00:00:00', version: 'x/0' }], 5);
    expect(b.rows).toBe(2);
    expect(b.recent?.rows).toEqual({ '2024-01-19 00:00:00': ['y/0'] });
    expect(() => slicesMerged(sliceDone(b, 0), 5)).toThrow(/before every slice was done/);
    const merged = slicesMerged(sliceDone(sliceDone(b, 0), 1), 5);
    expect(merged.slices).toBeUndefined();
    expect(merged.slicesHi).toBeUndefined();
    expect(merged.cursor).toEqual(c('2024-01-19 00:00:00', 'y'));
  });
});
