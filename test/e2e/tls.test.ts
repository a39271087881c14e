// TLS to the instance: an internal CA (--ca, NODE_EXTRA_CA_CERTS), mutual TLS (--cert/--key) and
// the User-Agent, against the simulator behind a TLS-terminating proxy (certificates made with openssl).
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, sysIds, tableRequests, tempDir, visibleIds } from '../helpers/cli.js';
import { makePki, type TestPki } from '../helpers/tls.js';

const CLIENT = { id: 'nowpipe-app', secret: 'cl1ent-S3CRET-value' };
const USER = { user: 'svc.nowpipe', password: 'us3r-PASSW0RD-value' };

interface Front {
  url: string;
  /** TCP connections accepted (a retry of a failed handshake would be another). */
  connections: number;
  requests: Array<{ method: string; path: string; userAgent?: string }>;
  close(): Promise<void>;
}

/** HTTPS in front of the simulator, with a certificate from the test CA; optionally requiring a client certificate. */
async function tlsFront(target: string, pki: TestPki, requireClientCert: boolean): Promise<Front> {
  const sockets = new Set<Socket>();
  const server = createServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert), ca: readFileSync(pki.ca), requestCert: requireClientCert, rejectUnauthorized: requireClientCert },
    (req, res) => {
      front.requests.push({ method: req.method!, path: req.url!, userAgent: req.headers['user-agent'] });
      const up = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    },
  );
  const front: Front = {
    url: '',
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  server.on('connection', (s: Socket) => {
    front.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  front.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return front;
}

const dirs: string[] = [];
/** A temporary folder, removed after the tests. */
async function scratch(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

let pki: TestPki;
let sim: Simulator;
let front: Front | undefined;
beforeAll(async () => {
  pki = await makePki(await scratch());
  sim = await startSimulator({ rows: 180, seed: 81, users: [USER], oauth: { clients: [CLIENT] } });
});
afterAll(async () => {
  await sim?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
afterEach(async () => {
  await front?.close();
  front = undefined;
});

const base = async (url: string) => ['--url', url, '--table', 'incident', '--checkpoint', join(await scratch(), 'cp.json'), '--user', USER.user];
const env = { SERVICENOW_PASSWORD: USER.password };

describe('an instance with a certificate from an internal CA (built CLI)', () => {
  it('without --ca: a clear certificate error, exit 1, not retried', async () => {
    front = await tlsFront(sim.url, pki, false);
    const res = await runCli([...(await base(front.url)), '--retries', '3'], { env });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: the TLS certificate of 127\.0\.0\.1:\d+ was refused: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    expect(res.stderr).toMatch(/hint: .*give its certificate with --ca <pem file> \(or NODE_EXTRA_CA_CERTS\)/);
    expect(res.stderr).not.toMatch(/gave up|retry/);
    expect(front.connections).toBe(1);
    expect(front.requests).toEqual([]);
  });

  it('--ca: every row; the User-Agent is nowpipe/<version> unless --user-agent says otherwise', async () => {
    front = await tlsFront(sim.url, pki, false);
    const res = await runCli([...(await base(front.url)), '--ca', pki.ca], { env });
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(new Set(front.requests.map((r) => r.userAgent))).toEqual(new Set([`nowpipe/${version}`]));
    front.requests.length = 0;
    const custom = await runCli([...(await base(front.url)), '--ca', pki.ca, '--user-agent', 'acme-export/2.1 (ops@acme.com)'], { env });
    expect(custom.code, custom.stderr).toBe(0);
    expect(new Set(front.requests.map((r) => r.userAgent))).toEqual(new Set(['acme-export/2.1 (ops@acme.com)']));
  });

  it('NODE_EXTRA_CA_CERTS works as Node reads it, also beside a --ca that adds another CA', async () => {
    front = await tlsFront(sim.url, pki, false);
    const alone = await runCli(await base(front.url), { env: { ...env, NODE_EXTRA_CA_CERTS: pki.ca } });
    expect(alone.code, alone.stderr).toBe(0);
    expect(sysIds(alone.stdout)).toHaveLength(visibleIds(sim).length);
    const beside = await runCli([...(await base(front.url)), '--ca', pki.otherCa], { env: { ...env, NODE_EXTRA_CA_CERTS: pki.ca } });
    expect(beside.code, beside.stderr).toBe(0);
    expect(sysIds(beside.stdout)).toHaveLength(visibleIds(sim).length);
    // --ca of an unrelated CA adds to the trust: alone it does not make this server trusted.
    const other = await runCli([...(await base(front.url)), '--ca', pki.otherCa, '--retries', '0'], { env });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/the TLS certificate of .* was refused/);
  });
});

describe('an instance that requires a client certificate (built CLI)', () => {
  it('without --cert/--key: a clear error, exit 1, not retried', async () => {
    front = await tlsFront(sim.url, pki, true);
    const res = await runCli([...(await base(front.url)), '--ca', pki.ca, '--retries', '3'], { env });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: 127\.0\.0\.1:\d+ asks for a client certificate \(mutual TLS\) and refused the connection/);
    expect(res.stderr).toMatch(/hint: give the client certificate and its key with --cert <pem file> --key <pem file>/);
    expect(res.stderr).not.toMatch(/gave up|retry|SSL routines/);
    expect(front.connections).toBe(1);
  });

  it('with --cert/--key every row; OAuth goes over the same TLS (rc file keys)', async () => {
    front = await tlsFront(sim.url, pki, true);
    const dir = await scratch();
    const rc = join(dir, '.nowpiperc.json');
    await writeFile(rc, JSON.stringify({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, clientId: CLIENT.id }));
    const res = await runCli(['--url', front.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--config', rc, '--user', USER.user], {
      env: { SERVICENOW_PASSWORD: USER.password, SERVICENOW_CLIENT_SECRET: CLIENT.secret },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    expect(front.requests.filter((r) => r.path === '/oauth_token.do')).toHaveLength(1);
    expect(tableRequests(sim).at(-1)?.auth).toBe('bearer');
  });
});

describe('TLS files that cannot be used (built CLI)', () => {
  it('unreadable or wrong files: exit 2 naming each, before connecting', async () => {
    const dir = await scratch();
    const notPem = join(dir, 'notes.txt');
    await writeFile(notPem, 'not a certificate\n');
    const res = await runCli([...(await base('https://127.0.0.1:9')), '--ca', join(dir, 'missing.pem'), '--cert', notPem, '--key', pki.clientCert], { env });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`--ca: cannot read ${join(dir, 'missing.pem')} (ENOENT)`);
    expect(res.stderr).toContain(`--cert: ${notPem} holds no certificate`);
    expect(res.stderr).toContain(`--key: ${pki.clientCert} holds no private key`);
  });

  it('a key that is not the certificate\'s, and --cert without --key: exit 2', async () => {
    const mismatch = await runCli([...(await base('https://127.0.0.1:9')), '--cert', pki.clientCert, '--key', pki.serverKey], { env });
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain(`--key: ${pki.serverKey} is not the key of the certificate in ${pki.clientCert}`);
    const half = await runCli([...(await base('https://127.0.0.1:9')), '--cert', pki.clientCert], { env });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/key: mutual TLS needs both --cert and --key/);
  });
});
