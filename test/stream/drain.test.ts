// `pulse stream --drain` end to end: simulated, REES46 and Wikimedia input, windows equal to an independent count.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ProduceSummary } from "../../src/cli/commands/produce.ts";
import type { StreamSummary } from "../../src/cli/commands/stream.ts";
import type { DeadLetter } from "../../src/contracts/types.ts";
import { EmbeddedLiveStore } from "../../src/store/embedded/index.ts";
import { ACTIVITY_SERIES, WIKIMEDIA_SERIES } from "../../src/store/index.ts";
import { closedPort, REPO_ROOT, runPulse, runPulseJson, tempDir } from "../helpers/cli.ts";
import { readTopic } from "../helpers/topics.ts";
import { activityTruth, CellMap, cellsOf, expectStoreMatchesTruth } from "./truth.ts";

const TIMEOUT_MS = 180_000;
const MINUTE_MS = 60_000;

async function drain(dataDir: string, extra: string[] = []): Promise<StreamSummary> {
  return runPulseJson<StreamSummary>(["stream", "--drain", "--json", "--data-dir", dataDir, ...extra], {
    timeoutMs: TIMEOUT_MS,
  });
}

function openStore(dataDir: string): EmbeddedLiveStore {
  return EmbeddedLiveStore.open({ path: join(dataDir, "store.db") });
}

describe("pulse stream --drain over simulated activity with out-of-order, duplicate and malformed events", () => {
  it(
    "stores per-minute and per-day counts equal to an independent computation; duplicates once, late and malformed aside",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const produced = await runPulseJson<ProduceSummary>(
        [
          ...["produce", "activity", "--count", "50000", "--seed", "3", "--out-of-order", "0.05"],
          ...["--duplicates", "0.02", "--malformed", "0.01", "--json", "--data-dir", dataDir],
        ],
        { timeoutMs: TIMEOUT_MS },
      );
      expect(produced.sent).toBe(50_000);
      expect(produced.by_kind!.malformed).toBeGreaterThan(0);

      const summary = await drain(dataDir);
      const truth = await activityTruth(dataDir);

      expect(truth.undecodable).toBe(0);
      expect(truth.late).toBeGreaterThan(0);
      expect(truth.duplicates).toBeGreaterThan(0);
      expect(truth.accepted + truth.duplicates + truth.late).toBe(produced.produced);
      // Purchases carry revenue, so the store's sessions and revenue are checked against something.
      expect(
        truth.daySessionsRevenue.filter(([key, [, revenue]]) => key.endsWith("|PURCHASE") && revenue > 0),
      ).not.toEqual([]);
      expect(summary).toMatchObject({
        job: "pulse-stream",
        drained: true,
        read: produced.produced,
        input: produced.produced,
        accepted: truth.accepted,
        duplicates: truth.duplicates,
        late: truth.late,
        partially_late: 0,
        dead_lettered: 0,
        windows_final: new Set(truth.minutes.map(([k]) => k.split("|")[0])).size,
      });
      expect(summary.watermark_ms).toBeGreaterThan(0);
      // The reading alone: from the first batch, so within the run and at least its overall rate.
      expect(summary.reading_ms).toBeGreaterThan(0);
      expect(summary.reading_ms!).toBeLessThanOrEqual(summary.elapsed_ms);
      expect(summary.reading_records_per_sec!).toBeGreaterThanOrEqual(summary.records_per_sec);

      const store = openStore(dataDir);
      onTestFinished(() => store.close());
      // Every minute final; minutes, days and late events (by position) exactly the independent set.
      await expectStoreMatchesTruth(store, truth);

      // Malformed events never reached the topic: the producer dead-lettered each, with its reason.
      const letters = await readTopic<DeadLetter>(dataDir, "user-activity.dlq");
      expect(letters).toHaveLength(produced.by_kind!.malformed!);
      expect(produced.dead_lettered).toBe(produced.by_kind!.malformed);
      for (const { value } of letters) {
        expect(value.source_topic).toBe("user-activity");
        expect(value.error_code).toMatch(/^PULSE_/);
      }

      // The raw lake holds every valid event once (late ones too), for the batch layer.
      const raw = await store.lake.scanAfter("user-activity", new Map(), 10_000_000);
      expect(raw).toHaveLength(truth.accepted + truth.late);
    },
    TIMEOUT_MS,
  );
});

