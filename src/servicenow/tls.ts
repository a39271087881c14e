import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import { ConfigError } from '../errors/index.js';

/** What the agents get: a trust list (when extended) and a client certificate with its key. */
export interface TlsMaterial {
  ca?: string[];
  cert?: string;
  key?: string;
}

/** The files named by --ca, --cert and --key. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** OpenSSL's last words (`error:05800074:x509 certificate routines::key values mismatch` → `key values mismatch`). */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(':').pop()!.trim() || message;
}

/**
 * NODE_EXTRA_CA_CERTS, as Node read it at start-up. Node adds it to its default trust only when
 * no `ca` is given; with --ca we give one, so we add it ourselves. An unreadable file is skipped:
 * Node has already warned about it.
 */
function extraCaCerts(env: NodeJS.ProcessEnv): string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}

/**
 * Reads and checks the TLS files before anything connects: every unreadable or unusable file is
 * reported at once (exit 2), naming it. --ca adds to Node's trust (its bundled roots and
 * NODE_EXTRA_CA_CERTS); it never replaces it. There is no way to turn verification off.
 */
export function readTlsMaterial(files: TlsFiles, env: NodeJS.ProcessEnv = process.env): TlsMaterial | undefined {
  if (files.ca === undefined && files.cert === undefined && files.key === undefined) return undefined;
  const problems: string[] = [];
  const read = (flag: string, path: string | undefined, marker: RegExp, what: string): string | undefined => {
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return undefined;
    }
    if (!marker.test(text)) {
      problems.push(`${flag}: ${path} holds no ${what} (expected PEM text: -----BEGIN …-----)`);
      return undefined;
    }
    return text;
  };
  const ca = read('--ca', files.ca, /-----BEGIN CERTIFICATE-----/, 'certificate');
  const cert = read('--cert', files.cert, /-----BEGIN CERTIFICATE-----/, 'certificate');
  const key = read('--key', files.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key');
  if (ca !== undefined) {
    try {
      createSecureContext({ ca });
    } catch (err) {
      problems.push(`--ca: ${files.ca} cannot be used as a CA certificate (${reason(err)})`);
    }
  }
  if (cert !== undefined && key !== undefined) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      const why = reason(err);
      problems.push(
        /mismatch/i.test(why)
          ? `--key: ${files.key} is not the key of the certificate in ${files.cert}`
          : `--cert/--key: ${files.cert} and ${files.key} cannot be used (${why}${/decrypt|passphrase|password/i.test(why) ? '; an encrypted key is not supported' : ''})`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(ca !== undefined ? { ca: [...rootCertificates, ...extraCaCerts(env), ca] } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}
