import { describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors/index.js';
import { kafkaError } from '../../src/kafka/errors.js';
import { apiVersionsRequest, judgeAnswer } from '../../src/kafka/probe.js';

/** A v0 ApiVersions response as a broker sends it: [apiKey, min, max] entries. */
function response(correlationId: number, error: number, apis: Array<[number, number, number]>): Buffer {
  const b = Buffer.alloc(14 + 6 * apis.length);
  b.writeInt32BE(10 + 6 * apis.length, 0);
  b.writeInt32BE(correlationId, 4);
  b.writeInt16BE(error, 8);
  b.writeInt32BE(apis.length, 10);
  apis.forEach(([key, min, max], i) => {
    b.writeInt16BE(key, 14 + 6 * i);
    b.writeInt16BE(min, 16 + 6 * i);
    b.writeInt16BE(max, 18 + 6 * i);
  });
  return b;
}

describe('the Kafka probe (ApiVersions v0)', () => {
  it('asks in the wire format: size, api key 18, version 0, correlation id, client id', () => {
    expect(apiVersionsRequest(7, 'np').toString('hex')).toBe('0000000c' + '0012' + '0000' + '00000007' + '0002' + Buffer.from('np').toString('hex'));
  });

  it('takes a broker\'s answer, also one that prefers newer versions (error 35), once it is whole', () => {
    const ok = response(7, 0, [[0, 0, 11], [18, 0, 4]]);
    expect(judgeAnswer(ok, 7)).toBe('kafka');
    expect(judgeAnswer(response(7, 35, [[18, 0, 4]]), 7)).toBe('kafka');
    expect(judgeAnswer(ok.subarray(0, 3), 7)).toBe('more');
    expect(judgeAnswer(ok.subarray(0, ok.length - 1), 7)).toBe('more');
  });

  it('refuses anything else, saying what came back', () => {
    expect(judgeAnswer(response(8, 0, [[18, 0, 4]]), 7)).toMatch(/^it answered 20 bytes that are not a Kafka response/);
    expect(judgeAnswer(response(7, 0, [[18, 4, 0]]), 7)).toMatch(/not a Kafka response/);
    const cut = response(7, 0, [[18, 0, 4]]);
    cut.writeInt32BE(12, 0); // the frame says it ends inside the entry
    expect(judgeAnswer(cut, 7)).toMatch(/not a Kafka response/);
    expect(judgeAnswer(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), 7)).toBe('it answered "HTTP/1.1 400 Bad Request"');
    expect(judgeAnswer(Buffer.from('150303000202', 'hex'), 7)).toBe('it answered with a TLS alert');
  });
});

describe('kafkaError', () => {
  it('says bytes kafkajs could not decode are not the Kafka protocol (a RangeError from its decoder is not a nowpipe bug)', async () => {
    // @ts-expect-error kafkajs ships no types for its internals
    const { default: Decoder } = (await import('kafkajs/src/protocol/decoder.js')) as { default: new (b: Buffer) => { readInt32(): number } };
    let decodeError: unknown;
    try {
      new Decoder(Buffer.alloc(2)).readInt32();
    } catch (err) {
      decodeError = err;
    }
    expect(decodeError).toBeInstanceOf(RangeError);
    const mapped = kafkaError(decodeError, { brokers: ['127.0.0.1:9'], action: 'connect' });
    expect(mapped).toBeInstanceOf(SinkError);
    expect(mapped.message).toMatch(/^kafka sink: the brokers 127\.0\.0\.1:9 answered with bytes that are not the Kafka protocol \(.*\): do they speak Kafka\?$/);
    // A RangeError of our own stays a bug.
    expect(kafkaError(new RangeError('ours'), { brokers: ['b:1'], action: 'connect' })).not.toBeInstanceOf(SinkError);
  });
});
