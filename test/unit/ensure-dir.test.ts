import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderError } from '../../src/errors/index.js';
import { ensureDir } from '../../src/fsutil/ensure-dir.js';
import { tempDir } from '../helpers/cli.js';

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
});

/** A real read-only file system at `dir`: a tmpfs mounted ro (root ignores modes, not a ro mount). */
function mountReadOnly(dir: string): void {
  if (process.getuid?.() !== 0) throw new Error('the read-only file system test mounts a tmpfs and needs root; run the tests as root (it never skips)');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', dir]);
  mounts.push(dir);
}

async function failure(path: string): Promise<FolderError> {
  const err = await ensureDir(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FolderError);
  return err as FolderError;
}

describe('ensureDir', () => {
  it('creates missing levels one at a time, and is content when the folder is there (also made by another run meanwhile)', async () => {
    const base = await tempDir('nowpipe-ensure-');
    const deep = join(base, 'a', 'b', 'c');
    await ensureDir(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await ensureDir(deep);
    await Promise.all([ensureDir(join(base, 'x', 'y')), ensureDir(join(base, 'x', 'y')), ensureDir(join(base, 'x', 'z'))]);
    expect((await stat(join(base, 'x', 'z'))).isDirectory()).toBe(true);
  });

  it('under /proc: fails at once naming the path and the file system (Node\'s recursive mkdir loops for ever there)', async () => {
    const started = Date.now();
    const err = await failure('/proc/nope/out');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.message).toBe("cannot create the folder /proc/nope/out: /proc is on a proc file system (the kernel's information, not storage), where no folder can be created");
    expect(err.exitCode).toBe(1);
    expect((await failure('/proc/self/nope/cp')).reason).toMatch(/^\/proc\/self is on a proc file system/);
  });

  it('on a read-only file system: says EROFS and the level that failed (a recursive mkdir says ENOENT)', async () => {
    const ro = join(await tempDir('nowpipe-ensure-'), 'ro');
    mountReadOnly(ro);
    const err = await failure(join(ro, 'a', 'b'));
    expect(err.code).toBe('EROFS');
    expect(err.message).toBe(`cannot create the folder ${join(ro, 'a', 'b')}: read-only file system (EROFS) at ${join(ro, 'a')}`);
  });

  it('through a file: says which part is a file', async () => {
    const base = await tempDir('nowpipe-ensure-');
    await writeFile(join(base, 'f'), 'x');
    const below = await failure(join(base, 'f', 'sub'));
    expect(below.reason).toMatch(/a part of the path is not a folder \(ENOTDIR\)/);
    const itself = await failure(join(base, 'f'));
    expect(itself.reason).toBe(`${join(base, 'f')} is a file, not a folder`);
  });
});
