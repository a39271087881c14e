import { closeSync, constants, openSync, readFileSync } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { LockError } from '../errors/index.js';

/** What a lock file says (see FileLock). */
export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** Which FileLock wrote it (locks of older versions have none). */
  token?: string;
  /**
   * Which process space the pid lives in (Linux: the boot and the pid namespace). Containers
   * that share a host name (host networking, a fixed `hostname:`) do not share pids.
   */
  space?: string;
}

/** What is at the lock's path. `refreshedAt`: its mtime, which the holder renews (the lease). */
export type Seen =
  | { kind: 'lock'; info: LockInfo; text: string; refreshedAt: number; ino: number }
  | { kind: 'torn'; text: string; refreshedAt: number; ino: number }
  | { kind: 'link'; refreshedAt: number; ino: number }
  | { kind: 'missing' };
export type HeldLock = Extract<Seen, { kind: 'lock' }>;

/** Never follow a link planted at the lock's path. */
export const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

export const errno = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

export function parseLock(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info?.pid === 'number' && typeof info.host === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

/** What is at a lock's path now, never following a link. */
export async function readLock(path: string): Promise<Seen> {
  let fh: FileHandle;
  try {
    fh = await open(path, READ_NOFOLLOW);
  } catch (err) {
    if (errno(err) === 'ENOENT') return { kind: 'missing' };
    if (errno(err) === 'ELOOP') {
      const st = await lstat(path).catch(() => undefined);
      return st ? { kind: 'link', refreshedAt: st.mtimeMs, ino: st.ino } : { kind: 'missing' };
    }
    throw new LockError(`cannot read the lock ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    const info = parseLock(text);
    return info ? { kind: 'lock', info, text, refreshedAt: st.mtimeMs, ino: st.ino } : { kind: 'torn', text, refreshedAt: st.mtimeMs, ino: st.ino };
  } finally {
    await fh.close();
  }
}

/** For exit paths that cannot await. */
export function readLockInfoSync(path: string): LockInfo | undefined {
  const fd = openSync(path, READ_NOFOLLOW);
  try {
    return parseLock(readFileSync(fd, 'utf8'));
  } finally {
    closeSync(fd);
  }
}

/** Whether the lock is still exactly the one seen before (same file, text and lease time). */
export function sameLock(a: Seen, b: Seen): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'missing' || b.kind === 'missing') return true;
  if (a.ino !== b.ino || a.refreshedAt !== b.refreshedAt) return false;
  return a.kind === 'link' || (b.kind !== 'link' && a.text === b.text);
}
