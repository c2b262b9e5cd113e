// The warning pulse up prints when the store retention would delete what the daily DAG's reconciliation reads.

import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.ts";
import { retentionSchedulerWarning } from "./retention.ts";

const configWith = (overrides: Record<string, string | number>) =>
  loadConfig({ cwd: "/", env: {}, overrides: { data_dir: "/tmp/pulse-retention-warning", ...overrides } });

describe("retentionSchedulerWarning", () => {
  it("warns, naming the key, its variable and the fixes, when the scheduler is on and the retention is under 48 h", () => {
    const warning = retentionSchedulerWarning(configWith({ "retention.store_hours": 24 }));
    expect(warning).toContain("retention.store_hours is 24");
    expect(warning).toContain("PULSE_STORE_RETENTION_HOURS");
    expect(warning).toContain("48 or more");
    expect(warning).toContain("orchestrator.scheduler: off");
  });

  it("stays quiet at 48 h and more, with no retention, and with the scheduler off", () => {
    expect(retentionSchedulerWarning(configWith({ "retention.store_hours": 48 }))).toBeUndefined();
    expect(retentionSchedulerWarning(configWith({ "retention.store_hours": 0 }))).toBeUndefined();
    expect(
      retentionSchedulerWarning(configWith({ "retention.store_hours": 1, "orchestrator.scheduler": "off" })),
    ).toBeUndefined();
  });
});
