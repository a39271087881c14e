import { NowpipeError, RetriesExhaustedError } from '../errors/index.js';

/** How failed requests are retried. Data, so tests can use fast values. */
export interface RetryPolicy {
  /** Retries after the first attempt (`--retries`, Confluent `retry.max.times`). */
  retries: number;
  /** First backoff; doubles each attempt. */
  baseDelayMs: number;
  /** Backoff ceiling. */
  maxDelayMs: number;
  /** 0..1: share of each backoff that is randomised, so many clients do not retry in step. */
  jitter: number;
  /** A Retry-After longer than this is not waited out: the run fails and says so. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  retries: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: 0.5,
  maxRetryAfterMs: 15 * 60_000,
};

/** Exponential backoff with jitter for attempt n (0-based). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(exp * (1 - policy.jitter * random()));
}

/** The wait before the next attempt: Retry-After exactly when given, else backoff. */
export function retryDelay(policy: RetryPolicy, attempt: number, err: unknown, random?: () => number): number {
  const retryAfter = (err as { retryAfterMs?: number }).retryAfterMs;
  if (typeof retryAfter === 'number' && retryAfter >= 0) return retryAfter;
  return backoffDelay(policy, attempt, random);
}

export function isRetriable(err: unknown): boolean {
  return err instanceof NowpipeError && err.retriable;
}

export interface RetryHooks {
  onRetry?: (err: NowpipeError, attempt: number, delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  random?: () => number;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The retry budget of one logical operation. `withRetry` is the usual way to use it; loops that
 * cannot be a single call (a streamed page that goes on from where it broke off) use it directly.
 */
export class Retrier {
  private attempt = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly hooks: RetryHooks = {},
  ) {}

  /** A success: the next failure starts a fresh budget. */
  reset(): void {
    this.attempt = 0;
  }

  /**
   * After a failure: rethrows it when it must not be retried (or RetriesExhaustedError when the
   * budget is spent), otherwise waits the backoff (Retry-After exactly when the server said).
   */
  async after(err: unknown): Promise<void> {
    const { policy, hooks } = this;
    const attempt = this.attempt++;
    if (hooks.signal?.aborted) throw err;
    if (!isRetriable(err)) throw err;
    if (attempt >= policy.retries) throw new RetriesExhaustedError(err as Error, attempt + 1);
    const delay = retryDelay(policy, attempt, err, hooks.random);
    if (delay > policy.maxRetryAfterMs) {
      throw new RetriesExhaustedError(
        new Error(`${(err as Error).message}; the server asked to wait ${Math.round(delay / 1000)} s, longer than nowpipe waits`),
        attempt + 1,
      );
    }
    hooks.onRetry?.(err as NowpipeError, attempt + 1, delay);
    await (hooks.sleep ?? abortableSleep)(delay, hooks.signal);
  }
}

/** Runs `op`, retrying retriable NowpipeErrors per `policy`. Anything else propagates at once. */
export async function withRetry<T>(op: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const retrier = new Retrier(policy, hooks);
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      await retrier.after(err);
    }
  }
}
