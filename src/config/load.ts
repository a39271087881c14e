import { readFile } from 'node:fs/promises';
import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { parse as parseJsonc, type ParseError, printParseErrorCode } from 'jsonc-parser';
import { ConfigError } from '../errors/index.js';
import { redactWith, registerSecret } from '../errors/redact.js';
import { parseJaasConfig } from '../sinks/kafka/validate.js';
import { configSchema, type Config, type ConfigInput } from './schema.js';
import { CONNECT_ONLY_KEYS, ENV_KEYS, RC_ALIASES, SECRET_KEYS, kebabToCamel } from './keys.js';

export interface LoadedConfig {
  config: Config;
  /** Things the user should know about (unused keys, ignored settings), each said once. */
  warnings: string[];
  /** Where the rc file came from, if any. */
  source?: string;
}

type Values = Partial<Record<keyof ConfigInput, unknown>>;

const KNOWN_KEYS = new Set(Object.keys(configSchema.shape)) as Set<string>;

/**
 * Maps an rc object (nowpipe keys, kebab-case flags, Confluent connector keys, or a whole
 * Kafka Connect connector JSON) onto schema keys. Pure: reports unknown keys as warnings.
 */
export function mapRcObject(raw: unknown, origin: string): { values: Values; warnings: string[] } {
  const warnings: string[] = [];
  if (raw === null || raw === undefined) return { values: {}, warnings };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${origin}: expected an object of settings`);
  }
  let obj = raw as Record<string, unknown>;
  // A Kafka Connect connector file: {"name": ..., "config": {...}}.
  if (typeof obj.config === 'object' && obj.config !== null && !Array.isArray(obj.config)) {
    const rest = Object.keys(obj).filter((k) => k !== 'config' && k !== 'name');
    for (const k of rest) warnings.push(`${origin}: "${k}" is not used by nowpipe`);
    obj = obj.config as Record<string, unknown>;
  }
  const values: Values = {};
  const unused: string[] = [];
  for (const [rawKey, value] of Object.entries(obj)) {
    const alias = RC_ALIASES[rawKey];
    if (alias) {
      values[alias.key] = alias.convert ? alias.convert(value) : value;
      continue;
    }
    const camel = kebabToCamel(rawKey);
    if (KNOWN_KEYS.has(camel)) {
      values[camel as keyof ConfigInput] = value;
      continue;
    }
    if (CONNECT_ONLY_KEYS.has(rawKey)) unused.push(rawKey);
    else warnings.push(`${origin}: unknown setting "${rawKey}" ignored`);
  }
  if (unused.length > 0) {
    warnings.push(`${origin}: Kafka Connect settings not used by nowpipe: ${unused.join(', ')}`);
  }
  return { values, warnings };
}

export function envValues(env: NodeJS.ProcessEnv): Values {
  const values: Values = {};
  for (const { env: name, key } of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined && v !== '') values[key] = v;
  }
  return values;
}

function noProxyMatches(host: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  return noProxy
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean)
    .some((p) => p === '*' || host === p.replace(/^\./, '') || host.endsWith(p.startsWith('.') ? p : `.${p}`));
}

export interface ResolveInput {
  rc?: Values;
  env?: Values;
  flags?: Values;
  /** Keys that must be present for this command. */
  require?: Array<'url' | 'table'>;
  noProxy?: string;
  /** Reads --password-file; injected so resolution stays testable. */
  passwordFromFile?: string;
}

/** Merges defaults < rc < environment < flags and validates. Pure; throws ConfigError with every problem. */
export function resolveConfig(input: ResolveInput): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const merged: Values = { ...input.rc, ...input.env, ...input.flags };
  for (const k of Object.keys(merged) as Array<keyof Values>) if (merged[k] === undefined) delete merged[k];

  const result = configSchema.safeParse(merged);
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      // `table.0` says less than `table: "in cident" is not…`: list positions are left out.
      const path = issue.path.filter((p) => typeof p !== 'number').join('.') || 'config';
      problems.push(`${path}: ${issue.message}`);
    }
  }
  const wanted = input.require ?? ['url', 'table'];
  if (wanted.includes('url') && merged.url === undefined) {
    problems.push('url: required (--url, SERVICENOW_URL or servicenow.url in the rc file)');
  }
  if (wanted.includes('table') && merged.table === undefined) {
    problems.push('table: required (--table or servicenow.table in the rc file)');
  }
  if (problems.length > 0 || !result.success) {
    throw new ConfigError(redact(problems, merged), { hint: 'run nowpipe --help for every option' });
  }
  const parsed = result.data;
  const { passwordFile, ...rest } = parsed;
  let password = rest.password;
  if (passwordFile !== undefined) {
    if (input.flags?.password !== undefined) throw new ConfigError('password: give --password or --password-file, not both');
    password = input.passwordFromFile;
  }
  if (password !== undefined && rest.user === undefined && rest.clientId === undefined) {
    throw new ConfigError('user: a password was given without a user (--user or SERVICENOW_USER)');
  }
  let proxy = rest.proxy;
  if (proxy !== undefined && input.flags?.proxy === undefined && input.rc?.proxy === undefined && rest.url) {
    if (noProxyMatches(new URL(rest.url).hostname.toLowerCase(), input.noProxy)) proxy = undefined;
  }
  if (rest.sink !== 'kafka' && (rest.topic !== undefined || rest.brokers !== undefined)) {
    warnings.push(`Kafka settings (topic, brokers) have no effect with --sink ${rest.sink}`);
  }
  const { table, tables, ...others } = rest;
  const tableNames = [...new Set(table ?? [])];
  for (const name of Object.keys(tables ?? {})) {
    if (!tableNames.includes(name)) warnings.push(`settings for table ${name} given, but it is not exported (--table)`);
  }
  return { config: { ...others, password, proxy, url: rest.url ?? '', table: tableNames[0] ?? '', tableNames, tableSettings: tables ?? {} }, warnings };
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
    out.push(text(decodeURIComponent(u.password)));
  }
  const user = text(values.user);
  const password = text(values.password);
  if (user !== undefined && password !== undefined) out.push(Buffer.from(`${user}:${password}`).toString('base64'));
  return out.filter((v): v is string => v !== undefined);
}

const jsoncLoader: Loader = (filepath, content) => {
  const errors: ParseError[] = [];
  const value = parseJsonc(content, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = content.slice(0, e.offset).split('\n').length;
    throw new ConfigError(`${filepath}: invalid JSON at line ${line}: ${printParseErrorCode(e.error)}`);
  }
  return value;
};

/** .nowpiperc without extension: JSON (with comments) or YAML. */
const noExtLoader: Loader = (filepath, content) => {
  if (/^\s*[{[]/.test(content) || /^\s*\/\//.test(content)) return jsoncLoader(filepath, content);
  return defaultLoaders['.yaml'](filepath, content);
};

const explorer = cosmiconfig('nowpipe', {
  searchPlaces: ['package.json', '.nowpiperc', '.nowpiperc.json', '.nowpiperc.yaml', '.nowpiperc.yml', 'nowpipe.config.js', 'nowpipe.config.mjs', 'nowpipe.config.cjs'],
  loaders: { '.json': jsoncLoader, noExt: noExtLoader },
  searchStrategy: 'project',
});

/** Finds and reads the rc file (or the one named by --config). */
export async function readRcFile(configPath: string | undefined, cwd: string): Promise<{ raw: unknown; source?: string }> {
  try {
    const found = configPath ? await explorer.load(configPath) : await explorer.search(cwd);
    if (!found || found.isEmpty) return { raw: undefined, source: found?.filepath };
    return { raw: found.config, source: found.filepath };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new ConfigError(`config: ${configPath} does not exist`);
    throw new ConfigError(`config: cannot read ${configPath ?? 'the rc file'}: ${e.message}`, { cause: err });
  }
}

export interface LoadOptions {
  flags: Values & { config?: string };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  require?: Array<'url' | 'table'>;
}

/** Reads every source and resolves the configuration a command runs with. */
export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const { config: configPath, ...flags } = options.flags;
  const { raw, source } = await readRcFile(configPath, options.cwd ?? process.cwd());
  const rc = mapRcObject(raw, source ?? 'rc file');
  const envVals = envValues(env);
  const passwordFile = (flags.passwordFile ?? envVals.passwordFile ?? rc.values.passwordFile) as string | undefined;
  let passwordFromFile: string | undefined;
  if (passwordFile !== undefined) {
    try {
      passwordFromFile = (await readFile(passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`passwordFile: cannot read ${passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (passwordFromFile === '') throw new ConfigError(`passwordFile: ${passwordFile} is empty`);
  }
  const resolved = resolveConfig({
    rc: rc.values,
    env: envVals,
    flags,
    require: options.require,
    noProxy: env.NO_PROXY ?? env.no_proxy,
    passwordFromFile,
  });
  // From here on, no message shows them (see errors/redact.ts). A "secret" equal to a name the
  // messages show anyway (admin/admin) is left alone: masking it would only hide the name.
  const c = resolved.config;
  const names = new Set([c.user, c.clientId, c.kafkaUsername]);
  for (const secret of secretsOf(c)) if (!names.has(secret)) registerSecret(secret);
  return { config: resolved.config, warnings: [...rc.warnings, ...resolved.warnings], source };
}
