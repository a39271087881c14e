import type { Reporter } from '../ui/reporter.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];
export const EXIT_CODES: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

let forceExit: (code: number) => void = () => undefined;
/** Settles with an exit code when a second signal asks to quit at once; main.ts races it with the command. */
export const forcedExit = new Promise<number>((resolve) => {
  forceExit = resolve;
});

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal, a supervisor): the first stops gracefully (the
 * page in flight is finished and its position saved); the second quits at once, which is safe
 * because the checkpoint is replaced atomically. `onForce` runs synchronously before that exit
 * (drop the lock). `stopping`: what the first signal says (default: the export's words). The
 * signal's reason names the signal (`reason.signal`), for an exit code of 128 + its number.
 */
export function installSignalHandlers(
  reporter: Reporter,
  onForce: () => void = () => undefined,
  stopping?: (sig: StopSignal) => string,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (sig: StopSignal) => {
    if (controller.signal.aborted) {
      reporter.error(`${sig} again: quitting now (the saved position is intact)`);
      onForce();
      forceExit(EXIT_CODES[sig]);
      return;
    }
    const again = sig === 'SIGINT' ? 'press Ctrl-C again to quit now' : `send ${sig} again to quit now`;
    reporter.info(stopping?.(sig) ?? `${sig}: finishing the write in flight and saving the position (${again})`);
    controller.abort(Object.assign(new DOMException('stopped by signal', 'AbortError'), { signal: sig }));
  };
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of STOP_SIGNALS) process.off(s, handler);
    },
  };
}
