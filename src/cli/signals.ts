import type { Reporter } from '../ui/reporter.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const EXIT_CODES: Record<(typeof STOP_SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

let forceExit: (code: number) => void = () => undefined;
/** Settles with an exit code when a second signal asks to quit at once; main.ts races it with the command. */
export const forcedExit = new Promise<number>((resolve) => {
  forceExit = resolve;
});

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal, a supervisor): the first stops gracefully (the
 * page in flight is finished and its position saved); the second quits at once, which is safe
 * because the checkpoint is replaced atomically. `onForce` runs synchronously before that exit
 * (drop the lock).
 */
export function installSignalHandlers(reporter: Reporter, onForce: () => void = () => undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (sig: (typeof STOP_SIGNALS)[number]) => {
    if (controller.signal.aborted) {
      reporter.error(`${sig} again: quitting now (the saved position is intact)`);
      onForce();
      forceExit(EXIT_CODES[sig]);
      return;
    }
    const again = sig === 'SIGINT' ? 'press Ctrl-C again to quit now' : `send ${sig} again to quit now`;
    reporter.info(`${sig}: finishing the page in flight and saving the position (${again})`);
    controller.abort(new DOMException('stopped by signal', 'AbortError'));
  };
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of STOP_SIGNALS) process.off(s, handler);
    },
  };
}
