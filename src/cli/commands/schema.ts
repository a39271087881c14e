import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../errors/index.js';
import { newStats } from '../../pipeline/events.js';
import { readTableTypes } from '../../servicenow/dictionary.js';
import { connectSchema, jsonSchema } from '../../sinks/typed/schema.js';
import { Reporter } from '../../ui/reporter.js';
import { buildClient } from '../components.js';
import type { Flags } from './export.js';

/**
 * `nowpipe schema --table incident [--format json-schema|connect]`: the table's types, read from
 * its dictionary (with its parents'), as one JSON document on stdout. The same types --types
 * writes rows by, so the schema and the rows agree.
 */
export async function schemaCommand(flags: Flags): Promise<number> {
  // --format here names the schema's shape, not the export's row format: kept out of the config.
  const { format = 'json-schema', ...rest } = flags;
  const { config, warnings } = await loadConfig({ flags: rest });
  const reporter = new Reporter({ quiet: config.quiet, verbose: config.verbose });
  for (const w of warnings) reporter.warn(w);
  if (config.tableNames.length > 1) {
    throw new ConfigError(`--table: schema prints one table's schema; got ${config.tableNames.join(', ')}`, { hint: 'run nowpipe schema once per table' });
  }
  const client = buildClient(config, reporter, newStats());
  const types = await readTableTypes(client, config.table);
  const schema = format === 'connect' ? connectSchema(types) : jsonSchema(types);
  process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
  return 0;
}
