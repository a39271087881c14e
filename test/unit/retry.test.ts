import { describe, expect, it } from 'vitest';
import { AuthError, HttpError, NetworkError, RetriesExhaustedError } from '../../src/errors/index.js';
import { backoffDelay, retryDelay, withRetry, type RetryPolicy } from '../../src/servicenow/retry.js';

const policy: RetryPolicy = { retries: 3, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.5, maxRetryAfterMs: 10_000 };
const net = () => new NetworkError('ECONNRESET', { method: 'GET', url: 'u' });

describe('backoff', () => {
  it('doubles up to the cap, jitter only shortens', () => {
    expect(backoffDelay(policy, 0, () => 0)).toBe(100);
    expect(backoffDelay(policy, 3, () => 0)).toBe(800);
    expect(backoffDelay(policy, 10, () => 0)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 1)).toBe(100);
  });

  it('honours Retry-After exactly, with no jitter on top', () => {
    const err = new HttpError('rate limited', { status: 429, method: 'GET', url: 'u', retriable: true, retryAfterMs: 7000 });
    expect(retryDelay(policy, 5, err, () => 0.9)).toBe(7000);
  });
});

describe('withRetry', () => {
  it('retries retriable errors and returns the first success', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const out = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw net();
        return 'ok';
      },
      policy,
      { sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('gives up after the budget with RetriesExhaustedError carrying the last error', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw net();
      },
      policy,
      { sleep: async () => undefined },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as RetriesExhaustedError).cause).toBeInstanceOf(NetworkError);
    expect(calls).toBe(4);
  });

  it('does not retry non-retriable or unknown errors', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new AuthError('no');
      }, policy, { sleep: async () => undefined }),
    ).rejects.toBeInstanceOf(AuthError);
    await expect(
      withRetry(async () => {
        calls++;
        throw new TypeError('bug');
      }, policy, { sleep: async () => undefined }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(2);
  });

  it('refuses to wait out a Retry-After longer than the policy allows', async () => {
    const err = await withRetry(
      async () => {
        throw new HttpError('rate limited', { status: 429, method: 'GET', url: 'u', retriable: true, retryAfterMs: 3_600_000 });
      },
      policy,
      { sleep: async () => undefined },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as Error).message).toMatch(/asked to wait 3600 s/);
  });
});
