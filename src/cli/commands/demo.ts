import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kebabToCamel } from '../../config/keys.js';
import { registerConfigSecrets, resolveConfig } from '../../config/load.js';
import { ConfigError } from '../../errors/index.js';
import { startSimulator } from '../../sim/index.js';
import { formatCount, Reporter } from '../../ui/reporter.js';
import { DEMO_REFUSED } from '../options.js';
import { runExport, type Flags } from './export.js';

/** Building the table takes about a second per 70,000 rows on a fast machine: from here on, say so first. */
const SAY_BUILDING_FROM = 20_000;

/** Every problem with demo's own flags at once; demo reads no rc file and no environment. */
function demoProblems(flags: Flags, count: number): string[] {
  const problems: string[] = [];
  const refused = DEMO_REFUSED.filter((flag) => flags[kebabToCamel(flag.slice(2))] !== undefined);
  if (refused.length > 0) {
    problems.push(`${refused.join(', ')}: demo always runs against its built-in simulated instance (drop ${refused.length === 1 ? 'it' : 'them'}, or run the export without demo)`);
  }
  if (!Number.isInteger(count) || count < 0 || count > 5_000_000) problems.push('--rows: must be a whole number from 0 to 5000000');
  return problems;
}

/**
 * `nowpipe demo`: the real export, over real HTTP, against the built-in simulated instance, so
 * a newcomer sees the tool work with no instance and no credentials.
 */
export async function demoCommand(flags: Flags): Promise<number> {
  const { rows, ...rest } = flags;
  const count = rows === undefined ? 2000 : Number(rows);
  const problems = demoProblems(flags, count);
  if (problems.length > 0) throw new ConfigError(problems, { hint: 'run nowpipe demo --help for its options' });
  const reporter = new Reporter({ quiet: flags.quiet === true, verbose: flags.verbose === true });
  if (count >= SAY_BUILDING_FROM) reporter.info(`building ${formatCount(count)} rows…`);
  const sim = await startSimulator({ rows: count, rowBytes: 1000 });
  // The simulated instance lives as long as the command: so does its checkpoint, unless asked for.
  const scratch = rest.checkpoint === undefined ? await mkdtemp(join(tmpdir(), 'nowpipe-demo-')) : undefined;
  // A second Ctrl-C exits at once (main.ts calls process.exit when the signal handler says so),
  // past every finally below: only a synchronous 'exit' hook still runs then.
  const removeScratch = () => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  };
  process.on('exit', removeScratch);
  try {
    const checkpoint = (rest.checkpoint as string | undefined) ?? join(scratch!, 'checkpoint.json');
    const { config, warnings } = resolveConfig({
      // A demo feed polls every second unless told otherwise: 20 s of silence looks broken.
      flags: { table: 'incident', user: 'admin', password: 'admin', pollInterval: '1', ...rest, url: sim.url, checkpoint },
    });
    registerConfigSecrets(config);
    for (const w of warnings) reporter.warn(w);
    reporter.info(`demo instance with ${formatCount(count)} incidents at ${sim.url} (user admin); checkpoint ${scratch ? 'in a temporary folder, removed at the end' : checkpoint}`);
    const stop = config.follow ? sim.startLiveChanges({ perSecond: 2, table: config.table, deleteRatio: 0.1 }) : () => undefined;
    try {
      return await runExport(config, new Reporter({ quiet: config.quiet, verbose: config.verbose }), { nameCheckpoint: scratch === undefined });
    } finally {
      stop();
    }
  } finally {
    await sim.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    process.off('exit', removeScratch);
  }
}
