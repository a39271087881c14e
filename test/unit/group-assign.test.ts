// How a group's tables are spread over its members (src/group/assign.ts): even, and sticky.
import { describe, expect, it } from 'vitest';
import { stickyAssign, tablesByPartition } from '../../src/group/assign.js';

const P6 = [0, 1, 2, 3, 4, 5];
const plan = (partitions: number[], members: Array<[string, number[]]>) => Object.fromEntries(stickyAssign(partitions, members.map(([id, owned]) => ({ id, owned }))));

describe('the tables of a group', () => {
  it('map onto partitions by name, whatever the order given', () => {
    expect(tablesByPartition(['problem', 'incident', 'change_request', 'incident'])).toEqual(['change_request', 'incident', 'problem']);
  });

  it('a first member gets everything; members joining take an even share from it, the rest stays', () => {
    expect(plan(P6, [['a', []]])).toEqual({ a: P6 });
    expect(plan(P6, [['a', P6], ['b', []]])).toEqual({ a: [0, 1, 2], b: [3, 4, 5] });
    expect(plan(P6, [['a', [0, 1, 2]], ['b', [3, 4, 5]], ['c', []]])).toEqual({ a: [0, 1], b: [3, 4], c: [2, 5] });
  });

  it('a member that left: only its tables move, to those with least', () => {
    expect(plan(P6, [['a', [0, 1]], ['c', [2, 5]]])).toEqual({ a: [0, 1, 3], c: [2, 4, 5] });
  });

  it('uneven counts: no member more than one above another, whoever keeps the larger share', () => {
    const p = plan([0, 1, 2, 3, 4, 5, 6], [['a', [0, 1, 2, 3, 4, 5, 6]], ['b', []], ['c', []]]);
    expect(p).toEqual({ a: [0, 1, 2], b: [3, 5], c: [4, 6] });
    const sizes = Object.values(plan([0, 1, 2, 3, 4], [['x', [0, 1, 2]], ['y', [3, 4]], ['z', []]])).map((l) => l.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(sizes.reduce((a, b) => a + b)).toBe(5);
  });

  it('claims on the same partition or on partitions that no longer exist are ignored; more members than tables leave some idle', () => {
    expect(plan([0, 1], [['a', [0, 7]], ['b', [0]]])).toEqual({ a: [0], b: [1] });
    expect(plan([0, 1], [['a', []], ['b', []], ['c', []]])).toEqual({ a: [0], b: [1], c: [] });
  });
});
