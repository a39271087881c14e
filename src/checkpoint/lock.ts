import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CheckpointError } from '../errors/index.js';

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A takeover guard older than this was left by a process that died inside the takeover. */
const GUARD_STALE_MS = 10_000;
/** An unreadable lock younger than this may be a run between its create and its write. */
const TORN_GRACE_MS = 2_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** How long ago a file was last written (0 when it is gone). */
const ageMs = (path: string): Promise<number> => stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);

/**
 * An exclusive lock beside the checkpoint: a file created with O_EXCL holding our pid. A lock
 * left by a process that died (kill -9) on this host is taken over at once, so a crash never
 * blocks the rerun; a live holder is refused with its pid. (proper-lockfile judges staleness by
 * age only, so a rerun right after kill -9 would have to wait that age out.)
 *
 * Taking over is guarded: two runs that both find a dead holder must not both delete and
 * re-create the lock (the second could delete the first's fresh one and both would run). The
 * one that creates `<lock>.takeover` (O_EXCL) checks the holder again and replaces the lock with
 * an atomic rename; the other waits and starts over, and then finds a live holder.
 */
export class FileLock {
  private held = false;
  private readonly me: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };

  constructor(readonly path: string) {}

  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await this.create()) return;
      const holder = await this.holder();
      // Gone (released meanwhile): create it again. Unreadable and young: a run between its
      // create and its write. Either way, try again shortly.
      if (holder === 'missing' || (holder === 'torn' && (await ageMs(this.path)) < TORN_GRACE_MS)) {
        await sleep(20 + Math.random() * 30);
        continue;
      }
      if (holder !== 'torn') this.refuseLiveHolder(holder);
      if (await this.takeOver(holder)) return;
      await sleep(20 + Math.random() * 30);
    }
    throw new CheckpointError(`could not take the lock ${this.path}: other runs keep contending for it`, { exitCode: 1 });
  }

  /** O_EXCL create; false when a lock file is already there. */
  private async create(): Promise<boolean> {
    try {
      const fh = await open(this.path, 'wx', 0o600);
      try {
        await fh.writeFile(JSON.stringify(this.me));
      } finally {
        await fh.close();
      }
      this.held = true;
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new CheckpointError(`cannot create the lock ${this.path}: ${(err as Error).message}`, { exitCode: 1, cause: err });
    }
  }

  private async holder(): Promise<LockInfo | 'missing' | 'torn'> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw new CheckpointError(`cannot read the lock ${this.path}: ${(err as Error).message}`, { exitCode: 1, cause: err });
    }
    try {
      const info = JSON.parse(text) as LockInfo;
      return typeof info?.pid === 'number' && typeof info.host === 'string' ? info : 'torn';
    } catch {
      return 'torn';
    }
  }

  private refuseLiveHolder(holder: LockInfo): void {
    if (holder.host === this.me.host && holder.pid === this.me.pid) return;
    if (holder.host !== this.me.host) {
      throw new CheckpointError(`the checkpoint is locked by nowpipe pid ${holder.pid} on host ${holder.host}`, {
        exitCode: 1,
        hint: `if that run is gone, delete ${this.path}`,
      });
    }
    if (alive(holder.pid)) {
      throw new CheckpointError(`another nowpipe (pid ${holder.pid}, started ${holder.startedAt}) is using this checkpoint`, {
        exitCode: 1,
        hint: `wait for it to finish or stop it; if it is gone, delete ${this.path}`,
      });
    }
  }

  /** Replaces a dead holder's lock, under the takeover guard; false when another run is at it. */
  private async takeOver(seen: LockInfo | 'torn'): Promise<boolean> {
    const guard = `${this.path}.takeover`;
    try {
      await (await open(guard, 'wx')).close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CheckpointError(`cannot create ${guard}: ${(err as Error).message}`, { exitCode: 1, cause: err });
      if ((await ageMs(guard)) > GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
      return false;
    }
    try {
      // Under the guard the lock can only have changed by a run that took it the normal way.
      const now = await this.holder();
      if (JSON.stringify(now) !== JSON.stringify(seen)) return false;
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(this.me), { mode: 0o600 });
      await rename(tmp, this.path);
      this.held = true;
      return true;
    } finally {
      await unlink(guard).catch(() => undefined);
    }
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await unlink(this.path).catch(() => undefined);
  }

  /** For exit paths that cannot await. */
  releaseSync(unlinkSync: (p: string) => void): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
