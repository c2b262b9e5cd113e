// Unsigned LEB128 varints and zigzag, shared by the embedded log's batch codec and Kafka's record batches.

/** Bytes of n (a safe integer ≥ 0) as unsigned LEB128. */
export function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  n = Math.floor(n / 0x10000000);
  while (n > 0) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes n (a safe integer ≥ 0) as unsigned LEB128 at `at`; returns the position after it. */
export function writeUvarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    // `&` takes n modulo 2^32 first, which keeps the low 7 bits right for any safe integer.
    out[at++] = (n & 0x7f) | 0x80;
    n = n < 0x80000000 ? n >>> 7 : Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Zigzag: 0, −1, 1, −2, … → 0, 1, 2, 3, …, so small negative numbers stay short as uvarints. */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}
