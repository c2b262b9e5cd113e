// The Kafka log's options: which codecs this Node.js can produce with.
import zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { compressionUnavailable } from "./options.ts";

describe("compressionUnavailable", () => {
  it("refuses a codec this Node.js cannot produce, or an unknown one, naming the fix", () => {
    expect(compressionUnavailable("lz4")).toBeUndefined();
    expect(compressionUnavailable("brotli")).toMatch(/unknown compression 'brotli'; use one of none, gzip/);
    const zstd = compressionUnavailable("zstd");
    if (typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === "function")
      expect(zstd).toBeUndefined();
    else
      expect(zstd).toMatch(/needs a Node.js whose zlib has zstd \(22.15 or later\).*use lz4, snappy or gzip/);
  });
});
