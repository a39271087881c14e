import { randomBytes } from 'node:crypto';
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { LockError } from '../errors/index.js';
import { alive, errno, parseLock, READ_NOFOLLOW, readLock, readLockInfoSync, sameLock, type HeldLock, type LockInfo, type Seen } from './lock-file.js';

type Verdict = 'retry' | { live: HeldLock } | { takeover: string };

export interface LeaseOptions {
  /** A lock not refreshed for this long is taken over, whatever its host and pid (default 30 s). */
  staleAfterMs?: number;
  /** How often the holder refreshes it (default a sixth of staleAfterMs, at most 5 s). */
  refreshMs?: number;
  /** What the lock guards, for messages (default: "the checkpoint <path without .lock>"). */
  subject?: string;
  /** Told when a lock left by another run is taken over: the lock itself never prints. */
  onTakeover?: (message: string) => void;
  /** Told once when the lease is lost (also `lost` aborts, and `assertHeld` throws). */
  onLost?: (error: LockError) => void;
  /** For tests: the clock, this host's name and pid. */
  now?: () => number;
  host?: string;
  pid?: number;
  space?: string;
}

/** This process's space (see LockInfo.space): '' where /proc cannot say (not Linux). */
export function processSpace(): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return '';
  }
}

export const DEFAULT_STALE_AFTER_MS = 30_000;
/** A takeover guard older than this was left by a process that died inside the takeover. */
const GUARD_STALE_MS = 10_000;
/** An unreadable lock younger than this may be a run between its create and its write. */
const TORN_GRACE_MS = 2_000;

/** Tokens of the locks this process holds: a lock with our pid is ours only if listed here. */
const heldHere = new Set<string>();

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

const agoText = (ms: number) => (ms < 0 ? 'in the future (clocks differ?)' : `${Math.round(ms / 1000)} s ago`);

/**
 * An exclusive lock held as a lease: a file created with O_EXCL holding our pid, host and a
 * token, whose mtime the holder renews every few seconds (an unref'd timer; one futimes on an
 * open handle, so it is cheap and atomic). Another run takes it over:
 * - at once when the holder ran on this host and its pid is gone (kill -9), or is our own pid
 *   (an earlier process of a container that reuses it);
 * - when it has not been refreshed for `staleAfterMs`, whatever the host or pid: a holder on
 *   another host cannot be asked whether it lives (a restarted container gets a new host name),
 *   and a pid on this host may since belong to an unrelated process.
 * Two live runs exclude each other: the second is refused, told who holds it and when it was
 * last refreshed.
 *
 * Taking over is guarded: two runs that both find a stale holder must not both replace the lock
 * (the second could replace the first's fresh one and both would run). The one that creates
 * `<lock>.takeover` (O_EXCL) checks that the lock is still the one it judged (same inode, text and
 * mtime) and replaces it with an atomic rename, which replaces a symbolic link itself rather than
 * writing through it; the other waits and starts over, and then finds a live holder.
 *
 * A holder stopped for longer than `staleAfterMs` (SIGSTOP, a suspended VM) may have been taken
 * over: its next refresh finds another token and the lease is lost. `assertHeld` (before a
 * write) then throws, `lost` aborts and `onLost` is told; `release` leaves the other's lock alone.
 */
export class FileLock {
  private held = false;
  private readonly staleAfterMs: number;
  private readonly refreshMs: number;
  private readonly subject: string;
  private readonly now: () => number;
  private readonly me: LockInfo;
  private timer?: NodeJS.Timeout;
  private lastRefresh = 0;
  private refreshing?: Promise<void>;
  private lostError?: LockError;
  private readonly lostController = new AbortController();
  /** Aborted (with the LockError as reason) when the lease is lost to another run. */
  readonly lost: AbortSignal = this.lostController.signal;

