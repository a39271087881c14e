/** File-system errno codes in words, for messages a user can act on (never a bare errno). */
const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'I/O error',
  ENOTDIR: 'a part of the path is not a folder',
  ENOENT: 'no such file or folder',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EEXIST: 'something else already has that name',
};

/** `read-only file system (EROFS)`; the error's own message for a code not listed. */
export function errnoWords(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const words = code === undefined ? undefined : WORDS[code];
  return words ? `${words} (${code})` : ((err as Error)?.message ?? String(err));
}
