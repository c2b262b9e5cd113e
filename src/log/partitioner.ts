// Kafka-compatible record placement: murmur2 for keyed records, a sticky round-robin for null keys.

/*
 * Kafka's Utils.murmur2 (MurmurHash2, 32-bit, seed 0x9747b28c), bit for bit, so a key lands on the
 * same partition here as it does with a Java, librdkafka or KafkaJS "default/murmur2" producer.
 * The key is read as little-endian 32-bit words; the 1-3 trailing bytes are mixed in last.
 * All arithmetic is int32: Math.imul is Java's wrapping `*`, `>>>` is Java's `>>>`, `| 0` truncates.
 * Invariant: murmur2(bytes) equals the signed Java int Kafka computes, e.g. murmur2("21") = -973932308.
 */
const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's `Utils.murmur2` over raw key bytes: a signed 32-bit hash. Reads the bytes in place, allocates nothing. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i << 2;
    let k = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  // Java's switch falls through 3 → 2 → 1; the ifs below keep that order.
  if (rest === 3) h ^= data[tail + 2] << 16;
  if (rest >= 2) h ^= data[tail + 1] << 8;
  if (rest >= 1) {
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs for negative hashes). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner gives a non-null key: toPositive(murmur2(key)) % numPartitions. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}

/**
 * Placement for records without a key, like Kafka's sticky partitioner: every null-key record of one
 * batch goes to one partition (one B-tree region, one fetch), and each new batch moves to the next
 * partition, so null keys spread evenly over time. Keep one instance per topic.
 */
export class StickyPartitioner {
  #next: number;

  /** `start` defaults to a random partition so independent producers don't all pile onto partition 0. */
  constructor(start = Math.floor(Math.random() * 0x7fffffff)) {
    this.#next = start;
  }

  /** The partition for the null-key records of a new batch. */
  nextBatchPartition(numPartitions: number): number {
    const partition = this.#next % numPartitions;
    this.#next = (this.#next + 1) & 0x7fffffff;
    return partition;
  }
}
