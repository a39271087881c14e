import { loadConfig } from '../../config/load.js';
import { configForTable, type Config } from '../../config/schema.js';
import type { ServiceNowClient } from '../../servicenow/client.js';
import { newStats } from '../../pipeline/events.js';
import { rawValue } from '../../servicenow/entry.js';
import { fromSnTimestamp, isSnTimestamp } from '../../servicenow/time.js';
import { count, Reporter } from '../../ui/reporter.js';
import { buildClient } from '../components.js';
import type { Flags } from './export.js';

/** The server's clock ahead (+) or behind (−) the local one, in seconds, with `Date`'s 1 s resolution. */
function skewSeconds(serverMs: number | undefined, localMs: number): number | undefined {
  return serverMs === undefined ? undefined : (serverMs - localMs) / 1000;
}

/**
 * `nowpipe check`: connect, authenticate, read one row of each table, and report what matters
 * before a long export: row count, clock skew, whether timestamps look like UTC, delete auditing.
 * Exit 1 with the reason if not.
 */
export async function checkCommand(flags: Flags): Promise<number> {
  const { config, warnings, source } = await loadConfig({ flags });
  const reporter = new Reporter({ quiet: false, verbose: config.verbose });
  const ok = (m: string) => reporter.info(`${reporter.color.green('✓')} ${m}`);
  const bad = (m: string) => reporter.info(`${reporter.color.red('✗')} ${m}`);
  for (const w of warnings) reporter.warn(w);
  if (source) ok(`settings from ${source}`);

  const stats = newStats();
  const client = buildClient({ ...config, retries: Math.min(config.retries, 2) }, reporter, stats);
  const several = config.tableNames.length > 1;
  let failures = 0;
  for (const [i, table] of config.tableNames.entries()) {
    try {
      failures += await checkTable(configForTable(config, table), client, { ok, bad, reporter, clock: i === 0 });
    } catch (err) {
      // A table that cannot be read at all ends the check, named when there are several.
      if (several && err instanceof Error) err.message = `${table}: ${err.message}`;
      throw err;
    }
  }
  return failures === 0 ? 0 : 1;
}

interface Say {
  ok: (m: string) => void;
  bad: (m: string) => void;
  reporter: Reporter;
  /** Check the clock on this table's answer (once per run is enough). */
  clock: boolean;
}

/** The checks of one table; returns how many failed. Throws when the table cannot be read at all. */
async function checkTable(config: Config, client: ServiceNowClient, { ok, bad, reporter, clock }: Say): Promise<number> {
  const sent = Date.now();
  const latest = await client.getTable(config.table, {
    sysparm_query: `${config.query ? `${config.query}^` : ''}ORDERBYDESCsys_updated_on`,
    sysparm_limit: 1,
  });
  const received = Date.now();
  const who = config.user ? ` as ${config.user}` : config.clientId ? ` with OAuth client ${config.clientId}` : '';
  ok(`connected to ${config.url}${who} and read table ${config.table}`);
  const matching = latest.totalCount === undefined ? undefined : `${count(latest.totalCount, 'row')} of ${config.table} ${latest.totalCount === 1 ? 'matches' : 'match'}`;
  ok(`${matching ?? 'row count not reported'}${config.query ? ` --query ${config.query}` : ''} (before ACLs)`);

  let failures = 0;
  if (clock) {
    const skew = skewSeconds(latest.serverDate, (sent + received) / 2);
    if (skew === undefined) {
      bad('the instance sent no Date header: nowpipe will use the local clock for its high-water mark');
      failures++;
    } else if (Math.abs(skew) > 60) {
      reporter.warn(`the server clock is ${skew.toFixed(0)} s ${skew > 0 ? 'ahead of' : 'behind'} the local clock; nowpipe uses the server's`);
    } else {
      ok(`server clock within ${Math.max(1, Math.ceil(Math.abs(skew)))} s of the local clock`);
    }
  }

  const row = latest.rows[0];
  if (!row) {
    reporter.info(`  no rows of ${config.table} visible to this user (an empty table, a filter, or ACLs)`);
  } else {
    const updated = rawValue(row.sys_updated_on);
    if (!isSnTimestamp(updated)) {
      bad(`sys_updated_on is not a raw UTC timestamp (${JSON.stringify(updated)})`);
      failures++;
    } else {
      const server = latest.serverDate ?? received;
      const ahead = (fromSnTimestamp(updated).toMillis() - server) / 1000;
      if (ahead > 120) {
        bad(`the latest sys_updated_on (${updated}) is ${Math.round(ahead / 60)} min after the server clock: timestamps do not look like UTC`);
        failures++;
      } else {
        ok(`timestamps look like UTC (latest update of ${config.table} ${updated}, ${Math.max(0, Math.round(-ahead))} s before the server clock)`);
      }
    }
  }
  // Deletes come from sys_audit_delete: worth knowing before anyone relies on --deletes.
  try {
    const audit = await client.getTable('sys_audit_delete', {
      sysparm_query: `tablename=${config.table}^ORDERBYDESCsys_created_on`,
      sysparm_limit: 1,
      sysparm_fields: 'sys_id,sys_created_on,documentkey',
    });
    const lastDelete = audit.rows[0] ? rawValue(audit.rows[0].sys_created_on) : undefined;
    if (lastDelete) ok(`delete auditing works for ${config.table} (latest delete recorded ${String(lastDelete)})`);
    else reporter.info(`  no deletes recorded for ${config.table} in sys_audit_delete: delete auditing may be off for it, or nothing was deleted yet`);
  } catch (err) {
    const line = `cannot read sys_audit_delete (${(err as Error).message}): --deletes needs a role that can read it`;
    if (config.deletes) {
      bad(line);
      failures++;
    } else {
      reporter.info(`  ${line}`);
    }
  }
  return failures;
}
