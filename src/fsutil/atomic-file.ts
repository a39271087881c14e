import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `text` so that a crash leaves either the old or the new content: write a
 * temporary file beside it, fsync, rename over it, fsync the folder (the rename itself must
 * survive a power cut). The rename replaces whatever is at `path`, a symlink included: it never
 * writes through a link into the file the link points to (write-file-atomic follows links), and
 * the temporary file is created exclusively (O_EXCL: a link put at its name is refused).
 * `mode` is as for open(2): the umask still applies (the file sink leaves the choice to it; a
 * 0600 file can only come out narrower).
 */
export async function replaceFile(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncFolder(dir);
}

async function syncFolder(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems cannot fsync a folder (EINVAL, EISDIR on some platforms): the rename is still atomic.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
