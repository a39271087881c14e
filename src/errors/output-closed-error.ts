import { NowpipeError } from './nowpipe-error.js';

/**
 * The reader of our output went away (`nowpipe ... | head`). Not a failure: the run stops
 * quietly with exit 0, and the checkpoint moves back before any byte that may still have sat
 * unread in the pipe, so a rerun repeats those rows rather than miss them.
 */
export class OutputClosedError extends NowpipeError {
  override readonly name = 'OutputClosedError';
  readonly exitCode = 0 as const;
  readonly retriable = false;
}
