import net from 'node:net';
import tls from 'node:tls';

/**
 * Connects to the receiver (and, for https, completes the TLS handshake, verifying its
 * certificate) and hangs up without sending a byte of HTTP: a health check with no side
 * effect on the receiver (a POST would deliver an empty batch, which a receiver may refuse or
 * count). Resolves once connected; rejects with the socket's error (its `code`: ECONNREFUSED,
 * ENOTFOUND, a certificate code) or ETIMEDOUT.
 */
export function connectOnly(url: URL, timeoutMs: number): Promise<void> {
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<void>((resolve, reject) => {
    const socket = https ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] }) : net.connect({ host, port });
    const done = (err?: Error) => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.once(https ? 'secureConnect' : 'connect', () => done());
    socket.once('error', (err: Error) => done(err));
  });
}
