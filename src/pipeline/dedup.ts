/**
 * Which row versions were already written, for the overlap re-read. Keyed by sys_id plus
 * timestamp and mod count; bounded two ways so memory stays flat over hours: entries older than
 * the overlap window are evicted, and past `maxEntries` the oldest go first (which can only cause
 * a duplicate, never a loss).
 */
export class Dedup {
  private readonly seen = new Map<string, string>();

  constructor(private readonly maxEntries = 250_000) {}

  get size(): number {
    return this.seen.size;
  }

  /** True if this version was already written; otherwise remembers it and returns false. */
  check(key: string, ts: string): boolean {
    if (this.seen.has(key)) return true;
    this.seen.set(key, ts);
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return false;
  }

  /** Takes over what another Dedup remembers (a finished slice's last overlap window). */
  absorb(other: Dedup): void {
    for (const [key, at] of other.seen) this.check(key, at);
  }

  /** Forgets versions stamped before `ts` (they are behind the overlap window now). */
  evictBefore(ts: string): void {
    for (const [key, at] of this.seen) {
      if (at >= ts) break;
      this.seen.delete(key);
    }
    // Late rows are inserted out of time order; sweep the rest only when the map has grown.
    if (this.seen.size > this.maxEntries / 2) {
      for (const [key, at] of this.seen) if (at < ts) this.seen.delete(key);
    }
  }
}
