import { monotonicNow, type ServerClock } from '../servicenow/clock.js';
import { abortableSleep } from '../servicenow/retry.js';

/** The local clock, injected so the follow loop and the backfill run under a fake one in tests. */
export interface Clock {
  /** Wall-clock ms. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep: abortableSleep };

/** The instance's clock, as the pipeline needs it. */
export interface InstanceTime {
  /** The instance's clock now (ms), never ahead of it; the local clock before any response. */
  now(): number;
  /** When (local ms) a poll due at local `due` should start. */
  nextPoll(due: number): number;
}

/**
 * The instance's time from the `Date` headers the HTTP client observed (ServerClock), and the
 * poll schedule built on it: a poll starts just after the instance's second turns, when the
 * high-water mark moves (see ServerClock.nextPoll).
 */
export function instanceTime(server: ServerClock, clock: Clock = systemClock, monotonic: () => number = monotonicNow): InstanceTime {
  return {
    now: () => server.now(monotonic()) ?? clock.now(),
    nextPoll(due) {
      const wall = clock.now();
      const mono = monotonic();
      return wall + (server.nextPoll(mono + (due - wall), mono) - mono);
    },
  };
}
