import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoginError } from '../errors/index.js';
import { errnoWords } from '../fsutil/errno-words.js';

export const CALLBACK_PATH = '/callback';
const HOST = '127.0.0.1';

/** The local end of the redirect: where the browser brings the code back. */
export interface Callback {
  /** `http://127.0.0.1:<port>/callback`: the redirect_uri of the login. */
  readonly redirectUri: string;
  /** The query of the first request to /callback that answers the login (it has a state, a code or an error). */
  readonly answer: Promise<URLSearchParams>;
  /** The page the browser that brought the answer gets; then the listener closes. */
  reply(ok: boolean, text: string): Promise<void>;
  close(): Promise<void>;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function page(ok: boolean, text: string): string {
  const title = ok ? 'nowpipe is logged in' : 'nowpipe login failed';
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${escapeHtml(text)}</p><p>You can close this tab.</p></body></html>\n`;
}

function send(res: ServerResponse, status: number, body: string): void {
  // No caching, no referrer (the URL held the code), and the socket closes with the answer.
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', connection: 'close' });
  res.end(body);
}

/**
 * Listens on 127.0.0.1 (never on every interface: the code must not be reachable from the
 * network) on `port`, or a free port when 0. Only GET /callback with a state, a code or an
 * error counts as the answer; the first one is kept, later ones are told the login is over.
 */
export async function listenForCallback(port: number): Promise<Callback> {
  let pending: ServerResponse | undefined;
  let answered = false;
  let deliver!: (q: URLSearchParams) => void;
  const answer = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${HOST}`);
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) return send(res, 404, page(false, 'Not found.'));
    const q = url.searchParams;
    if (!q.has('state') && !q.has('code') && !q.has('error')) return send(res, 400, page(false, 'This is not an answer to a login.'));
    if (answered) return send(res, 409, page(false, 'This login has already been answered.'));
    answered = true;
    pending = res;
    deliver(q);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, HOST, () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use by another program' : errnoWords(err);
    throw new LoginError(`cannot listen on ${HOST}:${port} for the login's redirect: ${why}`, {
      cause: err,
      hint: port === 0 ? undefined : `free the port or choose another with --redirect-port (the OAuth application's Redirect URL must then be http://${HOST}:<port>${CALLBACK_PATH})`,
    });
  }
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    redirectUri: `http://${HOST}:${(server.address() as AddressInfo).port}${CALLBACK_PATH}`,
    answer,
    async reply(ok, text) {
      const res = pending;
      pending = undefined;
      if (res && !res.writableEnded) {
        const sent = new Promise<void>((resolve) => res.once('finish', resolve).once('close', resolve));
        send(res, ok ? 200 : 400, page(ok, text));
        await sent;
      }
      await close();
    },
    close,
  };
}
