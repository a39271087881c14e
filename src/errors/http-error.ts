import { NowpipeError } from './nowpipe-error.js';

/** The instance answered, but not with what we asked for. */
export class HttpError extends NowpipeError {
  override readonly name = 'HttpError';
  readonly exitCode = 1 as const;
  readonly retriable: boolean;
  readonly status: number;
  readonly method: string;
  readonly url: string;
  /** Server-requested wait (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    details: { status: number; method: string; url: string; retriable: boolean; retryAfterMs?: number },
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`${message} (${details.method} ${details.url} → ${details.status})`, options);
    this.status = details.status;
    this.method = details.method;
    this.url = details.url;
    this.retriable = details.retriable;
    this.retryAfterMs = details.retryAfterMs;
  }
}
