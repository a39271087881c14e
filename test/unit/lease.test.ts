// The lease of a table in the state topic (src/checkpoint/kafka/lease.ts): pure rules over the
// records in log order, so every reader of the topic reaches the same decisions.
import { describe, expect, it } from 'vitest';
import { LeaseBook, parseLease, type LeaseRecord } from '../../src/checkpoint/kafka/lease.js';

const STALE = 30_000;
const run = (owner: string, extra: Partial<LeaseRecord> = {}): Omit<LeaseRecord, 'type'> => ({ owner, pid: owner.length, host: `host-${owner}`, startedAt: '2024-01-01T00:00:00Z', ...extra });
const rec = (type: LeaseRecord['type'], owner: string, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({ type, ...run(owner), ...extra });

describe('LeaseBook', () => {
  it('a claim on a free table is accepted; the winner holds it once its held record is read', () => {
    const book = new LeaseBook(STALE, new Set(['a']));
    book.apply('k', 0, 1000, rec('claim', 'a'));
    expect(book.decision('k', 'a')).toMatchObject({ offset: 0, accepted: true });
    expect(book.state('k').pending?.owner).toBe('a');
    book.apply('k', 1, 1001, rec('held', 'a'));
    expect(book.state('k')).toEqual({ holder: expect.objectContaining({ owner: 'a', seenAt: 1001 }), pending: undefined });
  });

  it('of two claims at once the first in the log wins; the second sees it pending and is refused', () => {
    const book = new LeaseBook(STALE, new Set(['a', 'b']));
    book.apply('k', 0, 1000, rec('claim', 'a'));
    book.apply('k', 1, 1001, rec('claim', 'b'));
    expect(book.decision('k', 'a')?.accepted).toBe(true);
    expect(book.decision('k', 'b')).toMatchObject({ accepted: false, blocker: expect.objectContaining({ owner: 'a' }) });
  });

  it('a live holder refuses claims; its lease runs out after the stale time without a renewal', () => {
    const book = new LeaseBook(STALE, new Set(['b']));
    book.apply('k', 0, 1000, rec('held', 'a'));
    book.apply('k', 1, 20_000, rec('held', 'a'));
    book.apply('k', 2, 20_000 + STALE, rec('claim', 'b'));
    expect(book.decision('k', 'b')).toMatchObject({ accepted: false, blocker: expect.objectContaining({ owner: 'a', seenAt: 20_000 }) });
    book.apply('k', 3, 20_001 + STALE, rec('claim', 'b'));
    expect(book.decision('k', 'b')).toMatchObject({ offset: 3, accepted: true });
  });

  it('a released table is free at once; a claim naming the holder as gone (its pid died on the claimant\'s host) takes it over', () => {
    const book = new LeaseBook(STALE, new Set(['b', 'c']));
    book.apply('k', 0, 1000, rec('held', 'a'));
    book.apply('k', 1, 1001, rec('released', 'a'));
    book.apply('k', 2, 1002, rec('claim', 'b'));
    expect(book.decision('k', 'b')?.accepted).toBe(true);
    book.apply('k', 3, 1003, rec('held', 'b'));
    book.apply('k', 4, 1004, rec('claim', 'c'));
    expect(book.decision('k', 'c')?.accepted).toBe(false);
    book.apply('k', 5, 1005, rec('claim', 'c', { gone: ['b'] }));
    expect(book.decision('k', 'c')?.accepted).toBe(true);
  });

  it('an accepted claim whose held never came blocks others only until it is stale', () => {
    const book = new LeaseBook(STALE, new Set(['b']));
    book.apply('k', 0, 1000, rec('claim', 'a'));
    book.apply('k', 1, 2000, rec('claim', 'b'));
    expect(book.decision('k', 'b')?.accepted).toBe(false);
    book.apply('k', 2, 1001 + STALE, rec('claim', 'b'));
    expect(book.decision('k', 'b')?.accepted).toBe(true);
  });

  it('the accepted claimant\'s held makes it the holder, and the old holder reads it as a takeover', () => {
    const book = new LeaseBook(STALE, new Set());
    const seen: Array<[string, number]> = [];
    book.onRecord((_key, r, offset, effective) => {
      if (r.type === 'held' && effective && r.owner !== 'a') seen.push([r.owner, offset]);
    });
    book.apply('k', 0, 1000, rec('held', 'a'));
    book.apply('k', 1, 1000 + STALE + 1, rec('claim', 'b'));
    book.apply('k', 2, 1000 + STALE + 2, rec('held', 'b'));
    expect(book.state('k').holder?.owner).toBe('b');
    expect(seen).toEqual([['b', 2]]);
  });

  it('a late held of a holder whose lease lapsed (its renewal stuck in retries) does not take the table back', () => {
    const book = new LeaseBook(STALE, new Set());
    const effective: boolean[] = [];
    book.onRecord((_key, r, _offset, e) => r.type === 'held' && effective.push(e));
    book.apply('k', 0, 1000, rec('held', 'a'));
    book.apply('k', 1, 1000 + STALE + 1, rec('claim', 'b'));
    book.apply('k', 2, 1000 + STALE + 2, rec('held', 'b'));
    book.apply('k', 3, 1000 + STALE + 3, rec('held', 'a'));
    expect(book.state('k').holder?.owner).toBe('b');
    expect(effective).toEqual([true, true, false]);
  });

  it('a held of an unknown table (its claim compacted away) is taken as it is', () => {
    const book = new LeaseBook(STALE, new Set());
    book.apply('k', 7, 1000, rec('held', 'a'));
    expect(book.state('k').holder?.owner).toBe('a');
  });

  it('keys are independent; records that are not leases are ignored', () => {
    const book = new LeaseBook(STALE, new Set(['b']));
    book.apply('k1', 0, 1000, rec('held', 'a'));
    book.apply('k2', 1, 1001, rec('claim', 'b'));
    expect(book.decision('k2', 'b')?.accepted).toBe(true);
    expect(parseLease('{"type":"held"}')).toBeUndefined();
    expect(parseLease('not json')).toBeUndefined();
    expect(parseLease(null)).toBeUndefined();
    expect(parseLease(JSON.stringify(rec('claim', 'x', { gone: ['y', 3 as unknown as string] })))).toMatchObject({ type: 'claim', owner: 'x', gone: ['y'] });
  });
});
