import { NowpipeError } from './nowpipe-error.js';

/** A lock could not be taken (another live run holds it) or its lease was lost to another run. */
export class LockError extends NowpipeError {
  override readonly name = 'LockError';
  readonly exitCode = 1 as const;
  readonly retriable = false;
}
