// Tests for the embedded registry's Confluent semantics: ids, versions, deletes, config, persistence.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it, onTestFinished } from "vitest";
import { RegistryError } from "../errors.ts";
import { parseAvroSchema } from "./compatibility.ts";
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

function schemaOf(fields: unknown[], name = "Event"): string {
  return JSON.stringify({ type: "record", name, namespace: "t", fields });
}

const v1 = schemaOf([{ name: "a", type: "int" }]);
const v2 = schemaOf([
  { name: "a", type: "int" },
  { name: "b", type: "string", default: "x" },
]);
const v3 = schemaOf([
  { name: "a", type: "int" },
  { name: "b", type: "string" },
]);
const breaking = schemaOf([{ name: "a", type: "string" }]);

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  return expect.unreachable("expected a RegistryError");
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

describe("register", () => {
  it("gives global ids and per-subject versions starting at 1", async () => {
    const registry = openRegistry();
    expect(await registry.register("a-value", v1)).toBe(1);
    expect(await registry.register("a-value", v2)).toBe(2);
    expect(await registry.register("b-value", '"string"')).toBe(3);
    expect(await registry.listVersions("a-value")).toEqual([1, 2]);
    expect(await registry.listVersions("b-value")).toEqual([1]);
    expect(await registry.listSubjects()).toEqual(["a-value", "b-value"]);
  });

  it("reuses the id of a schema registered under another subject", async () => {
    const registry = openRegistry();
    const id = await registry.register("a-value", v1);
    expect(await registry.register("b-value", v1)).toBe(id);
    expect(await registry.getVersion("b-value", 1)).toEqual({
      subject: "b-value",
      version: 1,
      id,
      schema: parseAvroSchema(v1).canonical,
    });
  });

  it("returns the existing id without a new version when the schema is already in the subject", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.register("s", v2);
    // Same schema, different layout and qualification: still the same schema.
    const reformatted = `{ "fields": [ {"type": "int", "name": "a"} ], "name": "t.Event", "type": "record" }`;
    expect(await registry.register("s", reformatted)).toBe(id);
    expect(await registry.listVersions("s")).toEqual([1, 2]);
  });

  it("stores and returns the canonical text", async () => {
    const registry = openRegistry();
    const id = await registry.register(
      "s",
      `{\n  "type": "record", "name": "Event", "namespace": "t",\n  "fields": [{"name": "a", "type": "int"}]\n}`,
    );
    const canonical = '{"type":"record","name":"t.Event","fields":[{"name":"a","type":"int"}]}';
    expect(await registry.getSchemaById(id)).toBe(canonical);
    expect((await registry.getLatest("s")).schema).toBe(canonical);
  });

  it("rejects an invalid schema with 42201 and an invalid subject with 42208", async () => {
    const registry = openRegistry();
    await expectCode(
      registry.register("s", '{"type": "recrd"}'),
      42201,
      422,
      "PULSE_REGISTRY_INVALID_SCHEMA",
    );
    await expectCode(registry.register("", v1), 42208, 422, "PULSE_REGISTRY_INVALID_SUBJECT");
    expect(await registry.listSubjects()).toEqual([]);
  });

  it("rejects an incompatible schema with 409, saying which field broke which rule", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    const error = await expectCode(registry.register("s", breaking), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
    expect(error.message).toBe(
      'schema is incompatible with subject "s" under BACKWARD: the new schema cannot read data written with version 1: TYPE_MISMATCH at /fields/a/type: reader type "string" cannot read writer type "int"',
    );
    expect(error.details.messages).toHaveLength(1);
    expect(error.retriable).toBe(false);
    expect(await registry.listVersions("s")).toEqual([1]);
  });
});

