import { NowpipeError } from './nowpipe-error.js';

/** Credentials refused (401) or the user lacks rights (403). Retrying cannot help. */
export class AuthError extends NowpipeError {
  override readonly name = 'AuthError';
  readonly exitCode = 1 as const;
  readonly retriable = false;
}
