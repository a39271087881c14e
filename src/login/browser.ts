import { spawn } from 'node:child_process';

/**
 * Whether to open the authorize URL in a browser: only for a person at a desktop. On Linux a
 * desktop is a DISPLAY or WAYLAND_DISPLAY (not an SSH session); macOS and Windows always have one.
 */
export function shouldOpenBrowser(o: { browser: boolean; terminal: boolean; platform: NodeJS.Platform; env: NodeJS.ProcessEnv }): boolean {
  if (!o.browser || !o.terminal) return false;
  if (o.platform === 'darwin' || o.platform === 'win32') return true;
  return Boolean(o.env.DISPLAY || o.env.WAYLAND_DISPLAY);
}

/** The platform's opener and its arguments. */
export function openerCommand(url: string, platform: NodeJS.Platform): { command: string; args: string[]; verbatim?: boolean } {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  // `start` is a cmd built-in; its first quoted argument is a window title, and `&` must be escaped for cmd.
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url.replace(/[&^|<>]/g, '^$&')], verbatim: true };
  return { command: 'xdg-open', args: [url] };
}

/** Opens the URL and forgets about it: the URL is on the terminal anyway, so a failure is no failure. */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): void {
  const { command, args, verbatim } = openerCommand(url, platform);
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore', windowsVerbatimArguments: verbatim });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no opener: the printed URL is the way */
  }
}
