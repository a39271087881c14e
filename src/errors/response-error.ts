import { NowpipeError } from './nowpipe-error.js';

/**
 * `unsorted` and `out-of-range`: the instance did not honour the keyset query (never retried);
 * `bad-count`: its X-Total-Count contradicts the rows where only the count can tell hidden rows
 * from the end (a later poll may try again).
 */
export type ResponseProblem = 'not-json' | 'truncated' | 'undecodable' | 'cancelled' | 'error-body' | 'unsorted' | 'out-of-range' | 'bad-count';

/**
 * A 200 that is not a good answer: the hibernation page, a cut-off body, a transaction the
 * platform cancelled for time. Retriable unless said otherwise (`cancelled` asks for a smaller
 * page; `undecodable`, a body that is not the Content-Encoding it declares, comes back the same).
 */
export class ResponseError extends NowpipeError {
  override readonly name = 'ResponseError';
  readonly exitCode = 1 as const;
  readonly retriable: boolean;
  readonly problem: ResponseProblem;
  readonly method: string;
  readonly url: string;

  constructor(
    message: string,
    details: { problem: ResponseProblem; method: string; url: string; retriable?: boolean },
    options?: { cause?: unknown; hint?: string },
  ) {
    super(`${message} (${details.method} ${details.url})`, options);
    this.problem = details.problem;
    this.method = details.method;
    this.url = details.url;
    this.retriable = details.retriable ?? true;
  }
}
