import { describe, expect, it } from 'vitest';
import { RetriesExhaustedError } from '../../src/errors/index.js';
import type { RunEvent } from '../../src/pipeline/events.js';
import { row, run, versions, world } from './harness.js';

// The follow loop under a fake clock: each sleep moves time on at once, and `onSleep` lets the
// test change the table between polls.

const second = (w: ReturnType<typeof world>) => Math.floor((w.clock.now() - Date.UTC(2024, 0, 1)) / 1000);

describe('follow', () => {
  it('writes every change once, poll after poll, and stops cleanly on the signal', async () => {
    const w = world(10);
    for (let i = 1; i <= 30; i++) w.table.add(row(i));
    const changes: string[] = [];
    let polls = 0;
    w.clock.onSleep = () => {
      // A change between polls: an insert and an update of an earlier row.
      const inserted = row(second(w));
      const updated = { ...w.table.rows[polls]!, sys_updated_on: inserted.sys_updated_on, sys_mod_count: String(polls + 1) };
      w.table.add(inserted, updated);
      changes.push(`${inserted.sys_id}|${inserted.sys_updated_on}|0`, `${updated.sys_id}|${updated.sys_updated_on}|${updated.sys_mod_count}`);
    };
    const { outcome, stats } = await run(w, { follow: true, pollSeconds: 5 }, (e, stop) => {
      if (e.type === 'poll-ok' && ++polls === 6) stop();
    });
    expect(outcome.error).toBeUndefined();
    const got = versions(w.sink.written);
    expect(new Set(got).size).toBe(got.length);
    // Every change made before the last poll arrived (the last sleep's change may be after it).
    for (const c of changes.slice(0, -2)) expect(got).toContain(c);
    expect(stats.rows).toBe(got.length);
  });

  it('a full page of rows already written (a dense second in the overlap window) does not make it poll again at once', async () => {
    const w = world(10);
    for (let i = 0; i < 10; i++) w.table.add(row(second(w) - 3));
    const seen: string[] = [];
    let polls = 0;
    const { outcome } = await run(w, { follow: true, pollSeconds: 5, overlap: 5 }, (e, stop) => {
      if (e.type === 'poll-ok' || e.type === 'waiting') seen.push(e.type);
      if (e.type === 'poll-ok' && ++polls === 4) stop();
    });
    expect(outcome.error).toBeUndefined();
    expect(w.sink.written).toHaveLength(10);
    // A poll straight after another only when the one before brought changes: never twice in a
    // row here, where every poll re-reads the same full page of versions already written.
    const backToBack = seen.filter((t, i) => t === 'poll-ok' && seen[i + 1] === 'poll-ok').length;
    expect(backToBack).toBeLessThanOrEqual(1);
    expect(seen.filter((t) => t === 'waiting').length).toBeGreaterThanOrEqual(3);
  });

  it('a local clock stepped back an hour during a wait does not hold the next poll back an hour', async () => {
    const w = world(10);
    for (let i = 1; i <= 5; i++) w.table.add(row(i));
    let stepped = false;
    let sleptMs = 0;
    w.clock.onSleep = (ms) => {
      sleptMs += ms;
      if (!stepped) {
        stepped = true;
        w.clock.t -= 3_600_000; // NTP steps the clock back
      }
    };
    let polls = 0;
    await run(w, { follow: true, pollSeconds: 5 }, (e, stop) => {
      if (e.type === 'poll-ok' && ++polls === 3) stop();
    });
    // Two waits of about a poll interval each, not an hour.
    expect(sleptMs).toBeLessThanOrEqual(2 * 5_000);
  });

  it('a row that commits late inside the overlap window is written once, when it becomes visible', async () => {
    const w = world(10);
    for (let i = 1; i <= 5; i++) w.table.add(row(i));
    let late: ReturnType<typeof row> | undefined;
    let polls = 0;
    w.clock.onSleep = () => {
      if (late) return;
      // Stamped 2 s ago, visible only 1.5 s from now: behind the cursor once it shows.
      late = { ...row(second(w) - 2), visibleAt: w.clock.now() + 1500 };
      w.table.add(late, row(second(w)));
    };
    await run(w, { follow: true, pollSeconds: 1, overlap: 5 }, (e, stop) => {
      if (e.type === 'poll-ok' && ++polls === 6) stop();
    });
    expect(w.sink.written.filter((r) => r.sysId === late!.sys_id)).toHaveLength(1);
  });

  it('keeps polling through an outage of the instance, says so, and goes on when it returns', async () => {
    const w = world(10);
    for (let i = 1; i <= 5; i++) w.table.add(row(i));
    const sweep = w.table.sweep.bind(w.table);
    let failing = 0;
    w.table.sweep = (...a) => {
      if (failing > 0) {
        failing -= 1;
        return (async function* (): AsyncGenerator<never> {
          yield* [];
          throw new RetriesExhaustedError(new Error('connect ECONNREFUSED'), 9);
        })();
      }
      return sweep(...a);
    };
    const seen: RunEvent['type'][] = [];
    let polls = 0;
    w.clock.onSleep = () => {
      if (polls === 1 && failing === 0 && !seen.includes('poll-failed')) failing = 3;
      w.table.add(row(second(w)));
    };
    await run(w, { follow: true, pollSeconds: 1 }, (e, stop) => {
      seen.push(e.type);
      if (e.type === 'poll-ok' && ++polls === 5) stop();
    });
    expect(seen.filter((t) => t === 'poll-failed')).toHaveLength(3);
    const ids = w.sink.written.map((r) => r.sysId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(w.table.rows.slice(0, -1).map((r) => r.sys_id)));
  });

  it('a failed write ends the feed with that failure (nothing is committed past it)', async () => {
    const w = world(10);
    for (let i = 1; i <= 5; i++) w.table.add(row(i));
    w.clock.onSleep = () => w.table.add(row(second(w)));
    w.sink.failAt = 3;
    const { outcome } = await run(w, { follow: true, pollSeconds: 1 });
    expect(outcome.error).toBe(w.sink.failWith);
    const saved = w.store.tables.get('incident')!;
    expect(saved.rows).toBe(w.sink.written.length);
  });

  it('between polls it says where it stands: up to date, the changes of the last poll, when the next one comes', async () => {
    const w = world(10);
    for (let i = 1; i <= 3; i++) w.table.add(row(i));
    const waiting: Extract<RunEvent, { type: 'waiting' }>[] = [];
    await run(w, { follow: true, pollSeconds: 3 }, (e, stop) => {
      if (e.type === 'waiting') waiting.push(e);
      if (waiting.length === 3) stop();
    });
    expect(waiting[0]!.status).toMatchObject({ upToDate: true, lastPollChanges: 0, cursor: { sysId: w.table.rows.at(-1)!.sys_id } });
    expect(waiting[0]!.status.nextPollAt).toBeGreaterThan(w.clock.now() - 3000);
  });
});

