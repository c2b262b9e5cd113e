// EmbeddedLiveStore: the LiveStore contract over temp SQLite files, plus persistence, SIGKILL atomicity and multi-process reads.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { StoreError, StoreErrorCode } from "../../src/errors.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { ACTIVITY_SERIES, type ActivityWindowRow, WIKIMEDIA_SERIES } from "../../src/store/index.ts";
import { runLiveStoreContract } from "../conformance/live-store.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COMMITTER = fileURLToPath(new URL("./fixtures/committer.ts", import.meta.url));
const READER = fileURLToPath(new URL("./fixtures/reader.ts", import.meta.url));
const MULTI_PROCESS_TIMEOUT_MS = 180_000;
const WINDOW_MS = 60_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "pulse-store-"));
}

runLiveStoreContract("EmbeddedLiveStore", async () => {
  const dir = tempDir();
  // A nested path also checks that open creates parent folders.
  const store = EmbeddedLiveStore.open({ path: join(dir, "nested", "live.db") });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("EmbeddedLiveStore", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A fresh store path in its own temp folder, removed after the test. */
  function tempPath(): string {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return join(dir, "live.db");
  }

  function open(path: string, options: { synchronous?: "FULL" | "NORMAL"; busyTimeoutMs?: number } = {}) {
    const store = EmbeddedLiveStore.open({ path, ...options });
    cleanups.push(() => store.close());
    return store;
  }

  /** A fixture process, SIGKILLed after the test if it is still running (e.g. on a failure). */
  function start(script: string, args: string[]): Child {
    const child = spawnChild(script, args);
    cleanups.push(() => {
      if (!child.isDone()) child.process.kill("SIGKILL");
    });
    return child;
  }

  it("keeps every kind of row and the checkpoints across a reopen", async () => {
    const path = tempPath();
    const store = open(path, { synchronous: "FULL" });
    await store.commit({
      windows: {
        activity: [windowRow(0, 5), windowRow(1, 6)],
        wikimedia: [
          {
            partition: 0,
            window_start: 0,
            window_end: WINDOW_MS,
            wiki: "enwiki",
            changes: 3,
            edits: 2,
            bot_edits: 1,
            human_edits: 1,
            new_pages: 0,
            byte_delta: 12,
            unique_editors: 2,
            final: true,
          },
        ],
      },
      daily: { activity: [{ ...windowRow(0, 50), window_end: 86_400_000 }] },
      topPages: [
        {
          partition: 0,
          window_start: 0,
          window_end: WINDOW_MS,
          pages: [{ wiki: "enwiki", title: "A", edits: 2 }],
          final: true,
        },
      ],
      alerts: [
        {
          series: "s",
          window_start: 0,
          window_end: WINDOW_MS,
          observed: 1,
          expected: 2,
          score: -3,
          kind: "drop",
          created_at: 9,
        },
      ],
      lateEvents: [{ topic: "t", partition: 0, offset: 1, event_time: 1, watermark: 2, payload: "{}" }],
      rawEvents: [
        { topic: "a", partition: 0, offset: 0, event_time: 1, ingested_at: 2, value: Buffer.from("{}") },
        {
          topic: "b",
          partition: 1,
          offset: 5,
          event_time: 1,
          ingested_at: 2,
          value: Uint8Array.of(0, 0, 0, 0, 1, 2),
        },
      ],
      checkpoints: [
        { job: "j", topic: "t", partition: 0, nextOffset: 7, state: Uint8Array.of(1, 2, 3), updatedAt: 1 },
      ],
    });
    const before = await readAll(store);
    await store.close();

    const again = open(path);
    expect(await readAll(again)).toEqual(before);
    // Raw-lake topic ids persist: a new topic after a reopen gets a new id and reads stay apart.
    await again.commit({
      rawEvents: [
        { topic: "c", partition: 1, offset: 5, event_time: 3, ingested_at: 4, value: Buffer.from("[]") },
      ],
      checkpoints: [],
    });
    expect(await again.lake.scanAfter("b", new Map(), 10)).toEqual(before.rawB);
    expect(await again.lake.scanAfter("c", new Map(), 10)).toMatchObject([
      { topic: "c", value: Buffer.from("[]") },
    ]);
  });

  it("applies each batch all or nothing when the committing process is SIGKILLed", {
    timeout: MULTI_PROCESS_TIMEOUT_MS,
  }, async () => {
    const path = tempPath();
    const rowsPerBatch = 20_000;
    let lastAcknowledged = 0;
    for (let round = 0; round < 4; round++) {
      const committer = start(COMMITTER, [path, String(rowsPerBatch)]);
      // Kill after a random number of acknowledged batches plus a random delay, so the kill lands at
      // varying points of a commit (each takes tens of ms).
      const killAfter = 2 + Math.floor(Math.random() * 6);
      let acknowledgedThisRun = 0;
      for await (const line of committer.lines) {
        lastAcknowledged = Number(line);
        if (++acknowledgedThisRun >= killAfter) break;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
      committer.process.kill("SIGKILL");
      const exit = await committer.exited;
      expect(exit.signal).toBe("SIGKILL");
      // Lines written before the kill may still be buffered in the pipe.
      for (const line of committer.remaining()) lastAcknowledged = Math.max(lastAcknowledged, Number(line));

      const store = EmbeddedLiveStore.open({ path });
      try {
        const [checkpoint] = await store.checkpoints("crash", "crash-topic");
        const batch = checkpoint.nextOffset;
        expect(batch).toBeGreaterThanOrEqual(lastAcknowledged);
        expect(JSON.parse(Buffer.from(checkpoint.state).toString())).toEqual({ batch });
        const windows = await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: rowsPerBatch });
        expect(windows).toHaveLength(rowsPerBatch / 4);
        // Every row was written by the checkpoint's batch: four partitions × event_count = batch.
        expect(new Set(windows.map((w) => w.event_count))).toEqual(new Set([4 * batch]));
        expect(new Set(windows.map((w) => w.unique_users))).toEqual(new Set([4 * batch]));
        const raw = await store.lake.scanAfter("crash-topic", new Map(), 1_000_000);
        for (let partition = 0; partition < 4; partition++) {
          const offsets = raw.filter((r) => r.partition === partition).map((r) => r.offset);
          expect(offsets).toEqual(Array.from({ length: batch }, (_, i) => i + 1));
        }
        lastAcknowledged = batch;
      } finally {
        await store.close();
      }
    }
  });

  it("serves two reading processes while a third writes, without errors or torn reads", {
    timeout: MULTI_PROCESS_TIMEOUT_MS,
  }, async () => {
    const path = tempPath();
    const rowsPerBatch = 4_000;
    const writer = start(COMMITTER, [path, String(rowsPerBatch)]);
    // Let the writer create the file and commit once before the readers start.
    for await (const _line of writer.lines) break;
    const readers = [0, 1].map(() => start(READER, [path, "3000", String(rowsPerBatch)]));
    const results = await Promise.all(readers.map((reader) => reader.exited));
    writer.process.kill("SIGKILL");
    await writer.exited;
    for (const [i, result] of results.entries()) {
      expect(result.stderr, `reader ${i} stderr`).toBe("");
      expect(result.code).toBe(0);
      const summary = JSON.parse(readers[i].remaining().join("")) as {
        reads: number;
        first: number;
        last: number;
      };
      expect(summary.reads).toBeGreaterThan(5);
      // The readers saw the writer make progress.
      expect(summary.last).toBeGreaterThan(summary.first);
    }
  });

  it("fails with a retriable PULSE_STORE_BUSY when another process holds the write lock", async () => {
    const path = tempPath();
    const store = open(path, { busyTimeoutMs: 100 });
    const other = new Database(path);
    cleanups.push(() => {
      other.close();
    });
    other.exec("BEGIN IMMEDIATE");
    const error = await store
      .commit({ windows: { activity: [windowRow(0, 1)] }, checkpoints: [] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: StoreErrorCode.busy, retriable: true });
    // Reads are not blocked by a writer in WAL mode.
    expect(await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: 1 })).toEqual([]);
    other.exec("ROLLBACK");
    await store.commit({ windows: { activity: [windowRow(0, 1)] }, checkpoints: [] });
    expect(await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: 1 })).toHaveLength(1);
  });

  it("converts a schema-1 file (a row per raw event, the state in the checkpoints row) on open", async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "live.db");
    const db = new Database(path);
    db.exec(`CREATE TABLE raw_topics (topic_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE raw_events (id INTEGER PRIMARY KEY, event_time INTEGER NOT NULL, ingested_at INTEGER NOT NULL, payload TEXT NOT NULL);
      INSERT INTO raw_topics VALUES (1, 'user-activity'), (2, 'wikimedia.recentchange');
      CREATE TABLE checkpoints (job TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
        next_offset INTEGER NOT NULL, state BLOB NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (job, topic, partition)) WITHOUT ROWID;
      INSERT INTO checkpoints VALUES ('job-a', 'user-activity', 3, 4999, x'0102ff', 77);`);
    const insert = db.prepare("INSERT INTO raw_events VALUES (((? << 51) | (? << 41) | ?), ?, ?, ?)");
    const expected: { topic: string; partition: number; offset: number }[] = [];
    db.transaction(() => {
      for (const [topicId, topic, partitions, count] of [
        [1, "user-activity", [0, 3], 2500],
        [2, "wikimedia.recentchange", [1], 7],
      ] as const) {
        for (const partition of partitions) {
          // Every other offset, as duplicates and dead letters leave holes.
          for (let offset = 0; offset < count * 2; offset += 2) {
            insert.run(topicId, partition, offset, offset * 10, offset * 10 + 1, `{"o":${offset}}`);
            expected.push({ topic, partition, offset });
          }
        }
      }
    })();
    db.pragma("user_version = 1");
    db.close();

    const store = EmbeddedLiveStore.open({ path });
    cleanups.push(() => store.close());
    for (const topic of ["user-activity", "wikimedia.recentchange"]) {
      const rows = await store.lake.scanAfter(topic, new Map(), 1_000_000);
      expect(rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset }))).toEqual(
        expected.filter((e) => e.topic === topic),
      );
      for (const r of rows) {
        expect(r).toEqual({
          ...r,
          event_time: r.offset * 10,
          ingested_at: r.offset * 10 + 1,
          value: Buffer.from(`{"o":${r.offset}}`),
        });
      }
    }
    expect(await store.checkpoints("job-a", "user-activity")).toEqual([
      {
        job: "job-a",
        topic: "user-activity",
        partition: 3,
        nextOffset: 4999,
        state: new Uint8Array([1, 2, 255]),
        updatedAt: 77,
      },
    ]);
    // An offset-only checkpoint keeps the converted state.
    await store.commit({
      checkpoints: [{ job: "job-a", topic: "user-activity", partition: 3, nextOffset: 5001, updatedAt: 78 }],
    });
    expect(await store.checkpoints("job-a", "user-activity")).toMatchObject([
      { partition: 3, nextOffset: 5001, state: new Uint8Array([1, 2, 255]), updatedAt: 78 },
    ]);
    const check = new Database(path, { readonly: true });
    cleanups.push(() => {
      check.close();
    });
    expect(check.pragma("user_version", { simple: true })).toBe(4);
    // 2500 rows per partition in batches of at most 1000: 3 + 3 + 1.
    expect(check.prepare("SELECT count(*) FROM raw_batches").pluck().get()).toBe(7);
    expect(check.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'raw_events'").pluck().get()).toBe(
      0,
    );
  });

  it("rejects use after close with PULSE_STORE_CLOSED", async () => {
    const store = EmbeddedLiveStore.open({ path: tempPath() });
    await store.close();
    await store.close();
    await expect(store.commit({ checkpoints: [] })).rejects.toMatchObject({ code: StoreErrorCode.closed });
    await expect(store.alerts(1)).rejects.toMatchObject({ code: StoreErrorCode.closed });
  });

  it("refuses a file written by a newer schema with PULSE_STORE_SCHEMA_TOO_NEW", () => {
    const path = tempPath();
    const db = new Database(path);
    db.pragma("user_version = 99");
    db.close();
    expect(() => EmbeddedLiveStore.open({ path })).toThrow(
      expect.objectContaining({ code: StoreErrorCode.schemaTooNew }),
    );
  });

  it("rejects rows that SQLite cannot store and bad open options with PULSE_STORE_BAD_ARGUMENT", async () => {
    const path = tempPath();
    expect(() => EmbeddedLiveStore.open({ path, synchronous: "OFF" as "FULL" })).toThrow(
      expect.objectContaining({ code: StoreErrorCode.badArgument }),
    );
    const store = open(path);
    const objectCount = { ...windowRow(0, 1), event_count: {} as number };
    await expect(
      store.commit({ windows: { activity: [objectCount] }, checkpoints: [] }),
    ).rejects.toMatchObject({
      code: StoreErrorCode.badArgument,
    });
    for (const raw of [
      { topic: "t", partition: 1024, offset: 0, event_time: 0, ingested_at: 0, value: Buffer.alloc(0) },
      { topic: "t", partition: 0, offset: 2 ** 41, event_time: 0, ingested_at: 0, value: Buffer.alloc(0) },
    ]) {
      await expect(store.commit({ rawEvents: [raw], checkpoints: [] })).rejects.toMatchObject({
        code: StoreErrorCode.badArgument,
      });
    }
  });

  it("commits batches larger than one multi-row statement, with every tail size", async () => {
    const store = open(tempPath());
    for (const size of [1, 49, 50, 51, 99, 100, 101, 12_345]) {
      const rows = Array.from({ length: size }, (_, i) => windowRow(0, size, i));
      await store.commit({ windows: { activity: rows }, checkpoints: [] });
      const windows = await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: 100_000 });
      expect(windows.filter((w) => w.event_count === size)).toHaveLength(size);
    }
  });
});

