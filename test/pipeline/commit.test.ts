import { describe, expect, it } from 'vitest';
import { newStats, RunEvents } from '../../src/pipeline/events.js';
import { Pump } from '../../src/pipeline/pump.js';
import { advance } from '../../src/checkpoint/transitions.js';
import { freshProgress } from '../../src/checkpoint/progress.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/store.js';
import { tableShape } from '../../src/servicenow/entry.js';
import { FakeSink, row, run, ts, versions, world, type FakeRow } from './harness.js';

const scope = { instance: 'https://acme.service-now.com', table: 'incident' };
const entryOf = (r: FakeRow) => tableShape().entry({ ...r }, { updatedOn: r.sys_updated_on, sysId: r.sys_id }, { ...r });
const batchOf = (rows: FakeRow[]) => ({
  stream: 'rows' as const,
  entries: rows.map(entryOf),
  pages: 1,
  commit: (p: ReturnType<typeof freshProgress>, w: Parameters<typeof advance>[3]) => advance(p, 'rows', { updatedOn: rows.at(-1)!.sys_updated_on, sysId: rows.at(-1)!.sys_id }, w, 5),
});

function pump(sink: FakeSink, store = new MemoryCheckpointStore()) {
  return { store, pump: new Pump({ table: 'incident', instance: scope.instance, sink, store, events: new RunEvents(), stats: newStats(), progress: freshProgress(scope, ts(0)) }) };
}

describe('the commit protocol (pump)', () => {
  it('commits a batch only once the sink says it is durable', async () => {
    const sink = new FakeSink();
    let release!: () => void;
    sink.gate = new Promise((r) => (release = r));
    const { pump: p, store } = pump(sink);
    await p.deliver(batchOf([row(1), row(2)]));
    await new Promise((r) => setTimeout(r, 10));
    expect(sink.writes).toBe(1);
    expect(store.history).toHaveLength(0);
    release();
    await p.drain();
    expect(store.history).toHaveLength(1);
    expect(store.history[0]!.cursor.updatedOn).toBe(ts(2));
    expect(store.history[0]!.rows).toBe(2);
  });

  it('starts the next write only after the previous one is committed, so commits land in order', async () => {
    const sink = new FakeSink();
    const order: string[] = [];
    const store = new MemoryCheckpointStore();
    const save = store.save.bind(store);
    store.save = async (progress) => {
      order.push(`save ${progress.cursor.updatedOn}`);
      await new Promise((r) => setTimeout(r, 5));
      await save(progress);
    };
    const write = sink.write.bind(sink);
    sink.write = async (records) => {
      order.push(`write ${records.at(-1)!.updatedOn}`);
      await write(records);
    };
    const { pump: p } = pump(sink, store);
    await p.deliver(batchOf([row(1)]));
    await p.deliver(batchOf([row(2)]));
    await p.deliver(batchOf([row(3)]));
    await p.drain();
    expect(order).toEqual([`write ${ts(1)}`, `save ${ts(1)}`, `write ${ts(2)}`, `save ${ts(2)}`, `write ${ts(3)}`, `save ${ts(3)}`]);
  });

  it('a failed write is final: nothing is committed past it and no later write starts', async () => {
    const sink = new FakeSink();
    sink.failAt = 2;
    const { pump: p, store } = pump(sink);
    await p.deliver(batchOf([row(1)]));
    await p.deliver(batchOf([row(2)]));
    await expect(p.deliver(batchOf([row(3)]))).rejects.toThrow('the sink failed');
    await expect(p.drain()).rejects.toThrow('the sink failed');
    await expect(p.update((x) => x)).rejects.toThrow('the sink failed');
    expect(sink.writes).toBe(2);
    expect(store.history.map((h) => h.cursor.updatedOn)).toEqual([ts(1)]);
  });

  it('a run whose sink fails exits with that failure and the position of the last durable batch', async () => {
    const w = world(10);
    for (let i = 1; i <= 50; i++) w.table.add(row(i));
    w.sink.failAt = 4; // the second half of the second page (pages come in two batches)
    const { outcome } = await run(w);
    expect(outcome.error).toBe(w.sink.failWith);
    expect(outcome.progress.cursor.updatedOn).toBe(ts(15));
    expect(w.store.tables.get('incident')!.rows).toBe(15);
    expect(w.sink.written).toHaveLength(15);
  });

  it('a batch whose rows were all written before moves the cursor without a write', async () => {
    const w = world(10);
    for (let i = 1; i <= 10; i++) w.table.add(row(i));
    await run(w);
    const writes = w.sink.writes;
    const before = w.store.tables.get('incident')!.cursor;
    const { stats, outcome } = await run(w);
    expect(w.sink.writes).toBe(writes);
    expect(stats.rows).toBe(0);
    expect(outcome.progress.cursor).toEqual(before); // the same last row: re-read, not moved past
    expect(stats.duplicatesDropped).toBeGreaterThan(0);
    expect(versions(w.sink.written)).toHaveLength(10);
  });

  it('counts the pages the instance returned, not the batches', async () => {
    const w = world(7);
    for (let i = 1; i <= 20; i++) w.table.add(row(i));
    let batches = 0;
    const { stats } = await run(w, {}, (e) => e.type === 'committed' && batches++);
    expect(batches).toBe(6); // each page handed on in two batches
    expect(stats.pages).toBe(3);
    expect(stats.rows).toBe(20);
  });
});
