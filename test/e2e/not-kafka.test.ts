// --brokers pointing at something that is not Kafka: exit 1 saying so, naming the address, with
// no stack trace, before anything is read from the instance. Local TCP servers play the part.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, tableRequests, tempDir } from '../helpers/cli.js';

let sim: Simulator;
const servers: Server[] = [];
const sockets = new Set<Socket>();
beforeAll(async () => {
  sim = await startSimulator({ rows: 5, seed: 3 });
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await sim?.close();
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.on('connection', (s: Socket) => sockets.add(s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers every request with a frame that echoes its correlation id and holds garbage. */
const framedGarbage = () =>
  createServer((c: Socket) =>
    c.on('data', (d: Buffer) => {
      // error 0, one API entry cut short: kafkajs's decoder read past the end ("offset" out of range).
      const body = Buffer.concat([d.subarray(8, 12), Buffer.from('0000000000010012', 'hex')]);
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      c.write(Buffer.concat([size, body]));
    }),
  );

const run = async (brokers: string) => {
  const before = tableRequests(sim).length;
  const r = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--sink', 'kafka', '--brokers', brokers, '--topic', 't'], {
    env: { SERVICENOW_PASSWORD: 'admin' },
    timeoutMs: 30_000,
  });
  expect(r.code).toBe(1);
  expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
  expect(tableRequests(sim).length).toBe(before);
  return r;
};

describe('an address that does not speak Kafka', () => {
  it('garbage framed like a Kafka response (kafkajs failed with "offset" out of range and a stack trace)', async () => {
    const address = await listen(framedGarbage());
    const r = await run(address);
    expect(r.stderr).toMatch(new RegExp(`^error: kafka sink: ${address} does not speak Kafka: it answered 16 bytes that are not a Kafka response \\(0000000c`));
    expect(r.stderr).toMatch(/hint: check --brokers: the host:port of a Kafka listener/);
  });

  it('a web server', async () => {
    const web = createHttpServer((_req, res) => res.writeHead(400).end('bad request'));
    const address = await listen(web);
    const r = await run(address);
    expect(r.stderr).toContain(`error: kafka sink: ${address} does not speak Kafka: it answered "HTTP/1.1 400 Bad Request"`);
  });

  it('another service that greets and hangs up (the first bad address of --brokers is named)', async () => {
    const address = await listen(createServer((c: Socket) => c.end('SSH-2.0-OpenSSH_9.6\r\n')));
    const r = await run(`${address},${await listen(framedGarbage())}`);
    expect(r.stderr).toContain(`error: kafka sink: ${address} does not speak Kafka: it answered "SSH-2.0-OpenSSH_9.6"`);
    expect(r.stderr).toMatch(/a TLS listener needs --kafka-tls/);
  });
});
