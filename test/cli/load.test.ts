// pulse load and pulse query end to end: produced events → stream --drain → load, exact against the log, and a load SIGKILLed mid-way.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { pulseQuery, runPulse, runPulseJson, spawnPulse, SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { readTopic } from "../helpers/topics.ts";

const TIMEOUT_MS = 180_000;

interface LoadSummary {
  topics: Array<{ topic: string; table: string; rows_loaded: number; rows_reloaded: number; days: string[] }>;
}

const TABLE_SQL = "SELECT * EXCLUDE (_ingested_at) FROM raw.user_activity ORDER BY _log_partition, _offset";

describe("pulse load / pulse query", () => {
  const cleanups = new SuiteCleanups();
  let dataDir: string;
  let loaded: LoadSummary;

  beforeAll(async () => {
    dataDir = tempDir(cleanups.add);
    await runPulseJson([
      "produce",
      "activity",
      "--count",
      "30000",
      "--seed",
      "7",
      "--json",
      "--data-dir",
      dataDir,
    ]);
    await runPulseJson(["stream", "--drain", "--json", "--data-dir", dataDir], { timeoutMs: TIMEOUT_MS });
    loaded = await runPulseJson<LoadSummary>(["load", "--json", "--data-dir", dataDir]);
  }, TIMEOUT_MS);
  afterAll(cleanups.run);

  it("loads each event on the topic once: daily counts equal the log's events, deduplicated by event_id", async () => {
    const records = await readTopic<UserActivityV2>(dataDir, "user-activity");
    const byId = new Map(records.map((r) => [r.value.event_id, r.value]));
    const expected = new Map<string, { n: number; users: Set<string> }>();
    for (const e of byId.values()) {
      const key = `${new Date(e.event_time).toISOString().slice(0, 10)}|${e.event_type}`;
      const cell = expected.get(key) ?? { n: 0, users: new Set() };
      cell.n++;
      cell.users.add(e.user_id);
      expected.set(key, cell);
    }
    const rows = await pulseQuery(
      dataDir,
      `SELECT CAST(event_time AS DATE) AS d, event_type AS t, count(DISTINCT event_id) AS n, count(DISTINCT user_id) AS u
         FROM raw.user_activity GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    const want = [...expected]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, cell]) => ({ d: key.slice(0, 10), t: key.slice(11), n: cell.n, u: cell.users.size }));
    expect(rows).toEqual(want);
    const activity = loaded.topics.find((t) => t.topic === "user-activity")!;
    expect(activity.table).toBe("raw.user_activity");
    const [{ n }] = (await pulseQuery(dataDir, "SELECT count(*) AS n FROM raw.user_activity")) as [
      { n: number },
    ];
    expect(activity.rows_loaded).toBe(n);
    expect(n).toBeGreaterThanOrEqual(byId.size);
  });

  it("gives identical tables when a load is SIGKILLed mid-way and run again", async () => {
    const env = { PULSE_WAREHOUSE: "embedded:killed.duckdb" };
    const child = spawnPulse(["load", "--page-rows", "1000", "--progress", "--data-dir", dataDir], { env });
    let stderr = "";
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("close", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        const rows = [...stderr.matchAll(/: (\d+) rows/g)].map((m) => Number(m[1]));
        if (rows.some((r) => r >= 3000)) resolve();
      });
      child.once("close", () => reject(new Error(`pulse load ended before it was killed:\n${stderr}`)));
    });
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const partial = (await pulseQuery(dataDir, "SELECT count(*) AS n FROM raw.user_activity", env))[0]!
      .n as number;
    expect(partial).toBeGreaterThanOrEqual(3000);
    expect(partial % 1000).toBe(0);

    const rerun = await runPulseJson<LoadSummary>(["load", "--json", "--data-dir", dataDir], { env });
    const total = loaded.topics.find((t) => t.topic === "user-activity")!.rows_loaded;
    expect(rerun.topics.find((t) => t.topic === "user-activity")!.rows_loaded).toBe(total - partial);
    expect(await pulseQuery(dataDir, TABLE_SQL, env)).toEqual(await pulseQuery(dataDir, TABLE_SQL));
  });

  it("changes nothing when run again", async () => {
    const before = await pulseQuery(dataDir, TABLE_SQL);
    const again = await runPulseJson<LoadSummary>(["load", "--json", "--data-dir", dataDir]);
    expect(again.topics.map((t) => t.rows_loaded)).toEqual([0, 0]);
    expect(await pulseQuery(dataDir, TABLE_SQL)).toEqual(before);
  });

  it("prints CSV, and answers bad SQL and bad flags with a message and a non-zero exit", async () => {
    const csv = await runPulse([
      "query",
      "SELECT 'a,b' AS x, 1 AS y, NULL AS z UNION ALL SELECT 'say \"hi\"', 2, 'q' ORDER BY y",
      "--csv",
      "--data-dir",
      dataDir,
    ]);
    expect(csv.stdout).toBe('x,y,z\r\n"a,b",1,\r\n"say ""hi""",2,q\r\n');
    const bad = await runPulse(["query", "SELECT nope FROM raw.user_activity", "--data-dir", dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PULSE_WAREHOUSE_QUERY_FAILED/);
    expect(bad.stderr).toMatch(/nope/);
    const date = await runPulse(["load", "--date", "2024-13-01", "--data-dir", dataDir]);
    expect(date.code).toBe(1);
    expect(date.stderr).toMatch(/--date '2024-13-01' is not a day; write it YYYY-MM-DD/);
    const topic = await runPulse(["load", "--topics", "clicks", "--data-dir", dataDir]);
    expect(topic.code).toBe(2);
    expect(topic.stderr).toMatch(/unknown topic 'clicks'/);
  });
});
