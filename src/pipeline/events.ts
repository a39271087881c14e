import type { StreamName } from '../checkpoint/progress.js';
import type { NowpipeError } from '../errors/index.js';
import type { Cursor } from '../servicenow/query.js';

/**
 * What a run tells people about, as data: the pipeline emits these and never prints; the
 * terminal view (ui/run-view.ts) and anything else (metrics, JSON logs) subscribe.
 */
export type RunEvent =
  | { type: 'resumed'; table: string; cursor: Cursor; slices?: { done: number; of: number }; rowsBefore: number }
  | { type: 'reading'; table: string; from: string; hi: string; total?: number }
  | { type: 'slices-planned'; table: string; slices: Array<{ start: string; end: string }> }
  | { type: 'first-page'; table: string; waitMs: number; workMs: number; slice: boolean }
  | { type: 'committed'; table: string; stream: StreamName; written: number; cursor: Cursor; slices?: { done: number; of: number } }
  | { type: 'hidden-rows'; table: string; stepped: number; total: number }
  | { type: 'warning'; table?: string; message: string; once?: string }
  | { type: 'info'; table?: string; message: string }
  | { type: 'caught-up'; table: string; cursor?: Cursor; pollSeconds: number }
  | { type: 'waiting'; table: string; status: FollowStatus }
  | { type: 'poll-failed'; table: string; error: NowpipeError }
  | { type: 'poll-ok'; table: string }
  | { type: 'rewound'; table: string; to: Cursor; reason: string };

/** The follow loop between polls. */
export interface FollowStatus {
  cursor?: Cursor;
  /** The instance's clock now (ms). */
  instanceNow: number;
  /** Changes written by the last poll. */
  lastPollChanges: number;
  /** The last poll read everything up to its high-water mark. */
  upToDate: boolean;
  /** Local ms of the next poll. */
  nextPollAt: number;
}

export type RunEventListener = (event: RunEvent) => void;

export class RunEvents {
  private readonly listeners: RunEventListener[] = [];

  on(listener: RunEventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit(event: RunEvent): void {
    for (const l of this.listeners) l(event);
  }
}

/** Counters of the whole run, across tables. */
export interface RunStats {
  rows: number;
  deletes: number;
  /** Responses from the instance that returned rows. */
  pages: number;
  retries: number;
  /** Row versions re-read in the overlap window and dropped as already written. */
  duplicatesDropped: number;
  /** Rows set aside as bad (--on-bad-row skip): in the dead-letter file, not the destination. */
  badRows: number;
  /** Rows expected (X-Total-Count of the probes), for the ETA. */
  total?: number;
}

export function newStats(): RunStats {
  return { rows: 0, deletes: 0, pages: 0, retries: 0, duplicatesDropped: 0, badRows: 0 };
}
