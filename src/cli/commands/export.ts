import { CheckpointStore } from '../../checkpoint/store.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../errors/index.js';
import { deleteStream, Exporter, newStats, rowStream, type Stream } from '../../pipeline/export.js';
import { OutageLog } from '../../ui/outage.js';
import { userQueryProblems } from '../../servicenow/query.js';
import { formatCount, Reporter } from '../../ui/reporter.js';
import { buildClient, buildDeletesReader, buildReader, buildSink } from '../components.js';

export type Flags = Record<string, unknown>;

/** SIGINT/SIGTERM: the first stops gracefully, the second exits at once (the checkpoint is atomic). */
export function installSignalHandlers(reporter: Reporter): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      reporter.error(`${sig} again: exiting now`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    reporter.info(`${sig}: finishing the page in flight and saving the checkpoint (again to quit at once)`);
    controller.abort(new DOMException('stopped by signal', 'AbortError'));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export function validateForExport(config: Config): void {
  const problems = config.query ? userQueryProblems(config.query) : [];
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Runs an export with a resolved config. Shared by the default command and `demo`. */
export async function runExport(config: Config, reporter: Reporter): Promise<number> {
  validateForExport(config);
  const stats = newStats();
  const outage = new OutageLog(reporter);
  const client = buildClient(config, reporter, stats, outage);
  const streams: Stream[] = [rowStream(buildReader(config, client, reporter), config)];
  if (config.deletes) streams.push(deleteStream(buildDeletesReader(config, client, reporter), config));
  const sink = await buildSink(config);
  const store = new CheckpointStore(config.checkpoint);
  await store.open({ reset: config.reset });
  const { signal, dispose } = installSignalHandlers(reporter);
  let sinkOpen = false;
  try {
    // The sink's health check runs before anything is read from the instance.
    await sink.open();
    sinkOpen = true;
    const exporter = new Exporter({ config, client, streams, sink, store, reporter, stats, signal, outage });
    const result = await exporter.run();
    await sink.close();
    sinkOpen = false;
    const rate = result.seconds > 0 ? Math.round(stats.rows / result.seconds) : stats.rows;
    const extra = [
      config.deletes ? `${formatCount(stats.deletes)} deletes` : '',
      stats.duplicatesDropped > 0 ? `${formatCount(stats.duplicatesDropped)} re-read duplicates dropped` : '',
    ].filter(Boolean);
    reporter.summary(
      `${result.stopped ? 'stopped' : 'done'}: ${formatCount(stats.rows)} rows of ${config.table}${extra.length ? ` (${extra.join(', ')})` : ''} in ${result.seconds.toFixed(1)} s (${formatCount(rate)} rows/s), ${stats.pages} pages, ${stats.retries} retries; checkpoint at ${result.cursor?.updatedOn ?? config.since} in ${config.checkpoint}`,
    );
    return 0;
  } finally {
    dispose();
    if (sinkOpen) await sink.close().catch(() => undefined);
    await store.close();
  }
}

export async function exportCommand(flags: Flags): Promise<number> {
  const { config, warnings } = await loadConfig({ flags });
  const reporter = new Reporter({ quiet: config.quiet, verbose: config.verbose });
  for (const w of warnings) reporter.warn(w);
  return runExport(config, reporter);
}
