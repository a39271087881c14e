// Transport failures say what they are, and the permanent ones fail at once (built CLI, local servers).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

interface Local {
  port: number;
  requests: number;
  connections: number;
  close(): Promise<void>;
}

let server: Local | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A temporary folder, removed after the test. */
async function scratch(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<Local> {
  const sockets = new Set<Socket>();
  const http = createServer((req, res) => {
    local.requests++;
    answer(req, res);
  });
  const local: Local = {
    port: 0,
    requests: 0,
    connections: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        http.close(() => r());
      }),
  };
  http.on('connection', (s) => {
    local.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  local.port = (http.address() as AddressInfo).port;
  return local;
}

const run = async (url: string, ...extra: string[]) => {
  const dir = await scratch();
  return runCli(['--url', url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), ...extra], { env: { SERVICENOW_PASSWORD: 'admin' } });
};

describe('transport errors (built CLI)', () => {
  it('Content-Encoding gzip on a body that is not gzip: "could not be decoded", not retried', async () => {
    server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(JSON.stringify({ result: [{ sys_id: 'a'.repeat(32), sys_updated_on: '2024-01-01 00:00:00' }] }));
    });
    const res = await run(`http://127.0.0.1:${server.port}`, '--retries', '3');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: the response body could not be decoded: it is not the Content-Encoding gzip it declares \(incorrect header check\)/);
    expect(res.stderr).toMatch(/hint: the instance, or a proxy between, labels the body with the wrong Content-Encoding/);
    expect(res.stderr).not.toMatch(/connection closed before the whole response arrived/);
    expect(server.requests).toBe(1);
    expect(res.stdout).toBe('');
  });

  it('--url without a scheme (https) against a plain-HTTP server: fails at once, suggests http://, no OpenSSL dump', async () => {
    server = await serve((_req, res) => res.end('{"result":[]}'));
    const started = Date.now();
    const res = await run(`127.0.0.1:${server.port}`, '--retries', '8');
    expect(res.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.connections).toBe(1); // one handshake attempt, no retries
    expect(res.stderr).toContain(`error: 127.0.0.1:${server.port} does not speak TLS: it answered the https:// request in plain text (GET https://127.0.0.1:${server.port}/api/now/table/incident`);
    expect(res.stderr).toContain(`hint: if it serves plain HTTP, use --url http://127.0.0.1:${server.port}`);
    expect(res.stderr).not.toMatch(/SSL routines|deps\/openssl|gave up/);
  });
});
