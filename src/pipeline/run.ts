import type { Sink } from '../sinks/types.js';
import { runTable, type RunDeps, type TableJob, type TableOutcome } from './table-run.js';

export interface RunResult {
  tables: TableOutcome[];
  /** The tables that failed, in the order they failed. */
  failures: TableOutcome[];
}

/** One sink write at a time for the whole run, whatever reads concurrently (tables, slices). */
export function serialSink(sink: Sink): Sink {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    name: sink.name,
    pipe: sink.pipe,
    open: () => sink.open(),
    close: () => sink.close(),
    describe: () => sink.describe?.(),
    write(records) {
      const next = tail.then(() => sink.write(records));
      tail = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * Every table of the run, concurrently, into one sink. The sink's health check (`open`) runs
 * before anything is read. One table failing stops the others (each keeping what it committed)
 * unless `continueOnError`. The sink is closed (its data made final) before this returns.
 */
export async function runTables(jobs: readonly TableJob[], deps: RunDeps, options: { continueOnError: boolean }): Promise<RunResult> {
  const sink = serialSink(deps.sink);
  await sink.open();
  const run = new AbortController();
  const onStop = () => run.abort(deps.signal.reason);
  deps.signal.addEventListener('abort', onStop, { once: true });
  const failures: TableOutcome[] = [];
  let tables: TableOutcome[];
  try {
    tables = await Promise.all(
      jobs.map(async (job) => {
        const outcome = await runTable(job, { ...deps, sink, signal: run.signal });
        if (outcome.error !== undefined) {
          failures.push(outcome);
          if (!options.continueOnError) run.abort(outcome.error);
        }
        return outcome;
      }),
    );
  } finally {
    deps.signal.removeEventListener('abort', onStop);
  }
  // The output's reader went away (`| head`): every table moves back before what it may not
  // have read, those that had finished too.
  if (sink.pipe?.closed()) for (const t of tables) await t.rewind();
  await sink.close();
  return { tables, failures };
}
