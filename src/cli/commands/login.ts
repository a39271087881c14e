import { loadConfig } from '../../config/load.js';
import { shouldOpenBrowser, openBrowser } from '../../login/browser.js';
import { logIn } from '../../login/flow.js';
import { credentialsPath, readLogins, saveLogin } from '../../login/store.js';
import { Reporter } from '../../ui/reporter.js';
import { buildTransport, retryPolicy } from '../components.js';
import { EXIT_CODES, installSignalHandlers } from '../signals.js';
import type { Flags } from './export.js';

/**
 * `nowpipe login`: the authorization-code flow with PKCE from a terminal (login/flow.ts), the
 * refresh token kept in the credentials file for later runs with that instance and client id.
 * Ctrl-C cancels: nothing is stored, exit 130.
 */
export async function loginCommand(flags: Flags): Promise<number> {
  const { browser, ...rest } = flags;
  const { config, warnings } = await loadConfig({ flags: rest, require: ['url', 'clientId'] });
  const reporter = new Reporter({ quiet: config.quiet, verbose: config.verbose });
  // The URL must reach the person even with --quiet: without it there is no login.
  const always = new Reporter({ verbose: config.verbose });
  for (const w of warnings) reporter.warn(w);
  const clientId = config.clientId!; // required above
  const path = credentialsPath();
  // A file nowpipe will not write (a link, not JSON) is said before anyone opens a browser.
  await readLogins(path);
  const transport = buildTransport(config);
  const open = shouldOpenBrowser({ browser: browser !== false, terminal: Boolean(process.stdin.isTTY && process.stderr.isTTY), platform: process.platform, env: process.env });
  const { signal, dispose } = installSignalHandlers(reporter, undefined, (sig) => `${sig}: login cancelled, nothing was stored`);
  try {
    await logIn(
      {
        url: config.url,
        clientId,
        clientSecret: config.clientSecret,
        scope: config.oauthScope,
        tokenUrl: config.oauthTokenUrl,
        authorizeUrl: config.oauthAuthorizeUrl,
        redirectPort: config.redirectPort,
        timeoutMs: config.loginTimeout * 1000,
        signal,
        show(url) {
          always.info(`Open this URL in a browser to log in to ${config.url}${open ? ' (opening it now)' : ''}:\n\n  ${url}\n`);
          always.info(`Waiting for the browser to come back (up to ${Math.round(config.loginTimeout)} s; Ctrl-C to cancel)…`);
          if (open) openBrowser(url);
        },
        keep: (refreshToken) => saveLogin(path, { instance: config.url, clientId, refreshToken, savedAt: new Date().toISOString() }),
      },
      { transport, retry: retryPolicy(config), onRetry: (err, attempt, delay) => reporter.verbose(`token request failed (${err.message}); retry ${attempt} in ${(delay / 1000).toFixed(1)} s`) },
    );
  } catch (err) {
    if (signal.aborted && err === signal.reason) return EXIT_CODES[(signal.reason as { signal: keyof typeof EXIT_CODES }).signal] ?? 130;
    throw err;
  } finally {
    dispose();
  }
  reporter.info(`Logged in to ${config.url} with the OAuth client ${clientId}. The refresh token is in ${path} (readable only by you).`);
  reporter.info(`Runs on this instance with --client-id ${clientId} and no other credentials use it; nowpipe logout --url ${config.url} removes it.`);
  return 0;
}
