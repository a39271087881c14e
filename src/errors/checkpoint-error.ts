import { NowpipeError } from './nowpipe-error.js';

/** The checkpoint cannot be used: locked by another run, unreadable, or for another query. */
export class CheckpointError extends NowpipeError {
  override readonly name = 'CheckpointError';
  readonly exitCode: 1 | 2;
  readonly retriable = false;

  constructor(message: string, options: { exitCode: 1 | 2; hint?: string; cause?: unknown }) {
    super(message, options);
    this.exitCode = options.exitCode;
  }
}
