/**
 * The root of every failure nowpipe expects. Anything that is not a NowpipeError is a bug:
 * it is never retried and the CLI shows it with a hint to report it.
 */
export abstract class NowpipeError extends Error {
  /** Process exit code when this error ends a run: 0 for a quiet stop, 1 runtime failure, 2 usage or config. */
  abstract readonly exitCode: 0 | 1 | 2;
  /** Whether trying the same operation again may succeed. */
  abstract readonly retriable: boolean;
  /** Optional one-line advice shown under the message. */
  hint?: string;

  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options?.hint;
  }
}
