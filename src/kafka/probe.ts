import net from 'node:net';
import tls from 'node:tls';

/**
 * Whether an address speaks Kafka, asked before kafkajs connects to it: kafkajs trusts the bytes
 * it reads, so an address that answers something else (a web server, another protocol, a TLS
 * listener spoken to in plain text) ends in a RangeError from its decoder, in an exception
 * thrown from its socket handler that no caller can catch, or in a 30 s timeout.
 *
 * The question is ApiVersions v0 (the first request of every Kafka client, answered before any
 * authentication, by every broker since 0.10). A broker answers it with a response of exactly
 * that shape, even when it prefers newer versions (then with error 35, UNSUPPORTED_VERSION).
 */
export type ProbeVerdict = { kind: 'kafka' } | { kind: 'not-kafka'; answer: string } | { kind: 'unknown' };

const API_VERSIONS = 18;
const UNSUPPORTED_VERSION = 35;
/** A v0 ApiVersions response lists some 60–90 APIs at 6 bytes each. */
const MAX_SIZE = 1 << 16;

export function apiVersionsRequest(correlationId: number, clientId: string): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const out = Buffer.alloc(4 + 10 + client.length);
  out.writeInt32BE(10 + client.length, 0);
  out.writeInt16BE(API_VERSIONS, 4);
  out.writeInt16BE(0, 6); // version 0
  out.writeInt32BE(correlationId, 8);
  out.writeInt16BE(client.length, 12);
  client.copy(out, 14);
  return out;
}

/** The first bytes of an answer, for a message: its first line if it is text, else hex. */
function describe(bytes: Buffer): string {
  const head = bytes.subarray(0, 64);
  const text = head.toString('latin1');
  if (/^[\x20-\x7e\t\r\n]+$/.test(text)) return `it answered "${text.split(/\r?\n/)[0]!.slice(0, 60)}"`;
  if (bytes[0] === 0x15 && bytes[1] === 0x03) return 'it answered with a TLS alert';
  return `it answered ${bytes.length} bytes that are not a Kafka response (${head.subarray(0, 12).toString('hex')}…)`;
}

/** 'more' until a whole response has arrived; then whether it is a v0 ApiVersions response to our request. */
export function judgeAnswer(bytes: Buffer, correlationId: number): string {
  if (bytes.length < 4) return 'more';
  const size = bytes.readInt32BE(0);
  if (size < 10 || size > MAX_SIZE) return describe(bytes);
  if (bytes.length < 4 + size) return 'more';
  const count = bytes.readInt32BE(10);
  const error = bytes.readInt16BE(8);
  const shaped = bytes.readInt32BE(4) === correlationId && (error === 0 || error === UNSUPPORTED_VERSION) && count >= 0 && size === 10 + 6 * count;
  if (!shaped) return describe(bytes);
  for (let i = 0; i < count; i++) {
    const at = 14 + 6 * i;
    const [min, max] = [bytes.readInt16BE(at + 2), bytes.readInt16BE(at + 4)];
    if (min < 0 || max < min) return describe(bytes);
  }
  return 'kafka';
}

export interface ProbeOptions {
  /** TLS options when the listener speaks TLS (kafkajs's `ssl`), else undefined. */
  tls?: tls.ConnectionOptions;
  clientId: string;
  /** How long to wait for the connection and then for the answer. */
  timeoutMs: number;
}

/**
 * Asks `address` (host:port) for its API versions. `unknown` when it cannot be asked (refused,
 * unreachable, TLS failing) or gives no answer: kafkajs then reports that as it always has.
 */
export function probeKafka(address: string, options: ProbeOptions): Promise<ProbeVerdict> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(i + 1));
  const correlationId = 0x6e6f7770; // "nowp"
  return new Promise((resolve) => {
    let answer = Buffer.alloc(0);
    const socket = options.tls
      ? tls.connect({ ...options.tls, host, port, servername: net.isIP(host) ? undefined : host })
      : net.connect({ host, port });
    const done = (verdict: ProbeVerdict) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(verdict);
    };
    // Only bytes that are not Kafka's are a verdict. Silence or a hang-up is also what a broker
    // that is starting, stopping or out of connections gives: kafkajs retries those.
    const noAnswer = (): ProbeVerdict => (answer.length > 0 ? { kind: 'not-kafka', answer: describe(answer) } : { kind: 'unknown' });
    const timer = setTimeout(() => done(noAnswer()), options.timeoutMs);
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      socket.write(apiVersionsRequest(correlationId, options.clientId));
    });
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      const verdict = judgeAnswer(answer, correlationId);
      if (verdict === 'kafka') done({ kind: 'kafka' });
      else if (verdict !== 'more') done({ kind: 'not-kafka', answer: verdict });
    });
    socket.once('error', () => done(noAnswer()));
    socket.once('close', () => done(noAnswer()));
  });
}
