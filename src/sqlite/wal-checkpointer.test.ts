// WAL checkpoints on a worker thread: they happen, the data stays whole, a failure falls back, exit is not held.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it, type TestContext } from "vitest";
import { AUTO_CHECKPOINT_PAGES, WalCheckpointer } from "./wal-checkpointer.ts";
import { EmbeddedLiveStore } from "../store/embedded/index.ts";
import type { RawEventRow } from "../lake/index.ts";

function tempDir(ctx: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-wal-"));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function rows(batch: number): RawEventRow[] {
  return Array.from({ length: 100 }, (_, i) => ({
    topic: "user-activity",
    partition: 0,
    offset: batch * 100 + i,
    event_time: batch,
    ingested_at: batch,
    value: Buffer.alloc(200, batch & 0xff),
  }));
}

describe("WalCheckpointer", () => {
  it("checkpoints a store's WAL on its worker while the store commits, and every row stays readable", async (ctx) => {
    const path = join(tempDir(ctx), "store.db");
    const store = EmbeddedLiveStore.open({ path, backgroundCheckpoints: true });
    for (let batch = 0; batch < 200; batch++) await store.commit({ rawEvents: rows(batch), checkpoints: [] });
    await until(() => (store.walCheckpointer?.checkpointedFrames ?? 0) > 0);
    expect(store.walCheckpointer?.failure).toBeUndefined();
    await store.close();
    const again = EmbeddedLiveStore.open({ path });
    const back = await again.lake.scanAfter("user-activity", new Map(), 100_000);
    expect(back).toHaveLength(20_000);
    expect(back[19_999]).toEqual(rows(199)[99]);
    await again.close();
  });

  it("gives checkpoints back to the connection when its worker fails", async (ctx) => {
    const db = new Database(join(tempDir(ctx), "a.db"));
    ctx.onTestFinished(() => {
      db.close();
    });
    db.pragma("journal_mode = WAL");
    // The worker opens the file with fileMustExist: a missing file makes it fail at once.
    const checkpointer = new WalCheckpointer(db, join(tempDir(ctx), "missing.db"));
    checkpointer.start();
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    await until(() => checkpointer.failure !== undefined);
    // Outside a test runner the message is SQLite's ("Cannot open database because the directory does
    // not exist"); vitest's own worker hands the error over without it.
    expect(checkpointer.failure).toBeTypeOf("string");
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(AUTO_CHECKPOINT_PAGES);
    await checkpointer.stop();
  });

  it("does not keep a process alive: one that commits and never closes the store exits", (ctx) => {
    const path = join(tempDir(ctx), "store.db");
    const module = fileURLToPath(new URL("../store/embedded/index.ts", import.meta.url));
    const script = `
      const { EmbeddedLiveStore } = await import(${JSON.stringify(module)});
      const store = EmbeddedLiveStore.open({ path: ${JSON.stringify(path)}, backgroundCheckpoints: true });
      await store.commit({ checkpoints: [{ job: "j", topic: "t", partition: 0, nextOffset: 1, state: new Uint8Array(1), updatedAt: 1 }] });
      console.log("committed");`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe("committed");
    expect(child.status).toBe(0);
  });
});
