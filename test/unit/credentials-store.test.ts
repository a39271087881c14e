import { chmod, lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { credentialsPath, findLogin, readLogins, removeLogins, saveLogin, type StoredLogin } from '../../src/login/store.js';
import { tempDir } from '../helpers/cli.js';

const A: StoredLogin = { instance: 'https://acme.service-now.com', clientId: 'app', refreshToken: 'r3fresh-A', savedAt: '2024-05-01T10:00:00.000Z' };
const mode = async (p: string) => (await stat(p)).mode & 0o777;

async function where(): Promise<{ dir: string; folder: string; path: string }> {
  const dir = await tempDir();
  const path = credentialsPath({ XDG_CONFIG_HOME: join(dir, 'cfg') });
  return { dir, folder: join(dir, 'cfg', 'nowpipe'), path };
}

describe('where the credentials file lives', () => {
  it('$XDG_CONFIG_HOME/nowpipe when absolute, else ~/.config/nowpipe', () => {
    expect(credentialsPath({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' })).toBe('/x/cfg/nowpipe/credentials.json');
    expect(credentialsPath({ XDG_CONFIG_HOME: 'relative/cfg', HOME: '/home/u' })).toBe('/home/u/.config/nowpipe/credentials.json');
    expect(credentialsPath({ HOME: '/home/u' })).toBe('/home/u/.config/nowpipe/credentials.json');
    expect(credentialsPath({})).toBe(join(homedir(), '.config', 'nowpipe', 'credentials.json'));
  });
});

describe('the credentials store', () => {
  it('saves a login in a 0700 folder, as a 0600 file, and reads it back; no temporary file is left', async () => {
    const { folder, path } = await where();
    expect(await readLogins(path)).toEqual({ logins: [] });
    await saveLogin(path, A);
    expect(await mode(folder)).toBe(0o700);
    expect(await mode(path)).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ version: 1, logins: [A] });
    expect(await readLogins(path)).toEqual({ logins: [A] });
    expect(await readdir(folder)).toEqual(['credentials.json']);
  });

  it('saves made at the same time all land (no read-modify-write drops another), and no guard file is left', async () => {
    const { folder, path } = await where();
    const many = Array.from({ length: 12 }, (_, i) => ({ ...A, instance: `https://i${i}.service-now.com` }));
    await Promise.all(many.map((l) => saveLogin(path, l)));
    expect((await readLogins(path)).logins.map((l) => l.instance).sort()).toEqual(many.map((l) => l.instance).sort());
    await Promise.all(many.slice(0, 6).map((l) => removeLogins(path, l.instance)));
    expect((await readLogins(path)).logins).toHaveLength(6);
    expect(await readdir(folder)).toEqual(['credentials.json']);
  });

  it('a folder that others can enter is tightened to 0700', async () => {
    const { folder, path } = await where();
    await mkdir(folder, { recursive: true, mode: 0o755 });
    await chmod(folder, 0o755);
    await saveLogin(path, A);
    expect(await mode(folder)).toBe(0o700);
  });

  it('one entry per instance and client: a new login replaces the old, other logins stay', async () => {
    const { path } = await where();
    const B = { ...A, clientId: 'other', refreshToken: 'r3fresh-B' };
    const C = { ...A, instance: 'https://dev.service-now.com', refreshToken: 'r3fresh-C' };
    await saveLogin(path, A);
    await saveLogin(path, B);
    await saveLogin(path, C);
    await saveLogin(path, { ...A, refreshToken: 'r3fresh-A2' });
    const { logins } = await readLogins(path);
    expect(logins).toEqual([{ ...A, refreshToken: 'r3fresh-A2' }, B, C]);
    expect(findLogin(logins, A.instance, 'other')?.refreshToken).toBe('r3fresh-B');
    expect(findLogin(logins, A.instance, 'nope')).toBeUndefined();
  });

  it('removes one client, or every client of an instance; an empty file is removed', async () => {
    const { path } = await where();
    const B = { ...A, clientId: 'other', refreshToken: 'r3fresh-B' };
    const C = { ...A, instance: 'https://dev.service-now.com', refreshToken: 'r3fresh-C' };
    for (const l of [A, B, C]) await saveLogin(path, l);
    expect(await removeLogins(path, A.instance, 'app')).toEqual([A]);
    expect((await readLogins(path)).logins).toEqual([B, C]);
    expect(await removeLogins(path, A.instance, 'app')).toEqual([]);
    expect(await removeLogins(path, A.instance)).toEqual([B]);
    expect(await mode(path)).toBe(0o600);
    expect(await removeLogins(path, C.instance)).toEqual([C]);
    await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await removeLogins(path, C.instance)).toEqual([]);
  });

  it('never writes through a symbolic link at its path (nor reads through one)', async () => {
    const { dir, folder, path } = await where();
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const target = join(dir, 'elsewhere.json');
    await writeFile(target, 'the file the link points to\n');
    await symlink(target, path);
    const refused = await saveLogin(path, A).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).message).toBe(`${path} is a symbolic link: nowpipe neither reads nor writes its secrets through a link`);
    await expect(readLogins(path)).rejects.toBeInstanceOf(ConfigError);
    await expect(removeLogins(path, A.instance)).rejects.toBeInstanceOf(ConfigError);
    expect(await readFile(target, 'utf8')).toBe('the file the link points to\n');
    expect(await readlink(path)).toBe(target);
    // A dangling link is refused too (writing through it would create the target).
    const dangling = join(dir, 'cfg2', 'nowpipe', 'credentials.json');
    await mkdir(join(dir, 'cfg2', 'nowpipe'), { recursive: true });
    await symlink(join(dir, 'not-yet'), dangling);
    await expect(saveLogin(dangling, A)).rejects.toBeInstanceOf(ConfigError);
    await expect(lstat(join(dir, 'not-yet'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(folder)).toEqual(['credentials.json']); // no temporary file left
  });

  it('a file that is not a credentials file is refused with what to do, never overwritten', async () => {
    const { folder, path } = await where();
    await mkdir(folder, { recursive: true });
    for (const [text, says] of [
      ['{not json', 'is not valid JSON'],
      ['{"hello": 1}', 'is not a nowpipe credentials file'],
      ['{"version": 9, "logins": []}', 'has version 9; this nowpipe reads version 1'],
    ]) {
      await writeFile(path, text!);
      const err = (await saveLogin(path, A).catch((e: unknown) => e)) as ConfigError;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain(says);
      expect(err.hint).toBe(`remove it (rm ${path}) and log in again with nowpipe login`);
      expect(await readFile(path, 'utf8')).toBe(text);
    }
  });

  it('a file others can read is read, with a warning saying how to fix it', async () => {
    const { path } = await where();
    await saveLogin(path, A);
    await chmod(path, 0o644);
    expect(await readLogins(path)).toEqual({ logins: [A], warning: `${path} can be read by other users (mode 644): run chmod 600 ${path}` });
    await saveLogin(path, A);
    expect(await mode(path)).toBe(0o600);
  });
});