describe("reads", () => {
  it("gets versions, latest, and schemas by id", async () => {
    const registry = openRegistry();
    const id1 = await registry.register("s", v1);
    const id2 = await registry.register("s", v2);
    expect(await registry.getVersion("s", 1)).toMatchObject({ version: 1, id: id1 });
    expect(await registry.getVersion("s", "latest")).toMatchObject({ version: 2, id: id2 });
    expect(await registry.getLatest("s")).toMatchObject({ subject: "s", version: 2, id: id2 });
    expect(await registry.getSchemaById(id2)).toBe(parseAvroSchema(v2).canonical);
    expect(await registry.getSubjectVersionsForId(id1)).toEqual([{ subject: "s", version: 1 }]);
  });

  it("reports unknown subjects (40401), versions (40402) and schemas (40403)", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    await expectCode(registry.getLatest("nope"), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    await expectCode(registry.listVersions("nope"), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    await expectCode(registry.getVersion("s", 7), 40402, 404, "PULSE_REGISTRY_VERSION_NOT_FOUND");
    await expectCode(registry.getSchemaById(99), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
    await expectCode(registry.getSchemaById(-1), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
  });

  it("rejects invalid versions with 42202", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    for (const version of [0, -2, 1.5, 2 ** 31]) {
      await expectCode(registry.getVersion("s", version), 42202, 422, "PULSE_REGISTRY_INVALID_VERSION");
    }
    await expectCode(
      registry.getVersion("s", "newest" as "latest"),
      42202,
      422,
      "PULSE_REGISTRY_INVALID_VERSION",
    );
    expect(await registry.getVersion("s", -1)).toMatchObject({ version: 1 });
  });

  it("looks a schema up in a subject", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.register("s", v2);
    expect(await registry.lookup("s", v1)).toEqual({
      subject: "s",
      version: 1,
      id,
      schema: parseAvroSchema(v1).canonical,
    });
    await expectCode(registry.lookup("s", breaking), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
    await expectCode(registry.lookup("other", v1), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    await expectCode(registry.lookup("s", "{"), 42201, 422, "PULSE_REGISTRY_INVALID_SCHEMA");
  });
});

describe("config", () => {
  it("defaults to BACKWARD globally and lets subjects override it", async () => {
    const registry = openRegistry();
    expect(await registry.getConfig()).toBe("BACKWARD");
    expect(await registry.getConfig("s")).toBe("BACKWARD");
    expect(await registry.getSubjectConfig("s")).toBeUndefined();
    expect(await registry.setConfig("full", "s")).toBe("FULL");
    expect(await registry.getConfig("s")).toBe("FULL");
    expect(await registry.setConfig("NONE")).toBe("NONE");
    expect(await registry.getConfig()).toBe("NONE");
    expect(await registry.getConfig("s")).toBe("FULL");
    expect(await registry.getConfig("t")).toBe("NONE");
    expect(await registry.deleteConfig("s")).toBe("FULL");
    expect(await registry.getConfig("s")).toBe("NONE");
    await expectCode(registry.deleteConfig("s"), 40408, 404, "PULSE_REGISTRY_SUBJECT_CONFIG_NOT_FOUND");
    expect(await registry.deleteConfig()).toBe("NONE");
    expect(await registry.getConfig()).toBe("BACKWARD");
  });

  it("rejects an unknown level with 42203", async () => {
    const registry = openRegistry();
    await expectCode(
      registry.setConfig("SIDEWAYS"),
      42203,
      422,
      "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
    );
    await expectCode(
      registry.setConfig("sometimes", "s"),
      42203,
      422,
      "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
    );
  });

  it("checks register against the subject's effective level", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    await registry.register("t", v1);
    await registry.setConfig("NONE", "s");
    expect(await registry.register("s", breaking)).toBeGreaterThan(0);
    await expectCode(registry.register("t", breaking), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
    await registry.setConfig("NONE");
    expect(await registry.register("t", breaking)).toBeGreaterThan(0);
  });

  it("BACKWARD accepts what only BACKWARD_TRANSITIVE refuses, over a 3-version history", async () => {
    const registry = openRegistry();
    for (const subject of ["plain", "transitive"]) {
      await registry.register(subject, v1);
      await registry.register(subject, v2);
    }
    await registry.setConfig("BACKWARD_TRANSITIVE", "transitive");
    expect(await registry.register("plain", v3)).toBe(3);
    const error = await expectCode(
      registry.register("transitive", v3),
      409,
      409,
      "PULSE_REGISTRY_INCOMPATIBLE",
    );
    expect(error.message).toContain("version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/b");
    expect(await registry.listVersions("plain")).toEqual([1, 2, 3]);
    expect(await registry.listVersions("transitive")).toEqual([1, 2]);
  });

  it("FORWARD accepts what only FORWARD_TRANSITIVE refuses", async () => {
    const registry = openRegistry();
    await registry.setConfig("FORWARD", "plain");
    await registry.setConfig("FORWARD_TRANSITIVE", "transitive");
    for (const subject of ["plain", "transitive"]) {
      await registry.register(subject, v3);
      await registry.register(subject, v2);
    }
    // v1 drops b: v2 can read that (default), v3 cannot.
    expect(await registry.register("plain", v1)).toBeGreaterThan(0);
    await expectCode(registry.register("transitive", v1), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
  });

  it("tests compatibility without registering", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    await registry.register("s", v2);
    expect(await registry.testCompatibility("s", "latest", v3)).toEqual({
      compatible: true,
      messages: [],
      incompatibilities: [],
    });
    const against1 = await registry.testCompatibility("s", 1, v3);
    expect(against1.compatible).toBe(false);
    expect(against1.messages).toEqual([
      'the new schema cannot read data written with version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/b: reader field "b" of t.Event is not in the writer record and has no default',
    ]);
    await registry.setConfig("BACKWARD_TRANSITIVE", "s");
    expect((await registry.testCompatibility("s", undefined, v3)).compatible).toBe(false);
    await expectCode(
      registry.testCompatibility("nope", "latest", v1),
      40401,
      404,
      "PULSE_REGISTRY_SUBJECT_NOT_FOUND",
    );
    await expectCode(registry.testCompatibility("s", 9, v1), 40402, 404, "PULSE_REGISTRY_VERSION_NOT_FOUND");
    expect(await registry.listVersions("s")).toEqual([1, 2]);
  });
});

describe("deletes", () => {
  it("soft-deletes a subject: hidden from reads, ids still resolve", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.register("s", v2);
    await registry.register("other", '"int"');
    expect(await registry.deleteSubject("s")).toEqual([1, 2]);
    expect(await registry.listSubjects()).toEqual(["other"]);
    expect(await registry.listSubjects({ includeDeleted: true })).toEqual(["other", "s"]);
    expect(await registry.listVersions("s", { includeDeleted: true })).toEqual([1, 2]);
    await expectCode(registry.getLatest("s"), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    expect(await registry.getVersion("s", 1, { includeDeleted: true })).toMatchObject({ id });
    expect(await registry.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
    await expectCode(registry.deleteSubject("s"), 40404, 404, "PULSE_REGISTRY_SUBJECT_SOFT_DELETED");
  });

  it("permanently deletes a subject only after a soft delete", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.setConfig("FULL", "s");
    await expectCode(
      registry.deleteSubject("s", true),
      40405,
      404,
      "PULSE_REGISTRY_SUBJECT_NOT_SOFT_DELETED",
    );
    await registry.deleteSubject("s");
    expect(await registry.deleteSubject("s", true)).toEqual([1]);
    await expectCode(registry.getSchemaById(id), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
    await expectCode(registry.deleteSubject("s", true), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    expect(await registry.listSubjects({ includeDeleted: true })).toEqual([]);
    expect(await registry.getSubjectConfig("s")).toBeUndefined();
    // The schema keeps its id; the subject starts again at version 1.
    expect(await registry.register("s", v1)).toBe(id);
    expect(await registry.listVersions("s")).toEqual([1]);
  });

  it("keeps the id alive while another subject still uses it", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.register("t", v1);
    await registry.deleteSubject("s");
    await registry.deleteSubject("s", true);
    expect(await registry.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
  });

  it("soft- and hard-deletes single versions with Confluent's errors", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    await registry.register("s", v2);
    await expectCode(registry.deleteVersion("nope", 1), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
    await expectCode(registry.deleteVersion("s", 5), 40402, 404, "PULSE_REGISTRY_VERSION_NOT_FOUND");
    await expectCode(registry.deleteVersion("s", 0), 42202, 422, "PULSE_REGISTRY_INVALID_VERSION");
    await expectCode(
      registry.deleteVersion("s", 1, true),
      40407,
      404,
      "PULSE_REGISTRY_VERSION_NOT_SOFT_DELETED",
    );
    expect(await registry.deleteVersion("s", "latest")).toBe(2);
    await expectCode(registry.deleteVersion("s", 2), 40406, 404, "PULSE_REGISTRY_VERSION_SOFT_DELETED");
    expect(await registry.listVersions("s")).toEqual([1]);
    expect((await registry.getLatest("s")).version).toBe(1);
    expect(await registry.deleteVersion("s", 2, true)).toBe(2);
    expect(await registry.listVersions("s", { includeDeleted: true })).toEqual([1]);
  });

  it("ignores deleted versions in compatibility checks, and keeps numbering past them", async () => {
    const registry = openRegistry();
    await registry.register("s", v1);
    await registry.deleteVersion("s", 1);
    // With v1 deleted there is nothing to be compatible with.
    const id = await registry.register("s", breaking);
    expect(await registry.getLatest("s")).toMatchObject({ version: 2, id });
  });

  it("registers a soft-deleted schema again as a new version with the same id", async () => {
    const registry = openRegistry();
    const id = await registry.register("s", v1);
    await registry.deleteSubject("s");
    expect(await registry.register("s", v1)).toBe(id);
    expect(await registry.listVersions("s")).toEqual([2]);
  });
});

describe("persistence", () => {
  it("keeps schemas, versions, deletes and config across reopen", async () => {
    const file = tempFile();
    const first = SchemaRegistry.open({ path: file });
    const id1 = await first.register("s", v1);
    const id2 = await first.register("s", v2);
    await first.register("gone", '"long"');
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
