import http from 'node:http';
import https from 'node:https';
import got, { type Got } from 'got';
import { HttpProxyAgent, HttpsProxyAgent } from 'hpagent';
import { VERSION } from '../errors/version.js';
import type { TlsMaterial } from './tls.js';

export const DEFAULT_USER_AGENT = `nowpipe/${VERSION}`;

export interface TransportOptions {
  timeoutMs: number;
  connectTimeoutMs: number;
  proxy?: string;
  /** Trust and client certificate for https:// (see readTlsMaterial); Node's defaults without it. */
  tls?: TlsMaterial;
  userAgent?: string;
}

/**
 * The one HTTP stack of a run: the Table API and the OAuth token endpoint share its agents
 * (proxy, TLS, keep-alive), timeouts and user agent. It never follows a redirect: every request
 * nowpipe makes carries a credential (basic auth, bearer token, OAuth grant body), and a redirect
 * to another host would hand it over. Callers see the 3xx and stop (see redirectError).
 */
export interface Transport {
  readonly http: Got;
  /** The proxy in use, for messages (never printed with its credentials). */
  readonly proxy?: string;
  /** Whether a client certificate is offered (for TLS error hints). */
  readonly clientCert: boolean;
}

export function createTransport(options: TransportOptions): Transport {
  // TLS options on the agents: hpagent passes them to the TLS connection inside the tunnel too.
  const agentOptions = { keepAlive: true, maxSockets: 64, ...options.tls };
  const agent = options.proxy
    ? {
        http: new HttpProxyAgent({ ...agentOptions, proxy: options.proxy }),
        https: new HttpsProxyAgent({ ...agentOptions, proxy: options.proxy }),
      }
    : { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const instance = got.extend({
    agent,
    retry: { limit: 0 }, // retries are nowpipe's own (retry.ts), one policy for every request
    throwHttpErrors: false,
    followRedirect: false,
    decompress: true,
    timeout: { connect: options.connectTimeoutMs, request: options.timeoutMs },
    headers: { accept: 'application/json', 'user-agent': options.userAgent ?? DEFAULT_USER_AGENT },
  });
  return { http: instance, proxy: options.proxy, clientCert: options.tls?.cert !== undefined };
}
