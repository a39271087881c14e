import { loadConfig, type LoadedConfig } from '../../config/load.js';
import { secretsOf } from '../../config/resolve.js';
import { configForTable, typedRows, type Config } from '../../config/schema.js';
import { readTableTypes } from '../../servicenow/dictionary.js';
import { redact, redactWith } from '../../errors/redact.js';
import { NowpipeError } from '../../errors/index.js';
import type { ServiceNowClient } from '../../servicenow/client.js';
import { newStats } from '../../pipeline/events.js';
import { rawText, rawValue } from '../../servicenow/entry.js';
import { fromSnTimestamp, isSnTimestamp } from '../../servicenow/time.js';
import { count, formatCount, Reporter } from '../../ui/reporter.js';
import { buildClient } from '../components.js';
import type { Flags } from './export.js';

/** ok and fail decide the exit code; warn goes to stderr; info is a plain note in the report. */
export type CheckStatus = 'ok' | 'fail' | 'warn' | 'info';

export interface CheckResult {
  /** What was checked: settings, connect, count, query, clock, utc, deletes, types. */
  check: string;
  status: CheckStatus;
  message: string;
  table?: string;
  details?: Record<string, unknown>;
}

/** What `check --json` prints: one document with every check, for scripts. */
export interface CheckReport {
  ok: boolean;
  warnings: string[];
  checks: CheckResult[];
  /** Set when the check could not go on (bad settings, credentials refused, unknown table). */
  error?: { message: string; hint?: string };
}

/**
 * The report is the command's output, so it goes to stdout (as text lines as they happen, or as
 * one JSON document at the end); warnings and errors go to stderr either way.
 */
class Report {
  readonly checks: CheckResult[] = [];
  readonly warnings: string[] = [];
  // The report is data for people (or --json): never in the log format of stderr.
  private readonly out = new Reporter({ stream: process.stdout, format: 'human' });

  constructor(
    readonly err: Reporter,
    private readonly json: boolean,
    /** Values never to print: an instance can echo them back in an error's text. */
    private readonly secrets: string[] = [],
  ) {}

  /** Every secret in every form (encoded, base64, tokens met at run time), as stderr redacts them. */
  redact(text: string): string {
    return redact(redactWith(text, this.secrets));
  }

  warning(message: string): void {
    this.warnings.push(message);
    this.err.warn(message);
  }

  add(result: CheckResult): void {
    this.checks.push(result);
    if (result.status === 'warn') this.err.warn(result.message, { table: result.table });
    else if (!this.json) this.out.info(this.line(result));
  }

  private line({ status, message }: CheckResult): string {
    const { green, red } = this.out.color;
    return status === 'ok' ? `${green('✓')} ${message}` : status === 'fail' ? `${red('✗')} ${message}` : `  ${message}`;
  }

  get failures(): number {
    return this.checks.filter((c) => c.status === 'fail').length;
  }

  print(error?: unknown): void {
    if (!this.json) return;
    const report: CheckReport = { ok: error === undefined && this.failures === 0, warnings: this.warnings, checks: this.checks };
    if (error !== undefined) {
      report.error =
        error instanceof NowpipeError
          ? { message: this.redact(error.message), ...(error.hint ? { hint: this.redact(error.hint) } : {}) }
          : { message: this.redact(`unexpected error: ${error instanceof Error ? error.message : JSON.stringify(error)}`) };
    }
    // Every string of the document, not only the error: an instance's text can echo a secret anywhere.
    process.stdout.write(`${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'string' ? this.redact(value) : value), 2)}\n`);
  }
}

/** The server's clock ahead (+) or behind (−) the local one, in seconds, with `Date`'s 1 s resolution. */
function skewSeconds(serverMs: number | undefined, localMs: number): number | undefined {
  return serverMs === undefined ? undefined : (serverMs - localMs) / 1000;
}

/**
 * `nowpipe check`: connect, authenticate, read one row of each table, and report what matters
 * before a long export: row count, clock skew, whether timestamps look like UTC, delete auditing,
 * and with --types the table's dictionary.
 * Exit 1 with the reason if not.
 */
