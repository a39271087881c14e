import { passwordForms } from './url.js';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { findLogin } from '../login/store.js';
import type { Problem } from './kafka-rules.js';
import { ENV_KEYS, SECRET_KEYS } from './keys.js';
import { redactWith } from '../errors/redact.js';
import { parseJaasConfig } from './kafka-rules.js';
import { headerSecrets, urlSecrets } from './http-rules.js';
import { didYouMean, RC_ONLY_NAMES, settingLabel, type Origins } from './names.js';
import type { Values } from './rc.js';
import { crossFieldProblems } from './rules.js';
import { configFields, tableName, tableSettingsSchema, type Config, type ParsedConfig } from './schema.js';
import { droppedPathWarning, parseInstanceUrl } from './url.js';

/** The settings the environment gives, and which variable gave each. */
export function envSettings(env: NodeJS.ProcessEnv): { values: Values; names: Map<string, string> } {
  const values: Values = {};
  const names = new Map<string, string>();
  for (const { env: name, key } of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      values[key] = v;
      names.set(key, name);
    }
  }
  return { values, names };
}

export function envValues(env: NodeJS.ProcessEnv): Values {
  return envSettings(env).values;
}

function noProxyMatches(host: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  return noProxy
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .some((p) => p === '*' || host === p.replace(/^\./, '') || host.endsWith(p.startsWith('.') ? p : `.${p}`));
}

/** What a command needs besides valid settings. `credentials`: some way to sign in (not for demo); `clientId`: for `nowpipe login`. */
export type Requirement = 'url' | 'table' | 'credentials' | 'clientId';

/** `nowpipe login`'s stored logins, as load.ts read them (resolution stays pure). */
export interface StoredLogins {
  path: string;
  list: ReadonlyArray<{ instance: string; clientId: string; refreshToken: string; savedAt: string }>;
  /** Why the file could not be read: reported when a run needs a stored login. */
  problem?: string;
  warning?: string;
}

export interface ResolveInput {
  rc?: Values;
  env?: Values;
  flags?: Values;
  /** Keys that must be present for this command (default url and table). */
  require?: Requirement[];
  noProxy?: string;
  /** Reads --password-file; injected so resolution stays testable. */
  passwordFromFile?: string;
  /** Why --password-file could not be read, reported with every other problem. */
  passwordFileProblem?: string;
  /** Where the rc file and environment values came from, for the messages. */
  origins?: { rcFile?: string; rcKeys?: ReadonlyMap<string, string>; envNames?: ReadonlyMap<string, string> };
  /** A client id with no secret, refresh token or password of its own uses the login stored for its instance. */
  logins?: StoredLogins;
}

interface Parsed {
  values: Record<string, unknown>;
  problems: Problem[];
  /** Paths whose values did not parse. */
  failed: Set<string>;
}

/** Parses each key on its own, so that one bad value leaves the others' values to the rules. */
function parseEach(shape: Record<string, z.ZodType>, input: Record<string, unknown>, prefix: string, out: Parsed, into: Record<string, unknown>, strict: boolean): void {
  for (const [key, schema] of Object.entries(shape)) {
    const r = schema.safeParse(input[key]);
    if (r.success) {
      if (r.data !== undefined) into[key] = r.data;
      continue;
    }
    out.failed.add(`${prefix}${key}`);
    for (const issue of r.error.issues) {
      // `table.0` says less than `--table: "in cident" is not…`: list positions are left out.
      const path = [`${prefix}${key}`, ...issue.path.filter((p) => typeof p !== 'number').map(String)].join('.');
      out.problems.push({ path, message: issue.message });
    }
  }
  if (!strict) return;
  for (const key of Object.keys(input)) {
    if (!(key in shape)) out.problems.push({ path: prefix.replace(/\.$/, ''), message: `unknown setting "${key}"${didYouMean(key, Object.keys(shape))}` });
  }
}