// --- REES46 -------------------------------------------------------------------------------------------

const REES46_TYPES: Record<string, string> = {
  view: "VIEW",
  cart: "ADD_TO_CART",
  remove_from_cart: "REMOVE_FROM_CART",
  purchase: "PURCHASE",
};

/** Per minute and type over the CSV text itself: exact duplicate rows once, rows the contract rejects skipped. */
function rees46Truth(file: string): {
  minutes: ReturnType<CellMap["sorted"]>;
  rows: number;
  distinctRows: number;
} {
  const [header, ...lines] = readFileSync(file, "utf8").split("\n");
  const columns = header!.trim().split(",");
  const col = (name: string): number => columns.indexOf(name);
  const rows = lines.filter((line) => line.trim() !== "");
  const distinct = new Set(rows);
  const minutes = new CellMap();
  for (const line of distinct) {
    const f = line.split(",");
    const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):\d{2} UTC$/.exec(f[col("event_time")]!)!;
    const minute = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!);
    minutes.add(`${minute}|${REES46_TYPES[f[col("event_type")]!]}`, f[col("user_id")]!);
  }
  return { minutes: minutes.sorted(), rows: rows.length, distinctRows: distinct.size };
}

describe.each([
  "fixtures/activity/rees46-cosmetics-derived-2022-10-01.csv",
  "fixtures/activity/rees46-multicategory-2019-10-01.csv",
])("pulse stream --drain over the REES46 replay %s", (file) => {
  it(
    "stores per-minute, per-type event_count and unique_users equal to a count over the CSV",
    async ({ onTestFinished }) => {
      const dataDir = tempDir(onTestFinished);
      const produced = await runPulseJson<ProduceSummary>(
        ["produce", "activity", "--replay", file, "--speed", "0", "--json", "--data-dir", dataDir],
        { timeoutMs: TIMEOUT_MS },
      );
      const truth = rees46Truth(join(REPO_ROOT, file));
      expect(produced).toMatchObject({ sent: truth.rows, produced: truth.rows, dead_lettered: 0 });

      const summary = await drain(dataDir);
      // Event time is ordered in the file, so with 10 s out-of-orderness nothing is late.
      expect(summary).toMatchObject({
        input: truth.rows,
        accepted: truth.distinctRows,
        duplicates: truth.rows - truth.distinctRows,
        late: 0,
        dead_lettered: 0,
        drained: true,
      });

      const store = openStore(dataDir);
      onTestFinished(() => store.close());
      const minutes = await store.windows(ACTIVITY_SERIES, { windowMs: MINUTE_MS, last: 1_000_000 });
      expect(minutes.every((w) => w.final)).toBe(true);
      expect(cellsOf(minutes)).toEqual(truth.minutes);
    },
    TIMEOUT_MS,
  );
});

// --- Wikimedia ----------------------------------------------------------------------------------------

interface RawChange {
  wiki: string;
  type: string;
  bot: boolean;
  meta: { id: string; dt: string };
}

interface WikiCell {
  changes: number;
  edits: number;
  bot_edits: number;
  new_pages: number;
}

/**
 * What `jq -c '{wiki, type, bot, dt: .meta.dt}'` plus a group-by would give, per wiki and minute: every
 * change, edits (type edit or new), bot edits, new pages. Lateness and dedup are applied per wiki (a
 * wiki is one partition) in file order; the files are replayed oldest first.
 */
