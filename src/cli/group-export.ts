import { configForTable, type Config } from '../config/schema.js';
import { assignTopic } from '../config/state-rules.js';
import { OutputClosedError } from '../errors/index.js';
import { runGroup } from '../group/run.js';
import { instanceTime, systemClock } from '../pipeline/clock.js';
import { newStats, RunEvents } from '../pipeline/events.js';
import { OutageLog } from '../ui/outage.js';
import type { Reporter } from '../ui/reporter.js';
import { RunView } from '../ui/run-view.js';
import { summaryLine } from '../ui/summary.js';
import { validateForExport } from './commands/export.js';
import { buildClient, buildSink, tableJob } from './components.js';
import { reportError } from './exit.js';
import { attachObservers } from './observers.js';
import { installSignalHandlers } from './signals.js';
import { kafkaStateFor, stateConnection } from './state.js';

/**
 * An export as a member of a group (--group): the tables of --table are shared among every
 * process started with the same group; this one runs those the group gives it, until stopped.
 * The summary at the end counts what this member wrote.
 */
export async function runGroupExport(config: Config, reporter: Reporter): Promise<number> {
  validateForExport(config);
  const group = config.group!;
  const stats = newStats();
  const events = new RunEvents();
  const outage = new OutageLog(reporter);
  new RunView(reporter, stats, outage).attach(events);
  const client = buildClient(config, reporter, stats, outage);
  // Closed in reverse order whatever happens, also when building a later component fails.
  const cleanup: Array<() => unknown> = [];
  try {
    // Metrics and health (--metrics-port) count what this member does, for the tables it runs.
    const observers = await attachObservers(config, { reporter, events, stats, client });
    cleanup.push(() => observers.close());
    const sink = await buildSink(config, reporter, client);
    const state = await kafkaStateFor(config, reporter);
    await state.open();
    cleanup.push(() => state.close());
    const { signal, dispose } = installSignalHandlers(reporter);
    cleanup.push(dispose);
    const jobs = config.tableNames.map((table) => tableJob(configForTable(config, table), client, events));
    reporter.info(`group ${group}: joining; the tables ${config.tableNames.join(', ')} are shared among its members`);
    reporter.startProgress();
    const result = await runGroup(jobs, { sink, events, stats, clock: systemClock, instance: instanceTime(client.clock), signal }, {
      group,
      assignTopic: assignTopic(group),
      connection: stateConnection(config),
      state,
      instance: config.url,
      sessionTimeoutMs: config.lockStaleAfter * 1000,
      notices: reporter,
      onRunning: (tables) => observers.runs(tables),
    });
    const failures = result.failures.filter((f) => !(f.error instanceof OutputClosedError));
    if (failures.length === 0 || stats.rows + stats.deletes > 0) {
      reporter.summary(
        summaryLine(result, stats, {
          tableNames: result.tables.length > 0 ? result.tables.map((t) => t.table) : config.tableNames,
          deletes: config.deletes,
          failed: failures.length > 0,
          stopped: signal.aborted || failures.length < result.failures.length,
          seconds: reporter.elapsedSeconds(),
          checkpoint: state.where,
          destination: sink.describe?.(),
          deadLetter: config.deadLetter,
        }),
      );
    }
    let code = 0;
    for (const [i, { table, error }] of failures.entries()) {
      if (table && config.tableNames.length > 1 && error instanceof Error && !error.message.startsWith(`${table}: `)) error.message = `${table}: ${error.message}`;
      const c = reportError(error, reporter);
      if (i === 0) code = c;
    }
    return code;
  } finally {
    for (const close of cleanup.reverse()) await close();
  }
}
