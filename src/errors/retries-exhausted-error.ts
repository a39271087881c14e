import { NowpipeError } from './nowpipe-error.js';

/** A retriable failure that kept failing past the retry budget. `cause` is the last failure. */
export class RetriesExhaustedError extends NowpipeError {
  override readonly name = 'RetriesExhaustedError';
  readonly exitCode = 1 as const;
  readonly retriable = false;
  readonly attempts: number;

  constructor(last: Error, attempts: number) {
    super(`gave up after ${attempts} attempts: ${last.message}`, {
      cause: last,
      hint: 'the checkpoint holds everything written so far; run the same command again to resume (raise --retries or --timeout for a flaky network)',
    });
    this.attempts = attempts;
  }
}
