import { ConfigError, NowpipeError } from '../errors/index.js';
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
    // A JSON line also carries the list of problems, one per item, for a log shipper.
    const fields = err instanceof ConfigError && err.problems.length > 1 ? { problems: err.problems.map(redact) } : undefined;
    reporter.error(redact(err.message), err.hint === undefined ? undefined : redact(err.hint), fields);
    if (reporter.verboseEnabled && err.cause instanceof Error) reporter.verbose(redact(`cause: ${err.cause.message}`));
    return err.exitCode;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const hint = `this is a bug in nowpipe; please report it at ${REPORT_URL} with this output`;
  const stack = redact(e.stack ?? '');
  if (reporter.json) {
    reporter.error(redact(`unexpected error: ${e.message}`), hint, { stack });
  } else {
    reporter.error(redact(`unexpected error: ${e.message}`), hint);
    reporter.info(stack);
  }
  return 1;
}

/**
 * commander's errors quote a misspelt option as given, value included (`--pasword=Hunter2`):
 * nothing is known yet of which values are secrets, so no value is shown.
 */
export function withoutValues(text: string): string {
  return text.replace(/(option ')(-{1,2}[^'=\s]+)=[^']*'/g, "$1$2=…'");
}
