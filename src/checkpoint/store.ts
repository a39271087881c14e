import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { unlinkSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { CheckpointError } from '../errors/index.js';
import type { Cursor } from '../servicenow/query.js';
import { FileLock } from './lock.js';

export const CHECKPOINT_VERSION = 1;

/** What shapes a table's query: a checkpoint made for another shape would skip or repeat rows. */
export interface Scope {
  instance: string;
  table: string;
  query?: string;
  fields?: readonly string[];
}

export interface TableState {
  fingerprint: string;
  scope: Scope;
  cursor: Cursor;
  /** Cursor of the sys_audit_delete poller (part 2). */
  deletesCursor?: Cursor;
  /** Rows written under this checkpoint, across runs. */
  rows: number;
  /** Extra per-table state owned by later features (slices, dedup). */
  [extra: string]: unknown;
}

export interface CheckpointFile {
  version: number;
  updatedAt: string;
  tables: Record<string, TableState>;
}

export function fingerprint(scope: Scope): string {
  const canonical = JSON.stringify({
    instance: scope.instance.toLowerCase(),
    table: scope.table,
    query: scope.query ?? '',
    fields: scope.fields ? [...scope.fields].sort() : [],
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

function describe(scope: Scope): string {
  return `instance ${scope.instance}, table ${scope.table}, query ${scope.query ? `"${scope.query}"` : '(none)'}, fields ${scope.fields?.length ? scope.fields.join(',') : '(all)'}`;
}

/**
 * The checkpoint file: versioned JSON, written atomically (tmp → fsync → rename) so kill -9
 * leaves either the old or the new version, and locked so two runs cannot share it.
 */
export class CheckpointStore {
  private data: CheckpointFile = { version: CHECKPOINT_VERSION, updatedAt: new Date(0).toISOString(), tables: {} };
  private readonly lock: FileLock;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {
    this.lock = new FileLock(`${path}.lock`);
  }

  /** Takes the lock and reads the file (unless `reset`). */
  async open(options: { reset: boolean }): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw new CheckpointError(`cannot create the checkpoint folder ${dirname(this.path)}: ${err.code ?? err.message}`, { exitCode: 1, cause: err });
    });
    await this.lock.acquire();
    process.once('exit', () => this.lock.releaseSync(unlinkSync));
    if (options.reset) return;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await this.lock.release();
      throw new CheckpointError(`cannot read the checkpoint ${this.path}: ${(err as Error).message}`, { exitCode: 1, cause: err });
    }
    try {
      const parsed = JSON.parse(text) as CheckpointFile;
      if (typeof parsed !== 'object' || parsed === null || typeof parsed.tables !== 'object') throw new Error('not a nowpipe checkpoint');
      if (parsed.version !== CHECKPOINT_VERSION) {
        throw new CheckpointError(`the checkpoint ${this.path} has version ${parsed.version}; this nowpipe reads version ${CHECKPOINT_VERSION}`, {
          exitCode: 2,
          hint: 'use the nowpipe version that wrote it, or --reset to start over',
        });
      }
      this.data = parsed;
    } catch (err) {
      await this.lock.release();
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(`the checkpoint ${this.path} is not valid: ${(err as Error).message}`, {
        exitCode: 2,
        hint: 'it was not written by nowpipe (nowpipe never leaves a torn file); move it away or use --reset',
      });
    }
  }

  /**
   * The saved state for this scope, or undefined when there is none. A state saved for another
   * query shape is refused: resuming it would silently skip or repeat rows.
   */
  table(scope: Scope): TableState | undefined {
    const state = this.data.tables[scope.table];
    if (!state) return undefined;
    const fp = fingerprint(scope);
    if (state.fingerprint !== fp) {
      throw new CheckpointError(
        `the checkpoint ${this.path} was made for a different export (${describe(state.scope)}); this run is ${describe(scope)}`,
        { exitCode: 2, hint: 'use another --checkpoint file for this export, or --reset to discard the old position and start over' },
      );
    }
    return state;
  }

  /** Updates a table's state in memory; `commit` makes it durable. */
  set(scope: Scope, update: Partial<TableState> & { cursor: Cursor }): TableState {
    const prev = this.data.tables[scope.table];
    const next: TableState = { ...(prev ?? { rows: 0 }), ...update, fingerprint: fingerprint(scope), scope: { ...scope } } as TableState;
    this.data.tables[scope.table] = next;
    return next;
  }

  snapshot(): CheckpointFile {
    return structuredClone(this.data);
  }

  /** Writes the file atomically. Commits are serialised so an older state never lands last. */
  commit(): Promise<void> {
    this.data.updatedAt = new Date().toISOString();
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    const next = this.writing.then(() =>
      writeFileAtomic(this.path, text, { fsync: true, mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
        throw new CheckpointError(`cannot write the checkpoint ${this.path}: ${err.code ?? err.message}`, {
          exitCode: 1,
          cause: err,
          hint: 'the data written so far is safe; the next run resumes from the last saved position',
        });
      }),
    );
    this.writing = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.lock.release();
  }
}
