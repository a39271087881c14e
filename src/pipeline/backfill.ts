import { sliceAdvanced, sliceDone, slicesMerged } from '../checkpoint/transitions.js';
import type { KeysetReader } from '../servicenow/reader.js';
import type { Clock } from './clock.js';
import type { Pump } from './pump.js';
import { pageBatch } from './catch-up.js';
import { sliceStartDelayMs, sliceSweep } from './slices.js';

/**
 * A parallel backfill of the row stream: every unfinished slice read concurrently into the one
 * pump (one write at a time), each committing its own cursor, so a stop or a crash resumes each
 * slice where it was. A slice is done only once it is read to its end and its last rows are
 * durable; when all are, the table goes on as one cursor at the highest row written.
 */
export async function backfillSlices(pump: Pump, reader: KeysetReader, overlap: number, clock: Clock, signal: AbortSignal): Promise<void> {
  const slices = pump.progress.slices;
  if (!slices) return;
  const inner = new AbortController();
  const onAbort = () => inner.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let firstError: { error: unknown } | undefined;
  const pending = slices.map((s, index) => ({ s, index })).filter(({ s }) => !s.done);
  try {
    await Promise.all(
      pending.map(async ({ s, index }, nth) => {
        try {
          await clock.sleep(sliceStartDelayMs(nth, pending.length), inner.signal);
          const { from, options } = sliceSweep(s);
          // Each slice asks for its next page while its last one is still being written: slices
          // exist because the instance is slow, and that wait is then hidden.
          for await (const page of reader.sweep(from, s.end, inner.signal, { ...options, readAhead: true })) {
            await pump.deliver(pageBatch('rows', page, (p, written) => sliceAdvanced(p, index, page.cursor, written, overlap)));
          }
          await pump.update((p) => sliceDone(p, index));
        } catch (error) {
          // One slice failing stops the others; each keeps what it committed.
          firstError ??= { error };
          inner.abort(error);
        }
      }),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  // What was written before a failure or a stop is committed; a failed write is the error.
  await pump.drain().catch((error: unknown) => (firstError ??= { error }));
  // A write that failed is the error even while stopping: the run must not look like a clean stop.
  if (pump.broken !== undefined) throw pump.broken as Error; // as it was thrown
  if (firstError) {
    if (signal.aborted) throw signal.reason;
    throw firstError.error;
  }
  await pump.update((p) => slicesMerged(p, overlap));
}
