import { unlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CheckpointError, FolderError } from '../errors/index.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { replaceFile } from '../fsutil/atomic-file.js';
import { FileLock, type LeaseOptions } from './lock.js';
import { CHECKPOINT_VERSION, checkCheckpoint, describeScope, fingerprint, type CheckpointFile, type Scope, type TableProgress } from './progress.js';

/**
 * Where progress is kept between runs. `save` resolves only once the progress is durable; saves
 * land in the order they were made.
 */
export interface CheckpointStore {
  /** Where it lives, for messages (a path). */
  readonly where: string;
  /** Takes the store for this run (a lock) and reads what is saved (unless `reset`). */
  open(options: { reset: boolean }): Promise<void>;
  /** A table's saved progress; refused (CheckpointError, exit 2) when saved for another query shape. */
  load(scope: Scope): TableProgress | undefined;
  save(progress: TableProgress): Promise<void>;
  /** Whether the table's progress is saved (by this run or an earlier one). */
  saved(table: string): boolean;
  close(): Promise<void>;
}

/** Refuses progress made for another query shape: resuming it would silently skip or repeat rows. */
export function checkScope(where: string, saved: TableProgress | undefined, scope: Scope): TableProgress | undefined {
  if (!saved) return undefined;
  if (saved.fingerprint !== fingerprint(scope)) {
    throw new CheckpointError(`the checkpoint ${where} was made for a different export (${describeScope(saved.scope)}); this run is ${describeScope(scope)}`, {
      exitCode: 2,
      hint: 'use another --checkpoint file for this export, or --reset to discard the old position and start over',
    });
  }
  return saved;
}

/** Parses and validates a checkpoint document; every problem is exit 2 with the --reset hint. */
export function parseCheckpoint(where: string, text: string, now?: () => number): CheckpointFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(where, [`not JSON (${(err as Error).message})`]);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(where, ['not a JSON object']);
  const version = (doc as { version?: unknown }).version;
  if (typeof version === 'number' && version > CHECKPOINT_VERSION) {
    throw new CheckpointError(`the checkpoint ${where} has version ${version}, written by a newer nowpipe; this one reads version ${CHECKPOINT_VERSION}`, {
      exitCode: 2,
      hint: 'run the nowpipe version that wrote it, or --reset to start over',
    });
  }
  const { file, problems } = checkCheckpoint(doc, now);
  if (!file) throw invalid(where, problems);
  return file;
}

function invalid(where: string, problems: string[]): CheckpointError {
  return new CheckpointError(`the checkpoint ${where} is not valid: ${problems.join('; ')}`, {
    exitCode: 2,
    hint: 'fix it, move it away, or use --reset to start over from --since (nowpipe never leaves a torn file: was it edited by hand?)',
  });
}

/**
 * The checkpoint file: versioned JSON, replaced atomically (tmp → fsync → rename) so kill -9
 * leaves either the old or the new version, and locked so two runs cannot share it.
 */
export class FileCheckpointStore implements CheckpointStore {
  private data: CheckpointFile = { version: CHECKPOINT_VERSION, tables: {} };
  private readonly lock: FileLock;
  private writing: Promise<void> = Promise.resolve();
  private readonly savedTables = new Set<string>();

  constructor(
    readonly where: string,
    lease: LeaseOptions = {},
  ) {
    this.lock = new FileLock(`${where}.lock`, { subject: `the checkpoint ${where}`, ...lease });
  }

  /** Aborted when another run took the checkpoint over (this one was stalled past the lease). */
  get lost(): AbortSignal {
    return this.lock.lost;
  }

  async open(options: { reset: boolean }): Promise<void> {
    await ensureDir(dirname(this.where)).catch((err: unknown) => {
      throw new CheckpointError(`cannot create the checkpoint folder ${dirname(this.where)}: ${err instanceof FolderError ? err.reason : (err as Error).message}`, {
        exitCode: 1,
        cause: err,
        hint: err instanceof FolderError ? err.hint : undefined,
      });
    });
    await this.lock.acquire();
    if (options.reset) return;
    let text: string;
    try {
      text = await readFile(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await this.lock.release();
      throw new CheckpointError(`cannot read the checkpoint ${this.where}: ${(err as Error).message}`, { exitCode: 1, cause: err });
    }
    try {
      this.data = parseCheckpoint(this.where, text);
    } catch (err) {
      await this.lock.release();
      throw err;
    }
    for (const table of Object.keys(this.data.tables)) this.savedTables.add(table);
  }

  load(scope: Scope): TableProgress | undefined {
    return checkScope(this.where, this.data.tables[scope.table], scope);
  }

  saved(table: string): boolean {
    return this.savedTables.has(table);
  }

  /** Writes the whole file with this table's progress. Writes are serialised so an older state never lands last. */
  save(progress: TableProgress): Promise<void> {
    this.data = { version: CHECKPOINT_VERSION, updatedAt: new Date().toISOString(), tables: { ...this.data.tables, [progress.scope.table]: progress } };
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    const table = progress.scope.table;
    const next = this.writing.then(async () => {
      // A run that lost its lease never overwrites the checkpoint of the run that took it over.
      await this.lock.assertHeld();
      return replaceFile(this.where, text).then(
        () => void this.savedTables.add(table),
        (err: NodeJS.ErrnoException) => {
          throw new CheckpointError(`cannot write the checkpoint ${this.where}: ${err.code ?? err.message}`, {
            exitCode: 1,
            cause: err,
            hint: 'the data written so far is safe; the next run resumes from the last saved position',
          });
        },
      );
    });
    this.writing = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.lock.release();
  }

  /** For a forced exit that cannot await: drop the lock so the next run need not wait for it. */
  releaseLockSync(): void {
    this.lock.releaseSync(unlinkSync);
  }
}

/** Progress kept in memory only: for tests, and for runs whose position need not outlive them. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly tables = new Map<string, TableProgress>();
  /** Every save, in order (tests read the history). */
  readonly history: TableProgress[] = [];
  /** Makes the next save fail (tests). */
  failNext?: Error;

  constructor(readonly where = 'memory') {}

  async open(options: { reset: boolean }): Promise<void> {
    if (options.reset) this.tables.clear();
  }

  load(scope: Scope): TableProgress | undefined {
    return checkScope(this.where, this.tables.get(scope.table), scope);
  }

  saved(table: string): boolean {
    return this.tables.has(table);
  }

  async save(progress: TableProgress): Promise<void> {
    const fail = this.failNext;
    if (fail) {
      this.failNext = undefined;
      throw fail;
    }
    const copy = structuredClone(progress);
    this.tables.set(progress.scope.table, copy);
    this.history.push(copy);
  }

  async close(): Promise<void> {}
}
