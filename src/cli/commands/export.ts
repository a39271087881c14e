import { CheckpointStore } from '../../checkpoint/store.js';
import { loadConfig } from '../../config/load.js';
import { configForTable, type Config } from '../../config/schema.js';
import type { Sink } from '../../sinks/types.js';
import { reportError } from '../exit.js';
import { ConfigError } from '../../errors/index.js';
import { deleteStream, Exporter, newStats, rowStream, type Stream } from '../../pipeline/export.js';
import { OutageLog } from '../../ui/outage.js';
import { userQueryProblems } from '../../servicenow/query.js';
import { count, formatCount, Reporter } from '../../ui/reporter.js';
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
  const problems = config.tableNames.flatMap((t) => {
    const q = configForTable(config, t).query;
    return q ? userQueryProblems(q).map((p) => (config.tableNames.length > 1 ? `${t}.${p}` : p)) : [];
  });
  if (problems.length > 0) throw new ConfigError(problems);
}

/** One sink write at a time for the whole run, whatever reads concurrently (tables, slices). */
function serialSink(sink: Sink): Sink {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    name: sink.name,
    open: () => sink.open(),
    close: () => sink.close(),
    write(records) {
      const next = tail.then(() => sink.write(records));
      tail = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * Runs an export with a resolved config. Shared by the default command and `demo`.
 * `checkpointName`: how the summary names the checkpoint (demo's is temporary).
 */
export async function runExport(config: Config, reporter: Reporter, checkpointName: string = config.checkpoint): Promise<number> {
  validateForExport(config);
  const stats = newStats();
  const outage = new OutageLog(reporter);
  const client = buildClient(config, reporter, stats, outage);
  const sink = serialSink(await buildSink(config, reporter));
  const store = new CheckpointStore(config.checkpoint);
  await store.open({ reset: config.reset });
  const { signal, dispose } = installSignalHandlers(reporter);
  // One table failing stops the others (gracefully, each keeping what it committed) unless
  // --continue-on-error.
  const run = new AbortController();
  signal.addEventListener('abort', () => run.abort(signal.reason), { once: true });
  let sinkOpen = false;
  try {
    // The sink's health check runs before anything is read from the instance.
    await sink.open();
    sinkOpen = true;
    const exporters = config.tableNames.map((table) => {
      const tc = configForTable(config, table);
      const streams: Stream[] = [rowStream(buildReader(tc, client, reporter), tc)];
      if (tc.deletes) streams.push(deleteStream(buildDeletesReader(tc, client, reporter), tc));
      return { table, exporter: new Exporter({ config: tc, client, streams, sink, store, reporter, stats, signal: run.signal, outage }) };
    });
    const failures: Array<{ table: string; err: unknown }> = [];
    reporter.startProgress();
    await Promise.all(
      exporters.map(async ({ table, exporter }) => {
        try {
          return await exporter.run();
        } catch (err) {
          failures.push({ table, err });
          if (!config.continueOnError) run.abort(err);
          return undefined;
        }
      }),
    );
    await sink.close();
    sinkOpen = false;
    const seconds = reporter.elapsedSeconds();
    const rate = seconds > 0 ? Math.round(stats.rows / seconds) : stats.rows;
    const extra = [
      config.deletes ? count(stats.deletes, 'delete') : '',
      stats.duplicatesDropped > 0 ? `${formatCount(stats.duplicatesDropped)} re-read duplicates dropped` : '',
    ].filter(Boolean);
    const stopped = signal.aborted;
    const where = config.tableNames.length === 1 ? `checkpoint ${exporters[0]!.exporter.position()} in ${checkpointName}` : `checkpoint ${checkpointName}`;
    if (failures.length === 0 || stats.rows > 0) {
      reporter.summary(
        `${failures.length > 0 ? 'failed' : stopped ? 'stopped' : 'done'}: ${count(stats.rows, 'row')} of ${config.tableNames.join(', ')}${extra.length ? ` (${extra.join(', ')})` : ''} in ${seconds.toFixed(1)} s (${formatCount(rate)} rows/s), ${count(stats.pages, 'page')}, ${count(stats.retries, 'retry', 'retries')}; ${where}`,
      );
    }
    if (failures.length === 0) return 0;
    let code = 1;
    for (const [i, { table, err }] of failures.entries()) {
      if (config.tableNames.length > 1 && err instanceof Error) err.message = `${table}: ${err.message}`;
      const c = reportError(err, reporter);
      if (i === 0) code = c;
    }
    return code;
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
