import { describe, expect, it } from 'vitest';
import { RequestLimiter } from '../../src/servicenow/limiter.js';

describe('RequestLimiter', () => {
  it('never lets more than `concurrency` requests run at once', async () => {
    const limiter = new RequestLimiter({ concurrency: 3 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        const release = await limiter.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        release();
      }),
    );
    expect(peak).toBe(3);
    expect(limiter.active).toBe(0);
  });

  it('paces starts per second', async () => {
    const limiter = new RequestLimiter({ concurrency: 10, perSecond: 5 });
    const t0 = Date.now();
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 7 }, async () => {
        const release = await limiter.acquire();
        starts.push(Date.now() - t0);
        release();
      }),
    );
    starts.sort((a, b) => a - b);
    expect(starts[4]!).toBeLessThan(200);
    expect(starts[5]!).toBeGreaterThanOrEqual(990);
  });

  it('a pause (429) holds back every request until it passes', async () => {
    const limiter = new RequestLimiter({ concurrency: 4 });
    limiter.pause(Date.now() + 300);
    const t0 = Date.now();
    await Promise.all([limiter.acquire(), limiter.acquire()].map(async (p) => (await p)()));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('gives up waiting when the run is stopped', async () => {
    const limiter = new RequestLimiter({ concurrency: 1 });
    const hold = await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    ac.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    hold();
    expect(limiter.active).toBe(0);
  });
});
