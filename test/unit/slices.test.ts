import { describe, expect, it } from 'vitest';
import { cutPositions, instanceIsSlower, sliceCount, sliceStartDelayMs, sliceSweep, slicesFromBoundaries } from '../../src/pipeline/slices.js';

const c = (updatedOn: string, sysId: string) => ({ updatedOn, sysId });

describe('slices', () => {
  it('are worth it only for several pages and a concurrency above 1', () => {
    expect(sliceCount(undefined, 4, 100)).toBe(1);
    expect(sliceCount(10_000, 1, 100)).toBe(1);
    expect(sliceCount(250, 4, 100)).toBe(2);
    expect(sliceCount(1_000_000, 8, 10_000)).toBe(8);
  });

  it('by default, only when the instance took longer to answer a page than nowpipe to write it', () => {
    expect(instanceIsSlower({ waitMs: 2200, workMs: 300 })).toBe(true);
    expect(instanceIsSlower({ waitMs: 40, workMs: 300 })).toBe(false);
  });

  it('planned after a first page, the first slice starts right after its last row', () => {
    const after = c('2024-01-02 00:00:00', 'k');
    const slices = slicesFromBoundaries('2024-01-01 00:00:00', '2024-01-31 00:00:00', [c('2024-01-01 12:00:00', 'a'), c('2024-01-10 00:00:00', 'b')], after);
    expect(slices.map((s) => [s.start, s.startId, s.end, s.endId])).toEqual([
      ['2024-01-02 00:00:00', 'k', '2024-01-10 00:00:00', 'b'],
      ['2024-01-10 00:00:00', 'b', '2024-01-31 00:00:00', undefined],
    ]);
  });

  it('end at the last row of each share, so no slice holds one row more than the others', () => {
    expect(cutPositions(20_000, 4)).toEqual([4_999, 9_999, 14_999]);
    expect(cutPositions(10, 3)).toEqual([2, 5]);
    expect(cutPositions(100, 1)).toEqual([]);
  });

  it('cover the range without gap or overlap; the first starts a second early to own the range start', () => {
    const slices = slicesFromBoundaries('2024-01-01 00:00:00', '2024-01-31 00:00:00', [c('2024-01-10 00:00:00', 'a'), c('2024-01-20 12:00:00', 'b')]);
    expect(slices).toEqual([
      { start: '2023-12-31 23:59:59', end: '2024-01-10 00:00:00', endId: 'a', first: false, done: false },
      { start: '2024-01-10 00:00:00', startId: 'a', end: '2024-01-20 12:00:00', endId: 'b', first: false, done: false },
      { start: '2024-01-20 12:00:00', startId: 'b', end: '2024-01-31 00:00:00', first: false, done: false },
    ]);
  });

  it('a dense second is shared between slices by sys_id: cuts are rows, not seconds', () => {
    const dense = '2024-01-15 08:00:00';
    const slices = slicesFromBoundaries('2024-01-01 00:00:00', '2024-01-31 00:00:00', [c(dense, '3'), c(dense, '7'), c(dense, '7'), undefined, c('2024-02-05 00:00:00', 'z')]);
    expect(slices.map((s) => [s.start, s.startId, s.end, s.endId])).toEqual([
      ['2023-12-31 23:59:59', undefined, dense, '3'],
      [dense, '3', dense, '7'],
      [dense, '7', '2024-01-31 00:00:00', undefined],
    ]);
    // The middle slice reads the rows of the dense second after 3 up to and including 7.
    expect(sliceSweep(slices[1]!)).toEqual({ from: c(dense, '3'), options: { until: c(dense, '7') } });
    expect(sliceSweep({ ...slices[1]!, cursor: c(dense, '5') })).toEqual({ from: c(dense, '5'), options: { until: c(dense, '7') } });
    expect(sliceSweep(slices[0]!)).toEqual({ from: c('2023-12-31 23:59:59', ''), options: { afterSecond: true, until: c(dense, '3') } });
  });

  it('start 300 ms apart, spread over at most a second', () => {
    expect([0, 1, 2, 3].map((i) => sliceStartDelayMs(i, 4))).toEqual([0, 300, 600, 900]);
    expect(sliceStartDelayMs(7, 8)).toBe(1000);
    expect(sliceStartDelayMs(0, 1)).toBe(0);
  });
});
