import { NowpipeError } from './nowpipe-error.js';

/** The request never got an answer: refused, reset, DNS, TLS, timeout. */
export class NetworkError extends NowpipeError {
  override readonly name = 'NetworkError';
  readonly exitCode = 1 as const;
  readonly retriable: boolean;
  readonly method: string;
  readonly url: string;
  readonly code?: string;

  constructor(
    message: string,
    details: { method: string; url: string; code?: string; retriable?: boolean },
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`${message} (${details.method} ${details.url})`, options);
    this.retriable = details.retriable ?? true;
    this.method = details.method;
    this.url = details.url;
    this.code = details.code;
  }
}
