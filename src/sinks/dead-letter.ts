import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SinkError } from '../errors/index.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { errnoWords } from '../fsutil/errno-words.js';
import type { BadRowPolicy } from './bad-rows.js';
import { formatJson } from './format.js';
import type { ChangeRecord, SinkNotices } from './types.js';

/** Rows named one by one in warnings; past that, only the summary's count. */
const NAMED = 10;

export interface DeadLetterOptions {
  /** `--dead-letter <file>`. */
  path: string;
  notices?: Pick<SinkNotices, 'warn'>;
  now?: () => Date;
}

/**
 * `--on-bad-row skip`: each row a sink cannot write is appended to the dead-letter file as one
 * JSON line, `{"reason","table","sys_id","sys_updated_on","at","record"}` (`record`: the row as
 * the instance sent it, or the delete marker), and fsynced before `reject` resolves, so the
 * checkpoint never moves past a bad row that is not on disk. The file is created 0600 (a row can
 * hold anything), never through a symbolic link, and only when a first row is set aside; it is
 * appended to across runs.
 */
export class DeadLetterFile implements BadRowPolicy {
  readonly mode = 'skip' as const;
  readonly where: string;
  private readonly path: string;
  private chain: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(private readonly options: DeadLetterOptions) {
    this.where = options.path;
    this.path = resolve(options.path);
  }

  /**
   * Before any data moves: the folder exists (created if missing) and the file can be appended
   * to, so a bad path fails the run at once rather than at its first bad row.
   */
  async prepare(): Promise<void> {
    await ensureDir(dirname(this.path));
    const existing = await stat(this.path).catch(() => undefined);
    try {
      if (existing?.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
      if (existing) await (await this.openForAppend()).close();
      else await access(dirname(this.path), constants.W_OK);
    } catch (err) {
      throw this.failure(err);
    }
  }

  reject(record: ChangeRecord, reason: string): Promise<void> {
    const line = `${this.lineOf(record, reason)}\n`;
    const run = this.chain.then(() => this.append(line));
    this.chain = run.catch(() => undefined);
    return run.then(() => this.told(record, reason));
  }

  private lineOf(r: ChangeRecord, reason: string): string {
    const at = (this.options.now?.() ?? new Date()).toISOString();
    const head = JSON.stringify({ reason, table: r.table, sys_id: r.sysId, sys_updated_on: r.updatedOn, at });
    // The row's own text (faithful, and safe however deep it nests), as the raw format writes it.
    return `${head.slice(0, -1)},"record":${formatJson(r, 'raw')}}`;
  }

  private openForAppend() {
    return open(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  }

  private async append(line: string): Promise<void> {
    const existed = await stat(this.path).then(
      () => true,
      () => false,
    );
    try {
      const file = await this.openForAppend();
      try {
        await file.write(line);
        await file.sync();
      } finally {
        await file.close();
      }
      if (!existed) await this.syncFolder();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** A new file's name is durable only once its folder is synced. */
  private async syncFolder(): Promise<void> {
    const dir = await open(dirname(this.path), constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private told(record: ChangeRecord, reason: string): void {
    this.count += 1;
    const warn = this.options.notices?.warn.bind(this.options.notices);
    if (this.count <= NAMED) warn?.(`set aside ${record.table} row ${record.sysId} in ${this.where}: ${reason}`);
    else if (this.count === NAMED + 1) warn?.(`setting more rows aside in ${this.where} (the summary counts them)`);
  }

  private failure(err: unknown): SinkError {
    const code = (err as NodeJS.ErrnoException).code;
    const words = code === 'ELOOP' ? 'it is a symbolic link (name the file itself)' : code === 'EISDIR' ? 'it is a folder' : errnoWords(err);
    return new SinkError(`cannot write to the dead-letter file ${this.where}: ${words}`, {
      cause: err,
      hint: 'choose a --dead-letter file this user can create and append to',
    });
  }
}
