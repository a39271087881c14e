import { NowpipeError } from './nowpipe-error.js';

/**
 * `nowpipe login` could not finish: no answer from the browser in time, an answer that is not
 * this login's, a port it cannot listen on, or a login it cannot store. Trying again may work.
 */
export class LoginError extends NowpipeError {
  override readonly name = 'LoginError';
  readonly exitCode = 1 as const;
  readonly retriable = false;
}
