// Reading zstd record batches on a Node.js whose zlib has no zstd (before 22.15), through fzstd.

import { compressionsAlgorithms } from "@platformatic/kafka";
import { decompress as zstdDecompress } from "fzstd";
import { asBuffer } from "../../bytes.ts";

/**
 * Record batches compressed with zstd (the Java client's and librdkafka's common choice) must be readable
 * on Node 20 too. The client decompresses with node:zlib, which has zstd only from Node 22.15; below that
 * its zstd entry throws, so this plugs in fzstd, a pure-JavaScript zstd decoder, for reading. Producing
 * with zstd still needs a Node with zlib zstd (compressionUnavailable says so).
 */
export function readZstdWithoutZlib(): void {
  if (compressionsAlgorithms.zstd.available) return;
  const zstd = compressionsAlgorithms.zstd as {
    decompressSync: (data: Buffer | { buffer: Buffer }) => Buffer;
  };
  zstd.decompressSync = (data) => {
    const out = zstdDecompress(Buffer.isBuffer(data) ? data : data.buffer);
    return asBuffer(out);
  };
}
