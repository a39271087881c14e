import { TimeoutError, type RequestError } from 'got';
import { HttpError, NetworkError, type NowpipeError, ResponseError } from '../errors/index.js';

/**
 * What went wrong on the wire, said so a person can act on it. Shared by the Table API and the
 * OAuth token endpoint, so both retry (or not) by the same rules.
 */

/** Where the request went, for messages and hints. */
export interface RequestContext {
  method: string;
  /** The request URL as shown to people (no credentials in it). */
  url: string;
  proxy?: string;
  /** The flag that named this URL: `--url`, or `--oauth-token-url` for a custom token endpoint. */
  flag?: string;
  /** Whether a client certificate (--cert/--key) was offered. */
  clientCert?: boolean;
}

/** The Content-Encoding the response declared (got drops it from `headers` once it decodes). */
function declaredEncoding(err: RequestError): string | undefined {
  const raw = (err as { response?: { rawHeaders?: string[] } }).response?.rawHeaders ?? [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'content-encoding') return raw[i + 1];
  return undefined;
}

/** The server's certificate was refused: a retry gets the same certificate. */
const CERT_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The proxy's address without any credentials in it, for messages, and its host:port. */
function proxyParts(proxy: string): { name: string; host?: string } {
  try {
    const u = new URL(proxy);
    return { name: `${u.protocol}//${u.host}`, host: u.host };
  } catch {
    return { name: 'the proxy' };
  }
}

/** OpenSSL's reason without its dump (`…:SSL routines:ssl3_get_record:wrong version number:../deps/…`). */
export function opensslReason(message: string): string {
  const m = /SSL routines:[^:]*:([^:]+)/.exec(message);
  return (m?.[1] ?? message).trim();
}

function origin(url: string): { origin: string; host: string; path: string; https: boolean } | undefined {
  try {
    const u = new URL(url);
    return { origin: `${u.protocol}//${u.host}`, host: u.host, path: u.pathname, https: u.protocol === 'https:' };
  } catch {
    return undefined;
  }
}

/** TLS failures: never retried (a retry meets the same certificate, the same server). */
function tlsError(err: RequestError, ctx: RequestContext): NowpipeError | undefined {
  const code = err.code;
  const where = origin(ctx.url);
  const host = where?.host ?? 'the server';
  const flag = ctx.flag ?? '--url';
  const details = { method: ctx.method, url: ctx.url, code, retriable: false };
  if (code !== undefined && CERT_CODES.has(code)) {
    return new NetworkError(`the TLS certificate of ${host} was refused: ${err.message} (${code})`, details, {
      cause: err,
      hint:
        code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? `the certificate is for another name: check ${flag}`
          : 'if the instance (or a proxy that inspects TLS) uses an internal CA, give its certificate with --ca <pem file> (or NODE_EXTRA_CA_CERTS); nowpipe never skips verification',
    });
  }
  const tlsish = code === 'EPROTO' || (code?.startsWith('ERR_SSL_') ?? false) || /SSL routines/.test(err.message);
  if (!tlsish) return undefined;
  const reason = opensslReason(err.message);
  if (/wrong version number|packet length too long|unknown protocol|http request/i.test(reason) && where?.https) {
    const plain = `http://${where.host}${flag === '--url' ? '' : where.path}`;
    return new NetworkError(`${host} does not speak TLS: it answered the https:// request in plain text`, details, {
      cause: err,
      hint: `if it serves plain HTTP, use ${flag} ${plain}`,
    });
  }
  if (/certificate required/i.test(reason) || (!ctx.clientCert && /handshake failure/i.test(reason))) {
    return new NetworkError(`${host} asks for a client certificate (mutual TLS) and refused the connection (${reason})`, details, {
      cause: err,
      hint: ctx.clientCert ? 'check --cert and --key: the server does not accept that certificate' : 'give the client certificate and its key with --cert <pem file> --key <pem file>',
    });
  }
  if (/alert (bad certificate|unknown ca|certificate unknown|certificate expired|certificate revoked|handshake failure)/i.test(reason)) {
    return new NetworkError(`${host} refused the client certificate (${reason})`, details, {
      cause: err,
      hint: 'check --cert and --key: the server must trust the CA that signed the client certificate',
    });
  }
  return new NetworkError(`the TLS handshake with ${host} failed (${reason})`, details, { cause: err, hint: `check ${flag}, --ca, --cert and --key` });
}

