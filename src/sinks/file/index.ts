import { join } from 'node:path';
import { replaceFile } from '../../fsutil/atomic-file.js';
import { DEFAULT_STALE_AFTER_MS } from '../../checkpoint/lock.js';
import { SinkError } from '../../errors/index.js';
import type { Format } from '../format.js';
import { diskError } from './disk.js';
import type { ChangeRecord, Sink } from '../types.js';
import type { Compression } from './naming.js';
import type { PartFile } from './part-file.js';
import type { RecoveryReport } from './recovery.js';
import { TableFiles } from './table-files.js';

export interface FileSinkOptions {
  /** `--output`: each table's files go to `<dir>/<table>/`. */
  dir: string;
  /** The tables of the run: their folders are checked and recovered at `open`. */
  tables: string[];
  format: Format;
  compress: Compression;
  /** Close a file once it holds this many rows. */
  maxRows: number;
  /** Close a file before it grows past this many bytes on disk (gzip: checked every MiB of text). */
  maxBytes: number;
  /** Close a file this many seconds after its first row, even if no more rows come. */
  maxAgeSeconds: number;
  /** Told what recovery did (people, not data: stderr). */
  notice?: (message: string) => void;
  /** Told when a table folder's lock left by another run is taken over. */
  warn?: (message: string) => void;
  /** `--lock-stale-after`: a folder lock not refreshed for this long is taken over (default 30 s). */
  lockStaleAfterSeconds?: number;
}

/**
 * Rotated NDJSON files that are never half-written. Rows are appended to `<name>.part`, and a
 * `write` resolves only after they are fsynced there: the checkpoint may then move past them
 * while the file is still open. Closing fsyncs, renames to the final name and appends a
 * manifest line. A `.part` left by kill -9 holds only rows the checkpoint covers (plus at most
 * the page that was being written), and the next run's `open` completes it before any new row.
 *
 * Each table folder is leased to one run at a time (TableFiles.lock): a second run on the same
 * folder is refused at `open`, before it writes anything. Every disk operation first checks that
 * the lease is still ours; once lost (this process was stopped long enough for another run to
 * take the folder over) nothing more is written, not even the cleanup of our `.part`.
 */
export class FileSink implements Sink {
  readonly name = 'file';
  private readonly tables = new Map<string, TableFiles>();
  /** Every disk operation runs in this chain, so the age timer never interleaves with a write. */
  private chain: Promise<void> = Promise.resolve();
  /** After a disk failure nothing more is written; the error is repeated to every caller. */
  private broken?: Error;
  private opened = false;
  /** What `open` found and repaired, per table. */
  readonly recovery = new Map<string, RecoveryReport>();

  constructor(private readonly options: FileSinkOptions) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      if (this.broken) throw this.broken;
      await this.checkLeases();
      try {
        return await fn();
      } catch (err) {
        throw await this.fail(err);
      }
    });
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async fail(err: unknown): Promise<Error> {
    // Disk errors come wrapped from where the path is known; anything else is a bug, kept as is.
    this.broken = err instanceof Error ? err : new Error(String(err));
    for (const t of this.tables.values()) await t.abandon();
    return this.broken;
  }

  /** Before any disk operation: every folder's lease is still ours. If not, touch nothing more. */
  private async checkLeases(): Promise<void> {
    try {
      for (const t of this.tables.values()) await t.lock.assertHeld();
    } catch (err) {
      this.broken = err as Error;
      for (const t of this.tables.values()) await t.forget();
      throw err;
    }
  }

  private readonly onAged = (files: TableFiles, part: PartFile) => {
    this.serial(async () => {
      if (files.part === part) await files.rotate();
    }).catch(() => undefined); // kept in `broken`: the next write or close reports it
  };

  private async table(name: string): Promise<TableFiles> {
    let t = this.tables.get(name);
    if (t) return t;
    const say = this.options.notice;
    const warn = this.options.warn;
    t = new TableFiles(this.options.dir, name, this.options, this.onAged, {
      staleAfterMs: (this.options.lockStaleAfterSeconds ?? DEFAULT_STALE_AFTER_MS / 1000) * 1000,
      onTakeover: (message) => warn?.(`file sink: ${message}`),
    });
    const report = await t.open();
    this.tables.set(name, t);
    this.recovery.set(name, report);
    for (const c of report.completed) say?.(`completed ${c.file} (${c.rows} rows) left open by an earlier run`);
    if (report.removed.length > 0) say?.(`removed ${report.removed.length} .part file(s) without a complete row left by an earlier run`);
    if (report.relisted.length > 0) say?.(`listed ${report.relisted.join(', ')} in the manifest (an earlier run stopped before it could)`);
    return t;
  }

  /** Creates each table's folder, takes its lock, and completes what a previous run left there. */
  async open(): Promise<void> {
    try {
      for (const name of this.options.tables) await this.table(name);
    } catch (err) {
      await this.releaseLocks();
      throw err;
    }
    this.opened = true;
  }

  private async releaseLocks(): Promise<void> {
    for (const t of this.tables.values()) await t.lock.release();
  }

  write(records: ChangeRecord[]): Promise<void> {
    if (!this.opened) return Promise.reject(new SinkError('file sink: write before open'));
    if (records.length === 0) return Promise.resolve();
    return this.serial(async () => {
      // Almost always one table per call; several are written in the order they first appear.
      const byTable = new Map<string, ChangeRecord[]>();
      for (const r of records) {
        const list = byTable.get(r.table);
        if (list) list.push(r);
        else byTable.set(r.table, [r]);
      }
      for (const [name, list] of byTable) await (await this.table(name)).write(list);
    });
  }

  /**
   * Replaces a file beside a table's data files (`schema.json` with --types) atomically, in the
   * write chain and only while the folder's lease is ours.
   */
  writeBeside(table: string, name: string, text: string): Promise<void> {
    if (!this.opened) return Promise.reject(new SinkError('file sink: write before open'));
    const path = join(this.options.dir, table, name);
    return this.serial(async () => {
      try {
        await replaceFile(path, text, 0o666); // as the data files: the umask decides
      } catch (err) {
        throw diskError(err, 'write', path);
      }
    });
  }

  /** The files this run completed and where: `2 files in out/incident`. */
  describe(): string | undefined {
    const parts = [...this.tables.entries()].filter(([, t]) => t.completed > 0).map(([name, t]) => `${t.completed} ${t.completed === 1 ? 'file' : 'files'} in ${join(this.options.dir, name)}`);
    return parts.length > 0 ? parts.join(', ') : `no new file in ${this.options.dir}`;
  }

  /** Resolves when every queued disk operation (writes, an age rotation) has finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    try {
      await this.serial(async () => {
        for (const t of this.tables.values()) await t.rotate();
      });
    } finally {
      this.opened = false;
      for (const t of this.tables.values()) t.clearTimer();
      await this.releaseLocks();
    }
  }
}
