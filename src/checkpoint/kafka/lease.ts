/**
 * The lease of a table kept in the state topic, decided by reading the topic: every process
 * reads the same records in the same order, so each applies the same rules and reaches the
 * same decisions. Pure: no I/O; the record timestamps are its only clock.
 *
 * A run that wants a table writes a `claim` and reads the topic up to it. The claim is accepted
 * when, at its place in the log, nobody holds the table — no holder, or the holder released it,
 * or its last `held` record is older than the stale time, or the claim names the holder as gone
 * (a process of the claimant's own host that no longer runs) — and no earlier accepted claim is
 * still pending. The winner then writes `held`, and again every few seconds while it runs (its
 * lease); `released` when it stops. Of two runs claiming at once, the one whose claim landed
 * first wins; the other sees that claim before its own and is refused.
 *
 * A `held` record makes its writer the holder only when it holds the table already or its claim
 * was the one accepted (or nothing is known of the table, as after compaction): a late `held` of
 * a holder whose lease lapsed meanwhile (its renewal stuck in retries) is ignored. A holder that
 * sees another's effective `held` after its own has lost the table and stops.
 */

export type LeaseType = 'claim' | 'held' | 'released';

export interface LeaseRecord {
  type: LeaseType;
  /** The run's token (random per run). */
  owner: string;
  pid: number;
  host: string;
  startedAt: string;
  /** The process space of the pid (see LockInfo.space in checkpoint/lock-file.ts). */
  space?: string;
  /** On a claim: owners the claimant found gone (their pid no longer runs on its own host). */
  gone?: string[];
}

export interface Holder {
  owner: string;
  pid: number;
  host: string;
  startedAt: string;
  space?: string;
  /** The timestamp of its last record (ms). */
  seenAt: number;
}

export interface LeaseState {
  holder?: Holder;
  /** An accepted claim whose `held` has not come yet. */
  pending?: Holder;
}

export interface ClaimDecision {
  offset: number;
  accepted: boolean;
  /** Who it was refused for. */
  blocker?: Holder;
  /** The claim's timestamp (ms): the log's "now" when it was judged. */
  at: number;
}

/** Parses a lease record's value; undefined when it is not one (never throws: the topic is shared). */
export function parseLease(text: string | null): LeaseRecord | undefined {
  if (text === null) return undefined;
  try {
    const r = JSON.parse(text) as Partial<LeaseRecord>;
    if (!['claim', 'held', 'released'].includes(r.type as string) || typeof r.owner !== 'string' || typeof r.pid !== 'number' || typeof r.host !== 'string') return undefined;
    const space = typeof r.space === 'string' ? r.space : undefined;
    return { type: r.type!, owner: r.owner, pid: r.pid, host: r.host, startedAt: typeof r.startedAt === 'string' ? r.startedAt : '', space, gone: Array.isArray(r.gone) ? r.gone.filter((g): g is string => typeof g === 'string') : undefined };
  } catch {
    return undefined;
  }
}

export class LeaseBook {
  private readonly states = new Map<string, LeaseState>();
  /** The latest decision on each claim of this process's own runs, by key and owner. */
  private readonly decisions = new Map<string, ClaimDecision>();
  private readonly listeners = new Set<(key: string, record: LeaseRecord, offset: number, effective: boolean) => void>();

  /** `mine`: the owners whose claims this process waits on. */
  constructor(
    private readonly staleAfterMs: number,
    private readonly mine: ReadonlySet<string>,
  ) {}

  state(key: string): LeaseState {
    return this.states.get(key) ?? {};
  }

  decision(key: string, owner: string): ClaimDecision | undefined {
    return this.decisions.get(`${key}\u0000${owner}`);
  }

  /** Told of every record applied, its offset, and whether it changed who holds the table (a `held`). */
  onRecord(listener: (key: string, record: LeaseRecord, offset: number, effective: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether `h` stops a claim made by `claimant` at time `at`. */
  private blocks(h: Holder | undefined, claimant: LeaseRecord, at: number): boolean {
    if (!h || h.owner === claimant.owner) return false;
    if (at - h.seenAt > this.staleAfterMs) return false;
    return !(claimant.gone ?? []).includes(h.owner);
  }

  /** Applies one record of the lease key `key`, in log order. */
  apply(key: string, offset: number, at: number, r: LeaseRecord): void {
    const previous = this.state(key);
    const next: LeaseState = { ...previous };
    const who: Holder = { owner: r.owner, pid: r.pid, host: r.host, startedAt: r.startedAt, space: r.space, seenAt: at };
    let effective = true;
    switch (r.type) {
      case 'claim': {
        const blocker = this.blocks(previous.holder, r, at) ? previous.holder : this.blocks(previous.pending, r, at) ? previous.pending : undefined;
        if (!blocker) next.pending = who;
        if (this.mine.has(r.owner)) this.decisions.set(`${key}\u0000${r.owner}`, { offset, accepted: !blocker, blocker, at });
        break;
      }
      case 'held': {
        const known = previous.holder !== undefined || previous.pending !== undefined;
        effective = !known || previous.holder?.owner === r.owner || previous.pending?.owner === r.owner;
        if (!effective) break;
        next.holder = who;
        if (next.pending?.owner === r.owner) next.pending = undefined;
        break;
      }
      case 'released':
        if (next.holder?.owner === r.owner) next.holder = undefined;
        if (next.pending?.owner === r.owner) next.pending = undefined;
        break;
    }
    this.states.set(key, next);
    for (const l of this.listeners) l(key, r, offset, effective);
  }
}