/** Every setting parsed; a table's own settings too, one table and one key at a time. */
function parseAll(merged: Values): Parsed {
  const out: Parsed = { values: {}, problems: [], failed: new Set() };
  const { tables, ...rest } = merged;
  parseEach(configFields, rest, '', out, out.values, false);
  if (tables === undefined) return out;
  if (typeof tables !== 'object' || tables === null || Array.isArray(tables)) {
    out.failed.add('tables');
    out.problems.push({ path: 'tables', message: 'must be an object of table names, each with its own settings: {"incident": {"batchSize": 500}}' });
    return out;
  }
  const own: Record<string, Record<string, unknown>> = {};
  for (const [table, settings] of Object.entries(tables)) {
    const named = tableName.safeParse(table);
    if (!named.success) {
      out.problems.push({ path: 'tables', message: named.error.issues[0]!.message });
      continue;
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      out.problems.push({ path: `tables.${table}`, message: 'must be an object of settings such as {"batchSize": 500}' });
      continue;
    }
    // A table's settings are nowpipe's own: a key it does not know is a typo, not a connector's key.
    parseEach(tableSettingsSchema.shape, settings as Record<string, unknown>, `tables.${table}.`, out, (own[table] = {}), true);
  }
  out.values.tables = own;
  return out;
}

function originsOf(input: ResolveInput): Origins {
  const present = (v: Values | undefined) => new Set(Object.keys(v ?? {}).filter((k) => v![k as keyof Values] !== undefined));
  const env = new Map<string, string>();
  for (const k of present(input.env)) env.set(k, input.origins?.envNames?.get(k) ?? 'the environment');
  const rc = new Map<string, string>();
  for (const k of present(input.rc)) rc.set(k, input.origins?.rcKeys?.get(k) ?? RC_ONLY_NAMES[k as keyof Values] ?? k);
  return { flags: present(input.flags), env, rc, rcFile: input.origins?.rcFile };
}

const CREDENTIAL_KEYS = ['user', 'password', 'passwordFile', 'clientId', 'clientSecret', 'refreshToken'] as const;

/** Merges defaults < rc < environment < flags and validates. Pure; throws ConfigError with every problem. */
export function resolveConfig(input: ResolveInput): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const merged: Values = { ...input.rc, ...input.env, ...input.flags };
  for (const k of Object.keys(merged) as Array<keyof Values>) if (merged[k] === undefined) delete merged[k];
  const origins = originsOf(input);
  const label = (path: string) => settingLabel(path, origins);

  const parsed = parseAll(merged);
  const c = parsed.values as Partial<ParsedConfig>;
  const problems: Problem[] = [...parsed.problems, ...crossFieldProblems(c, parsed.failed)];
  const wanted = input.require ?? ['url', 'table'];
  if (wanted.includes('url') && merged.url === undefined) {
    problems.push({ path: 'url', message: 'required: the instance, e.g. https://acme.service-now.com (or SERVICENOW_URL, or servicenow.url in the rc file)' });
  }
  if (wanted.includes('table') && merged.table === undefined) {
    problems.push({ path: 'table', message: 'required: the table to export, e.g. incident (or table / servicenow.table in the rc file)' });
  }
  if (wanted.includes('clientId') && merged.clientId === undefined) {
    problems.push({ path: 'clientId', message: "required: the OAuth application's Client ID, from System OAuth > Application Registry (or SERVICENOW_CLIENT_ID)" });
  }
  if (wanted.includes('credentials') && CREDENTIAL_KEYS.every((k) => merged[k] === undefined)) {
    problems.push({
      path: '',
      message:
        'no credentials: give --user with --password or --password-file (env SERVICENOW_USER, SERVICENOW_PASSWORD), or OAuth: --client-id with --client-secret or --refresh-token (env SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET), or log in once from a terminal: nowpipe login --url <instance> --client-id <id>',
    });
  }
  if (input.passwordFileProblem !== undefined) problems.push({ path: 'passwordFile', message: input.passwordFileProblem });
  if (c.passwordFile !== undefined && input.flags?.password !== undefined) problems.push({ path: 'password', message: 'give --password or --password-file, not both' });
  const hasPassword = c.password !== undefined || c.passwordFile !== undefined;
  const stored = storedLogin(c, hasPassword, wanted, input.logins, problems, warnings);
  if (hasPassword && c.user === undefined && c.clientId === undefined && !parsed.failed.has('user')) {
    problems.push({ path: 'user', message: 'required with a password: the user it belongs to (--user or SERVICENOW_USER)' });
  }
  if (problems.length > 0) {
    const lines = problems.map((p) => (p.path === '' ? p.message : `${label(p.path)}: ${p.message}`));
    throw new ConfigError(redact(lines, merged), { hint: 'run nowpipe --help for every option' });
  }

  const { passwordFile, ...rest } = c as ParsedConfig;
  const password = passwordFile !== undefined ? input.passwordFromFile : rest.password;
  let proxy = rest.proxy;
  if (proxy !== undefined && input.flags?.proxy === undefined && input.rc?.proxy === undefined && rest.url) {
    if (noProxyMatches(new URL(rest.url).hostname.toLowerCase(), input.noProxy)) proxy = undefined;
  }
  if (typeof merged.url === 'string') {
    const url = parseInstanceUrl(merged.url);
    if ('dropped' in url && url.dropped) warnings.push(`${label('url')}: ${droppedPathWarning(url.url, url.dropped)}`);
  }
  // --state kafka uses --brokers too.
  if (rest.sink !== 'kafka' && (rest.topic !== undefined || (rest.brokers !== undefined && rest.state !== 'kafka'))) {
    warnings.push(`Kafka settings (topic, brokers) have no effect with --sink ${rest.sink}`);
  }
  if (rest.sink !== 'http' && (rest.httpUrl !== undefined || rest.httpHeader !== undefined)) {
    warnings.push(`webhook settings (--http-url, --http-header) have no effect with --sink ${rest.sink}`);
  }
  const { table, tables, ...others } = rest;
  const tableNames = [...new Set(table ?? [])];
  for (const name of Object.keys(tables ?? {})) {
    if (!tableNames.includes(name)) warnings.push(`settings for table ${name} given, but it is not exported (--table)${didYouMean(name, tableNames)}`);
  }
  const login = stored ? { refreshToken: stored.refreshToken, storedLogin: { path: input.logins!.path, savedAt: stored.savedAt } } : {};
  return { config: { ...others, password, proxy, url: rest.url ?? '', table: tableNames[0] ?? '', tableNames, tableSettings: tables ?? {}, ...login }, warnings };
}

