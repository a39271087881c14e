/**
 * Every secret this process knows, and `redact` to take them out of any text before it leaves
 * the process (stderr). Secrets are registered where they appear: the resolved config
 * (passwords, client secret, refresh token, Kafka credentials) and OAuth tokens as they arrive.
 * An instance can echo a request back in an error, so each secret is also looked for in the
 * forms it travels in: URL- and form-encoded, JSON- and HTML-escaped, and inside base64 (a
 * basic-auth header).
 */

const MASK = '***';
/** Tokens obtained at runtime: only the latest are kept (a long follow renews every half hour). */
const MAX_TOKENS = 32;

const configSecrets = new Set<string>();
const tokens: string[] = [];
let pattern: RegExp | null | undefined; // undefined: rebuild; null: nothing to redact

export function registerSecret(value: string | undefined, kind: 'config' | 'token' = 'config'): void {
  if (value === undefined || value === '' || configSecrets.has(value) || tokens.includes(value)) return;
  if (kind === 'config') configSecrets.add(value);
  else {
    tokens.push(value);
    if (tokens.length > MAX_TOKENS) tokens.shift();
  }
  pattern = undefined;
}

/** For tests: start from an empty registry. */
export function forgetSecrets(): void {
  configSecrets.clear();
  tokens.length = 0;
  pattern = undefined;
}

/** `text` with every registered secret, in every form, replaced by `***`. */
export function redact(text: string): string {
  if (pattern === undefined) pattern = compile([...configSecrets, ...tokens]);
  return pattern === null ? text : text.replace(pattern, MASK);
}

/** `text` with the given secrets redacted, without registering them (pure). */
export function redactWith(text: string, secrets: Iterable<string>): string {
  const p = compile([...secrets].filter((s) => s !== ''));
  return p === null ? text : text.replace(p, MASK);
}

/** Base64 runs that appear whatever the secret's offset inside the encoded text (0, 1 or 2 bytes in). */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: string[] = [];
  for (let skip = 0; skip < 3; skip++) {
    const whole = Math.floor((bytes.length - skip) / 3) * 3;
    // Shorter runs would match ordinary text; a secret that short is caught by its other forms.
    if (whole >= 6) forms.push(bytes.subarray(skip, skip + whole).toString('base64'));
  }
  return forms;
}

const html = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `%4a` and `%4A` alike: servers differ in the case of percent escapes. */
const percentInsensitive = (s: string) => escape(s).replace(/%([0-9A-F])([0-9A-F])/gi, (_, a: string, b: string) => `%[${a.toLowerCase()}${a.toUpperCase()}][${b.toLowerCase()}${b.toUpperCase()}]`);

/** Every form of one secret, as regular-expression sources. */
export function secretForms(secret: string): string[] {
  const literal = new Set([secret, JSON.stringify(secret).slice(1, -1), html(secret), ...base64Forms(secret)]);
  const encoded = new Set([encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  const forms = [...[...literal].map(escape), ...[...encoded].filter((e) => !literal.has(e)).map(percentInsensitive)];
  // A secret of a few characters would mask them inside every word: only where it stands alone.
  return secret.length < 4 ? forms.map((f) => `(?<![A-Za-z0-9])${f}(?![A-Za-z0-9])`) : forms;
}

function compile(secrets: string[]): RegExp | null {
  if (secrets.length === 0) return null;
  // Longest first: a secret that contains another is masked whole.
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  const sources = [...new Set(sorted.flatMap(secretForms))];
  return new RegExp(sources.join('|'), 'g');
}
