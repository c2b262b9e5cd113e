// The schema registry conformance suite: every registry (embedded, on Kafka, the HTTP client) runs these cases.

import { describe, expect, it, type TestContext } from "vitest";
import type { RegistryError } from "../../src/errors.ts";
import { parseAvroSchema } from "../../src/registry/compatibility.ts";
import type { SchemaRegistryAdmin } from "../../src/registry/index.ts";
import { breaking, rejection, schemaOf, v1, v2, v3 } from "../helpers/registry.ts";

/** Cases an implementation may be unable to meet; it names them with the reason. */
export type RegistrySkippableCase = "empty subject";

export interface RegistryTraits {
  /**
   * The registry answers over HTTP: an error's message is the server's followed by the request
   * (" (POST http://…/subjects/s/versions)"), and carries no details; a compatibility test gives messages
   * without the incompatibilities as data.
   */
  remote?: boolean;
  /** Cases skipped, each with the reason the implementation cannot meet it. */
  skip?: Partial<Record<RegistrySkippableCase, string>>;
}

/** Opens an empty registry for one case and registers its own cleanup on the test context. */
export type MakeRegistry = (ctx: TestContext) => Promise<SchemaRegistryAdmin>;

/*
 * Every case gets a fresh, empty registry from makeRegistry, so ids and versions start at 1 and the
 * cases can state them exactly. The suite uses the SchemaRegistryAdmin surface and the catalog's
 * PULSE_REGISTRY_* codes with their Confluent error_code and HTTP status.
 *
 * Schema references are not part of the seam: no Pulse registry resolves them (the REST API refuses a
 * request that names some, with 42201), so the suite checks that a schema using a type it does not define
 * is refused.
 */