function wikiTruth(files: readonly string[]): {
  cells: Array<[string, WikiCell]>;
  late: number;
  events: number;
} {
  const cells = new Map<string, WikiCell>();
  const maxByWiki = new Map<string, number>();
  const seen = new Set<string>();
  let late = 0;
  let events = 0;
  for (const file of files) {
    for (const line of readFileSync(join(REPO_ROOT, file), "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const c = JSON.parse(line) as RawChange;
      events++;
      const t = Date.parse(c.meta.dt);
      const max = Math.max(maxByWiki.get(c.wiki) ?? Number.NEGATIVE_INFINITY, t);
      maxByWiki.set(c.wiki, max);
      const minute = Math.floor(t / MINUTE_MS) * MINUTE_MS;
      if (minute + MINUTE_MS <= max - 10_000) {
        late++;
        continue;
      }
      if (seen.has(c.meta.id)) continue;
      seen.add(c.meta.id);
      const key = `${minute}|${c.wiki}`;
      const cell = cells.get(key) ?? { changes: 0, edits: 0, bot_edits: 0, new_pages: 0 };
      cell.changes++;
      if (c.type === "edit" || c.type === "new") {
        cell.edits++;
        if (c.bot) cell.bot_edits++;
        if (c.type === "new") cell.new_pages++;
      }
      cells.set(key, cell);
    }
  }
  return { cells: [...cells].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), late, events };
}

describe("pulse stream --drain over the Wikimedia fixtures", () => {
  it(
    "stores per-wiki, per-minute changes, edits, bot edits and new pages equal to a count over the files",
    async ({ onTestFinished }) => {
      const files = [
        "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl",
        "fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson",
      ];
      const dataDir = tempDir(onTestFinished);
      for (const file of files) {
        const result = await runPulse(
          ["produce", "wikimedia", "--replay", file, "--speed", "0", "--json", "--data-dir", dataDir],
          { timeoutMs: TIMEOUT_MS },
        );
        expect(result.code, result.stderr).toBe(0);
      }
      const truth = wikiTruth(files);
      const summary = await drain(dataDir, ["--topics", "wikimedia.recentchange"]);
      expect(summary).toMatchObject({
        topics: ["wikimedia.recentchange"],
        input: truth.events,
        late: truth.late,
        dead_lettered: 0,
        drained: true,
      });

      const store = openStore(dataDir);
      onTestFinished(() => store.close());
      const windows = await store.windows(WIKIMEDIA_SERIES, { windowMs: MINUTE_MS, last: 1_000_000 });
      expect(windows.every((w) => w.final)).toBe(true);
      const stored = windows
        .map((w): [string, WikiCell] => [
          `${w.window_start}|${w.wiki}`,
          { changes: w.changes, edits: w.edits, bot_edits: w.bot_edits, new_pages: w.new_pages },
        ])
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      expect(stored).toEqual(truth.cells);
      for (const w of windows) expect(w.human_edits).toBe(w.edits - w.bot_edits);
      // The recorded samples' event times are ordered within 2 s: nothing is late.
      expect(truth.late).toBe(0);
    },
    TIMEOUT_MS,
  );
});

describe("pulse stream errors", () => {
  it("stops with PULSE_STORE_UNAVAILABLE naming an unreachable MongoDB store without its password, before creating any file", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const port = await closedPort();
    const result = await runPulse(["stream", "--drain", "--data-dir", join(dataDir, "data")], {
      env: { PULSE_STORE: `mongodb://user:secret@127.0.0.1:${port}/pulse` },
      timeoutMs: 60_000,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PULSE_STORE_UNAVAILABLE/);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).not.toMatch(/secret/);
    expect(existsSync(join(dataDir, "data"))).toBe(false);
  });

  it("rejects a store URL with another scheme, and bad window flags, as the user's error", async ({
    onTestFinished,
  }) => {
    const dataDir = tempDir(onTestFinished);
    const scheme = await runPulse(["stream", "--drain", "--data-dir", dataDir], {
      env: { PULSE_STORE: "postgres://localhost/pulse" },
    });
    expect(scheme.code).toBe(1);
    expect(scheme.stderr).toMatch(/PULSE_STORE/);
    const window = await runPulse(["stream", "--drain", "--window", "1 minute", "--data-dir", dataDir]);
    expect(window.code).toBe(2);
    expect(window.stderr).toMatch(/--window must be a duration/);
    const slide = await runPulse([
      "stream",
      "--drain",
      "--window",
      "1m",
      "--slide",
      "2m",
      "--data-dir",
      dataDir,
    ]);
    expect(slide.code).toBe(2);
    const topics = await runPulse(["stream", "--drain", "--topics", "orders", "--data-dir", dataDir]);
    expect(topics.code).toBe(2);
    expect(topics.stderr).toMatch(/unknown topic 'orders'/);
  });
});
