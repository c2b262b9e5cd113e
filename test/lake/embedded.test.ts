// The embedded raw lake: the RawLake contract over temp store files, through the store's own lake and through one opened on its own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { RawBatchEncoder } from "../../src/lake/batch.ts";
import type { OpenedRawLake, RawEventRow } from "../../src/lake/index.ts";
import { EmbeddedLiveStore, openEmbeddedRawLake } from "../../src/store/embedded/index.ts";
import { openLake } from "../../src/store/open.ts";
import { type LakeConformanceSubject, type LegacyRawRow, runLakeConformance } from "../conformance/lake.ts";

/** A store on a fresh file, and the lake the case reads through: the store's own, or one `open` opens on the file. */
function subject(open?: (path: string) => OpenedRawLake | Promise<OpenedRawLake>) {
  return async (): Promise<LakeConformanceSubject> => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-lake-"));
    const path = join(dir, "live.db");
    const store = EmbeddedLiveStore.open({ path });
    const opened = await open?.(path);
    return {
      lake: opened ?? store.lake,
      commit: (batch) => store.commit(batch),
      writeLegacy: async (rows) => writeLegacy(path, rows),
      cleanup: async () => {
        await opened?.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

runLakeConformance("embedded (the store's lake)", subject());

runLakeConformance(
  "embedded (opened on its own on the store file)",
  subject((path) => openEmbeddedRawLake({ path })),
);

runLakeConformance(
  "embedded (opened by the store's URL)",
  subject((path) => openLake(`embedded:${basename(path)}`, { dataDir: dirname(path) })),
);

describe("openLake", () => {
  it("refuses a URL that names no live store, as opening the store does", async () => {
    await expect(openLake("postgres://u:secret@db/x", { dataDir: tmpdir() })).rejects.toThrow(
      new ConfigError(
        "store 'postgres://db/x': not a live store URL; use store: embedded:<file> (the default, embedded:store.db), mongodb://host:port/db or mongodb+srv://host/db.",
      ),
    );
  });
});

/**
 * Stores rows as a store file written before the lake kept frames holds them: each partition's rows as
 * one batch of version 1 (JSON text values), its bytes in the row, as schema 3 kept them.
 */
function writeLegacy(path: string, rows: readonly LegacyRawRow[]): void {
  const db = new Database(path, { timeout: 15_000 });
  try {
    db.transaction(() => {
      const byPartition = new Map<string, RawEventRow[]>();
      for (const row of rows) {
        const key = JSON.stringify([row.topic, row.partition]);
        const list = byPartition.get(key) ?? [];
        list.push({ ...row, value: Buffer.from(row.json, "utf8") });
        byPartition.set(key, list);
      }
      for (const list of byPartition.values()) {
        const { topic, partition } = list[0]!;
        db.prepare(
          "INSERT OR IGNORE INTO raw_topics (topic_id, name) SELECT ifnull(max(topic_id), 0) + 1, ? FROM raw_topics",
        ).run(topic);
        const topicId = db.prepare("SELECT topic_id FROM raw_topics WHERE name = ?").pluck().get(topic);
        const batch = new RawBatchEncoder().encode(list, 0, list.length);
        const bytes = Buffer.from(batch.bytes);
        bytes[0] = 1;
        db.prepare(
          "INSERT INTO raw_batches (id, last_offset, records) VALUES ((? << 51) | (? << 41) | ?, ?, ?)",
        ).run(topicId, partition, batch.firstOffset, batch.lastOffset, bytes);
      }
    })();
  } finally {
    db.close();
  }
}
