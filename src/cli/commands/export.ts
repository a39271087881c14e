import { loadConfig } from '../../config/load.js';
import { configForTable, type Config } from '../../config/schema.js';
import { ConfigError } from '../../errors/index.js';
import { instanceTime, systemClock } from '../../pipeline/clock.js';
import { newStats, RunEvents } from '../../pipeline/events.js';
import { runTables } from '../../pipeline/run.js';
import { userQueryProblems } from '../../servicenow/query.js';
import { OutageLog } from '../../ui/outage.js';
import { Reporter } from '../../ui/reporter.js';
import { RunView } from '../../ui/run-view.js';
import { buildClient, buildSink, tableJob } from '../components.js';
import { attachObservers } from '../observers.js';
import { endRun } from '../run-end.js';
import { installSignalHandlers } from '../signals.js';
import { buildStore } from '../state.js';

export type Flags = Record<string, unknown>;

export function validateForExport(config: Config): void {
  const problems = config.tableNames.flatMap((t) => {
    const q = configForTable(config, t).query;
    return q ? userQueryProblems(q).map((p) => (config.tableNames.length > 1 ? `${t}.${p}` : p)) : [];
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Runs an export with a resolved config. Shared by the default command and `demo`.
 * `nameCheckpoint` false: the summary does not name the checkpoint (demo's is temporary).
 */
export async function runExport(config: Config, reporter: Reporter, options: { nameCheckpoint?: boolean } = {}): Promise<number> {
  validateForExport(config);
  // --group: this process is one member of many sharing the tables (src/cli/group-export.ts).
  if (config.group !== undefined) return (await import('../group-export.js')).runGroupExport(config, reporter);
  const stats = newStats();
  const events = new RunEvents();
  const outage = new OutageLog(reporter);
  new RunView(reporter, stats, outage).attach(events);
  const client = buildClient(config, reporter, stats, outage);
  // Closed in reverse order whatever happens, also when building a later component fails.
  const cleanup: Array<() => unknown> = [];
  try {
    const observers = await attachObservers(config, { reporter, events, stats, client });
    cleanup.push(() => observers.close());
    const sink = await buildSink(config, reporter, client);
    const store = await buildStore(config, reporter);
    await store.open({ reset: config.reset });
    cleanup.push(() => store.close());
    const { signal: stopped, dispose } = installSignalHandlers(reporter, () => store.releaseLockSync());
    cleanup.push(dispose);
    // A run that lost its lease (stalled while another took the checkpoint over) stops writing at once.
    const signal = AbortSignal.any([stopped, store.lost]);
    const jobs = config.tableNames.map((table) => tableJob(configForTable(config, table), client, events));
    reporter.startProgress();
    const result = await runTables(jobs, { sink, store, events, stats, clock: systemClock, instance: instanceTime(client.clock), signal }, { continueOnError: config.continueOnError });
    return endRun(reporter, config, result, stats, {
      tableNames: config.tableNames,
      stopped: stopped.aborted,
      lost: store.lost.aborted ? store.lost.reason : undefined,
      checkpoint: options.nameCheckpoint === false ? undefined : store.where,
      destination: sink.describe?.(),
    });
  } finally {
    for (const close of cleanup.reverse()) await close();
  }
}

export async function exportCommand(flags: Flags): Promise<number> {
  const { config, warnings } = await loadConfig({ flags });
  const reporter = new Reporter({ quiet: config.quiet, verbose: config.verbose, format: config.logFormat });
  for (const w of warnings) reporter.warn(w);
  return runExport(config, reporter);
}