export async function checkCommand(flags: Flags): Promise<number> {
  const { json, ...rest } = flags;
  let report: Report | undefined;
  try {
    const loaded = await loadConfig({ flags: rest });
    const secrets = secretsOf(loaded.config);
    report = new Report(new Reporter({ quiet: false, verbose: loaded.config.verbose, format: loaded.config.logFormat }), json === true, secrets);
    await runChecks(loaded, report);
  } catch (err) {
    // The error itself goes to stderr from the CLI, with its exit code; --json still gets its document.
    (report ?? new Report(new Reporter(), json === true, secretsOf(rest))).print(err);
    throw err;
  }
  report.print();
  return report.failures === 0 ? 0 : 1;
}

async function runChecks({ config, warnings, source }: LoadedConfig, report: Report): Promise<void> {
  for (const w of warnings) report.warning(w);
  if (source) report.add({ check: 'settings', status: 'ok', message: `settings from ${source}`, details: { file: source } });

  const stats = newStats();
  const client = buildClient({ ...config, retries: Math.min(config.retries, 2) }, report.err, stats);
  const several = config.tableNames.length > 1;
  for (const [i, table] of config.tableNames.entries()) {
    try {
      await checkTable(configForTable(config, table), client, report, i === 0);
    } catch (err) {
      // A table that cannot be read at all ends the check, named when there are several.
      if (several && err instanceof Error) err.message = `${table}: ${err.message}`;
      throw err;
    }
  }
}

/** The checks of one table. Throws when the table cannot be read at all. */
async function checkTable(config: Config, client: ServiceNowClient, report: Report, clock: boolean): Promise<void> {
  const table = config.table;
  const add = (check: string, status: CheckStatus, message: string, details?: Record<string, unknown>) =>
    report.add({ table, check, status, message, ...(details ? { details } : {}) });
  const field = config.cursorField;
  const sent = Date.now();
  const latest = await client.getTable(table, {
    sysparm_query: `${config.query ? `${config.query}^` : ''}ORDERBYDESC${field}`,
    sysparm_limit: 1,
  });
  const received = Date.now();
  const who = config.user ? ` as ${config.user}` : config.clientId ? ` with OAuth client ${config.clientId}` : '';
  add('connect', 'ok', `connected to ${config.url}${who} and read table ${table}`, {
    url: config.url,
    ...(config.user ? { user: config.user } : config.clientId ? { oauthClient: config.clientId } : {}),
  });
  await checkCount(config, client, latest.totalCount, add);

  if (clock) {
    const skew = skewSeconds(latest.serverDate, (sent + received) / 2);
    if (skew === undefined) {
      add('clock', 'warn', 'the instance sent no Date header: nowpipe will use the local clock for its high-water mark');
    } else if (Math.abs(skew) > 60) {
      add('clock', 'warn', `the server clock is ${skew.toFixed(0)} s ${skew > 0 ? 'ahead of' : 'behind'} the local clock; nowpipe uses the server's`, { skewSeconds: Math.round(skew) });
    } else {
      add('clock', 'ok', `server clock within ${Math.max(1, Math.ceil(Math.abs(skew)))} s of the local clock`, { skewSeconds: Math.round(skew) });
    }
  }

  const row = latest.rows[0];
  if (!row) {
    add('utc', 'info', `no rows of ${table} visible to this user (an empty table, a filter, or ACLs)`);
  } else {
    const updated = rawValue(row[field]);
    if (!isSnTimestamp(updated)) {
      const what = updated === undefined ? `${table} has no field ${field} (the instance ignored it)` : `${field} is not a raw UTC date-time (${JSON.stringify(updated)})`;
      add('utc', 'fail', `${what}: it cannot be the cursor${field === 'sys_updated_on' ? '' : ' (--cursor-field)'}`, { latestUpdate: updated ?? null });
    } else {
      const server = latest.serverDate ?? received;
      const ahead = (fromSnTimestamp(updated).toMillis() - server) / 1000;
      const details = { latestUpdate: updated, secondsBeforeServerClock: Math.round(-ahead) };
      if (ahead > 120) {
        add('utc', 'fail', `the latest ${field} (${updated}) is ${Math.round(ahead / 60)} min after the server clock: timestamps do not look like UTC`, details);
      } else {
        add('utc', 'ok', `timestamps look like UTC (latest ${field} of ${table} ${updated}, ${Math.max(0, Math.round(-ahead))} s before the server clock)`, details);
      }
    }
  }
  await checkDeletes(config, client, add, (m) => report.redact(m));
  if (typedRows(config)) await checkTypes(config, client, add, (m) => report.redact(m));
}

