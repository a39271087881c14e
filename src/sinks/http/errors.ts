import { TimeoutError } from 'got';
import { HttpError, NetworkError, type NowpipeError } from '../../errors/index.js';
import { redact } from '../../errors/redact.js';
import { retryAfterMs } from '../../servicenow/response.js';

/** How much of a receiver's answer a message quotes. */
const QUOTED = 500;

/** What a message needs to say where the POST went and what it held. */
export interface PostContext {
  /** The receiver as people may see it (no credentials, no query: see shownUrl). */
  url: string;
  rows: number;
  bytes: number;
  maxBytes: number;
}

/** The start of a response body, on one line, with every secret taken out. */
export function quoted(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return redact(one.length > QUOTED ? `${one.slice(0, QUOTED)}…` : one);
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * A receiver's answer that is not 2xx. 429 and 5xx are retried (after Retry-After when it says
 * so); a redirect is never followed (the body and headers may carry secrets); any other 4xx
 * means the receiver will never take this batch: the run stops with its words.
 */
export function responseError(status: number, headers: Headers, body: string, ctx: PostContext): NowpipeError {
  const details = { status, method: 'POST', url: ctx.url };
  const said = body.trim() === '' ? '' : `: ${quoted(body)}`;
  if (status === 429 || status >= 500) {
    return new HttpError(`the webhook receiver is ${status === 429 ? 'rate limiting' : 'failing'}${said}`, { ...details, retriable: true, retryAfterMs: retryAfterMs(headers) });
  }
  if (status >= 300 && status < 400) {
    const location = typeof headers.location === 'string' ? headers.location : undefined;
    return new HttpError(`the webhook receiver redirected to ${shownLocation(location, ctx.url)}; nowpipe does not follow redirects (the body and its headers may carry secrets)`, { ...details, retriable: false }, {
      hint: 'set --http-url to the address the receiver really listens on',
    });
  }
  const hint =
    status === 401 || status === 403
      ? 'check --http-header (the API key the receiver wants) and --http-secret'
      : status === 413
        ? `lower --http-max-bytes (now ${ctx.maxBytes}) below what the receiver accepts`
        : 'the receiver\'s answer says why; the checkpoint stays before this batch, so a rerun sends it again';
  return new HttpError(`the webhook receiver refused a batch of ${ctx.rows} row${ctx.rows === 1 ? '' : 's'} (${ctx.bytes} bytes)${said}`, { ...details, retriable: false }, { hint });
}

/** A redirect target without credentials or query (they may carry tokens). */
function shownLocation(location: string | undefined, base: string): string {
  if (location === undefined || location === '') return '(no Location header)';
  try {
    const u = new URL(location, base);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(an invalid Location header)';
  }
}

/** The server's certificate was refused: a retry meets the same certificate. */
const CERT = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS_CERT_ALTNAME_INVALID|INVALID_CA/;

/**
 * A POST (or the connect check) that got no answer. Retried, except what a retry cannot change:
 * a host name that does not resolve, a certificate that is not trusted, a bad URL.
 */
export function transportError(err: unknown, url: string, action = 'POST'): NowpipeError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code;
  const host = URL.canParse(url) ? new URL(url).host : url;
  const details = { method: action, url };
  if (err instanceof TimeoutError || code === 'ETIMEDOUT') {
    return new NetworkError(`the webhook receiver ${host} did not answer within the timeout`, { ...details, code: 'ETIMEDOUT' }, { cause: err, hint: '--timeout gives it longer (--http-retries more attempts)' });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new NetworkError(`the webhook receiver's host ${host} does not resolve (${code})`, { ...details, code, retriable: code === 'EAI_AGAIN' }, { cause: err, hint: 'check --http-url' });
  }
  if (code !== undefined && CERT.test(code)) {
    return new NetworkError(`the TLS certificate of the webhook receiver ${host} was refused: ${e.message} (${code})`, { ...details, code, retriable: false }, {
      cause: err,
      hint: 'a receiver with a certificate from an internal CA: give the CA with NODE_EXTRA_CA_CERTS=<pem file>; nowpipe never skips verification',
    });
  }
  if (code === 'ERR_INVALID_URL') return new NetworkError(`--http-url is not a URL nowpipe can POST to (${e.message})`, { ...details, code, retriable: false }, { cause: err, hint: 'check --http-url' });
  return new NetworkError(`cannot reach the webhook receiver ${host}: ${code ?? e.message}`, { ...details, code }, { cause: err, hint: 'check --http-url and that the receiver is up' });
}
