import { readFile, stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { mapRcObject, readRcFile, type Values } from './rc.js';
import { envSettings, resolveConfig, secretsOf, type Requirement, type StoredLogins } from './resolve.js';
import { credentialsPath, readLogins } from '../login/store.js';
import { registerSecret } from '../errors/redact.js';
import type { Config } from './schema.js';

export { mapRcObject, readRcFile } from './rc.js';
export { envValues, resolveConfig, type ResolveInput, type Requirement } from './resolve.js';

export interface LoadedConfig {
  config: Config;
  /** Things the user should know about (unused keys, ignored settings), each said once. */
  warnings: string[];
  /** Where the rc file came from, if any. */
  source?: string;
}

export interface LoadOptions {
  flags: Values & { config?: string };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default: url, table and credentials (every command that talks to a real instance). */
  require?: Requirement[];
}

/** Reads --password-file: the password, or what to do about the file. */
async function readPasswordFile(path: string): Promise<{ password?: string; problem?: string }> {
  const instead = 'or set SERVICENOW_PASSWORD instead';
  try {
    if ((await stat(path)).isDirectory()) return { problem: `${path} is a folder: name the file that holds the password` };
    const password = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (password === '') return { problem: `${path} is empty: put the password on its first line, ${instead}` };
    return { password };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `${path} does not exist: create it with the password on its first line (chmod 600), ${instead}` };
    if (code === 'EACCES' || code === 'EPERM') return { problem: `${path} cannot be read by this user (permission denied): let it read the file, ${instead}` };
    return { problem: `cannot read ${path}: ${code ?? (err as Error).message}` };
  }
}

/** `nowpipe login`'s credentials file, read like --password-file: a problem is reported only if the run needs it. */
async function storedLogins(env: NodeJS.ProcessEnv): Promise<StoredLogins> {
  const path = credentialsPath(env);
  try {
    const { logins, warning } = await readLogins(path);
    return { path, list: logins, warning };
  } catch (err) {
    const e = err as Error & { hint?: string };
    return { path, list: [], problem: e.hint ? `${e.message} (${e.hint})` : e.message };
  }
}

/** The rc file as the user would name it: relative to the working folder when it lies inside it. */
function shortPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && rel.length < path.length ? rel : path;
}

/**
 * From here on, no message shows the config's secrets (see errors/redact.ts). A "secret" equal
 * to a name the messages show anyway (admin/admin) is left alone: masking it would only hide the
 * name. For every resolved config (demo resolves its own).
 */
export function registerConfigSecrets(c: Config): void {
  const names = new Set([c.user, c.clientId, c.kafkaUsername]);
  for (const secret of secretsOf(c)) if (!names.has(secret)) registerSecret(secret);
}

/** Reads every source and resolves the configuration a command runs with. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const { config: configPath, ...flags } = options.flags;
  const { raw, source } = await readRcFile(configPath, cwd);
  const rcFile = source === undefined ? undefined : shortPath(source, cwd);
  const rc = mapRcObject(raw, rcFile ?? 'rc file');
  const fromEnv = envSettings(env);
  const passwordFile = (flags.passwordFile ?? fromEnv.values.passwordFile ?? rc.values.passwordFile) as string | undefined;
  const pw = typeof passwordFile === 'string' ? await readPasswordFile(passwordFile) : {};
  const require = options.require ?? ['url', 'table', 'credentials'];
  const clientId = flags.clientId ?? fromEnv.values.clientId ?? rc.values.clientId;
  const logins = require.includes('credentials') && clientId !== undefined ? await storedLogins(env) : undefined;
  try {
    const resolved = resolveConfig({
      rc: rc.values,
      env: fromEnv.values,
      flags,
      require,
      logins,
      noProxy: env.NO_PROXY ?? env.no_proxy,
      passwordFromFile: pw.password,
      passwordFileProblem: pw.problem,
      origins: { rcFile, rcKeys: rc.keys, envNames: fromEnv.names },
    });
    registerConfigSecrets(resolved.config);
    return { config: resolved.config, warnings: [...rc.warnings, ...resolved.warnings], source };
  } catch (err) {
    // The run stops here, so the rc file's warnings would never be shown: an unknown key (a
    // misspelt `tabel`) is often the reason for a problem in the list, so it goes with them.
    const unknown = rc.warnings.filter((w) => w.includes('unknown setting'));
    if (!(err instanceof ConfigError) || unknown.length === 0) throw err;
    throw new ConfigError([...err.problems, ...unknown.map((w) => `(warning) ${w}`)], { hint: err.hint });
  }
}
