import { userQueryProblems } from '../servicenow/query.js';
import { badRowProblems, httpProblems } from './http-rules.js';
import { kafkaProblems, type Problem } from './kafka-rules.js';
import { typedRows, type ParsedConfig } from './schema.js';
import { stateProblems } from './state-rules.js';

/**
 * The rules between settings. They run on whatever parsed, even when other settings did not
 * (the user fixes everything in one go): a rule about a setting that failed to parse is left
 * out, since that setting already has its problem.
 */
/** `failed`: the paths (`batchSize`, `tables.incident.query`) whose values did not parse. */
export function crossFieldProblems(c: Partial<ParsedConfig>, failed: ReadonlySet<string>): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (c.until !== undefined && c.since !== undefined && c.until <= c.since) add('until', `must be after --since (${c.since})`);
  if (c.quiet && c.verbose) add('verbose', 'cannot be combined with --quiet');
  if (c.follow && c.until !== undefined) add('until', 'cannot be combined with --follow (a feed has no end)');
  if (c.follow && c.once) add('once', 'cannot be combined with --follow');
  if ((c.clientSecret !== undefined || c.refreshToken !== undefined) && c.clientId === undefined) {
    add('clientId', 'OAuth needs --client-id (env SERVICENOW_CLIENT_ID) with --client-secret or --refresh-token');
  }
  if ((c.cert === undefined) !== (c.key === undefined)) add(c.cert === undefined ? 'cert' : 'key', 'mutual TLS needs both --cert and --key');
  if ((c.oauthTokenUrl !== undefined || c.oauthScope !== undefined) && c.clientId === undefined) {
    add('clientId', '--oauth-token-url and --oauth-scope are for OAuth: give --client-id too');
  }
  if (c.metricsHost !== undefined && c.metricsPort === undefined) add('metricsHost', 'needs --metrics-port: the port to serve /metrics and /healthz on');
  if (c.sink === 'file' && c.output === undefined) add('output', 'required with --sink file: the folder to write the files to (--output <dir>)');
  // Queries the cursor cannot be combined with: refused with the rest, before anything connects.
  const queries: Array<[string, string | undefined]> = [['query', c.query], ...Object.entries(c.tables ?? {}).map(([t, s]): [string, string | undefined] => [`tables.${t}.query`, s.query])];
  for (const [path, query] of queries) {
    if (query) for (const p of userQueryProblems(query)) add(path, p.replace(/^query: /, ''));
  }
  // Typed rows (--types, --format connect-json).
  if (c.format === 'connect-json' && c.sink !== undefined && c.sink !== 'kafka') {
    add('format', "connect-json is a Kafka message format (Kafka Connect's JsonConverter envelope): use it with --sink kafka, or --types for typed rows elsewhere");
  }
  if (typedRows(c)) {
    const modes: Array<[string, string | undefined]> = [['displayValue', c.displayValue], ...Object.entries(c.tables ?? {}).map(([t, s]): [string, string | undefined] => [`tables.${t}.displayValue`, s.displayValue])];
    for (const [path, mode] of modes) {
      if (mode !== undefined && mode !== 'false') {
        add(path, `must be false with --types${c.format === 'connect-json' ? ' (implied by --format connect-json)' : ''}, not ${mode}: types convert raw values; display values are text for people (dates in the user's time zone and format)`);
      }
    }
  }
  problems.push(...kafkaProblems({ ...c, sink: c.sink ?? '' }));
  problems.push(...httpProblems(c, failed), ...badRowProblems(c));
  problems.push(...stateProblems({ ...c, sink: c.sink ?? '' }));
  return problems.filter((p) => !failed.has(p.path));
}
