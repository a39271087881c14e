import { NowpipeError } from '../errors/index.js';
import { redact } from '../errors/redact.js';
import type { Reporter } from '../ui/reporter.js';

export const REPORT_URL = 'https://github.com/nowpipe/nowpipe/issues';

/**
 * The one place that turns an error into words on stderr and an exit code. Every word passes
 * through redact(): an error can quote what an instance echoed back, secrets included.
 */
export function reportError(err: unknown, reporter: Reporter): number {
  if (err instanceof NowpipeError) {
    if (err.exitCode === 0) return 0;
    reporter.error(redact(err.message), err.hint === undefined ? undefined : redact(err.hint));
    if (reporter.verboseEnabled && err.cause instanceof Error) reporter.verbose(redact(`cause: ${err.cause.message}`));
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  reporter.error(redact(`unexpected error: ${e.message}`), `this is a bug in nowpipe; please report it at ${REPORT_URL} with this output`);
  reporter.info(redact(e.stack ?? ''));
  return 1;
}
