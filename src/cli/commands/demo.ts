import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../config/load.js';
import { startSimulator } from '../../sim/index.js';
import { Reporter } from '../../ui/reporter.js';
import { runExport, type Flags } from './export.js';

/**
 * `nowpipe demo`: the real export, over real HTTP, against the built-in simulated instance, so
 * a newcomer sees the tool work with no instance and no credentials.
 */
export async function demoCommand(flags: Flags): Promise<number> {
  const { rows, ...rest } = flags;
  const count = rows === undefined ? 2000 : Number(rows);
  const reporter = new Reporter({ quiet: flags.quiet === true, verbose: flags.verbose === true });
  if (!Number.isInteger(count) || count < 0 || count > 5_000_000) {
    reporter.error('rows: must be a whole number from 0 to 5000000');
    return 2;
  }
  const sim = await startSimulator({ rows: count, rowBytes: 1000 });
  // The simulated instance lives as long as the command: so does its checkpoint, unless asked for.
  const scratch = rest.checkpoint === undefined ? await mkdtemp(join(tmpdir(), 'nowpipe-demo-')) : undefined;
  try {
    const checkpoint = (rest.checkpoint as string | undefined) ?? join(scratch!, 'checkpoint.json');
    const { config, warnings } = resolveConfig({
      // A demo feed polls every second unless told otherwise: 20 s of silence looks broken.
      flags: { table: 'incident', user: 'admin', password: 'admin', pollInterval: '1', ...rest, url: sim.url, checkpoint },
    });
    for (const w of warnings) reporter.warn(w);
    reporter.info(`demo instance with ${count} incidents at ${sim.url} (user admin); checkpoint ${scratch ? 'in a temporary folder, removed at the end' : checkpoint}`);
    const stop = config.follow ? sim.startLiveChanges({ perSecond: 2, table: config.table, deleteRatio: 0.1 }) : () => undefined;
    try {
      return await runExport(config, new Reporter({ quiet: config.quiet, verbose: config.verbose }), { nameCheckpoint: scratch === undefined });
    } finally {
      stop();
    }
  } finally {
    await sim.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