/** A network failure as a NowpipeError: retriable unless it is permanent (DNS, TLS, a bad URL). */
export function networkError(err: RequestError, ctx: RequestContext): NowpipeError {
  const { method, url, proxy } = ctx;
  const code = err.code;
  if (err instanceof TimeoutError) {
    return new NetworkError(`no answer within the timeout (${err.event})`, { method, url, code: 'ETIMEDOUT' }, { cause: err });
  }
  // zlib: a body sent as gzip/deflate/br that is not. Unlike a cut-off body, a retry gets the same bytes.
  if (code !== undefined && code.startsWith('Z_') && code !== 'Z_BUF_ERROR') {
    const encoding = declaredEncoding(err);
    const declared = encoding !== undefined ? `it is not the Content-Encoding ${encoding} it declares` : 'it does not match its Content-Encoding';
    return new ResponseError(`the response body could not be decoded: ${declared} (${err.message})`, { problem: 'undecodable', method, url, retriable: false }, {
      cause: err,
      hint: 'the instance, or a proxy between, labels the body with the wrong Content-Encoding',
    });
  }
  if (code === 'ERR_BODY_PARSE_FAILURE' || err.name === 'ReadError' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new ResponseError('the connection closed before the whole response arrived', { problem: 'truncated', method, url }, { cause: err });
  }
  if (proxy !== undefined) {
    // hpagent reports a proxy that refuses the tunnel as "Bad response: <status>".
    const refused = /^Bad response: (\d+)/.exec(err.message);
    const { name, host } = proxyParts(proxy);
    if (refused) {
      const status = Number(refused[1]);
      return new NetworkError(`the proxy ${name} refused the connection to the instance (HTTP ${status})`, { method, url, code, retriable: status >= 500 }, {
        cause: err,
        hint: status === 407 ? 'the proxy wants credentials: --proxy http://user:password@proxy:3128 (or HTTPS_PROXY)' : 'check --proxy (or HTTPS_PROXY) and whether the proxy allows the instance',
      });
    }
    if (host !== undefined && (err.message.includes(host) || err.message.includes(host.replace(/:\d+$/, '')))) {
      return new NetworkError(`cannot reach the proxy ${name}: ${code ?? err.message}`, { method, url, code, retriable: code !== 'ENOTFOUND' }, {
        cause: err,
        hint: 'check --proxy (or HTTPS_PROXY); NO_PROXY lists hosts reached without it',
      });
    }
  }
  const tls = tlsError(err, ctx);
  if (tls) return tls;
  if (code === 'ENOTFOUND') {
    return new NetworkError(`ENOTFOUND: ${err.message}`, { method, url, code, retriable: false }, { cause: err, hint: `check ${ctx.flag ?? '--url'}: the host name does not resolve` });
  }
  if (code === 'ERR_INVALID_URL') {
    return new NetworkError(`${code}: ${err.message}`, { method, url, code, retriable: false }, { cause: err, hint: `check ${ctx.flag ?? '--url'}` });
  }
  return new NetworkError(`${code ?? 'network error'}: ${err.message}`, { method, url, code }, { cause: err });
}

/** A redirect target as people may see it: no credentials, no query (it can carry tokens). */
export function shownLocation(location: string | undefined, base: string): string {
  if (location === undefined || location === '') return '(no Location header)';
  try {
    const u = new URL(location, base);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(an invalid Location header)';
  }
}

/**
 * A 3xx to a request that carries credentials. nowpipe never follows one: the target would get
 * the password, client secret or token. Says where it pointed and what to check.
 */
export function redirectError(status: number, location: string | undefined, ctx: RequestContext & { what: string }): HttpError {
  const target = shownLocation(location, ctx.url);
  const flag = ctx.flag ?? '--url';
  const from = origin(ctx.url);
  let to: URL | undefined;
  try {
    to = location ? new URL(location, ctx.url) : undefined;
  } catch {
    to = undefined;
  }
  const upgrade = from !== undefined && to !== undefined && !from.https && to.protocol === 'https:' && to.hostname === new URL(ctx.url).hostname;
  return new HttpError(
    `${ctx.what} redirected to ${target}; nowpipe does not follow redirects, so no credentials were sent there`,
    { status, method: ctx.method, url: ctx.url, retriable: false },
    {
      hint: upgrade
        ? `use the https:// address: ${flag} https://${to!.host}${flag === '--url' ? '' : to!.pathname}`
        : `check ${flag}: it must be the instance's own address; a redirect to a login page means single sign-on is in front of it: use a local integration account (basic auth or OAuth)`,
    },
  );
}
