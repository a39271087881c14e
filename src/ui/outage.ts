import type { NowpipeError } from '../errors/index.js';
import type { Reporter } from './reporter.js';

/**
 * Retries and failed polls grouped into outages: one line when trouble starts, one when it ends,
 * however many attempts lie between (every attempt still shows with --verbose).
 */
export class OutageLog {
  private since?: number;
  private attempts = 0;

  constructor(private readonly reporter: Reporter) {}

  get active(): boolean {
    return this.since !== undefined;
  }

  failed(err: NowpipeError, retryInMs?: number): void {
    this.attempts += 1;
    const when = retryInMs === undefined ? '' : ` in ${(retryInMs / 1000).toFixed(1)} s`;
    if (this.since === undefined) {
      this.since = Date.now();
      this.reporter.warn(`${err.message}; retrying${when} (quiet until it recovers)`, { hint: err.hint });
    } else {
      this.reporter.verbose(`still failing (attempt ${this.attempts}): ${err.message}; retrying${when}`);
    }
  }

  recovered(): void {
    if (this.since === undefined) return;
    const secs = ((Date.now() - this.since) / 1000).toFixed(1);
    this.reporter.info(`recovered after ${secs} s (${this.attempts} failed attempts)`);
    this.since = undefined;
    this.attempts = 0;
  }
}
