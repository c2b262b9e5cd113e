// The embedded registry's own cases: persistence across reopen, one file shared in WAL mode, use after close.
// Its Confluent semantics are the registry conformance suite's (test/registry/embedded.test.ts runs it).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, onTestFinished } from "vitest";
import { rejection, v1, v2, v3 } from "../../../test/helpers/registry.ts";
import { parseAvroSchema } from "../compatibility.ts";
import { SchemaRegistry } from "./registry.ts";

function openRegistry(file = ":memory:"): SchemaRegistry {
  const registry = SchemaRegistry.open({ path: file });
  onTestFinished(() => registry.close());
  return registry;
}

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulse-registry-"));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, "registry.db");
}

async function expectCode(
  promise: Promise<unknown>,
  confluentCode: number,
  httpStatus: number,
  code: string,
) {
  const error = await rejection(promise);
  expect([error.confluentCode, error.httpStatus, error.code]).toEqual([confluentCode, httpStatus, code]);
  return error;
}

describe("persistence", () => {
  it("keeps schemas, versions, deletes and config across reopen", async () => {
    const file = tempFile();
    const first = SchemaRegistry.open({ path: file });
    const id1 = await first.register("s", v1);
    const id2 = await first.register("s", v2);
    expect([id1, id2]).toEqual([1, 2]);
    expect(await first.register("gone", '"long"')).toBe(3);
    await first.deleteSubject("gone");
    await first.setConfig("FULL", "s");
    await first.setConfig("FORWARD");
    first.close();

    const second = openRegistry(file);
    expect(await second.getSchemaById(id1)).toBe(parseAvroSchema(v1).canonical);
    expect(await second.getLatest("s")).toMatchObject({ version: 2, id: id2 });
    expect(await second.listSubjects()).toEqual(["s"]);
    expect(await second.getConfig("s")).toBe("FULL");
    expect(await second.getConfig()).toBe("FORWARD");
    // Ids continue from where the first process stopped.
    expect(await second.register("t", '"bytes"')).toBe(4);
  });

  it("shares one file between two open registries (as two processes would), in WAL mode", async () => {
    const file = tempFile();
    const a = openRegistry(file);
    const b = openRegistry(file);
    const id = await a.register("s", v1);
    expect(id).toBe(1);
    expect(await b.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
    expect(await b.register("t", v1)).toBe(id);
    expect(await b.register("s", v2)).toBe(id + 1);
    await expectCode(
      a.register("s", v3.replace('"int"', '"string"')),
      409,
      409,
      "PULSE_REGISTRY_INCOMPATIBLE",
    );
    expect(await a.listVersions("s")).toEqual([1, 2]);
    const probe = new Database(file, { readonly: true });
    onTestFinished(() => {
      probe.close();
    });
    expect(probe.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("reports use after close as a store error, not a crash", async () => {
    const registry = SchemaRegistry.open({ path: ":memory:" });
    registry.close();
    const error = await expectCode(registry.listSubjects(), 50001, 500, "PULSE_REGISTRY_STORE_FAILED");
    expect(error.message).toMatch(/^the registry is closed/);
  });
});
