import { NowpipeError } from './nowpipe-error.js';

/** Bad flags, rc file, environment or checkpoint mismatch: the user must change something. */
export class ConfigError extends NowpipeError {
  override readonly name = 'ConfigError';
  readonly exitCode = 2 as const;
  readonly retriable = false;
  /** Every problem found, as `path: message`, so the user fixes them all at once. */
  readonly problems: string[];

  constructor(problems: string[] | string, options?: { hint?: string; cause?: unknown }) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.length === 1 ? list[0]! : `invalid configuration:\n  - ${list.join('\n  - ')}`, options);
    this.problems = list;
  }
}
