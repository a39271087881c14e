import { NowpipeError } from './nowpipe-error.js';

/** The destination refused or lost data. The checkpoint was not advanced past it. */
export class SinkError extends NowpipeError {
  override readonly name = 'SinkError';
  readonly exitCode = 1 as const;
  readonly retriable: boolean;

  constructor(message: string, options?: { cause?: unknown; hint?: string; retriable?: boolean }) {
    super(message, options);
    this.retriable = options?.retriable ?? false;
  }
}
