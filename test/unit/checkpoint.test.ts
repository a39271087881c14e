import { spawn } from 'node:child_process';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/checkpoint/store.js';
import { CheckpointError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/cli.js';

const scope = { instance: 'https://acme.service-now.com', table: 'incident', query: 'active=true', fields: ['number'] };
const dir = () => tempDir('nowpipe-cp-');

describe('CheckpointStore', () => {
  it('round-trips a cursor as versioned JSON with no secrets', async () => {
    const path = join(await dir(), 'sub', 'cp.json');
    const a = new CheckpointStore(path);
    await a.open({ reset: false });
    expect(a.table(scope)).toBeUndefined();
    a.set(scope, { cursor: { updatedOn: '2024-01-01 00:00:00', sysId: 'abc' }, rows: 10 });
    await a.commit();
    await a.close();
    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ version: 1, tables: { incident: { cursor: { updatedOn: '2024-01-01 00:00:00', sysId: 'abc' }, rows: 10 } } });

    const b = new CheckpointStore(path);
    await b.open({ reset: false });
    expect(b.table(scope)?.cursor.sysId).toBe('abc');
    await b.close();
  });

  it('refuses a checkpoint made for another query shape, and --reset starts over', async () => {
    const path = join(await dir(), 'cp.json');
    const a = new CheckpointStore(path);
    await a.open({ reset: false });
    a.set(scope, { cursor: { updatedOn: 't', sysId: 's' } });
    await a.commit();
    await a.close();

    const b = new CheckpointStore(path);
    await b.open({ reset: false });
    expect(() => b.table({ ...scope, query: 'active=false' })).toThrow(CheckpointError);
    let caught: unknown;
    try {
      b.table({ ...scope, fields: ['number', 'state'] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CheckpointError);
    expect((caught as CheckpointError).exitCode).toBe(2);
    expect((caught as CheckpointError).hint).toMatch(/--reset/);
    await b.close();

    const c = new CheckpointStore(path);
    await c.open({ reset: true });
    expect(c.table({ ...scope, query: 'active=false' })).toBeUndefined();
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