/** --types reads the table's dictionary at start: whether it can, and what it finds. */
async function checkTypes(config: Config, client: ServiceNowClient, add: Add, redact: (m: string) => string): Promise<void> {
  try {
    const types = await readTableTypes(client, config.table);
    const inherited = [...types.fields.values()].filter((f) => f.definedOn !== config.table).length;
    const typed = [...types.fields.values()].filter((f) => f.kind !== 'string').length;
    add('types', 'ok', `--types: ${count(types.fields.size, 'field')} of ${types.lineage.join(' → ')} in sys_dictionary (${formatCount(inherited)} inherited), ${formatCount(typed)} converted from strings`, {
      lineage: types.lineage,
      fields: types.fields.size,
      inherited,
      typed,
    });
  } catch (err) {
    const message = redact((err as Error).message);
    add('types', 'fail', `--types cannot read the table's dictionary (${message})`, { error: message });
  }
}

type Add = (check: string, status: CheckStatus, message: string, details?: Record<string, unknown>) => void;

/**
 * The row count, and with --query the count without it: ServiceNow drops conditions on fields
 * that do not exist, so a misspelt field matches every row instead of failing.
 */
async function checkCount(config: Config, client: ServiceNowClient, matching: number | undefined, add: Add): Promise<void> {
  const { table, query } = config;
  if (matching === undefined) {
    add('count', 'ok', `row count not reported${query ? ` --query ${query}` : ''} (before ACLs)`, { rows: null, ...(query ? { query } : {}) });
    return;
  }
  if (!query) {
    add('count', 'ok', `${count(matching, 'row')} of ${table} ${matching === 1 ? 'matches' : 'match'} (before ACLs)`, { rows: matching });
    return;
  }
  const all = (await client.getTable(table, { sysparm_limit: 1, sysparm_fields: 'sys_id' })).totalCount;
  const of = all === undefined ? `${count(matching, 'row')}` : `${formatCount(matching)} of ${count(all, 'row')}`;
  add('count', 'ok', `${of} of ${table} ${matching === 1 ? 'matches' : 'match'} --query ${query} (before ACLs)`, { rows: matching, query, rowsWithoutQuery: all ?? null });
  if (all !== undefined && all > 0 && matching === all) {
    add(
      'query',
      'warn',
      `--query ${query} matches all ${formatCount(all)} rows of ${table}, as many as no query: ServiceNow ignores conditions on fields that do not exist, so a field name may be misspelt`,
      { query, rows: matching, rowsWithoutQuery: all },
    );
  }
}

/** Deletes come from sys_audit_delete: worth knowing before anyone relies on --deletes. */
async function checkDeletes(config: Config, client: ServiceNowClient, add: Add, redact: (m: string) => string): Promise<void> {
  const { table } = config;
  try {
    const audit = await client.getTable('sys_audit_delete', {
      sysparm_query: `tablename=${table}^ORDERBYDESCsys_created_on`,
      sysparm_limit: 1,
      sysparm_fields: 'sys_id,sys_created_on,documentkey',
    });
    const lastDelete = audit.rows[0] ? rawText(audit.rows[0].sys_created_on) : undefined;
    if (lastDelete) add('deletes', 'ok', `delete auditing works for ${table} (latest delete recorded ${lastDelete})`, { latestDelete: lastDelete });
    else add('deletes', 'info', `no deletes recorded for ${table} in sys_audit_delete: delete auditing may be off for it, or nothing was deleted yet`, { latestDelete: null });
  } catch (err) {
    const message = redact((err as Error).message);
    add('deletes', config.deletes ? 'fail' : 'info', `cannot read sys_audit_delete (${message}): --deletes needs a role that can read it`, { error: message });
  }
}