function windowRow(partition: number, count: number, index = 0): ActivityWindowRow {
  return {
    partition,
    window_start: index * WINDOW_MS,
    window_end: (index + 1) * WINDOW_MS,
    event_type: "CLICK",
    event_count: count,
    unique_users: 1,
    sessions: 1,
    revenue_cents: 0,
    final: false,
  };
}

async function readAll(store: EmbeddedLiveStore) {
  return {
    activity: await store.windows(ACTIVITY_SERIES, { windowMs: WINDOW_MS, last: 100 }),
    daily: await store.daily(ACTIVITY_SERIES),
    wiki: await store.windows(WIKIMEDIA_SERIES, { windowMs: WINDOW_MS, last: 100 }),
    top: await store.topPages(WINDOW_MS, 10),
    alerts: await store.alerts(10),
    late: await store.lateEvents(10),
    rawA: await store.lake.scanAfter("a", new Map(), 10),
    rawB: await store.lake.scanAfter("b", new Map(), 10),
    checkpoints: (await store.checkpoints("j", "t")).map((c) => ({ ...c, state: Array.from(c.state) })),
  };
}

interface Child {
  process: ChildProcess;
  /** stdout lines, as an async iterator; breaking out of it leaves later lines to `remaining()`. */
  lines: AsyncIterable<string>;
  /** Lines that arrived but were not consumed through `lines`, once the process has exited. */
  remaining: () => string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  isDone: () => boolean;
}

function spawnChild(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const buffered: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];
  let ended = false;
  const rl = createInterface({ input: child.stdout! });
  rl.on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else buffered.push(line);
  });
  rl.on("close", () => {
    ended = true;
    for (const next of waiting.splice(0)) next(null);
  });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      child.on("close", (code, signal) => {
        done = true;
        resolve({ code, signal, stderr });
      });
    },
  );
  const lines: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const line =
          buffered.length > 0
            ? buffered.shift()!
            : ended
              ? null
              : await new Promise<string | null>((resolve) => waiting.push(resolve));
        return line === null ? { done: true, value: undefined } : { done: false, value: line };
      },
      return: async () => ({ done: true, value: undefined }),
    }),
  };
  return { process: child, lines, remaining: () => buffered.splice(0), exited, isDone: () => done };
}
