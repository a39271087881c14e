import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { parse as parseJsonc, type ParseError, printParseErrorCode } from 'jsonc-parser';
import { ConfigError } from '../errors/index.js';
import { CONNECT_ONLY_KEYS, RC_ALIASES, kebabToCamel } from './keys.js';
import { camelToKebab, didYouMean } from './names.js';
import { configFields, tableSettingsSchema, type ConfigInput } from './schema.js';

export type Values = Partial<Record<keyof ConfigInput, unknown>>;

const KNOWN_KEYS = new Set(Object.keys(configFields));

/** Every spelling an rc file may use for a setting, for "did you mean". */
const RC_SPELLINGS = [...KNOWN_KEYS, ...[...KNOWN_KEYS].map(camelToKebab), ...Object.keys(RC_ALIASES)];

export interface RcSettings {
  values: Values;
  /** Things the user should know (unknown keys, each with the closest known one), each said once. */
  warnings: string[];
  /** Setting → the key as the rc file spells it, so messages can point at it. */
  keys: Map<string, string>;
}

/** `tables.<name>` entries in the flag's kebab-case are taken as camelCase, like top-level keys. */
function normaliseTables(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([table, own]) => [
      table,
      typeof own === 'object' && own !== null && !Array.isArray(own) ? Object.fromEntries(Object.entries(own as Record<string, unknown>).map(([k, v]) => [kebabToCamel(k), v])) : own,
    ]),
  );
}

/** The keys a table's own settings may have, for "did you mean". */
export const TABLE_KEYS = Object.keys(tableSettingsSchema.shape);

/**
 * Maps an rc object (nowpipe keys, kebab-case flags, Confluent connector keys, or a whole
 * Kafka Connect connector JSON) onto schema keys. Pure: reports unknown keys as warnings.
 */
export function mapRcObject(raw: unknown, origin: string): RcSettings {
  const warnings: string[] = [];
  const keys = new Map<string, string>();
  if (raw === null || raw === undefined) return { values: {}, warnings, keys };
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
      keys.set(alias.key, rawKey);
      continue;
    }
    const camel = kebabToCamel(rawKey);
    if (KNOWN_KEYS.has(camel)) {
      values[camel as keyof ConfigInput] = camel === 'tables' ? normaliseTables(value) : value;
      keys.set(camel, rawKey);
      continue;
    }
    if (CONNECT_ONLY_KEYS.has(rawKey)) unused.push(rawKey);
    else warnings.push(`${origin}: unknown setting "${rawKey}" ignored${didYouMean(rawKey, RC_SPELLINGS)}`);
  }
  if (unused.length > 0) {
    warnings.push(`${origin}: Kafka Connect settings not used by nowpipe: ${unused.join(', ')}`);
  }
  return { values, warnings, keys };
}

const jsoncLoader: Loader = (filepath, content) => {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(content, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = content.slice(0, e.offset).split('\n').length;
    throw new ConfigError(`${filepath}: invalid JSON at line ${line}: ${printParseErrorCode(e.error)}`);
  }
  return value;
};

/** .nowpiperc without extension: JSON (with comments) or YAML. */
const noExtLoader: Loader = (filepath, content) => {
  if (/^\s*[{[]/.test(content) || /^\s*\/\//.test(content)) return jsoncLoader(filepath, content) as unknown;
  const value: unknown = defaultLoaders['.yaml'](filepath, content);
  return value;
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
    if (e.code === 'ENOENT') throw new ConfigError(`--config: ${configPath} does not exist`);
    throw new ConfigError(`${configPath ? `--config: cannot read ${configPath}` : 'cannot read the rc file'}: ${e.message}`, { cause: err });
  }
}
