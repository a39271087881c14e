import { spawn } from 'node:child_process';
import { lstat, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileLock } from '../../src/checkpoint/lock.js';
import { LockError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/cli.js';

/** A lock file as another run leaves it, last refreshed `agoMs` ago. */
async function leftLock(path: string, holder: { pid: number; host: string; space?: string }, agoMs: number): Promise<void> {
  await writeFile(path, JSON.stringify({ ...holder, startedAt: '2024-05-01T08:00:00.000Z', token: 'theirs' }));
  const at = new Date(Date.now() - agoMs);
  await utimes(path, at, at);
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

const lockPath = async () => join(await tempDir('nowpipe-lock-'), 'cp.json.lock');
const owner = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as { pid: number; host: string; token: string };

describe('FileLock (a lease)', () => {
  it('takes over a lock from another host not refreshed for longer than staleAfter, and says so', async () => {
    const path = await lockPath();
    await leftLock(path, { pid: 28108, host: 'pod-a' }, 40_000);
    const said: string[] = [];
    const lock = new FileLock(path, { onTakeover: (m) => said.push(m) });
    await lock.acquire();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/took over the lock on the checkpoint .*cp\.json from nowpipe pid 28108 on host pod-a: not refreshed for 40 s \(more than 30 s, --lock-stale-after\)/);
    expect((await owner(path)).pid).toBe(process.pid);
    await lock.assertHeld();
    await lock.release();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a lock from another host refreshed recently, saying who holds it and when it was refreshed', async () => {
    const path = await lockPath();
    await leftLock(path, { pid: 28108, host: 'pod-a' }, 1_000);
    const err = await new FileLock(path).acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockError);
    expect((err as LockError).exitCode).toBe(1);
    expect((err as LockError).message).toMatch(/^another nowpipe \(pid 28108 on host pod-a, started 2024-05-01T08:00:00.000Z, lock refreshed 1 s ago\) is using the checkpoint /);
    expect((err as LockError).hint).toMatch(/taken over 30 s after its last refresh \(--lock-stale-after\)/);
    expect((await owner(path)).host).toBe('pod-a');
  });

  it('waits as long as staleAfterMs says', async () => {
    const path = await lockPath();
    await leftLock(path, { pid: 28108, host: 'pod-a' }, 40_000);
    await expect(new FileLock(path, { staleAfterMs: 60_000 }).acquire()).rejects.toThrow(/lock refreshed 40 s ago/);
    const lock = new FileLock(path, { staleAfterMs: 20_000 });
    await lock.acquire();
    await lock.release();
  });

  it('takes over a stale lock whose pid is now an unrelated live process on this host; refuses it while fresh', async () => {
    const path = await lockPath();
    // Our parent lives, and is not a nowpipe holding this lock.
    await leftLock(path, { pid: process.ppid, host: hostname() }, 1_000);
    await expect(new FileLock(path).acquire()).rejects.toThrow(new RegExp(`another nowpipe \\(pid ${process.ppid} on this host`));
    await leftLock(path, { pid: process.ppid, host: hostname() }, 40_000);
    const said: string[] = [];
    const lock = new FileLock(path, { onTakeover: (m) => said.push(m) });
    await lock.acquire();
    expect(said[0]).toMatch(new RegExp(`from nowpipe pid ${process.ppid}: not refreshed for 40 s`));
    await lock.release();
  });

  it('takes over at once a fresh lock whose pid on this host is gone (kill -9)', async () => {
    const path = await lockPath();
    const pid = await deadPid();
    await leftLock(path, { pid, host: hostname() }, 0);
    const said: string[] = [];
    const lock = new FileLock(path, { onTakeover: (m) => said.push(m) });
    await lock.acquire();
    expect(said[0]).toMatch(new RegExp(`left by nowpipe pid ${pid} \\(no longer running\\)`));
    await lock.release();
  });

  it('a fresh lock from another process space with our host name (a container sharing it) is not judged by its pid', async () => {
    const path = await lockPath();
    const pid = await deadPid(); // gone here; in the other container it may be a live run
    await leftLock(path, { pid, host: hostname(), space: 'another-boot/pid:[4026531836]' }, 0);
    await expect(new FileLock(path, { staleAfterMs: 30_000 }).acquire()).rejects.toThrow(/another nowpipe \(pid \d+/);
    // Once it is not refreshed for staleAfterMs, it is taken over like any other.
    await leftLock(path, { pid, host: hostname(), space: 'another-boot/pid:[4026531836]' }, 40_000);
    const lock = new FileLock(path, { staleAfterMs: 30_000 });
    await lock.acquire();
    await lock.release();
  });

  it('a fresh lock from this very process space whose pid is gone is taken over at once', async () => {
    const path = await lockPath();
    const pid = await deadPid();
    const probe = new FileLock(`${path}.probe`);
    await probe.acquire();
    const space = JSON.parse(await readFile(`${path}.probe`, 'utf8')).space as string;
    await probe.release();
    await leftLock(path, { pid, host: hostname(), space }, 0);
    const lock = new FileLock(path);
    await lock.acquire();
    await lock.release();
  });

  it('refuses a second lock in this very process, but takes over one an earlier process with our pid left', async () => {
    const path = await lockPath();
    const a = new FileLock(path);
    await a.acquire();
    await expect(new FileLock(path).acquire()).rejects.toThrow(/another nowpipe/);
    await a.release();
    // A container restarted under the same pid: the lock names our pid but no lock of ours.
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: 'then' }));
    const b = new FileLock(path);
    await b.acquire();
    await b.release();
  });

  it('renews the lease: refresh moves the lock file\'s mtime to the holder\'s clock', async () => {
    const path = await lockPath();
    let now = Date.now() - 100_000;
    const lock = new FileLock(path, { now: () => now });
    await lock.acquire();
    expect(Math.round((await stat(path)).mtimeMs)).toBe(now);
    now += 7_000;
    await lock.refresh();
    expect(Math.round((await stat(path)).mtimeMs)).toBe(now);
    await lock.release();
  });

  it('refreshes on its own timer', async () => {
    const path = await lockPath();
    const lock = new FileLock(path, { refreshMs: 30 });
    await lock.acquire();
    const old = new Date(Date.now() - 20_000);
    await utimes(path, old, old);
    await new Promise((r) => setTimeout(r, 200));
    expect(Date.now() - (await stat(path)).mtimeMs).toBeLessThan(1_000);
    await lock.release();
  });

  it('a holder whose lease was taken over (it was stopped) finds out at its next refresh and never removes the new lock', async () => {
    const path = await lockPath();
    const lost: LockError[] = [];
    const a = new FileLock(path, { onLost: (e) => lost.push(e) });
    await a.acquire();
    // B's clock is 40 s ahead: A looks like a run stopped 40 s ago (SIGSTOP, a suspended VM).
    const said: string[] = [];
    const b = new FileLock(path, { now: () => Date.now() + 40_000, host: 'pod-b', onTakeover: (m) => said.push(m) });
    await b.acquire();
    expect(said[0]).toMatch(/not refreshed for 40 s/);
    await a.assertHeld(); // no refresh due yet: no I/O, no news
    await a.refresh(); // what its timer does every few seconds
    await expect(a.assertHeld()).rejects.toThrow(/^lost the lock on the checkpoint .*: nowpipe pid \d+ on host pod-b took it over; stopped so that two runs never write at once/);
    expect(a.lost.aborted).toBe(true);
    expect(a.lost.reason).toBeInstanceOf(LockError);
    expect(lost).toHaveLength(1);
    await a.release();
    expect((await owner(path)).host).toBe('pod-b');
    await b.assertHeld();
    await b.release();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it('a holder resumed after a stall checks the lock before it writes (its timer had no chance to run)', async () => {
    const path = await lockPath();
    let now = Date.now();
    const a = new FileLock(path, { now: () => now, refreshMs: 5_000 });
    await a.acquire();
    const b = new FileLock(path, { now: () => now + 40_000 });
    await b.acquire();
    now += 40_000; // A wakes up 40 s later: a refresh is due, so assertHeld refreshes first
    await expect(a.assertHeld()).rejects.toThrow(/lost the lock/);
    await b.release();
  });

  it('never writes through a symbolic link at the lock path: it replaces the link itself', async () => {
    const dir = await tempDir('nowpipe-lock-');
    const victim = join(dir, 'victim.txt');
    await writeFile(victim, 'precious');
    const path = join(dir, 'cp.json.lock');
    await symlink(victim, path);
    const said: string[] = [];
    const lock = new FileLock(path, { onTakeover: (m) => said.push(m) });
    await lock.acquire();
    expect(said[0]).toMatch(/it was a symbolic link, not a nowpipe lock/);
    expect((await lstat(path)).isSymbolicLink()).toBe(false);
    expect(await readFile(victim, 'utf8')).toBe('precious');
    await lock.release();
    expect(await readFile(victim, 'utf8')).toBe('precious');
  });

  it('lets exactly one of several runs take over a stale lock from another host: no two ever hold it at once', async () => {
    const path = await lockPath();
    await leftLock(path, { pid: 28108, host: 'pod-a' }, 40_000);
    // Separate processes (one process has one pid), all racing, each holding it a while. On a
    // busy machine a process may start so late that the winner has already released: then it may
    // take the lock too, after. What must never happen is two holding it at the same time.
    const lockModule = new URL('../../dist/checkpoint/lock.js', import.meta.url).href;
    const at = Date.now() + 1500;
    const script = `import { FileLock } from ${JSON.stringify(lockModule)};
      const l = new FileLock(${JSON.stringify(path)});
      while (Date.now() < ${at});
      try { await l.acquire(); const from = Date.now(); await new Promise((r) => setTimeout(r, 1500)); const to = Date.now(); await l.release(); console.log('got ' + from + ' ' + to); }
      catch (e) { console.log(/another nowpipe/.test(e.message) ? 'refused' : 'error ' + e.message); }`;
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', script]);
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        return new Promise<string>((r) => p.on('close', () => r(out.trim())));
      }),
    );
    const held = outcomes.filter((o) => o.startsWith('got ')).map((o) => o.split(' ').slice(1).map(Number) as [number, number]);
    expect(held.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => !o.startsWith('got ') && o !== 'refused')).toEqual([]);
    held.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < held.length; i++) expect(held[i]![0]).toBeGreaterThanOrEqual(held[i - 1]![1]);
  });
});
