import type { Op } from '../servicenow/entry.js';
import type { Row } from '../servicenow/response.js';

export type { Op } from '../servicenow/entry.js';

/** One change to deliver: a row version, or a delete (row null). */
export interface ChangeRecord {
  op: Op;
  table: string;
  instance: string;
  sysId: string;
  /** Raw `sys_updated_on` (for deletes: when the delete was recorded). */
  updatedOn: string;
  row: Row | null;
}

/**
 * A destination. `write` resolves only when the records are durable there (stdout drained,
 * file fsynced, Kafka acknowledged); the pipeline commits the checkpoint after that, never before.
 */
export interface Sink {
  readonly name: string;
  /** Connects and checks health before any data moves. */
  open(): Promise<void>;
  /**
   * Resolves once the records are durable. Rows the sink set aside under `--on-bad-row skip`
   * (too big for a Kafka message, not convertible with --types) are counted in the result: they
   * are in the dead-letter file, not in the destination.
   */
  write(records: ChangeRecord[]): Promise<WriteResult | void>;
  /** Flushes and releases everything; after a clean close all written data is final. */
  close(): Promise<void>;
  /**
   * Only for an output a reader consumes through a buffer (a pipe): when the reader goes away,
   * up to `unreadAtMost` bytes already handed on may never have been read, so the pipeline moves
   * the checkpoint back before them.
   */
  readonly pipe?: OutputPipe;
  /** Where the data went, in a few words for the summary (`3 files in out/incident`). */
  describe?(): string | undefined;
}

export interface WriteResult {
  /** Rows set aside as bad (written to the dead-letter file), not written to the destination. */
  skipped?: number;
}

export interface OutputPipe {
  /** Bytes handed on so far. */
  handedOn(): number;
  /** How many of them may still sit unread when the reader goes away. */
  readonly unreadAtMost: number;
  /** True once the reader went away. */
  closed(): boolean;
}

/**
 * What a sink may tell people, while data goes elsewhere: the run's reporter fits it. A sink
 * depends on this narrow shape, not on the terminal code (see test/unit/layers.test.ts).
 */
export interface SinkNotices {
  readonly verboseEnabled: boolean;
  info(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
}
