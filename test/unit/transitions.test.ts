import { describe, expect, it } from 'vitest';
import { freshProgress } from '../../src/checkpoint/progress.js';
import { advance, MAX_RECENT_VERSIONS, remember, sliceAdvanced, sliceDone, slicesMerged, slicesPlanned, written } from '../../src/checkpoint/transitions.js';

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
    const w = remember(undefined, many, '2024-01-01 00:00:04')!;
    expect(Object.values(w).flat()).toHaveLength(MAX_RECENT_VERSIONS);
    expect(w['2024-01-01 00:00:09']).toBeUndefined(); // the oldest second goes first
    const later = remember(w, [], '2024-01-01 00:00:11');
    expect(later).toBeUndefined();
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
