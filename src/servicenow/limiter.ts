import { abortableSleep } from './retry.js';

export interface LimiterOptions {
  /** Requests in flight at once, for the whole run (`--concurrency`). */
  concurrency: number;
  /** Requests started per hour (`--max-requests-per-hour`), matching the instance's rate-limit rules. */
  perHour?: number;
  /** Requests started per second (`--max-requests-per-second`). */
  perSecond?: number;
  /**
   * After a 429 the cap on requests in flight is halved; it grows back by one each time this
   * long passes without another 429 (default 10 s).
   */
  recoverAfterMs?: number;
  /**
   * The hourly budget is spent: no request starts before `untilMs`. Said once per moment waited
   * for, so a run that stalls for minutes says why.
   */
  onHourlyWait?: (untilMs: number) => void;
  now?: () => number;
}

/**
 * What keeps a run polite to the instance: a cap on requests in flight, pacing per second and
 * per hour, and a shared pause: a 429 on any request holds back every request (not just the one
 * that got it) until the instance's Retry-After has passed.
 *
 * A 429 also halves the cap for a while. Semaphore exhaustion answers 429 too, and a run that
 * came back from the pause with every worker at once would only meet the full semaphore again.
 */
export class RequestLimiter {
  private inFlight = 0;
  private readonly waiters: Array<() => void> = [];
  private pausedUntil = 0;
  /** Start times, oldest first, as many as the pacing needs to look back at. */
  private readonly starts: number[] = [];
  private readonly now: () => number;
  private cap: number;
  private capChangedAt = 0;
  private announcedUntil = 0;

  constructor(private readonly options: LimiterOptions) {
    this.now = options.now ?? Date.now;
    this.cap = options.concurrency;
  }

  get active(): number {
    return this.inFlight;
  }

  /** The cap on requests in flight now: `concurrency`, or less for a while after a 429. */
  get limit(): number {
    this.recover();
    return this.cap;
  }

  /**
   * A 429: holds every request back until `untilMs` (the latest pause wins) and halves the cap.
   * The 429s of one burst (arriving while already paused) count once.
   */
  pause(untilMs: number): void {
    const now = this.now();
    if (now >= this.pausedUntil) {
      this.cap = Math.max(1, Math.ceil(this.cap / 2));
      this.capChangedAt = Math.max(now, untilMs);
    }
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  /** One step back towards `concurrency` per quiet interval after the last pause. */
  private recover(): void {
    const every = this.options.recoverAfterMs ?? 10_000;
    const now = this.now();
    while (this.cap < this.options.concurrency && now - this.capChangedAt >= every) {
      this.cap += 1;
      this.capChangedAt += every;
    }
  }

  private paceDelay(): number {
    const now = this.now();
    let wait = Math.max(0, this.pausedUntil - now);
    const { perSecond, perHour } = this.options;
    const n = this.starts.length;
    // The perSecond-th most recent start must be a second old, the perHour-th an hour old.
    if (perSecond && n >= perSecond) wait = Math.max(wait, this.starts[n - perSecond]! + 1000 - now);
    if (perHour && n >= perHour) {
      const until = this.starts[n - perHour]! + 3_600_000;
      if (until - now >= 1000 && until > this.announcedUntil) {
        this.announcedUntil = until;
        this.options.onHourlyWait?.(until);
      }
      wait = Math.max(wait, until - now);
    }
    return wait;
  }

  private record(at: number): void {
    const keep = Math.max(this.options.perHour ?? 0, this.options.perSecond ?? 0);
    if (keep === 0) return;
    this.starts.push(at);
    if (this.starts.length > keep) this.starts.shift();
  }

  /** Resolves once a slot is ours (inFlight already counts it). */
  private slot(signal?: AbortSignal): Promise<void> {
    this.recover();
    if (this.inFlight < this.cap && this.waiters.length === 0) {
      this.inFlight += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
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
  }

  /** Waits for a slot and the pacing; resolves with a release function. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      await this.slot(signal);
      try {
        for (let wait = this.paceDelay(); wait > 0; wait = this.paceDelay()) await abortableSleep(wait, signal);
      } catch (err) {
        this.release();
        throw err;
      }
      this.recover();
      if (this.inFlight <= this.cap) break;
      // The cap was lowered while this request waited out a pause: queue again behind the others.
      this.release();
    }
    this.record(this.now());
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  private release(): void {
    this.inFlight -= 1;
    this.recover();
    while (this.waiters.length > 0 && this.inFlight < this.cap) {
      this.inFlight += 1;
      this.waiters.shift()!();
    }
  }
}