describe('reruns', () => {
  it('write no version already written: the overlap window is remembered in the checkpoint', async () => {
    const w = world(10);
    for (let i = 1; i <= 25; i++) w.table.add(row(i));
    await run(w);
    expect(w.sink.written).toHaveLength(25);
    const again = await run(w);
    expect(w.sink.written).toHaveLength(25);
    expect(again.stats.duplicatesDropped).toBeGreaterThan(0);
    // A new version of a row inside the window is written, once.
    const r = w.table.rows.at(-2)!;
    w.table.add({ ...r, sys_updated_on: w.table.rows.at(-1)!.sys_updated_on, sys_mod_count: '1' });
    await run(w);
    await run(w);
    expect(versions(w.sink.written).filter((v) => v.startsWith(r.sys_id))).toEqual([`${r.sys_id}|${r.sys_updated_on}|0`, `${r.sys_id}|${w.table.rows.at(-1)!.sys_updated_on}|1`]);
  });

  it('the remembered window stays bounded: only the seconds the overlap can re-read', async () => {
    const w = world(10);
    for (let i = 1; i <= 200; i++) w.table.add(row(i));
    await run(w, { overlap: 5 });
    const recent = w.store.tables.get('incident')!.recent!.rows!;
    expect(Object.keys(recent).length).toBeLessThanOrEqual(7);
  });
});
