/**
 * Kafka's default partitioning of keyed messages — murmur2 of the key's bytes, made positive,
 * modulo the partition count — exactly as the Java client and kafkajs's DefaultPartitioner do,
 * so a row always lands in the same partition whoever writes it. kafkajs computes the hash with
 * 64-bit Long objects; this uses 32-bit integer arithmetic (Math.imul), about 20 times faster,
 * which shows at 100,000 rows (the test suite checks both agree).
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8;
    // falls through
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const scratch = new Uint8Array(256);

/** The partition of a key among `partitions` (a sys_id's 32 ASCII characters need no Buffer). */
export function partitionOf(key: string, partitions: number): number {
  let bytes: Uint8Array;
  // ASCII only (any code unit below 0x80, NUL included): one byte each, no UTF-8 encoder needed.
  // eslint-disable-next-line no-control-regex
  if (key.length <= scratch.length && /^[\x00-\x7f]*$/.test(key)) {
    for (let i = 0; i < key.length; i++) scratch[i] = key.charCodeAt(i);
    bytes = scratch.subarray(0, key.length);
  } else {
    bytes = Buffer.from(key, 'utf8');
  }
  return (murmur2(bytes) & 0x7fffffff) % partitions;
}

/** kafkajs's `createPartitioner` shape: every message nowpipe sends has a key. */
export const keyPartitioner = () => (args: { partitionMetadata: unknown[]; message: { key?: unknown; partition?: number } }) => {
  const { message, partitionMetadata } = args;
  if (message.partition !== undefined && message.partition !== null) return message.partition;
  return partitionOf(String(message.key), partitionMetadata.length);
};
