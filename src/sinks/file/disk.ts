import { open } from 'node:fs/promises';
import { FolderError, SinkError } from '../../errors/index.js';
import { errnoWords } from '../../fsutil/errno-words.js';

/**
 * A disk failure as the user should read it: what we were doing, the path, and the cause in
 * words (`no space left on the device`), never a bare errno.
 */
export function diskError(err: unknown, action: string, path: string, note?: string): SinkError {
  if (err instanceof SinkError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const why = err instanceof FolderError ? err.reason : errnoWords(err);
  const hint =
    (err instanceof FolderError ? err.hint : undefined) ??
    (code === 'ENOSPC' || code === 'EDQUOT'
      ? 'free some space (or point --output elsewhere) and run again: it resumes from the checkpoint'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'make the --output folder writable for this user (and the file system writable) and run again'
        : undefined);
  return new SinkError(`file sink: cannot ${action} ${path}: ${why}${note ? `; ${note}` : ''}`, {
    cause: err,
    hint,
  });
}

/** A rename or a new file is durable only once its folder is fsynced too. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
