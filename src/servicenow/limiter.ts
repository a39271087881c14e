import { abortableSleep } from './retry.js';

export interface LimiterOptions {
  /** Requests in flight at once, for the whole run (`--concurrency`). */
  concurrency: number;
  /** Requests started per hour (`--max-requests-per-hour`), matching the instance's rate-limit rules. */
  perHour?: number;
  /** Requests started per second (`--max-requests-per-second`). */
  perSecond?: number;
  now?: () => number;
}

/**
 * What keeps a run polite to the instance: a cap on requests in flight, pacing per second and
 * per hour, and a shared pause: a 429 on any request holds back every request (not just the one
 * that got it) until the instance's Retry-After has passed.
 */
export class RequestLimiter {
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];
  private pausedUntil = 0;
  private readonly starts: number[] = [];
  private readonly now: () => number;

  constructor(private readonly options: LimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Holds every request back until `untilMs` (the latest pause wins). */
  pause(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  private paceDelay(): number {
    const now = this.now();
    let wait = Math.max(0, this.pausedUntil - now);
    const { perSecond, perHour } = this.options;
    // Keep only the last hour of start times (bounded by perHour entries).
    while (this.starts.length > 0 && this.starts[0]! <= now - 3_600_000) this.starts.shift();
    if (perSecond && perSecond > 0) {
      const recent = this.starts.filter((t) => t > now - 1000);
      if (recent.length >= perSecond) wait = Math.max(wait, recent[recent.length - perSecond]! + 1000 - now);
    }
    if (perHour && perHour > 0 && this.starts.length >= perHour) {
      wait = Math.max(wait, this.starts[this.starts.length - perHour]! + 3_600_000 - now);
    }
    return wait;
  }

  /** Waits for a slot and the pacing; resolves with a release function. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inFlight >= this.options.concurrency) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal!.reason);
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      this.inFlight += 1;
    }
    try {
      for (let wait = this.paceDelay(); wait > 0; wait = this.paceDelay()) await abortableSleep(wait, signal);
    } catch (err) {
      this.release();
      throw err;
    }
    this.starts.push(this.now());
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next(); // hand the slot straight over: inFlight stays the same
    else this.inFlight -= 1;
  }
}
