import { describe, expect, it } from 'vitest';
import { Acks } from '../../src/pipeline/acks.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Acks', () => {
  it('commits in order, each only after its own write', async () => {
    const acks = new Acks();
    const writes = [deferred(), deferred(), deferred()];
    const committed: number[] = [];
    const adding = (async () => {
      for (const [i, w] of writes.entries()) await acks.add(() => w.promise, () => void committed.push(i));
    })();
    await tick();
    expect(committed).toEqual([]); // the first write is not acknowledged: nothing may commit
    writes[0]!.resolve();
    await tick();
    expect(committed).toEqual([0]);
    writes[1]!.resolve();
    writes[2]!.resolve();
    await adding;
    await acks.drain();
    expect(committed).toEqual([0, 1, 2]);
  });

  it('never commits after a failed write, and says why', async () => {
    const acks = new Acks();
    const committed: number[] = [];
    const failed = deferred();
    await acks.add(() => Promise.resolve(), () => void committed.push(0));
    await acks.add(() => failed.promise, () => void committed.push(1));
    failed.reject(new Error('disk full'));
    await expect(acks.drain()).rejects.toThrow('disk full');
    expect(committed).toEqual([0]);
  });

  it('the next write starts only once the previous one is committed', async () => {
    const acks = new Acks();
    const events: string[] = [];
    const first = deferred();
    const commit = deferred();
    await acks.add(
      () => (events.push('write 1'), first.promise),
      async () => {
        events.push('commit 1 starts');
        await commit.promise;
        events.push('commit 1 done');
      },
    );
    // add() returned with the write in flight: the caller may read the next page meanwhile.
    expect(events).toEqual(['write 1']);
    const second = acks.add(() => (events.push('write 2'), Promise.resolve()), () => void events.push('commit 2'));
    first.resolve();
    await tick();
    expect(events).toEqual(['write 1', 'commit 1 starts']); // written, not committed: write 2 waits
    commit.resolve();
    await second;
    await acks.drain();
    expect(events).toEqual(['write 1', 'commit 1 starts', 'commit 1 done', 'write 2', 'commit 2']);
  });

  it('a failed write stops the next add() before its write starts', async () => {
    const acks = new Acks();
    let started = false;
    await acks.add(() => Promise.reject(new Error('no space left')), () => undefined);
    await expect(acks.add(() => ((started = true), Promise.resolve()), () => undefined)).rejects.toThrow('no space left');
    expect(started).toBe(false);
  });

  it('after drain() reports a failure, the next write starts afresh', async () => {
    const acks = new Acks();
    await acks.add(() => Promise.reject(new Error('broker away')), () => undefined);
    await expect(acks.drain()).rejects.toThrow('broker away');
    const committed: number[] = [];
    await acks.add(() => Promise.resolve(), () => void committed.push(1));
    await acks.drain();
    expect(committed).toEqual([1]);
  });
});
