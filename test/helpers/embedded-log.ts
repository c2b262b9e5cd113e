// An embedded log in a fresh folder and a serde on an in-memory registry, closed and removed when the test ends.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "vitest";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";

export function embeddedLogAndSerde(ctx: TestContext): { log: EmbeddedLog; serde: AvroSerde } {
  const dir = mkdtempSync(join(tmpdir(), "pulse-log-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db") });
  const registry = SchemaRegistry.open({ path: ":memory:" });
  ctx.onTestFinished(async () => {
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, serde: new AvroSerde(registry) };
}
