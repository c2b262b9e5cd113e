// waitForFinalDay on the embedded live store: it waits while a partition's daily row of the day is open, and ends when all are final or when aborted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { waitForFinalDay } from "../../src/reconcile/final.ts";
import type { ActivityWindowRow } from "../../src/store/index.ts";
import { open as openStore } from "../../src/store/open.ts";

const DAY = Date.parse("2026-12-06T00:00:00Z");
const row = (partition: number, final: boolean, window_start = DAY): ActivityWindowRow => ({
  partition,
  window_start,
  window_end: window_start + 86_400_000,
  event_type: "VIEW",
  event_count: 5,
  unique_users: 3,
  sessions: 3,
  revenue_cents: 0,
  final,
});

describe("waitForFinalDay", () => {
  it("waits until every partition's row of the day is final", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pulse-final-"));
    const store = await openStore("embedded:store.db", { dataDir: dir });
    try {
      // The day before is open too: only the asked day counts.
      await store.commit({
        daily: { activity: [row(0, true), row(1, false), row(1, false, DAY - 86_400_000)] },
        checkpoints: [],
      });
      const seen: string[] = [];
      let done = false;
      const waiting = waitForFinalDay(store, "2026-12-06", {
        pollMs: 10,
        onWait: (final, total) => seen.push(`${final}/${total}`),
      }).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(done).toBe(false);
      // Rows are merged over partitions: the day's VIEW row is final only when both partitions' are.
      expect(seen[0]).toBe("0/1");
      await store.commit({ daily: { activity: [row(1, true)] }, checkpoints: [] });
      await waiting;
      expect(done).toBe(true);
      // A day with no rows has nothing open.
      await waitForFinalDay(store, "2026-12-01", { pollMs: 10 });

      const abort = new AbortController();
      const open = waitForFinalDay(store, "2026-12-05", { pollMs: 10, signal: abort.signal });
      abort.abort(new Error("timed out"));
      await expect(open).rejects.toThrow("timed out");
      await expect(waitForFinalDay(store, "12/06/2026")).rejects.toThrow(/YYYY-MM-DD/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
