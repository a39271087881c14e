import { NowpipeError, RetriesExhaustedError } from '../errors/index.js';
import { catchUp, highWaterMark, type Stream, type Window } from './catch-up.js';
import type { Clock, InstanceTime } from './clock.js';
import type { ClockWatch } from './clock-watch.js';
import type { RunEvents } from './events.js';
import type { Pump } from './pump.js';

export interface FollowOptions {
  table: string;
  streams: readonly Stream[];
  window: Window;
  lag: number;
  pollSeconds: number;
  clock: Clock;
  instance: InstanceTime;
  watch: ClockWatch;
  events: RunEvents;
  signal: AbortSignal;
}

function isTransient(err: unknown): boolean {
  return err instanceof RetriesExhaustedError || (err instanceof NowpipeError && err.retriable);
}

/**
 * Polls for changes until the signal stops it: each poll catches every stream up to a fresh
 * high-water mark. Through an outage of the instance the feed keeps polling and resumes by
 * itself; a failed write ends it (nothing may be committed past it). Returns when stopped.
 */
export async function follow(pump: Pump, o: FollowOptions): Promise<void> {
  const { clock, instance, signal, events, table } = o;
  while (!signal.aborted) {
    const started = clock.now();
    const before = pump.progress;
    let full = false;
    let polled = false;
    try {
      const now = instance.now();
      o.watch.check(now, pump.progress.cursor, o.window.overlap);
      full = await catchUp(pump, o.streams, highWaterMark(now, o.lag), o.window, signal);
      polled = true;
      events.emit({ type: 'poll-ok', table });
    } catch (err) {
      if (pump.broken !== undefined) throw pump.broken as Error; // as it was thrown
      if (signal.aborted) return;
      if (!isTransient(err)) throw err;
      events.emit({ type: 'poll-failed', table, error: err as NowpipeError });
    }
    const changes = pump.progress.rows - before.rows + (pump.progress.deletes ?? 0) - (before.deletes ?? 0);
    // A full page that brought changes: more may be waiting, catch up without sleeping. One
    // that brought none was the overlap re-read of a dense second already written: polling at
    // once would only read it again and again.
    if (full && changes > 0) continue;
    const wake = instance.nextPoll(started + o.pollSeconds * 1000);
    try {
      // Until the clock reaches `wake`, or the time asked for has been slept: a local clock
      // stepped back (NTP) must not hold the next poll back by as much.
      const total = wake - clock.now();
      for (let now = clock.now(), slept = 0; now < wake && slept < total; now = clock.now()) {
        events.emit({
          type: 'waiting',
          table,
          status: { cursor: pump.progress.cursor, instanceNow: instance.now(), lastPollChanges: changes, upToDate: polled, nextPollAt: wake },
        });
        const ms = Math.min(1000, wake - now, total - slept);
        await clock.sleep(ms, signal);
        slept += ms;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }
}
