import { describe, expect, it } from 'vitest';
import { cutPositions, sliceCount, sliceStartDelayMs, slicesFromBoundaries } from '../../src/pipeline/slices.js';

describe('slices', () => {
  it('are worth it only for several pages and a concurrency above 1', () => {
    expect(sliceCount(undefined, 4, 100)).toBe(1);
    expect(sliceCount(10_000, 1, 100)).toBe(1);
    expect(sliceCount(250, 4, 100)).toBe(2);
    expect(sliceCount(1_000_000, 8, 10_000)).toBe(8);
  });

  it('end at the last row of each share, so no slice holds one row more than the others', () => {
    expect(cutPositions(20_000, 4)).toEqual([4_999, 9_999, 14_999]);
    expect(cutPositions(10, 3)).toEqual([2, 5]);
    expect(cutPositions(100, 1)).toEqual([]);
  });

  it('cover the range without gap or overlap; the first starts a second early to own the range start', () => {
    const slices = slicesFromBoundaries('2024-01-01 00:00:00', '2024-01-31 00:00:00', ['2024-01-10 00:00:00', '2024-01-20 12:00:00']);
    expect(slices).toEqual([
      { start: '2023-12-31 23:59:59', end: '2024-01-10 00:00:00', first: false, done: false },
      { start: '2024-01-10 00:00:00', end: '2024-01-20 12:00:00', first: false, done: false },
      { start: '2024-01-20 12:00:00', end: '2024-01-31 00:00:00', first: false, done: false },
    ]);
  });

  it('a dense second that two cuts fall into is one boundary: it stays whole in one slice', () => {
    const dense = '2024-01-15 08:00:00';
    const slices = slicesFromBoundaries('2024-01-01 00:00:00', '2024-01-31 00:00:00', ['2024-01-10 00:00:00', dense, dense, undefined, '2024-02-05 00:00:00']);
    expect(slices.map((s) => s.end)).toEqual(['2024-01-10 00:00:00', dense, '2024-01-31 00:00:00']);
    expect(slices.filter((s) => s.start < dense && dense <= s.end)).toHaveLength(1);
  });

  it('start 300 ms apart, spread over at most a second', () => {
    expect([0, 1, 2, 3].map((i) => sliceStartDelayMs(i, 4))).toEqual([0, 300, 600, 900]);
    expect(sliceStartDelayMs(7, 8)).toBe(1000);
    expect(sliceStartDelayMs(0, 1)).toBe(0);
  });
});
