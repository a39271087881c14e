import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { ConfigError, LoginError } from '../errors/index.js';
import { replaceFile } from '../fsutil/atomic-file.js';
import { ensureDir } from '../fsutil/ensure-dir.js';
import { errnoWords } from '../fsutil/errno-words.js';

/**
 * Where `nowpipe login` keeps refresh tokens: `credentials.json` in nowpipe's config folder, one
 * entry per instance and OAuth client. The folder is 0700 and the file 0600; the file is
 * replaced atomically (tmp, fsync, rename) and never written or read through a symbolic link.
 * It never holds an access token.
 */

export interface StoredLogin {
  /** The instance URL as nowpipe resolves --url (so `https://ACME.service-now.com/` finds it too). */
  instance: string;
  clientId: string;
  refreshToken: string;
  /** When the login was made (or its refresh token last rotated), ISO 8601. */
  savedAt: string;
}

export interface Logins {
  logins: StoredLogin[];
  /** Something the user should fix that does not stop the run (a file others can read). */
  warning?: string;
}

const VERSION = 1;
const POSIX = process.platform !== 'win32';
const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** `$XDG_CONFIG_HOME/nowpipe/credentials.json`, else `~/.config/nowpipe/credentials.json`. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec: a relative value is invalid and is ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), '.config');
  return join(base, 'nowpipe', 'credentials.json');
}

const sameLogin = (a: Pick<StoredLogin, 'instance' | 'clientId'>, b: Pick<StoredLogin, 'instance' | 'clientId'>) => a.instance === b.instance && a.clientId === b.clientId;

function notOurs(path: string, why: string): ConfigError {
  return new ConfigError(`${path} ${why}`, { hint: `remove it (rm ${path}) and log in again with nowpipe login` });
}

function parse(path: string, text: string): StoredLogin[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw notOurs(path, 'is not valid JSON, so nowpipe cannot read its stored logins');
  }
  const file = data as { version?: unknown; logins?: unknown };
  if (typeof data !== 'object' || data === null || !Array.isArray(file.logins)) throw notOurs(path, 'is not a nowpipe credentials file (no "logins" list)');
  if (file.version !== VERSION) throw notOurs(path, `has version ${JSON.stringify(file.version)}; this nowpipe reads version ${VERSION} (made by a newer nowpipe?)`);
  const text_ = (v: unknown) => typeof v === 'string' && v !== '';
  return file.logins.filter((l): l is StoredLogin => {
    const e = l as Partial<StoredLogin> | null;
    return e !== null && typeof e === 'object' && text_(e.instance) && text_(e.clientId) && text_(e.refreshToken);
  });
}

/** Every stored login; none when the file does not exist. */
export async function readLogins(path: string): Promise<Logins> {
  let info;
  try {
    info = await lstat(path);
  } catch (err) {
    if (code(err) === 'ENOENT') return { logins: [] };
    throw new LoginError(`cannot read ${path}: ${errnoWords(err)}`, { cause: err });
  }
  if (info.isSymbolicLink()) throw notOurs(path, 'is a symbolic link: nowpipe neither reads nor writes its secrets through a link');
  if (!info.isFile()) throw notOurs(path, 'is not a file');
  let text: string;
  try {
    // O_NOFOLLOW: a link put there since the lstat is refused, not followed.
    const fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (code(err) === 'ELOOP') throw notOurs(path, 'is a symbolic link: nowpipe neither reads nor writes its secrets through a link');
    throw new LoginError(`cannot read ${path}: ${errnoWords(err)}`, { cause: err });
  }
  const logins = parse(path, text);
  const loose = POSIX && (info.mode & 0o077) !== 0;
  return loose ? { logins, warning: `${path} can be read by other users (mode ${(info.mode & 0o777).toString(8)}): run chmod 600 ${path}` } : { logins };
}

/** The stored login of an instance and client, if any. */
export function findLogin(logins: readonly StoredLogin[], instance: string, clientId: string): StoredLogin | undefined {
  return logins.find((l) => sameLogin(l, { instance, clientId }));
}