  constructor(
    readonly path: string,
    private readonly options: LeaseOptions = {},
  ) {
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.refreshMs = options.refreshMs ?? Math.max(100, Math.min(5_000, Math.floor(this.staleAfterMs / 6)));
    this.subject = options.subject ?? `the checkpoint ${path.replace(/\.lock$/, '')}`;
    this.now = options.now ?? Date.now;
    this.me = {
      pid: options.pid ?? process.pid,
      host: options.host ?? hostname(),
      startedAt: new Date(this.now()).toISOString(),
      token: randomBytes(12).toString('hex'),
      space: options.space ?? processSpace(),
    };
  }

  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await this.create()) return this.hold();
      const seen = await readLock(this.path);
      const verdict = this.judge(seen);
      if (verdict === 'retry') {
        await sleep(20 + Math.random() * 30);
        continue;
      }
      if ('live' in verdict) throw this.refusal(verdict.live);
      if (await this.takeOver(seen)) {
        this.hold();
        this.options.onTakeover?.(verdict.takeover);
        return;
      }
      await sleep(20 + Math.random() * 30);
    }
    throw new LockError(`could not take the lock ${this.path}: other runs keep contending for it`);
  }

  /** Whether the lock at the path may be taken, or who holds it. */
  private judge(seen: Seen): Verdict {
    if (seen.kind === 'missing') return 'retry'; // released meanwhile: create it again
    const age = this.now() - seen.refreshedAt;
    if (seen.kind === 'link') return { takeover: `replaced ${this.path}: it was a symbolic link, not a nowpipe lock` };
    if (seen.kind === 'torn') {
      // Young: a run between its create and its write. Old: one that died there.
      if (age < TORN_GRACE_MS) return 'retry';
      return { takeover: `took over ${this.path}: an unreadable lock left by a run that died while taking it` };
    }
    const { pid, host, token } = seen.info;
    const who = `nowpipe pid ${pid}${host === this.me.host ? '' : ` on host ${host}`}`;
    // A pid can be asked about only in its own space: the same host name is not enough (a lock
    // written before spaces were recorded is judged by its host alone, as it was then).
    if (host === this.me.host && (seen.info.space === undefined || seen.info.space === this.me.space)) {
      if (pid === this.me.pid && !(token !== undefined && heldHere.has(token))) {
        return { takeover: `took over the lock on ${this.subject} left by an earlier process with this pid (${pid}), last refreshed ${agoText(age)}` };
      }
      if (pid !== this.me.pid && !alive(pid)) {
        return { takeover: `took over the lock on ${this.subject} left by ${who} (no longer running), last refreshed ${agoText(age)}` };
      }
    }
    if (age > this.staleAfterMs) {
      return {
        takeover: `took over the lock on ${this.subject} from ${who}: not refreshed for ${Math.round(age / 1000)} s (more than ${this.staleAfterMs / 1000} s, --lock-stale-after)`,
      };
    }
    return { live: seen };
  }

  private refusal(seen: HeldLock): LockError {
    const { pid, host, startedAt } = seen.info;
    const where = host === this.me.host ? 'this host' : `host ${host}`;
    return new LockError(`another nowpipe (pid ${pid} on ${where}, started ${startedAt}, lock refreshed ${agoText(this.now() - seen.refreshedAt)}) is using ${this.subject}`, {
      hint: `wait for it to finish or stop it; a lock left by a run that is gone is taken over ${this.staleAfterMs / 1000} s after its last refresh (--lock-stale-after)`,
    });
  }

  /** O_EXCL create (which never follows a link); false when something is already there. */
  private async create(): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'wx', 0o600);
    } catch (err) {
      if (errno(err) === 'EEXIST') return false;
      throw new LockError(`cannot create the lock ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      await this.fill(fh);
    } finally {
      await fh.close();
    }
    return true;
  }

  /** Writes our info and stamps the lease with our clock. */
  private async fill(fh: FileHandle): Promise<void> {
    await fh.writeFile(JSON.stringify(this.me));
    const t = new Date(this.now());
    await fh.utimes(t, t);
  }

  /** Replaces the lock judged takeable, under the takeover guard; false when another run is at it. */
  private async takeOver(judged: Seen): Promise<boolean> {
    const guard = `${this.path}.takeover`;
    try {
      await (await open(guard, 'wx', 0o600)).close();
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw new LockError(`cannot create ${guard}: ${(err as Error).message}`, { cause: err });
      const st = await lstat(guard).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > GUARD_STALE_MS) await unlink(guard).catch(() => undefined);
      return false;
    }
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      // Under the guard the lock can only have changed by a run that took it the normal way, or
      // by its holder refreshing it (then it lives).
      const now = await readLock(this.path);
      if (!sameLock(now, judged)) return false;
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await this.fill(fh);
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      return true;
    } finally {
      await unlink(tmp).catch(() => undefined);
      await unlink(guard).catch(() => undefined);
    }
  }

  private hold(): void {
    this.held = true;
    heldHere.add(this.me.token!);
    this.lastRefresh = this.now();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /**
   * Renews the lease now (the timer calls this every `refreshMs`). Finds out when another run
   * took the lock over: then the lease is lost.
   */
  refresh(): Promise<void> {
    if (!this.held) return Promise.resolve();
    this.refreshing ??= this.renew().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async renew(): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.path, READ_NOFOLLOW);
      const info = parseLock(await fh.readFile('utf8'));
      if (info?.token !== this.me.token) {
        const by = info ? `nowpipe pid ${info.pid}${info.host === this.me.host ? '' : ` on host ${info.host}`}` : 'something else';
        return this.lose(`${by} took it over`);
      }
      const t = new Date(this.now());
      await fh.utimes(t, t);
      // Replaced between our open and our touch: we renewed a file that is no longer the lock.
      const [mine, there] = [await fh.stat(), await lstat(this.path)];
      if (mine.ino !== there.ino || mine.dev !== there.dev) return this.lose('another run replaced it');
      this.lastRefresh = t.getTime();
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ELOOP') return this.lose('its file was removed or replaced');
      // A passing I/O error: try again at the next tick, unless the lease has run out meanwhile.
      if (this.now() - this.lastRefresh > this.staleAfterMs) this.lose(`it could not be refreshed for ${this.staleAfterMs / 1000} s (${errno(err) ?? (err as Error).message})`);
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  private lose(why: string): void {
    if (!this.held) return;
    this.stop();
    this.lostError = new LockError(`lost the lock on ${this.subject}: ${why}; stopped so that two runs never write at once`, {
      hint: `this run was not refreshing its lock for more than ${this.staleAfterMs / 1000} s (stopped or suspended?); raise --lock-stale-after if that is expected`,
    });
    this.lostController.abort(this.lostError);
    this.options.onLost?.(this.lostError);
  }

  private stop(): void {
    this.held = false;
    heldHere.delete(this.me.token!);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Throws when the lease is lost (or the lock not held). When a refresh is due (this process was
   * stalled: timers had no chance to run), refreshes first, so a write after a long stop finds out.
   */
  async assertHeld(): Promise<void> {
    if (this.held && this.now() - this.lastRefresh >= this.refreshMs) await this.refresh();
    if (this.lostError) throw this.lostError;
    if (!this.held) throw new LockError(`the lock on ${this.subject} is not held`);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.stop();
    // Only our own lock: after a lost lease the file is another run's.
    const seen = await readLock(this.path).catch(() => undefined);
    if (seen?.kind === 'lock' && seen.info.token === this.me.token) await unlink(this.path).catch(() => undefined);
  }

  /** For exit paths that cannot await. */
  releaseSync(unlinkSync: (p: string) => void): void {
    if (!this.held) return;
    this.stop();
    try {
      if (readLockInfoSync(this.path)?.token === this.me.token) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
