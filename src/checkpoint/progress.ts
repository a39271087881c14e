import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Cursor } from '../servicenow/query.js';
import { isSnTimestamp, toSnTimestamp } from '../servicenow/time.js';

/**
 * How far an export has come, per table: the typed model behind the checkpoint. It is read with
 * the schema below (a hand-made or damaged file is refused with what is wrong) and changed only
 * by the pure transitions in transitions.ts.
 */

export const CHECKPOINT_VERSION = 1;

/**
 * A cursor saved further ahead than this of the local clock is not a position any run reached
 * (a week: a host whose clock is a little behind the instance's must not refuse its own checkpoint).
 */
const FUTURE_SLACK_MS = 7 * 86_400_000;

/** What shapes a table's query: a checkpoint made for another shape would skip or repeat rows. */
export interface Scope {
  instance: string;
  table: string;
  query?: string;
  fields?: readonly string[];
  /** The timestamp the cursor follows, when not sys_updated_on. */
  cursorField?: string;
}

const time = (now: () => number) =>
  z.string({ error: 'must be a time such as "2024-01-01 10:00:00" (UTC)' }).superRefine((v, ctx) => {
    if (!isSnTimestamp(v)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a time such as "2024-01-01 10:00:00" (UTC)` });
    else if (v > toSnTimestamp(now() + FUTURE_SLACK_MS)) ctx.addIssue({ code: 'custom', message: `${v} is in the future: no run can have read that far` });
  });

function schemas(now: () => number) {
  const t = time(now);
  const cursor = z.object({ updatedOn: t, sysId: z.string({ error: 'must be a sys_id (a string)' }) }, { error: 'must be a cursor {"updatedOn": …, "sysId": …}' });
  const slice = z.object(
    {
      start: t,
      end: t,
      /** A cut inside a dense second: the slice starts after this row of `start`, and ends with this row of `end`. */
      startId: z.string().optional(),
      endId: z.string().optional(),
      /** Checkpoints of earlier versions: the slice owns its start second too. */
      first: z.boolean().default(false),
      cursor: cursor.optional(),
      done: z.boolean({ error: 'must be true or false' }),
    },
    { error: 'must be a slice {"start", "end", "done", "cursor"?}' },
  );
  /** Row versions written in the overlap window, by second: a rerun does not write them again. */
  const versions = z.record(t, z.array(z.string()));
  const table = z
    .object(
      {
        fingerprint: z.string(),
        scope: z.object({ instance: z.string(), table: z.string(), query: z.string().optional(), fields: z.array(z.string()).optional(), cursorField: z.string().optional() }),
        cursor,
        deletesCursor: cursor.optional(),
        rows: z.number({ error: 'must be a count' }).int().nonnegative(),
        deletes: z.number().int().nonnegative().optional(),
        slices: z.array(slice).min(1).optional(),
        slicesHi: t.optional(),
        recent: z.object({ rows: versions.optional(), deletes: versions.optional() }).optional(),
        recentFrom: z.object({ rows: cursor.optional(), deletes: cursor.optional() }).optional(),
      },
      { error: 'must be an object with the table\'s cursor' },
    )
    .superRefine((p, ctx) => {
      if ((p.slices === undefined) !== (p.slicesHi === undefined)) ctx.addIssue({ code: 'custom', path: ['slices'], message: 'slices and slicesHi go together' });
      for (const [i, s] of (p.slices ?? []).entries()) {
        // Inside one second a slice runs from a row to a later row, or from a row to the end of
        // that second (the last slice, when a cut or the first page ended in its high-water second).
        const startsBefore = s.start < s.end || (s.start === s.end && s.startId !== undefined && (s.endId === undefined || s.startId < s.endId));
        if (!startsBefore) ctx.addIssue({ code: 'custom', path: ['slices', i], message: `starts at ${s.start}, not before its end ${s.end}` });
      }
    });
  const file = z.object({
    version: z.literal(CHECKPOINT_VERSION, { error: (iss) => `must be ${CHECKPOINT_VERSION} (the number), not ${JSON.stringify(iss.input)}` }),
    updatedAt: z.string().optional(),
    tables: z.record(z.string(), table, { error: 'must be an object of tables' }),
  });
  return { file, table };
}

/**
 * A slice of a parallel backfill: the rows after `start` up to and including `end`. Without ids
 * a boundary is a whole second; with `startId`/`endId` it is a row inside that second, so a
 * dense second can be shared between slices.
 */
export type Slice = { start: string; end: string; startId?: string; endId?: string; first: boolean; cursor?: Cursor; done: boolean };
export type VersionWindow = Record<string, string[]>;
export type StreamName = 'rows' | 'deletes';

export interface TableProgress {
  fingerprint: string;
  scope: Scope;
  /** The row stream's position: every row at or before it is written. */
  cursor: Cursor;
  /** The position in sys_audit_delete (with --deletes). */
  deletesCursor?: Cursor;
  /** Rows written under this checkpoint, across runs. */
  rows: number;
  deletes?: number;
  /** A parallel backfill in progress: each slice resumes from its own cursor. */
  slices?: Slice[];
  /** The high-water mark the slices were planned up to. */
  slicesHi?: string;
  recent?: Partial<Record<StreamName, VersionWindow>>;
  /** Per stream, once the versions' cap forgot some: the re-read starts after this row (see transitions.remember). */
  recentFrom?: Partial<Record<StreamName, Cursor>>;
}

export interface CheckpointFile {
  version: number;
  updatedAt?: string;
  tables: Record<string, TableProgress>;
}

/**
 * Validates a checkpoint document; returns every problem as `path: message` (empty when good).
 * `now` is the local clock, to refuse positions in the future.
 */
export function checkCheckpoint(doc: unknown, now: () => number = Date.now): { file?: CheckpointFile; problems: string[] } {
  const result = schemas(now).file.safeParse(doc);
  if (result.success) return { file: result.data, problems: [] };
  const problems = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : 'the file'}: ${i.message}`);
  return { problems: [...new Set(problems)].slice(0, 8) };
}

export function fingerprint(scope: Scope): string {
  const canonical = JSON.stringify({
    instance: scope.instance.toLowerCase(),
    table: scope.table,
    query: scope.query ?? '',
    fields: scope.fields ? [...scope.fields].sort() : [],
    // Absent for sys_updated_on, so checkpoints made before the setting existed still match.
    ...(scope.cursorField && scope.cursorField !== 'sys_updated_on' ? { cursorField: scope.cursorField } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function describeScope(scope: Scope): string {
  const field = scope.cursorField && scope.cursorField !== 'sys_updated_on' ? `, cursor field ${scope.cursorField}` : '';
  return `instance ${scope.instance}, table ${scope.table}, query ${scope.query ? `"${scope.query}"` : '(none)'}, fields ${scope.fields?.length ? scope.fields.join(',') : '(all)'}${field}`;
}

/** The progress of a table nothing was written for yet. */
export function freshProgress(scope: Scope, since: string): TableProgress {
  return { fingerprint: fingerprint(scope), scope: { ...scope, fields: scope.fields ? [...scope.fields] : undefined }, cursor: { updatedOn: since, sysId: '' }, rows: 0 };
}
