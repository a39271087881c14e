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
  it('commits in order, each only after its own write, however the writes finish', async () => {
    const acks = new Acks(3);
    const writes = [deferred(), deferred(), deferred()];
    const committed: number[] = [];
    for (const [i, w] of writes.entries()) await acks.add(() => w.promise, () => void committed.push(i));
    writes[2]!.resolve();
    writes[1]!.resolve();
    await tick();
    expect(committed).toEqual([]); // the first write is not acknowledged: nothing may commit
    writes[0]!.resolve();
    await acks.drain();
    expect(committed).toEqual([0, 1, 2]);
  });

  it('never commits after a failed write, and says why', async () => {
    const acks = new Acks(3);
    const committed: number[] = [];
    const failed = deferred();
    await acks.add(() => Promise.resolve(), () => void committed.push(0));
    await acks.add(() => failed.promise, () => void committed.push(1));
    await acks.add(() => Promise.resolve(), () => void committed.push(2));
    failed.reject(new Error('disk full'));
    await expect(acks.drain()).rejects.toThrow('disk full');
    expect(committed).toEqual([0]);
  });

  it('with a limit of 1, the next write starts only once the previous one is committed', async () => {
    const acks = new Acks(1);
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
    const acks = new Acks(1);
    let started = false;
    await acks.add(() => Promise.reject(new Error('no space left')), () => undefined);
    await expect(acks.add(() => ((started = true), Promise.resolve()), () => undefined)).rejects.toThrow('no space left');
    expect(started).toBe(false);
  });

  it('lets the caller run ahead by at most the limit', async () => {
    const acks = new Acks(2);
    const writes = [deferred(), deferred(), deferred()];
    await acks.add(() => writes[0]!.promise, () => undefined);
    await acks.add(() => writes[1]!.promise, () => undefined);
    let third = false;
    const adding = acks.add(() => ((third = true), writes[2]!.promise), () => undefined);
    await tick();
    expect(third).toBe(false);
    writes[0]!.resolve();
    await adding;
    expect(third).toBe(true);
    writes[1]!.resolve();
    writes[2]!.resolve();
    await acks.drain();
  });
});
