// Byte views: Buffer's methods over a plain Uint8Array without copying it.

/** The same bytes as a Buffer (no copy): a Buffer as it is, any other view wrapped over its memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
