// The dead-letter file on a real disk: one JSON line per row set aside, 0600, appended across
// runs, never through a symbolic link; a path that cannot be written fails at prepare().
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors/index.js';
import { parseRow } from '../../src/servicenow/response.js';
import { DeadLetterFile } from '../../src/sinks/dead-letter.js';
import type { ChangeRecord } from '../../src/sinks/types.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nowpipe-test-deadletter-'));
  dirs.push(dir);
  return dir;
}

const text = '{"sys_id":"a1","sys_updated_on":"2024-01-02 03:04:05","description":"line\\nbreak é"}';
const row: ChangeRecord = { op: 'u', table: 'incident', instance: 'https://x', sysId: 'a1', updatedOn: '2024-01-02 03:04:05', row: parseRow(text) };
const now = () => new Date('2025-05-06T07:08:09.000Z');

describe('DeadLetterFile', () => {
  it('appends one JSON line per row: reason, table, sys_id, sys_updated_on, at, and the row as the instance sent it', async () => {
    const path = join(await tempDir(), 'deeper', 'folder', 'bad.ndjson');
    const warnings: string[] = [];
    const file = new DeadLetterFile({ path, now, notices: { warn: (m) => warnings.push(m) } });
    await file.prepare();
    await expect(stat(path)).rejects.toThrow(); // nothing set aside yet: no file
    await file.reject(row, 'too big');
    await file.reject({ ...row, op: 'd', sysId: 'd9', row: null }, 'also bad');
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({ reason: 'too big', table: 'incident', sys_id: 'a1', sys_updated_on: '2024-01-02 03:04:05', at: '2025-05-06T07:08:09.000Z', record: JSON.parse(text) });
    expect(lines[0]!.endsWith(`"record":${text}}`)).toBe(true); // byte for byte
    expect(JSON.parse(lines[1]!).record).toEqual({ sys_id: 'd9', __deleted: true, sys_updated_on: '2024-01-02 03:04:05' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(file.where).toBe(path);
    expect(warnings).toEqual([`set aside incident row a1 in ${path}: too big`, `set aside incident row d9 in ${path}: also bad`]);
  });

  it('appends to an existing file (a later run), names the first ten rows and then only counts', async () => {
    const path = join(await tempDir(), 'bad.ndjson');
    await writeFile(path, '{"earlier":true}\n', { mode: 0o600 });
    const warnings: string[] = [];
    const file = new DeadLetterFile({ path, notices: { warn: (m) => warnings.push(m) } });
    await file.prepare();
    await Promise.all(Array.from({ length: 12 }, (_, i) => file.reject({ ...row, sysId: `r${i}` }, 'x')));
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('{"earlier":true}');
    expect(lines.slice(1).map((l) => JSON.parse(l).sys_id)).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}`));
    expect(warnings).toHaveLength(11);
    expect(warnings[10]).toBe(`setting more rows aside in ${path} (the summary counts them)`);
  });

  it('refuses a symbolic link, a folder, and a folder it cannot create, at prepare (before any data moves)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'target'), '');
    await symlink(join(dir, 'target'), join(dir, 'link'));
    await expect(new DeadLetterFile({ path: join(dir, 'link') }).prepare()).rejects.toThrow(/cannot write to the dead-letter file .*link: it is a symbolic link/);
    await mkdir(join(dir, 'folder'));
    const err = await new DeadLetterFile({ path: join(dir, 'folder') }).prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as Error).message).toMatch(/folder: it is a folder/);
    await writeFile(join(dir, 'file'), '');
    await expect(new DeadLetterFile({ path: join(dir, 'file', 'bad.ndjson') }).prepare()).rejects.toThrow(/is a file, not a folder/);
  });
});