/**
 * The login `nowpipe login` stored for this instance and client, when the run has a client id and
 * nothing else that makes a grant on its own (a refresh token, or a user with a password); a
 * client secret is allowed (a confidential client's refresh grant needs it). A client id with
 * neither a secret nor a stored login can sign in to nothing: said now, with what to do.
 */
function storedLogin(c: Partial<ParsedConfig>, hasPassword: boolean, wanted: Requirement[], logins: StoredLogins | undefined, problems: Problem[], warnings: string[]) {
  if (!wanted.includes('credentials') || c.clientId === undefined || c.refreshToken !== undefined || hasPassword || c.user !== undefined) return undefined;
  const stored = c.url === undefined || !logins ? undefined : findLogin(logins.list, c.url, c.clientId);
  if (stored) {
    if (logins?.warning) warnings.push(logins.warning);
    return stored;
  }
  if (c.clientSecret !== undefined) {
    // client_credentials it is; a store that cannot be read is worth a word all the same.
    if (logins?.problem) warnings.push(`stored logins not read: ${logins.problem}`);
    return undefined;
  }
  if (logins?.problem) problems.push({ path: '', message: logins.problem });
  else if (c.url !== undefined) {
    problems.push({
      path: 'clientId',
      message: `no login stored for ${c.url} with this client${logins ? ` (in ${logins.path})` : ''}: log in once with nowpipe login --url ${c.url} --client-id ${c.clientId}, or give --client-secret (client_credentials) or --refresh-token`,
    });
  }
  return undefined;
}

/** Zod messages can echo input values; a secret must never reach the terminal. */
function redact(problems: string[], merged: Values): string[] {
  const secrets = secretsOf(merged);
  return problems.map((p) => redactWith(p, secrets));
}

/**
 * Every secret in a set of settings: the secret keys, the password inside a JAAS line, the
 * proxy's password, and the basic-auth header that user and password make.
 */
export function secretsOf(settings: object): string[] {
  const values = settings as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const out = [...SECRET_KEYS].map((k) => text(values[k]));
  const jaas = text(values.kafkaJaasConfig);
  if (jaas !== undefined) out.push(text(parseJaasConfig(jaas)?.password));
  const proxy = text(values.proxy);
  if (proxy !== undefined && URL.canParse(proxy)) {
    const u = new URL(proxy);
    out.push(...passwordForms(u.password).map(text));
  }
  // The webhook's header values (an API key) and what its URL may carry (user:password, ?token=).
  out.push(...headerSecrets(values.httpHeader), ...urlSecrets(values.httpUrl));
  const user = text(values.user);
  const password = text(values.password);
  if (user !== undefined && password !== undefined) out.push(Buffer.from(`${user}:${password}`).toString('base64'));
  return out.filter((v): v is string => v !== undefined);
}
