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

  it('a 429 halves the cap once per burst, and it grows back one step per quiet interval', () => {
    let now = 1_000;
    const limiter = new RequestLimiter({ concurrency: 8, recoverAfterMs: 10_000, now: () => now });
    limiter.pause(now + 1_000);
    limiter.pause(now + 1_000); // a second 429 of the same burst
    expect(limiter.limit).toBe(4);
    now += 1_000 + 9_999;
    expect(limiter.limit).toBe(4);
    now += 1;
    expect(limiter.limit).toBe(5);
    now += 25_000;
    expect(limiter.limit).toBe(7);
    limiter.pause(now + 500); // a new burst, after the pause ended
    expect(limiter.limit).toBe(4);
    now += 100_000;
    expect(limiter.limit).toBe(8);
  });

  it('requests queued behind a pause come back at the lowered cap, not all at once', async () => {
    const limiter = new RequestLimiter({ concurrency: 4 });
    let running = 0;
    let peak = 0;
    const firstBurst = Date.now();
    limiter.pause(firstBurst + 200);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const release = await limiter.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        release();
      }),
    );
    expect(Date.now() - firstBurst).toBeGreaterThanOrEqual(190);
    expect(peak).toBe(2);
    expect(limiter.active).toBe(0);
  });

  it('paces starts per hour', async () => {
    const limiter = new RequestLimiter({ concurrency: 4, perHour: 3 });
    for (let i = 0; i < 3; i++) (await limiter.acquire())();
    const ac = new AbortController();
    let started = false;
    const fourth = limiter.acquire(ac.signal).then(() => (started = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(started).toBe(false);
    ac.abort(new Error('stop'));
    await expect(fourth).rejects.toThrow('stop');
    expect(limiter.active).toBe(0);
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
