import { describe, expect, it } from 'vitest';
import { row, run, ts, versions, world, type World } from './harness.js';

// Stops and crashes at every step of a run, then a rerun from what was saved: nothing may be
// lost, a stop repeats nothing, and a crash repeats at most the one batch written and not yet
// committed.

const ROWS = 95;
const PAGE = 10;

function table(w: World, dense: boolean | 'all' = false): string[] {
  const ids: string[] = [];
  for (let i = 1; i <= ROWS; i++) {
    // With `dense`, 30 rows share one second (a bulk import) in the middle of the range; with
    // 'all', every row does.
    const r = row(dense === 'all' ? 40 : dense && i > 40 && i <= 70 ? 40 : i);
    w.table.add(r);
    ids.push(r.sys_id);
  }
  return ids;
}

function expectEveryRowOnce(w: World, ids: string[], repeatsAtMost: number): void {
  const got = w.sink.written.map((r) => r.sysId);
  expect(new Set(got)).toEqual(new Set(ids));
  expect(got.length - ids.length).toBeLessThanOrEqual(repeatsAtMost);
}

/** The default slicing on a slow instance: a first page with one cursor, then slices after it. */
const SLOW_DEFAULT = { slicing: 'when-slower' as const };

function slowWorld(): World {
  const w = world(PAGE);
  w.table.waitMs = 60_000;
  return w;
}

const commitsOfAFullRun = async (concurrency: number, dense: boolean | 'all', slicing: 'always' | 'when-slower' = 'always') => {
  const w = slowWorld();
  table(w, dense);
  await run(w, { concurrency, slicing });
  return w.store.history.length;
};

describe.each([
  { name: 'one cursor', concurrency: 1, dense: false },
  { name: 'one cursor, a dense second', concurrency: 1, dense: true },
  { name: 'four slices', concurrency: 4, dense: false },
  { name: 'four slices, a dense second', concurrency: 4, dense: true },
  { name: 'four slices, every row in one second', concurrency: 4, dense: 'all' as const },
  { name: 'the default on a slow instance: a first page, then slices', concurrency: 4, dense: true, slicing: SLOW_DEFAULT.slicing },
])('$name', ({ concurrency, dense, slicing = 'always' as 'always' | 'when-slower' }) => {
  it('a stop after any commit, then a rerun: every row exactly once', async () => {
    const steps = await commitsOfAFullRun(concurrency, dense, slicing);
    expect(steps).toBeGreaterThan(8);
    for (let k = 1; k <= steps; k++) {
      const w = slowWorld();
      const ids = table(w, dense);
      let commits = 0;
      const first = await run(w, { concurrency, slicing }, (e, stop) => {
        if (e.type === 'committed' && ++commits === k) stop();
      });
      expect(first.outcome.error).toBeUndefined();
      await run(w, { concurrency, slicing });
      expectEveryRowOnce(w, ids, 0);
    }
  });

  it('a crash between any write and its commit, then a rerun: nothing lost, at most one batch repeated', async () => {
    const steps = await commitsOfAFullRun(concurrency, dense, slicing);
    for (let k = 1; k <= steps; k++) {
      const w = slowWorld();
      const ids = table(w, dense);
      const save = w.store.save.bind(w.store);
      let saves = 0;
      w.store.save = async (p) => {
        if (++saves === k) throw new Error('killed');
        await save(p);
      };
      const first = await run(w, { concurrency, slicing });
      expect((first.outcome.error as Error).message).toBe('killed');
      w.store.save = save;
      await run(w, { concurrency, slicing });
      expectEveryRowOnce(w, ids, PAGE);
    }
  });

  it('a crash during any write, then a rerun: nothing lost, nothing repeated', async () => {
    const w0 = slowWorld();
    table(w0, dense);
    await run(w0, { concurrency, slicing });
    for (let k = 1; k <= w0.sink.writes; k++) {
      const w = slowWorld();
      const ids = table(w, dense);
      w.sink.failAt = k;
      const first = await run(w, { concurrency, slicing });
      expect(first.outcome.error).toBe(w.sink.failWith);
      w.sink.failAt = undefined;
      await run(w, { concurrency, slicing });
      expectEveryRowOnce(w, ids, 0);
    }
  });
});

