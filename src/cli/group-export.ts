import { configForTable, type Config } from '../config/schema.js';
import { assignTopic } from '../config/state-rules.js';
import { runGroup } from '../group/run.js';
import { instanceTime, systemClock } from '../pipeline/clock.js';
import { newStats, RunEvents } from '../pipeline/events.js';
import { OutageLog } from '../ui/outage.js';
import type { Reporter } from '../ui/reporter.js';
import { RunView } from '../ui/run-view.js';
import { buildClient, buildSink, tableJob } from './components.js';
import { attachObservers } from './observers.js';
import { endRun } from './run-end.js';
import { installSignalHandlers } from './signals.js';
import { kafkaStateFor, stateConnection } from './state.js';

/**
 * An export as a member of a group (--group): the tables of --table are shared among every
 * process started with the same group; this one runs those the group gives it, until stopped.
 * The summary at the end counts what this member wrote. runExport, its one caller, has
 * validated the config.
 */
export async function runGroupExport(config: Config, reporter: Reporter): Promise<number> {
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
    return endRun(reporter, config, result, stats, {
      tableNames: result.tables.length > 0 ? result.tables.map((t) => t.table) : config.tableNames,
      stopped: signal.aborted,
      checkpoint: state.where,
      destination: sink.describe?.(),
    });
  } finally {
    for (const close of cleanup.reverse()) await close();
  }
}
