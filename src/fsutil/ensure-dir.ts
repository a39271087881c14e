import { mkdir, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FolderError } from '../errors/index.js';
import { errnoWords } from './errno-words.js';

/** Kernel file systems that hold no files of ours (statfs f_type, from linux/magic.h). */
const PSEUDO_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
};

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

async function pseudoFs(path: string): Promise<string | undefined> {
  const s = await statfs(path).catch(() => undefined);
  return s ? PSEUDO_FS[Number(s.type)] : undefined;
}

/**
 * Creates `dir` and its missing parents one level at a time, and when it cannot, throws a
 * FolderError with the real cause and the level that failed.
 *
 * Not `mkdir(dir, { recursive: true })`: Node's recursive mkdir reads ENOENT as "create the
 * parent first" and, under /proc (where mkdir of a name that does not exist answers ENOENT even
 * though the parent does), loops for ever at full CPU without ever yielding to a signal; and on a
 * read-only file system it reports ENOENT rather than EROFS. Here the missing levels are found
 * once, walking up, and created once, walking down: an ENOENT from mkdir whose parent exists is
 * the file system refusing, and is said so.
 */
export async function ensureDir(dir: string): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      if (code(err) !== 'ENOENT') throw await failure(target, p, err);
      missing.push(p);
      if (dirname(p) === p) break;
      continue;
    }
    if (!isDir) throw new FolderError(target, `${p} is a file, not a folder`, 'ENOTDIR');
    break;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
    } catch (err) {
      // Another run made it meanwhile: fine, if it is a folder.
      if (code(err) === 'EEXIST' && (await stat(p).then((s) => s.isDirectory(), () => false))) continue;
      throw await failure(target, p, err);
    }
  }
}

async function failure(target: string, at: string, err: unknown): Promise<FolderError> {
  const where = at === target ? '' : ` at ${at}`;
  const parent = dirname(at);
  const fs = await pseudoFs(parent);
  if (fs !== undefined) {
    return new FolderError(target, `${parent} is on a ${fs} file system (the kernel's information, not storage), where no folder can be created`, code(err), {
      cause: err,
      hint: 'choose a folder on a real disk',
    });
  }
  return new FolderError(target, `${errnoWords(err)}${where}`, code(err), { cause: err });
}