describe('slices', () => {
  it('by default, a fast instance is read with one cursor; a slow one is sliced after a first page, every row once', async () => {
    const fast = world(PAGE);
    const ids = table(fast);
    fast.table.waitMs = 0;
    await run(fast, { concurrency: 4, slicing: 'when-slower' });
    expect(fast.events.some((e) => e.type === 'slices-planned')).toBe(false);
    expectEveryRowOnce(fast, ids, 0);
    const slow = world(PAGE);
    const slowIds = table(slow);
    slow.table.waitMs = 60_000;
    await run(slow, { concurrency: 4, slicing: 'when-slower' });
    const planned = slow.events.find((e) => e.type === 'slices-planned');
    expect(planned && planned.type === 'slices-planned' && planned.slices[0]).toMatchObject({ start: ts(10), startId: slowIds[9] });
    expectEveryRowOnce(slow, slowIds, 0);
  });

  it('share one dense second by sys_id: a bulk import does not serialise the backfill', async () => {
    const w = world(PAGE);
    const ids = table(w, 'all');
    await run(w, { concurrency: 4 });
    const planned = w.events.find((e) => e.type === 'slices-planned');
    expect(planned && planned.type === 'slices-planned' && planned.slices).toHaveLength(4);
    expectEveryRowOnce(w, ids, 0);
  });

  it('cut a large backfill, read each part once, and leave one cursor at the highest row', async () => {
    const w = world(PAGE);
    const ids = table(w);
    const { outcome } = await run(w, { concurrency: 4 });
    expect(w.events.some((e) => e.type === 'slices-planned')).toBe(true);
    expectEveryRowOnce(w, ids, 0);
    expect(outcome.progress.slices).toBeUndefined();
    expect(outcome.progress.cursor.sysId).toBe(ids.at(-1));
    expect(outcome.progress.rows).toBe(ROWS);
  });

  it('a slice is done only once its range is read to the end and written', async () => {
    const w = world(PAGE);
    table(w);
    const save = w.store.save.bind(w.store);
    let checked = 0;
    w.store.save = async (p) => {
      const before = new Set((w.store.tables.get('incident')?.slices ?? []).filter((s) => s.done).map((s) => `${s.start}|${s.startId}`));
      for (const s of p.slices ?? []) {
        if (!s.done || before.has(`${s.start}|${s.startId}`)) continue;
        // Marked done now: every row of its range is already in the sink.
        const after = (r: { sys_updated_on: string; sys_id: string }) => r.sys_updated_on > s.start || (s.startId !== undefined && r.sys_updated_on === s.start && r.sys_id > s.startId);
        const upTo = (r: { sys_updated_on: string; sys_id: string }) => r.sys_updated_on < s.end || (r.sys_updated_on === s.end && (s.endId === undefined || r.sys_id <= s.endId));
        const written = new Set(w.sink.written.map((r) => r.sysId));
        expect(w.table.rows.filter((r) => after(r) && upTo(r)).every((r) => written.has(r.sys_id))).toBe(true);
        checked += 1;
      }
      await save(p);
    };
    await run(w, { concurrency: 4 });
    expect(checked).toBe(4);
  });
});

describe('versions', () => {
  it('the sink gets every version of a row updated during the backfill', async () => {
    const w = world(PAGE);
    table(w);
    const r = w.table.rows[3]!;
    let updated = false;
    await run(w, {}, (e) => {
      if (e.type !== 'committed' || updated) return;
      // Row 4 is written (the first page); now it changes: its new version lies ahead of the cursor.
      updated = true;
      w.table.add({ ...r, sys_updated_on: w.table.rows.at(-1)!.sys_updated_on.replace(/:\d\d$/, ':59'), sys_mod_count: '1' });
    });
    expect(versions(w.sink.written).filter((v) => v.startsWith(r.sys_id))).toHaveLength(2);
  });
});
