import { spawn } from 'node:child_process';
import { lstat, readdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStore as CheckpointStore } from '../../src/checkpoint/store.js';
import { freshProgress, type Scope } from '../../src/checkpoint/progress.js';
import { CheckpointError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/cli.js';

const scope: Scope = { instance: 'https://acme.service-now.com', table: 'incident', query: 'active=true', fields: ['number'] };
const at = (s: Scope, updatedOn: string, sysId: string, rows = 0) => ({ ...freshProgress(s, '2024-01-01 00:00:00'), cursor: { updatedOn, sysId }, rows });
const dir = () => tempDir('nowpipe-cp-');

describe('CheckpointStore', () => {
  it('round-trips a cursor as versioned JSON with no secrets', async () => {
    const path = join(await dir(), 'sub', 'cp.json');
    const a = new CheckpointStore(path);
    await a.open({ reset: false });
    expect(a.load(scope)).toBeUndefined();
    await a.save(at(scope, '2024-01-01 00:00:00', 'abc', 10));
    await a.close();
    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ version: 1, tables: { incident: { cursor: { updatedOn: '2024-01-01 00:00:00', sysId: 'abc' }, rows: 10 } } });

    const b = new CheckpointStore(path);
    await b.open({ reset: false });
    expect(b.load(scope)?.cursor.sysId).toBe('abc');
    await b.close();
  });

  it('refuses a checkpoint made for another query shape, and --reset starts over', async () => {
    const path = join(await dir(), 'cp.json');
    const a = new CheckpointStore(path);
    await a.open({ reset: false });
    await a.save(at(scope, '2024-01-01 00:00:01', 's'));
    await a.close();

    const b = new CheckpointStore(path);
    await b.open({ reset: false });
    expect(() => b.load({ ...scope, query: 'active=false' })).toThrow(CheckpointError);
    let caught: unknown;
    try {
      b.load({ ...scope, fields: ['number', 'state'] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CheckpointError);
    expect((caught as CheckpointError).exitCode).toBe(2);
    expect((caught as CheckpointError).hint).toMatch(/--reset/);
    await b.close();

    const c = new CheckpointStore(path);
    await c.open({ reset: true });
    expect(c.load({ ...scope, query: 'active=false' })).toBeUndefined();
    await c.close();
  });

  it('locks out a second run while the first is alive', async () => {
    const path = join(await dir(), 'cp.json');
    const a = new CheckpointStore(path);
    await a.open({ reset: false });
    const b = new CheckpointStore(path);
    // Same process: simulate another live holder by writing our parent's pid into the lock.
    await a.close();
    await writeFile(`${path}.lock`, JSON.stringify({ pid: process.ppid, host: (await import('node:os')).hostname(), startedAt: 'then' }));
    await expect(b.open({ reset: false })).rejects.toThrow(/another nowpipe \(pid \d+/);
  });

  it('takes over the lock of a process that died (kill -9)', async () => {
    const path = join(await dir(), 'cp.json');
    const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{}, 10)']);
    const deadPid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    await writeFile(`${path}.lock`, JSON.stringify({ pid: deadPid, host: (await import('node:os')).hostname(), startedAt: 'then' }));
    const s = new CheckpointStore(path);
    await s.open({ reset: false });
    await s.close();
  });

  it('lets exactly one of several runs take over a dead holder\'s lock', async () => {
    const path = join(await dir(), 'cp.json');
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid!;
    await new Promise((r) => child.on('exit', r));
    await writeFile(`${path}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), startedAt: 'then' }));
    // Separate processes (one process has one pid), all racing for the lock, each holding it a while.
    const lockModule = new URL('../../dist/checkpoint/lock.js', import.meta.url).href;
    // All start at the same instant, well after every process has loaded.
    const at = Date.now() + 1500;
    const script = `import { FileLock } from ${JSON.stringify(lockModule)};
      const l = new FileLock(${JSON.stringify(`${path}.lock`)});
      while (Date.now() < ${at});
      try { await l.acquire(); console.log('got'); await new Promise((r) => setTimeout(r, 1500)); await l.release(); }
      catch (e) { console.log(/another nowpipe/.test(e.message) ? 'refused' : 'error ' + e.message); }`;
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, () => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script]);
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<string>((r) => p.on('close', () => r(out.trim())));
      }),
    );
    expect(outcomes.filter((o) => o === 'got')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(7);
  });

  it('takes over an unreadable lock only once it is too old to be a run still writing it', async () => {
    const path = join(await dir(), 'cp.json');
    await writeFile(`${path}.lock`, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(`${path}.lock`, old, old);
    const s = new CheckpointStore(path);
    await s.open({ reset: false });
    expect(JSON.parse(await readFile(`${path}.lock`, 'utf8')).pid).toBe(process.pid);
    await s.close();
  });

  it('refuses a file that is not a nowpipe checkpoint with exit code 2', async () => {
    const path = join(await dir(), 'cp.json');
    await writeFile(path, 'garbage');
    const s = new CheckpointStore(path);
    const err = await s.open({ reset: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).exitCode).toBe(2);
  });
});

describe('a checkpoint that nowpipe did not write as it is', () => {
  const good = () => ({
    version: 1,
    updatedAt: '2024-02-01T00:00:00.000Z',
    tables: { incident: { ...freshProgress(scope, '2024-01-01 00:00:00'), cursor: { updatedOn: '2024-01-05 00:00:00', sysId: 'abc' }, rows: 3 } },
  });
  const damaged: Array<[string, (d: ReturnType<typeof good>) => unknown, RegExp]> = [
    ['"tables": null', (d) => ({ ...d, tables: null }), /tables: must be an object of tables/],
    ['a table entry {}', (d) => ({ ...d, tables: { incident: {} } }), /tables\.incident/],
    ['"cursor": null', (d) => ({ ...d, tables: { incident: { ...d.tables.incident, cursor: null } } }), /tables\.incident\.cursor: must be a cursor/],
    ['a bad slice entry', (d) => ({ ...d, tables: { incident: { ...d.tables.incident, slices: [{ start: 'x' }], slicesHi: '2024-01-05 00:00:00' } } }), /tables\.incident\.slices\.0/],
    ['"version": "1"', (d) => ({ ...d, version: '1' }), /version: must be 1 \(the number\), not "1"/],
    ['a cursor of "not a date"', (d) => ({ ...d, tables: { incident: { ...d.tables.incident, cursor: { updatedOn: 'not a date', sysId: 'abc' } } } }), /cursor\.updatedOn: "not a date" is not a time/],
    ['a cursor in 2099', (d) => ({ ...d, tables: { incident: { ...d.tables.incident, cursor: { updatedOn: '2099-01-01 00:00:00', sysId: 'abc' } } } }), /2099-01-01 00:00:00 is in the future/],
    ['rows that are not a count', (d) => ({ ...d, tables: { incident: { ...d.tables.incident, rows: -1 } } }), /rows/],
  ];

  it.each(damaged)('%s: exit 2, says what is wrong and how to start over', async (_name, damage, what) => {
    const path = join(await dir(), 'cp.json');
    await writeFile(path, JSON.stringify(damage(good())));
    const s = new CheckpointStore(path);
    const err = (await s.open({ reset: false }).catch((e: unknown) => e)) as CheckpointError;
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(what);
    expect(err.hint).toMatch(/--reset/);
    // The lock is released: a run with --reset can go on.
    const r = new CheckpointStore(path);
    await r.open({ reset: true });
    await r.close();
  });

  it('reads a good one', async () => {
    const path = join(await dir(), 'cp.json');
    await writeFile(path, JSON.stringify(good()));
    const s = new CheckpointStore(path);
    await s.open({ reset: false });
    expect(s.load(scope)?.cursor).toEqual({ updatedOn: '2024-01-05 00:00:00', sysId: 'abc' });
    expect(s.saved('incident')).toBe(true);
    await s.close();
  });

  it('reads back a slice planned inside the high-water second (from a row to the end of that second)', async () => {
    const path = join(await dir(), 'cp.json');
    const d = good();
    const slices = [
      { start: '2024-01-01 00:00:00', end: '2024-01-05 00:00:00', endId: 'm', first: true, done: false },
      { start: '2024-01-05 00:00:00', startId: 'm', end: '2024-01-05 00:00:00', first: false, done: false },
    ];
    await writeFile(path, JSON.stringify({ ...d, tables: { incident: { ...d.tables.incident, slices, slicesHi: '2024-01-05 00:00:00' } } }));
    const s = new CheckpointStore(path);
    await s.open({ reset: false });
    expect(s.load(scope)?.slices?.[1]).toMatchObject({ start: '2024-01-05 00:00:00', startId: 'm', end: '2024-01-05 00:00:00' });
    await s.close();
  });

  it('a newer version is refused as such, not as damaged', async () => {
    const path = join(await dir(), 'cp.json');
    await writeFile(path, JSON.stringify({ ...good(), version: 7 }));
    const err = (await new CheckpointStore(path).open({ reset: false }).catch((e: unknown) => e)) as CheckpointError;
    expect(err.message).toMatch(/version 7, written by a newer nowpipe/);
    expect(err.exitCode).toBe(2);
  });
});

describe('writing the checkpoint', () => {
  it('replaces a symlink at the checkpoint path instead of writing through it (--reset)', async () => {
    const d = await dir();
    const target = join(d, 'precious.txt');
    await writeFile(target, 'do not touch');
    const path = join(d, 'cp.json');
    await symlink(target, path);
    const s = new CheckpointStore(path);
    await s.open({ reset: true });
    await s.save(at(scope, '2024-01-01 00:00:01', 's'));
    await s.close();
    expect(await readFile(target, 'utf8')).toBe('do not touch');
    expect((await lstat(path)).isSymbolicLink()).toBe(false);
    expect(JSON.parse(await readFile(path, 'utf8')).tables.incident.cursor.sysId).toBe('s');
  });

  it('leaves no temporary file behind and keeps the file private (0600)', async () => {
    const d = await dir();
    const path = join(d, 'cp.json');
    const s = new CheckpointStore(path);
    await s.open({ reset: false });
    for (let i = 0; i < 5; i++) await s.save(at(scope, `2024-01-01 00:00:0${i}`, 's'));
    await s.close();
    expect((await readdir(d)).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });
});
