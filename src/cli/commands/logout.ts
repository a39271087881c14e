import { loadConfig } from '../../config/load.js';
import { credentialsPath, removeLogins } from '../../login/store.js';
import { Reporter } from '../../ui/reporter.js';
import type { Flags } from './export.js';

/**
 * `nowpipe logout`: forgets what `nowpipe login` stored for an instance (one client's login with
 * --client-id, else every one). The refresh token stays valid at the instance until it expires
 * or an admin revokes it (System OAuth > Manage Tokens): the README says so.
 */
export async function logoutCommand(flags: Flags): Promise<number> {
  const { config, warnings } = await loadConfig({ flags, require: ['url'] });
  const reporter = new Reporter({ quiet: config.quiet, verbose: config.verbose });
  for (const w of warnings) reporter.warn(w);
  const path = credentialsPath();
  const gone = await removeLogins(path, config.url, config.clientId);
  const which = config.clientId === undefined ? '' : ` with the OAuth client ${config.clientId}`;
  if (gone.length === 0) {
    reporter.info(`No login stored for ${config.url}${which} (in ${path}): nothing to remove.`);
    return 0;
  }
  for (const l of gone) reporter.info(`Removed the login to ${l.instance} with the OAuth client ${l.clientId} (stored ${l.savedAt.slice(0, 10)}) from ${path}.`);
  return 0;
}
