// Test helpers for the model runner: small dbt projects written into temp folders, a DuckDB warehouse, and catching ModelErrors.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { TestContext } from "vitest";
import { ModelError } from "../../src/errors.ts";
import type { TargetInfo } from "../../src/models/jinja-context.ts";
import type { Warehouse } from "../../src/warehouse/index.ts";
import { open } from "../../src/warehouse/open.ts";

/** The target the parse-only tests use. */
export const TEST_TARGET: TargetInfo = {
  name: "dev",
  schema: "monitoring_datalake",
  type: "duckdb",
  threads: 4,
};

/** A project `name` holding `files` (path → text) in a temp folder removed when the test ends. */
export function writeProject(ctx: TestContext, files: Record<string, string>, name = "shop"): string {
  const dir = mkdtempSync(join(tmpdir(), "pulse-models-"));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const all: Record<string, string> = { "dbt_project.yml": `name: ${name}\nprofile: ${name}\n`, ...files };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Writes (or overwrites) one file of a project written by writeProject. */
export function writeFile(dir: string, path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

/** An in-memory DuckDB warehouse, opened through the seam's open(), closed when the test ends. */
export async function openTestWarehouse(ctx: TestContext): Promise<Warehouse> {
  const warehouse = await open("embedded::memory:", { dataDir: tmpdir(), threads: 2 });
  ctx.onTestFinished(() => warehouse.close());
  return warehouse;
}

/** The ModelError `work` throws; fails the test when it returns or throws something else. */
export function modelError(work: () => unknown): ModelError {
  try {
    work();
  } catch (error) {
    if (error instanceof ModelError) return error;
    throw new Error(`expected a ModelError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a ModelError, but nothing was thrown");
}

/** The ModelError the promise rejects with. */
export async function modelRejection(promise: Promise<unknown>): Promise<ModelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ModelError))
    throw new Error(`expected a ModelError, got ${String(error)}`, { cause: error });
  return error;
}