/** Stores (or replaces) the login of `login.instance` and `login.clientId`. */
export async function saveLogin(path: string, login: StoredLogin): Promise<void> {
  await ensurePrivateFolder(dirname(path));
  await exclusively(path, async () => {
    const { logins } = await readLogins(path);
    const at = logins.findIndex((l) => sameLogin(l, login));
    if (at >= 0) logins[at] = login;
    else logins.push(login);
    await writeLogins(path, logins);
  });
}

/**
 * Runs a read-modify-write of the file with no other nowpipe doing one (a `login` for another
 * instance while a run stores a rotated refresh token would otherwise drop one of them). The
 * guard lives milliseconds; one older than 10 s was left by a process that died holding it.
 */
async function exclusively<T>(path: string, update: () => Promise<T>): Promise<T> {
  const guard = `${path}.lock`;
  for (let waited = 0; ; waited += 20) {
    try {
      await (await open(guard, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)).close();
      break;
    } catch (err) {
      // No folder, so no file: nothing to race for.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return update();
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new LoginError(`cannot update ${path}: ${errnoWords(err)}`, { cause: err });
      const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > 10_000) await unlink(guard).catch(() => undefined);
      else if (waited > 5_000) throw new LoginError(`cannot update ${path}: another nowpipe keeps ${guard}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await update();
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * Removes the stored logins of an instance (of one client, or all of them) and returns them. A
 * file left with no login is removed.
 */
export async function removeLogins(path: string, instance: string, clientId?: string): Promise<StoredLogin[]> {
  return exclusively(path, () => removeFrom(path, instance, clientId));
}

async function removeFrom(path: string, instance: string, clientId?: string): Promise<StoredLogin[]> {
  const { logins } = await readLogins(path);
  const gone = logins.filter((l) => l.instance === instance && (clientId === undefined || l.clientId === clientId));
  if (gone.length === 0) return [];
  const kept = logins.filter((l) => !gone.includes(l));
  try {
    if (kept.length === 0) await unlink(path);
    else await writeLogins(path, kept);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof LoginError) throw err;
    throw new LoginError(`cannot update ${path}: ${errnoWords(err)}`, { cause: err });
  }
  return gone;
}

/** The folder, made 0700 (and tightened to 0700 when looser); refused when another user owns it. */
async function ensurePrivateFolder(dir: string): Promise<void> {
  try {
    await ensureDir(dirname(dir));
    await mkdir(dir, { mode: 0o700 }).catch((err: unknown) => {
      if (code(err) !== 'EEXIST') throw err;
    });
    const info = await stat(dir);
    if (!info.isDirectory()) throw notOurs(dir, 'is not a folder');
    if (POSIX && process.getuid && info.uid !== process.getuid()) throw new ConfigError(`${dir} belongs to another user: nowpipe keeps its logins only in a folder of yours`);
    if (POSIX && (info.mode & 0o077) !== 0) await chmod(dir, 0o700);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof LoginError) throw err;
    throw new LoginError(`cannot prepare the folder ${dir} for the stored login: ${errnoWords(err)}`, { cause: err });
  }
}

/** Replaced atomically, 0600 (see replaceFile). A link at `path` is refused, never followed. */
async function writeLogins(path: string, logins: StoredLogin[]): Promise<void> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSymbolicLink()) throw notOurs(path, 'is a symbolic link: nowpipe neither reads nor writes its secrets through a link');
  if (existing && !existing.isFile()) throw notOurs(path, 'is not a file');
  try {
    // rename replaces a link that appeared meanwhile; it never writes into what a link points to.
    await replaceFile(path, `${JSON.stringify({ version: VERSION, logins }, null, 2)}\n`, 0o600);
  } catch (err) {
    throw new LoginError(`cannot store the login in ${path}: ${errnoWords(err)}`, { cause: err });
  }
}
