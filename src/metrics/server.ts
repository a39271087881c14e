import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redact } from '../errors/redact.js';
import type { HealthStatus } from './health.js';

export interface MetricsServerOptions {
  host: string;
  /** 0: a free port, said in `url`. */
  port: number;
  /** The metrics in Prometheus' text format, and its content type. */
  metrics: () => Promise<{ body: string; contentType: string }>;
  health: () => HealthStatus;
}

export interface MetricsServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * GET /metrics and GET /healthz, nothing else. Rejects with Node's listen error (EADDRINUSE,
 * EACCES, EADDRNOTAVAIL, ENOTFOUND) for the caller to put in the user's words.
 */
export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET\n');
    if (path === '/metrics') {
      o.metrics().then(
        ({ body, contentType }) => send(res, 200, body, contentType),
        (err: unknown) => send(res, 500, `metrics failed: ${redact(String(err))}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      const h = o.health();
      // The reason may quote an instance's error, which may echo a secret back.
      return send(res, h.healthy ? 200 : 503, `${redact(h.reason)}\n`);
    }
    send(res, 404, 'not found: GET /metrics (Prometheus) or /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection must not hold the run open.
        server.closeAllConnections();
      }),
  };
}
