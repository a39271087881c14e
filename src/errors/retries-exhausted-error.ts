import { NowpipeError } from './nowpipe-error.js';

/** A retriable failure that kept failing past the retry budget. `cause` is the last failure. */
export class RetriesExhaustedError extends NowpipeError {
  override readonly name = 'RetriesExhaustedError';
  readonly exitCode = 1 as const;
  readonly retriable = false;
  readonly attempts: number;

  constructor(last: Error, attempts: number) {
    const resume = 'the checkpoint holds everything written so far; run the same command again to resume';
    const own = (last as { hint?: unknown }).hint;
    super(`gave up after ${attempts} attempts: ${last.message}`, {
      cause: last,
      // What the last failure says to fix comes first (a proxy, a certificate), then how to go on.
      hint: typeof own === 'string' && own !== '' ? `${own}; ${resume}` : `${resume} (raise --retries or --timeout for a flaky network)`,
    });
    this.attempts = attempts;
  }
}
