// Header names decoded once: a topic's records carry the same few names, and decoding each one again
// cost a native call and a string of garbage per record (the simulator's records carry one header each).

/** Names seen so far, by their UTF-8 bytes; a short list, scanned in order. */
const seen: { bytes: Uint8Array; name: string }[] = [];
/** Names kept (later ones are decoded every time), and the longest name kept. */
const MAX_NAMES = 32;
const MAX_NAME_BYTES = 64;

/** The name whose UTF-8 bytes are buf[start, end): the same string for the same bytes, as decoding gives. */
export function headerName(buf: Uint8Array, start: number, end: number): string {
  const length = end - start;
  for (let i = 0; i < seen.length; i++) {
    const entry = seen[i]!;
    const bytes = entry.bytes;
    if (bytes.length !== length) continue;
    let j = 0;
    while (j < length && bytes[j] === buf[start + j]) j++;
    if (j === length) return entry.name;
  }
  const name = Buffer.from(buf.buffer, buf.byteOffset + start, length).toString("utf8");
  if (seen.length < MAX_NAMES && length <= MAX_NAME_BYTES) {
    seen.push({ bytes: buf.slice(start, end), name });
  }
  return name;
}
