import { SinkError } from '../errors/index.js';
import type { ChangeRecord } from './types.js';

/**
 * What a sink does with a row it cannot write (bigger than a Kafka message may be, a value the
 * table's dictionary type cannot hold under --types): `--on-bad-row fail` (the default) stops
 * the run naming the row; `skip` sets it aside in the --dead-letter file with the reason, and
 * the sink counts it in its write's result (it is not in the destination, so not in the
 * summary's row count).
 */
export interface BadRowPolicy {
  readonly mode: 'fail' | 'skip';
  /**
   * Resolves once the row is durably set aside (skip); rejects with an error naming the row
   * (fail). The sink awaits it before its own write resolves, so the checkpoint never passes a
   * bad row that was neither written nor set aside. `hint`: what would let the row through (said
   * when the run stops on it).
   */
  reject(record: ChangeRecord, reason: string, hint?: string): Promise<void>;
  /** Where skipped rows go, for the summary (undefined with fail). */
  readonly where?: string;
}

/** `--on-bad-row fail`: the run stops on the first bad row, naming it. */
export const failOnBadRow: BadRowPolicy = {
  mode: 'fail',
  reject: (record, reason, hint) =>
    Promise.reject(
      new SinkError(`${record.table} row ${record.sysId} (sys_updated_on ${record.updatedOn}) cannot be written: ${reason}`, {
        hint: `${hint ?? 'fix the row or the setting named'}, or set such rows aside with --on-bad-row skip --dead-letter <file>`,
      }),
    ),
};
