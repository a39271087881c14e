import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SinkError } from '../../errors/index.js';
import type { Cursor } from '../../servicenow/query.js';
import { formatLine, type Format } from '../format.js';
import type { ChangeRecord, Sink } from '../types.js';
import { diskError } from './disk.js';
import { Manifest } from './manifest.js';
import { fileName, MANIFEST_NAME, type Compression } from './naming.js';
import { PartFile } from './part-file.js';
import { recover, type RecoveryReport } from './recovery.js';

export interface FileSinkOptions {
  /** `--output`: files go to `<dir>/<table>/`. */
  dir: string;
  table: string;
  format: Format;
  compress: Compression;
  /** Close a file once it holds this many rows. */
  maxRows: number;
  /** Close a file before it grows past this many bytes on disk (gzip: checked every MiB of input). */
  maxBytes: number;
  /** Close a file this many seconds after its first row, even if no more rows come. */
  maxAgeSeconds: number;
  /** Told what recovery did (people, not data: stderr). */
  notice?: (message: string) => void;
}

export const FILE_SINK_DEFAULTS = {
  maxRows: 1_000_000,
  maxBytes: 128 * 1024 * 1024,
  maxAgeSeconds: 300,
} as const;

/** With gzip, the compressed size is known only after a flush: flush (and check) every MiB of text. */
const GZIP_CHECK_BYTES = 1 << 20;

/**
 * Rotated NDJSON files that are never half-written. Rows are appended to `<name>.part`, and a
 * `write` resolves only after they are fsynced there: the checkpoint may then move past them
 * while the file is still open. Closing fsyncs, renames to the final name and appends a
 * manifest line. A `.part` left by kill -9 holds only rows the checkpoint covers (plus at most
 * the page that was being written), and the next run's `open` completes it before any new row.
 */
export class FileSink implements Sink {
  readonly name = 'file';
  readonly folder: string;
  private readonly manifest: Manifest;
  private part?: PartFile;
  private sequence = 1;
  private ageTimer?: NodeJS.Timeout;
  /** Every disk operation runs in this chain, so the age timer never interleaves with a write. */
  private chain: Promise<void> = Promise.resolve();
  /** After a disk failure nothing more is written; the error is repeated to every caller. */
  private broken?: SinkError;
  private opened = false;
  recovery?: RecoveryReport;

  constructor(private readonly options: FileSinkOptions) {
    this.folder = join(options.dir, options.table);
    this.manifest = new Manifest(join(this.folder, MANIFEST_NAME));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      if (this.broken) throw this.broken;
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

  private async fail(err: unknown): Promise<SinkError> {
    if (this.broken) return this.broken;
    const e = err instanceof SinkError ? err : diskError(err, 'write', this.part?.partPath ?? this.folder);
    this.broken = e;
    this.clearTimer();
    const part = this.part;
    this.part = undefined;
    await part?.abandon();
    return e;
  }

  /** Creates the folder, proves it writable, and completes what a previous run left behind. */
  async open(): Promise<void> {
    try {
      await mkdir(this.folder, { recursive: true });
    } catch (err) {
      throw diskError(err, 'create the output folder', this.folder);
    }
    // A real create, not access(2): root passes access checks on a read-only mount.
    const probe = join(this.folder, `.nowpipe-probe-${process.pid}`);
    try {
      await (await open(probe, 'w')).close();
      await unlink(probe);
    } catch (err) {
      throw diskError(err, 'write in the output folder', this.folder);
    }
    this.recovery = await recover(this.folder, this.options.table, this.manifest, new Date());
    this.sequence = this.recovery.nextSequence;
    const { completed, removed, relisted } = this.recovery;
    for (const c of completed) this.options.notice?.(`completed ${c.file} (${c.rows} rows) left open by an earlier run`);
    if (removed.length > 0) this.options.notice?.(`removed ${removed.length} empty .part file(s) left by an earlier run`);
    if (relisted.length > 0) this.options.notice?.(`listed ${relisted.join(', ')} in the manifest (an earlier run stopped before it could)`);
    this.opened = true;
  }

  write(records: ChangeRecord[]): Promise<void> {
    if (!this.opened) return Promise.reject(new SinkError('file sink: write before open'));
    return this.serial(() => this.writeNow(records));
  }

  /** Whether the open file, with `rows`/`bytes` still buffered, must close before the next line. */
  private full(rows: number, bytes: number, nextBytes: number): boolean {
    const p = this.part!;
    const { maxRows, maxBytes, maxAgeSeconds, compress } = this.options;
    if (p.rows + rows === 0) return false;
    if (p.rows + rows >= maxRows) return true;
    if (Date.now() - p.openedAt >= maxAgeSeconds * 1000) return true;
    // gzip's size is known only after a flush; plain text is exact to the line.
    return compress === 'gzip' ? p.bytes >= maxBytes : p.bytes + bytes + nextBytes > maxBytes;
  }

  private async writeNow(records: ChangeRecord[]): Promise<void> {
    let text = '';
    let textBytes = 0;
    let rows = 0;
    let first: Cursor | undefined;
    let last: Cursor | undefined;
    const flush = async () => {
      if (rows === 0) return;
      await this.part!.append(text, rows, first!, last!);
      text = '';
      textBytes = 0;
      rows = 0;
      first = undefined;
    };
    for (const r of records) {
      const line = formatLine(r, this.options.format);
      const bytes = Buffer.byteLength(line);
      const cursor = { updatedOn: r.updatedOn, sysId: r.sysId };
      if (this.part && this.full(rows, textBytes, bytes)) {
        await flush();
        await this.rotate();
      }
      this.part ??= await this.openPart(cursor);
      text += line;
      textBytes += bytes;
      rows += 1;
      first ??= cursor;
      last = cursor;
      if (this.options.compress === 'gzip' && textBytes >= Math.min(GZIP_CHECK_BYTES, this.options.maxBytes)) await flush();
    }
    await flush();
    await this.part?.sync();
  }

  private async openPart(first: Cursor): Promise<PartFile> {
    const { table, compress, maxAgeSeconds } = this.options;
    const part = await PartFile.create(this.folder, fileName(table, first, this.sequence, compress), compress);
    this.sequence += 1;
    this.clearTimer();
    this.ageTimer = setTimeout(() => {
      // A quiet table still gets its file closed; the chain orders this after any write in flight.
      this.serial(async () => {
        if (this.part === part) await this.rotate();
      }).catch(() => undefined); // kept in `broken`: the next write or close reports it
    }, maxAgeSeconds * 1000);
    this.ageTimer.unref();
    return part;
  }

  private clearTimer(): void {
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
  }

  /** Closes the open file: final name, then its manifest line. */
  private async rotate(): Promise<void> {
    const part = this.part;
    if (!part) return;
    this.clearTimer();
    const entry = await part.close(new Date());
    this.part = undefined;
    await this.manifest.append(entry);
  }

  /** Resolves when every queued disk operation (writes, an age rotation) has finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    try {
      await this.serial(() => this.rotate());
    } finally {
      this.opened = false;
      this.clearTimer();
    }
  }
}
