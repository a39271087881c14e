import { open, readFile, unlink } from 'node:fs/promises';
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

/**
 * An exclusive lock beside the checkpoint: a file created with O_EXCL holding our pid. A lock
 * left by a process that died (kill -9) on this host is taken over at once, so a crash never
 * blocks the rerun; a live holder is refused with its pid.
 */
export class FileLock {
  private held = false;

  constructor(readonly path: string) {}

  async acquire(): Promise<void> {
    const me: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, 'wx');
        await fh.writeFile(JSON.stringify(me));
        await fh.close();
        this.held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new CheckpointError(`cannot create the lock ${this.path}: ${(err as Error).message}`, { exitCode: 1, cause: err });
        }
      }
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(await readFile(this.path, 'utf8')) as LockInfo;
      } catch {
        holder = undefined; // torn or vanished: treat as stale
      }
      if (holder && holder.host === me.host && holder.pid !== me.pid && alive(holder.pid)) {
        throw new CheckpointError(`another nowpipe (pid ${holder.pid}, started ${holder.startedAt}) is using this checkpoint`, {
          exitCode: 1,
          hint: `wait for it to finish or stop it; if it is gone, delete ${this.path}`,
        });
      }
      if (holder && holder.host !== me.host) {
        throw new CheckpointError(`the checkpoint is locked by nowpipe pid ${holder.pid} on host ${holder.host}`, {
          exitCode: 1,
          hint: `if that run is gone, delete ${this.path}`,
        });
      }
      await unlink(this.path).catch(() => undefined);
    }
    throw new CheckpointError(`could not take the lock ${this.path}`, { exitCode: 1 });
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
