import type { ConfigInput } from './schema.js';

type Key = keyof ConfigInput;

/**
 * Settings that have no flag: a message names them as the rc file does. Every other key is
 * named by its flag (test/unit/config-names.test.ts keeps this list true to the CLI's flags).
 */
export const RC_ONLY_NAMES: Partial<Record<Key, string>> = {
  tables: 'tables',
  connectTimeout: 'connectTimeout',
  kafkaSecurityProtocol: 'security.protocol',
  kafkaJaasConfig: 'sasl.jaas.config',
};

export function camelToKebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Where each setting's value came from, so a message can point at the line to change. */
export interface Origins {
  flags: ReadonlySet<string>;
  /** Setting → the environment variable that gave it. */
  env: ReadonlyMap<string, string>;
  /** Setting → the key as written in the rc file. */
  rc: ReadonlyMap<string, string>;
  /** The rc file, as the user would name it. */
  rcFile?: string;
}

/**
 * How a message names a setting: `--poll-interval` (given as a flag or not given at all),
 * `--url (from SERVICENOW_URL)`, `--batch-size (from batch.max.rows in connector.json)`,
 * `sasl.jaas.config (from client.json)`, `tables.incident.batchSize (from .nowpiperc)`.
 */
export function settingLabel(path: string, origins: Origins): string {
  const [key = '', ...rest] = path.split('.');
  const file = origins.rcFile ?? 'the rc file';
  if (key === 'tables') return `${path} (from ${file})`;
  const rcKey = origins.rc.get(key);
  const rcOnly = RC_ONLY_NAMES[key as Key];
  const name = [rcOnly !== undefined ? (rcKey ?? rcOnly) : `--${camelToKebab(key)}`, ...rest].join('.');
  if (origins.flags.has(key)) return name;
  const envName = origins.env.get(key);
  if (envName !== undefined) return `${name} (from ${envName})`;
  if (rcKey !== undefined) return rcOnly !== undefined ? `${name} (from ${file})` : `${name} (from ${rcKey} in ${file})`;
  return name;
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counted as one. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known name closest to a misspelt one (case and `-`/`_`/`.` aside), if it is close enough
 * to be a typo: at most one edit in four characters, two at most.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_.]/g, '');
  const w = norm(word);
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = norm(name) === w ? 0 : distance(word.toLowerCase(), name.toLowerCase());
    if (best === undefined || d < best.d) best = { name, d };
  }
  if (best === undefined) return undefined;
  return best.d <= Math.min(2, Math.max(1, Math.floor(word.length / 4))) ? best.name : undefined;
}

/** ` (did you mean table?)`, or nothing when no known name is close. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const match = closest(word, known);
  return match === undefined ? '' : ` (did you mean ${match}?)`;
}