export function runRegistryConformance(
  name: string,
  makeRegistry: MakeRegistry,
  traits: RegistryTraits = {},
) {
  /** A test that skips, saying why, when the implementation names it as a case it cannot meet. */
  function caseIt(skippable: RegistrySkippableCase, title: string, fn: (ctx: TestContext) => Promise<void>) {
    it(title, async (ctx) => {
      const reason = traits.skip?.[skippable];
      if (reason !== undefined) ctx.skip(reason);
      await fn(ctx);
    });
  }

  /** The error's message as the registry wrote it, without the request a remote client adds. */
  function messageOf(error: RegistryError): string {
    return traits.remote ? error.message.replace(/ \((?:GET|POST|PUT|DELETE) \S+\)$/, "") : error.message;
  }

  /** What a compatibility test says of a compatible schema; in process, with no incompatibilities as data. */
  function compatibleVerdict(): object {
    const verdict = { compatible: true, messages: [] };
    return traits.remote ? verdict : { ...verdict, incompatibilities: [] };
  }

  describe(`registry conformance: ${name}`, () => {
    describe("register and get by id", () => {
      it("gives global ids and per-subject versions starting at 1", async (ctx) => {
        const registry = await makeRegistry(ctx);
        expect(await registry.register("a-value", v1)).toBe(1);
        expect(await registry.register("a-value", v2)).toBe(2);
        expect(await registry.register("b-value", '"string"')).toBe(3);
        expect(await registry.listVersions("a-value")).toEqual([1, 2]);
        expect(await registry.listVersions("b-value")).toEqual([1]);
        expect(await registry.listSubjects()).toEqual(["a-value", "b-value"]);
      });

      it("reuses the id of a schema registered under another subject", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register("a-value", v1);
        expect(await registry.register("a-value", v1)).toBe(id);
        expect(await registry.register("b-value", v1)).toBe(id);
        expect(await registry.getVersion("b-value", 1)).toEqual({
          subject: "b-value",
          version: 1,
          id,
          schema: parseAvroSchema(v1).canonical,
        });
        expect(await registry.getSubjectVersionsForId(id)).toEqual([
          { subject: "a-value", version: 1 },
          { subject: "b-value", version: 1 },
        ]);
      });

      it("rejects an invalid schema with 42201", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await expectCode(
          registry.register("s", '{"type": "recrd"}'),
          42201,
          422,
          "PULSE_REGISTRY_INVALID_SCHEMA",
        );
        expect(await registry.listSubjects()).toEqual([]);
      });

      caseIt("empty subject", "rejects an empty subject with 42208", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await expectCode(registry.register("", v1), 42208, 422, "PULSE_REGISTRY_INVALID_SUBJECT");
        expect(await registry.listSubjects()).toEqual([]);
      });

      it("rejects a subject with a control character with 42208", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await expectCode(registry.register("a\u0001b", v1), 42208, 422, "PULSE_REGISTRY_INVALID_SUBJECT");
        expect(await registry.listSubjects()).toEqual([]);
      });
    });

    describe("versions and latest", () => {
      it("gets versions, latest, and schemas by id", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id1 = await registry.register("s", v1);
        const id2 = await registry.register("s", v2);
        expect(await registry.getVersion("s", 1)).toMatchObject({ version: 1, id: id1 });
        expect(await registry.getVersion("s", "latest")).toMatchObject({ version: 2, id: id2 });
        expect(await registry.getVersion("s", -1)).toMatchObject({ version: 2, id: id2 });
        expect(await registry.getLatest("s")).toEqual({
          subject: "s",
          version: 2,
          id: id2,
          schema: parseAvroSchema(v2).canonical,
        });
        expect(await registry.getSchemaById(id1)).toBe(parseAvroSchema(v1).canonical);
        expect(await registry.getSchemaById(id2)).toBe(parseAvroSchema(v2).canonical);
        expect(await registry.getSubjectVersionsForId(id1)).toEqual([{ subject: "s", version: 1 }]);
        expect(await registry.listSubjects()).toEqual(["s"]);
        expect(await registry.listVersions("s")).toEqual([1, 2]);
      });

      it("rejects invalid versions with 42202", async (ctx) => {
        const registry = await makeRegistry(ctx);
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
    });

    describe("lookup", () => {
      it("looks a schema up in a subject", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register("s", v1);
        await registry.register("s", v2);
        expect(await registry.lookup("s", v1)).toEqual({
          subject: "s",
          version: 1,
          id,
          schema: parseAvroSchema(v1).canonical,
        });
        expect(await registry.lookup("s", v2)).toMatchObject({ version: 2, id: id + 1 });
        await expectCode(registry.lookup("s", breaking), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        await expectCode(registry.lookup("other", v1), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
        await expectCode(registry.lookup("s", "{"), 42201, 422, "PULSE_REGISTRY_INVALID_SCHEMA");
      });

      it("finds soft-deleted versions only when asked to", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        await registry.register("s", v2);
        await registry.deleteVersion("s", 2);
        await expectCode(registry.lookup("s", v2), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        expect(await registry.lookup("s", v2, { includeDeleted: true })).toMatchObject({ version: 2 });
      });
    });

    describe("unknown subjects, versions and ids", () => {
      it("reports unknown subjects (40401), versions (40402) and schemas (40403)", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        await expectCode(registry.getLatest("nope"), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
        await expectCode(registry.listVersions("nope"), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
        await expectCode(registry.getVersion("s", 7), 40402, 404, "PULSE_REGISTRY_VERSION_NOT_FOUND");
        await expectCode(registry.getVersion("s", 3), 40402, 404, "PULSE_REGISTRY_VERSION_NOT_FOUND");
        await expectCode(registry.getSchemaById(99), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        await expectCode(registry.getSchemaById(77), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        await expectCode(registry.getSchemaById(-1), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        await expectCode(registry.getSubjectVersionsForId(99), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
      });
    });

    describe("compatibility", () => {
      it("rejects an incompatible schema with 409 under the default BACKWARD, saying which field broke which rule", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        const error = await expectCode(
          registry.register("s", breaking),
          409,
          409,
          "PULSE_REGISTRY_INCOMPATIBLE",
        );
        expect(messageOf(error)).toBe(
          'schema is incompatible with subject "s" under BACKWARD: the new schema cannot read data written with version 1: TYPE_MISMATCH at /fields/a/type: reader type "string" cannot read writer type "int"',
        );
        // Over HTTP the error keeps only the code and the message.
        if (!traits.remote) expect(error.details.messages).toHaveLength(1);
        expect(await registry.listVersions("s")).toEqual([1]);
      });

      it("checks register against the subject's level (NONE per subject, then globally)", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        await registry.register("t", v1);
        await registry.setConfig("NONE", "s");
        // v1 is id 1 under both subjects; breaking is the second distinct schema: id 2, under either subject.
        expect(await registry.register("s", breaking)).toBe(2);
        await expectCode(registry.register("t", breaking), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
        await registry.setConfig("NONE");
        expect(await registry.register("t", breaking)).toBe(2);
        expect(await registry.listVersions("t")).toEqual([1, 2]);
      });

      it.for([
        ["BACKWARD", "BACKWARD_TRANSITIVE"],
        ["FULL", "FULL_TRANSITIVE"],
      ])("%s accepts what only %s refuses, over a 3-version history", async ([level, transitive], ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.setConfig(level, "plain");
        await registry.setConfig(transitive, "transitive");
        for (const subject of ["plain", "transitive"]) {
          await registry.register(subject, v1);
          await registry.register(subject, v2);
        }
        // v3 reads v2's data (and, under FULL, v2 reads v3's); v3 cannot read v1's, where b has no value.
        expect(await registry.register("plain", v3)).toBe(3);
        const error = await expectCode(
          registry.register("transitive", v3),
          409,
          409,
          "PULSE_REGISTRY_INCOMPATIBLE",
        );
        expect(messageOf(error)).toContain(`under ${transitive}:`);
        expect(error.message).toContain("version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/b");
        expect(await registry.listVersions("plain")).toEqual([1, 2, 3]);
        expect(await registry.listVersions("transitive")).toEqual([1, 2]);
      });

      it("FORWARD accepts what only FORWARD_TRANSITIVE refuses", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.setConfig("FORWARD", "plain");
        await registry.setConfig("FORWARD_TRANSITIVE", "transitive");
        for (const subject of ["plain", "transitive"]) {
          await registry.register(subject, v3);
          await registry.register(subject, v2);
        }
        // v1 drops b: v2 can read that (default), v3 cannot. Ids: v3 is 1, v2 is 2, v1 the third schema.
        expect(await registry.register("plain", v1)).toBe(3);
        await expectCode(registry.register("transitive", v1), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
      });

      it("FULL checks both directions", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const optionalB = schemaOf([
          { name: "a", type: "int" },
          { name: "b", type: ["null", "string"], default: null },
        ]);
        await registry.register("s", v1);
        expect(await registry.setConfig("FULL", "s")).toBe("FULL");
        expect(await registry.getConfig("s")).toBe("FULL");
        expect(await registry.testCompatibility("s", "latest", optionalB)).toEqual(compatibleVerdict());
        const refused = await registry.testCompatibility("s", undefined, breaking);
        expect(refused.compatible).toBe(false);
        // The new schema cannot read version 1's data, and version 1 cannot read the new schema's.
        expect(refused.messages).toHaveLength(2);
        await expectCode(registry.register("s", breaking), 409, 409, "PULSE_REGISTRY_INCOMPATIBLE");
        expect(await registry.register("s", optionalB)).toBe(2);
      });

      it("tests compatibility without registering", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        await registry.register("s", v2);
        expect(await registry.testCompatibility("s", "latest", v3)).toEqual(compatibleVerdict());
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
        await expectCode(
          registry.testCompatibility("s", 9, v1),
          40402,
          404,
          "PULSE_REGISTRY_VERSION_NOT_FOUND",
        );
        expect(await registry.listVersions("s")).toEqual([1, 2]);
      });
    });

    describe("config", () => {
      it("defaults to BACKWARD globally and lets subjects override it", async (ctx) => {
        const registry = await makeRegistry(ctx);
        expect(await registry.getConfig()).toBe("BACKWARD");
        expect(await registry.getConfig("s")).toBe("BACKWARD");
        expect(await registry.getSubjectConfig("s")).toBeUndefined();
        expect(await registry.setConfig("full", "s")).toBe("FULL");
        expect(await registry.getConfig("s")).toBe("FULL");
        expect(await registry.getSubjectConfig("s")).toBe("FULL");
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

      it("rejects an unknown level with 42203", async (ctx) => {
        const registry = await makeRegistry(ctx);
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
        expect(await registry.getConfig()).toBe("BACKWARD");
      });
    });

    describe("deletes", () => {
      it("soft-deletes a subject: hidden from reads, ids still resolve", async (ctx) => {
        const registry = await makeRegistry(ctx);
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
        expect(await registry.getSubjectVersionsForId(id)).toEqual([]);
        expect(await registry.getSubjectVersionsForId(id, { includeDeleted: true })).toEqual([
          { subject: "s", version: 1 },
        ]);
        await expectCode(registry.deleteSubject("s"), 40404, 404, "PULSE_REGISTRY_SUBJECT_SOFT_DELETED");
      });

      it("permanently deletes a subject only after a soft delete", async (ctx) => {
        const registry = await makeRegistry(ctx);
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
        // (An HTTP client that had read the id before would still have it cached: ids are immutable.)
        await expectCode(registry.getSchemaById(id), 40403, 404, "PULSE_REGISTRY_SCHEMA_NOT_FOUND");
        await expectCode(registry.deleteSubject("s", true), 40401, 404, "PULSE_REGISTRY_SUBJECT_NOT_FOUND");
        await expectCode(
          registry.getVersion("s", 1, { includeDeleted: true }),
          40401,
          404,
          "PULSE_REGISTRY_SUBJECT_NOT_FOUND",
        );
        expect(await registry.listSubjects({ includeDeleted: true })).toEqual([]);
        expect(await registry.getSubjectConfig("s")).toBeUndefined();
        // The schema keeps its id; the subject starts again at version 1.
        expect(await registry.register("s", v1)).toBe(id);
        expect(await registry.listVersions("s")).toEqual([1]);
      });

      it("keeps the id alive while another subject still uses it", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register("s", v1);
        await registry.register("t", v1);
        await registry.deleteSubject("s");
        await registry.deleteSubject("s", true);
        expect(await registry.getSchemaById(id)).toBe(parseAvroSchema(v1).canonical);
      });

      it("soft- and hard-deletes single versions with Confluent's errors", async (ctx) => {
        const registry = await makeRegistry(ctx);
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

      it("deletes a subject permanently once its every version is soft-deleted", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        expect(await registry.deleteVersion("s", 1)).toBe(1);
        expect(await registry.listSubjects()).toEqual([]);
        expect(await registry.listSubjects({ includeDeleted: true })).toEqual(["s"]);
        expect(await registry.deleteSubject("s", true)).toEqual([1]);
        expect(await registry.listSubjects({ includeDeleted: true })).toEqual([]);
      });

      it("ignores deleted versions in compatibility checks, and keeps numbering past them", async (ctx) => {
        const registry = await makeRegistry(ctx);
        await registry.register("s", v1);
        await registry.deleteVersion("s", 1);
        // With v1 deleted there is nothing to be compatible with.
        const id = await registry.register("s", breaking);
        expect(await registry.getLatest("s")).toMatchObject({ version: 2, id });
      });

      it("registers a soft-deleted schema again as a new version with the same id", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register("s", v1);
        await registry.deleteSubject("s");
        expect(await registry.register("s", v1)).toBe(id);
        expect(await registry.listVersions("s")).toEqual([2]);
      });
    });

    describe("canonical form", () => {
      it("stores and returns the canonical text", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register(
          "s",
          `{\n  "type": "record", "name": "Event", "namespace": "t",\n  "fields": [{"name": "a", "type": "int"}]\n}`,
        );
        const canonical = '{"type":"record","name":"t.Event","fields":[{"name":"a","type":"int"}]}';
        expect(await registry.getSchemaById(id)).toBe(canonical);
        expect((await registry.getLatest("s")).schema).toBe(canonical);
      });

      it("gives the same schema in another layout the same id, without a new version", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const id = await registry.register("s", v1);
        await registry.register("s", v2);
        // Same schema: other whitespace, attribute order and name qualification.
        const reformatted = `{ "fields": [ {"type": "int", "name": "a"} ], "name": "t.Event", "type": "record" }`;
        expect(await registry.register("s", reformatted)).toBe(id);
        expect(await registry.register("s", ` ${v1} `)).toBe(id);
        expect(await registry.listVersions("s")).toEqual([1, 2]);
        expect(await registry.register("other", reformatted)).toBe(id);
        expect(await registry.lookup("s", reformatted)).toMatchObject({ version: 1, id });
      });
    });

    describe("references", () => {
      it("refuses a schema that uses a type it does not define (references are not supported) with 42201", async (ctx) => {
        const registry = await makeRegistry(ctx);
        const referring = schemaOf([{ name: "customer", type: "t.Customer" }]);
        await expectCode(registry.register("s", referring), 42201, 422, "PULSE_REGISTRY_INVALID_SCHEMA");
        expect(await registry.listSubjects({ includeDeleted: true })).toEqual([]);
      });
    });
  });
}

/** Expects the call to fail with this Confluent code, HTTP status and catalog code, not retriable. */
async function expectCode(
  promise: Promise<unknown>,
  confluentCode: number,
  httpStatus: number,
  code: string,
): Promise<RegistryError> {
  const error = await rejection(promise);
  expect([error.confluentCode, error.httpStatus, error.code, error.retriable]).toEqual([
    confluentCode,
    httpStatus,
    code,
    false,
  ]);
  return error;
}
