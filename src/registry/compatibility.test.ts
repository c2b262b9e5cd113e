// Unit tests for Avro schema resolution, compatibility levels and the canonical schema form.

import { describe, expect, it } from "vitest";
import { RegistryError } from "../errors.ts";
import {
  checkCompatibility,
  checkReaderWriter,
  describeIncompatibility,
  type Incompatibility,
  type IncompatibilityKind,
  parseAvroJson,
  parseAvroSchema,
  parseCompatibilityLevel,
} from "./compatibility.ts";

function check(reader: unknown, writer: unknown) {
  return checkReaderWriter(parseAvroJson(reader), parseAvroJson(writer));
}

/** One incompatibility, as checkReaderWriter reports it. */
function issue(kind: IncompatibilityKind, path: string, message: string): Incompatibility {
  return { kind, path, message };
}

function record(fields: unknown[], extra: Record<string, unknown> = {}) {
  return { type: "record", name: "R", namespace: "t", fields, ...extra };
}

function catchError(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  return expect.unreachable("expected a RegistryError");
}

describe("primitives", () => {
  const all = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

  it("reads every primitive as itself", () => {
    for (const type of all) expect(check(type, type)).toEqual([]);
  });

  it.each([
    ["long", "int"],
    ["float", "int"],
    ["double", "int"],
    ["float", "long"],
    ["double", "long"],
    ["double", "float"],
    ["bytes", "string"],
    ["string", "bytes"],
  ])("promotes: reader %s reads writer %s", (reader, writer) => {
    expect(check(reader, writer)).toEqual([]);
  });

  it.each([
    ["int", "long"],
    ["float", "double"],
    ["long", "float"],
    ["int", "null"],
    ["int", "boolean"],
    ["int", "string"],
    ["string", "int"],
    ["boolean", "null"],
  ])("refuses: reader %s cannot read writer %s", (reader, writer) => {
    expect(check(reader, writer)).toEqual([
      issue("TYPE_MISMATCH", "/", `reader type "${reader}" cannot read writer type "${writer}"`),
    ]);
  });

  it("ignores logical types, which do not change the encoding", () => {
    expect(check({ type: "long", logicalType: "timestamp-millis" }, "long")).toEqual([]);
    expect(check("string", { type: "string", logicalType: "uuid" })).toEqual([]);
  });

  it("refuses a primitive where a complex type was written", () => {
    expect(check("string", { type: "array", items: "string" })).toEqual([
      issue("TYPE_MISMATCH", "/", 'reader type "string" cannot read writer type array<"string">'),
    ]);
  });
});

describe("records", () => {
  const writer = record([
    { name: "a", type: "int" },
    { name: "b", type: "string" },
  ]);

  it("reads the same record", () => {
    expect(check(writer, writer)).toEqual([]);
  });

  it("ignores fields only the writer has", () => {
    expect(check(record([{ name: "a", type: "int" }]), writer)).toEqual([]);
  });

  it("fills a reader-only field from its default", () => {
    const reader = record([
      { name: "a", type: "int" },
      { name: "b", type: "string" },
      { name: "c", type: ["null", "string"], default: null },
    ]);
    expect(check(reader, writer)).toEqual([]);
  });

  it("refuses a reader-only field without a default", () => {
    const reader = record([
      { name: "a", type: "int" },
      { name: "c", type: "string" },
    ]);
    expect(check(reader, writer)).toEqual([
      issue(
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "/fields/c",
        'reader field "c" of t.R is not in the writer record and has no default',
      ),
    ]);
  });

  it("resolves matched fields recursively, promotions included", () => {
    const reader = record([
      { name: "a", type: "long" },
      { name: "b", type: "int" },
    ]);
    expect(check(reader, writer)).toEqual([
      issue("TYPE_MISMATCH", "/fields/b/type", 'reader type "int" cannot read writer type "string"'),
    ]);
  });

  it("matches a renamed field through the reader's field aliases", () => {
    const renamed = record([
      { name: "a", type: "int" },
      { name: "bee", type: "string", aliases: ["b"] },
    ]);
    expect(check(renamed, writer)).toEqual([]);
    const withoutAlias = record([
      { name: "a", type: "int" },
      { name: "bee", type: "string" },
    ]);
    expect(check(withoutAlias, writer)).toEqual([
      issue(
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "/fields/bee",
        'reader field "bee" of t.R is not in the writer record and has no default',
      ),
    ]);
  });

  it("refuses a record with another name", () => {
    const reader = { ...writer, name: "Other" };
    expect(check(reader, writer)).toEqual([
      issue(
        "NAME_MISMATCH",
        "/name",
        "reader record t.Other does not match writer record t.R: names differ and no reader alias names the writer",
      ),
    ]);
  });

  it("matches a renamed record through the reader's aliases (relative or full)", () => {
    expect(check({ ...writer, name: "Other", aliases: ["R"] }, writer)).toEqual([]);
    expect(check({ ...writer, name: "Other", namespace: "u", aliases: ["t.R"] }, writer)).toEqual([]);
  });

  it("matches records by unqualified name, as the spec says, so a namespace move is compatible", () => {
    expect(check({ ...writer, namespace: "moved" }, writer)).toEqual([]);
  });

  it("reports the path through nested records", () => {
    const nest = (type: string) =>
      record([{ name: "inner", type: { type: "record", name: "Inner", fields: [{ name: "x", type }] } }]);
    expect(check(nest("int"), nest("long"))).toEqual([
      issue(
        "TYPE_MISMATCH",
        "/fields/inner/type/fields/x/type",
        'reader type "int" cannot read writer type "long"',
      ),
    ]);
  });

  it("reports every broken field, not only the first", () => {
    const reader = record([
      { name: "a", type: "string" },
      { name: "b", type: "int" },
      { name: "c", type: "int" },
    ]);
    expect(check(reader, writer).map((issue) => [issue.kind, issue.path])).toEqual([
      ["TYPE_MISMATCH", "/fields/a/type"],
      ["TYPE_MISMATCH", "/fields/b/type"],
      ["READER_FIELD_MISSING_DEFAULT_VALUE", "/fields/c"],
    ]);
  });
});

describe("enums", () => {
  const enumOf = (symbols: string[], extra: Record<string, unknown> = {}) => ({
    type: "enum",
    name: "Color",
    symbols,
    ...extra,
  });

  it("reads a writer whose symbols the reader all has", () => {
    expect(check(enumOf(["RED", "GREEN", "BLUE"]), enumOf(["RED", "GREEN"]))).toEqual([]);
  });

  it("refuses writer symbols the reader lacks when the reader has no default", () => {
    expect(check(enumOf(["RED"]), enumOf(["RED", "GREEN", "BLUE"]))).toEqual([
      issue(
        "MISSING_ENUM_SYMBOLS",
        "/symbols",
        "reader enum Color lacks writer symbols [GREEN, BLUE] and has no default to map them to",
      ),
    ]);
  });

  it("maps unknown writer symbols to the reader's default", () => {
    expect(check(enumOf(["RED", "OTHER"], { default: "OTHER" }), enumOf(["RED", "GREEN"]))).toEqual([]);
  });

  it("refuses an enum with another name, and accepts it through an alias", () => {
    expect(check({ ...enumOf(["RED"]), name: "Colour" }, enumOf(["RED"]))).toEqual([
      issue(
        "NAME_MISMATCH",
        "/name",
        "reader enum Colour does not match writer enum Color: names differ and no reader alias names the writer",
      ),
    ]);
    expect(check({ ...enumOf(["RED"]), name: "Colour", aliases: ["Color"] }, enumOf(["RED"]))).toEqual([]);
  });

  it("does not read a string as an enum", () => {
    expect(check(enumOf(["RED"]), "string")).toEqual([
      issue("TYPE_MISMATCH", "/", 'reader type enum Color cannot read writer type "string"'),
    ]);
  });
});

describe("fixed", () => {
  const fixed = (size: number, name = "Hash") => ({ type: "fixed", name, size });

  it("reads the same fixed", () => {
    expect(check(fixed(16), fixed(16))).toEqual([]);
  });

  it("refuses another size", () => {
    expect(check(fixed(16), fixed(32))).toEqual([
      issue(
        "FIXED_SIZE_MISMATCH",
        "/size",
        "reader fixed Hash has size 16 but writer fixed Hash has size 32",
      ),
    ]);
  });

  it("refuses another name", () => {
    expect(check(fixed(16, "Md5"), fixed(16))).toEqual([
      issue(
        "NAME_MISMATCH",
        "/name",
        "reader fixed Md5 does not match writer fixed Hash: names differ and no reader alias names the writer",
      ),
    ]);
  });

  it("does not read bytes as fixed", () => {
    expect(check(fixed(4), "bytes")).toEqual([
      issue("TYPE_MISMATCH", "/", 'reader type fixed Hash cannot read writer type "bytes"'),
    ]);
  });
});

describe("arrays and maps", () => {
  it("resolves array items, with promotion", () => {
    expect(check({ type: "array", items: "long" }, { type: "array", items: "int" })).toEqual([]);
    expect(check({ type: "array", items: "int" }, { type: "array", items: "long" })).toEqual([
      issue("TYPE_MISMATCH", "/items", 'reader type "int" cannot read writer type "long"'),
    ]);
  });

  it("resolves map values, with promotion", () => {
    expect(check({ type: "map", values: "double" }, { type: "map", values: "float" })).toEqual([]);
    expect(check({ type: "map", values: "string" }, { type: "map", values: "int" })).toEqual([
      issue("TYPE_MISMATCH", "/values", 'reader type "string" cannot read writer type "int"'),
    ]);
  });

  it("does not read a map as an array or an array as a map", () => {
    expect(check({ type: "array", items: "int" }, { type: "map", values: "int" })).toEqual([
      issue("TYPE_MISMATCH", "/", 'reader type array<"int"> cannot read writer type map<"int">'),
    ]);
    expect(check({ type: "map", values: "int" }, { type: "array", items: "int" })).toEqual([
      issue("TYPE_MISMATCH", "/", 'reader type map<"int"> cannot read writer type array<"int">'),
    ]);
  });

  it("reaches into nested containers", () => {
    const nested = (type: string) => ({ type: "map", values: { type: "array", items: type } });
    expect(check(nested("int"), nested("string"))).toEqual([
      issue("TYPE_MISMATCH", "/values/items", 'reader type "int" cannot read writer type "string"'),
    ]);
  });
});

describe("unions", () => {
  it("reads a writer union when every branch has a reader branch", () => {
    expect(check(["null", "string", "long"], ["null", "int"])).toEqual([]);
  });

  it("refuses a writer branch no reader branch can read, naming the writer's branch", () => {
    expect(check(["null", "string"], ["null", "int"])).toEqual([
      issue(
        "MISSING_UNION_BRANCH",
        "/1",
        'reader union ["null", "string"] has no branch that can read writer type "int"',
      ),
    ]);
  });

  it("reads a non-union writer with a union reader when some branch can read it", () => {
    expect(check(["null", "long"], "int")).toEqual([]);
    expect(check(["null", "string"], "int")).toEqual([
      issue(
        "MISSING_UNION_BRANCH",
        "/",
        'reader union ["null", "string"] has no branch that can read writer type "int"',
      ),
    ]);
  });

  it("reads a union writer with a non-union reader only if the reader reads every branch", () => {
    expect(check("long", ["int", "long"])).toEqual([]);
    expect(check("string", ["null", "string"])).toEqual([
      issue("TYPE_MISMATCH", "/0", 'reader type "string" cannot read writer type "null"'),
    ]);
  });

  it("matches named branches by name", () => {
    const a = { type: "record", name: "A", fields: [{ name: "x", type: "int" }] };
    const b = { type: "record", name: "B", fields: [{ name: "y", type: "int" }] };
    expect(check(["null", a, b], [b, "null"])).toEqual([]);
    expect(check(["null", a], ["null", b])).toEqual([
      issue(
        "MISSING_UNION_BRANCH",
        "/1",
        'reader union ["null", record A] has no branch that can read writer type record B',
      ),
    ]);
  });

  it("reports union paths inside fields", () => {
    const reader = record([{ name: "v", type: ["null", "string"], default: null }]);
    const writer = record([{ name: "v", type: ["null", "string", "int"], default: null }]);
    expect(check(reader, writer)).toEqual([
      issue(
        "MISSING_UNION_BRANCH",
        "/fields/v/type/2",
        'reader union ["null", "string"] has no branch that can read writer type "int"',
      ),
    ]);
  });
});

describe("named references and recursion", () => {
  const list = (valueType: string, extraFields: unknown[] = []) => ({
    type: "record",
    name: "Node",
    fields: [
      { name: "value", type: valueType },
      { name: "next", type: ["null", "Node"], default: null },
      ...extraFields,
    ],
  });

  it("checks a recursive schema without looping", () => {
    expect(check(list("long"), list("int"))).toEqual([]);
  });

  it("reports a break inside a recursive schema once", () => {
    expect(check(list("int", [{ name: "extra", type: "string" }]), list("int"))).toEqual([
      issue(
        "READER_FIELD_MISSING_DEFAULT_VALUE",
        "/fields/extra",
        'reader field "extra" of Node is not in the writer record and has no default',
      ),
    ]);
    expect(check(list("int"), list("long"))).toEqual([
      issue("TYPE_MISMATCH", "/fields/value/type", 'reader type "int" cannot read writer type "long"'),
    ]);
  });

  it("resolves a named type used again by reference", () => {
    const schema = (size: number) =>
      record([
        { name: "first", type: { type: "fixed", name: "Id", size } },
        { name: "second", type: "Id" },
      ]);
    expect(check(schema(8), schema(8))).toEqual([]);
    expect(check(schema(8), schema(4)).map((issue) => issue.path)).toEqual([
      "/fields/first/type/size",
      "/fields/second/type/size",
    ]);
  });

  it("checks mutually recursive records", () => {
    const tree = (leafType: string) => ({
      type: "record",
      name: "Tree",
      fields: [
        { name: "leaf", type: leafType },
        {
          name: "children",
          type: {
            type: "array",
            items: { type: "record", name: "Edge", fields: [{ name: "to", type: "Tree" }] },
          },
        },
      ],
    });
    expect(check(tree("double"), tree("float"))).toEqual([]);
    expect(check(tree("float"), tree("double"))).toEqual([
      issue("TYPE_MISMATCH", "/fields/leaf/type", 'reader type "float" cannot read writer type "double"'),
    ]);
  });
});

describe("compatibility levels", () => {
  // v1 → v2 adds b with a default; v3 drops b's default. v3 reads v2 data (b is there) but not v1 data.
  const v1 = parseAvroJson(record([{ name: "a", type: "int" }]));
  const v2 = parseAvroJson(
    record([
      { name: "a", type: "int" },
      { name: "b", type: "string", default: "x" },
    ]),
  );
  const v3 = parseAvroJson(
    record([
      { name: "a", type: "int" },
      { name: "b", type: "string" },
    ]),
  );
  const history = [
    { version: 1, schema: v1 },
    { version: 2, schema: v2 },
  ];
  const missingB = issue(
    "READER_FIELD_MISSING_DEFAULT_VALUE",
    "/fields/b",
    'reader field "b" of t.R is not in the writer record and has no default',
  );

  it("NONE accepts anything", () => {
    expect(checkCompatibility("NONE", parseAvroJson("string"), history)).toEqual([]);
  });

  it("accepts the first version under every level", () => {
    expect(checkCompatibility("FULL_TRANSITIVE", v1, [])).toEqual([]);
  });

  it("BACKWARD checks only the latest version; BACKWARD_TRANSITIVE checks all", () => {
    expect(checkCompatibility("BACKWARD", v3, history)).toEqual([]);
    expect(checkCompatibility("BACKWARD_TRANSITIVE", v3, history)).toEqual([
      { ...missingB, version: 1, direction: "BACKWARD" },
    ]);
  });

  it("FORWARD has the old schema read the new one", () => {
    // v1 reading v3 data is fine (b is ignored), so FORWARD passes where BACKWARD would not.
    expect(checkCompatibility("FORWARD", v1, [{ version: 1, schema: v3 }])).toEqual([
      { ...missingB, version: 1, direction: "FORWARD" },
    ]);
    expect(checkCompatibility("FORWARD", v3, [{ version: 1, schema: v1 }])).toEqual([]);
  });

  it("FORWARD_TRANSITIVE checks every old version reading the new one", () => {
    const old = [
      { version: 1, schema: v3 },
      { version: 2, schema: v2 },
    ];
    expect(checkCompatibility("FORWARD", v1, old)).toEqual([]);
    expect(checkCompatibility("FORWARD_TRANSITIVE", v1, old)).toEqual([
      { ...missingB, version: 1, direction: "FORWARD" },
    ]);
  });

  it("FULL checks both directions against the latest", () => {
    expect(checkCompatibility("FULL", v2, [{ version: 1, schema: v1 }])).toEqual([]);
    expect(checkCompatibility("FULL", v3, [{ version: 1, schema: v1 }])).toEqual([
      { ...missingB, version: 1, direction: "BACKWARD" },
    ]);
    expect(checkCompatibility("FULL", v1, [{ version: 1, schema: v3 }])).toEqual([
      { ...missingB, version: 1, direction: "FORWARD" },
    ]);
  });

  it("FULL_TRANSITIVE checks both directions against every version, newest first", () => {
    expect(checkCompatibility("FULL", v3, history)).toEqual([]);
    expect(checkCompatibility("FULL_TRANSITIVE", v3, history)).toEqual([
      { ...missingB, version: 1, direction: "BACKWARD" },
    ]);
    const issues = checkCompatibility(
      "FULL_TRANSITIVE",
      parseAvroJson(record([{ name: "a", type: "string" }])),
      history,
    );
    expect(issues.map((issue) => [issue.version, issue.direction])).toEqual([
      [2, "BACKWARD"],
      [2, "FORWARD"],
      [1, "BACKWARD"],
      [1, "FORWARD"],
    ]);
  });

  it("describes an incompatibility in one line", () => {
    expect(
      describeIncompatibility({
        ...missingB,
        kind: "READER_FIELD_MISSING_DEFAULT_VALUE",
        version: 1,
        direction: "BACKWARD",
      }),
    ).toBe(
      'the new schema cannot read data written with version 1: READER_FIELD_MISSING_DEFAULT_VALUE at /fields/b: reader field "b" of t.R is not in the writer record and has no default',
    );
  });

  it("parses level names in any case and rejects unknown ones with 42203", () => {
    expect(parseCompatibilityLevel("full_transitive")).toBe("FULL_TRANSITIVE");
    const error = catchError(() => parseCompatibilityLevel("SIDEWAYS"));
    expect([error.code, error.confluentCode, error.httpStatus]).toEqual([
      "PULSE_REGISTRY_INVALID_COMPATIBILITY_LEVEL",
      42203,
      422,
    ]);
    expect(error.message).toContain("SIDEWAYS");
  });
});

describe("parsing and the canonical form", () => {
  it("rejects text that is not JSON with 42201", () => {
    const error = catchError(() => parseAvroSchema("{not json"));
    expect([error.code, error.confluentCode, error.httpStatus]).toEqual([
      "PULSE_REGISTRY_INVALID_SCHEMA",
      42201,
      422,
    ]);
    expect(error.message).toMatch(/^schema is not valid JSON/);
  });

  it.each([
    ["an unknown type", '"strang"'],
    ["a bad default", '{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}'],
    [
      "a duplicate field",
      '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"a","type":"int"}]}',
    ],
    ["an enum default that is not a symbol", '{"type":"enum","name":"E","symbols":["A"],"default":"B"}'],
    ["nested unions", '["null",["int"]]'],
    ["an anonymous enum", '{"type":"enum","symbols":["A"]}'],
  ])("rejects %s with 42201", (_, text) => {
    const error = catchError(() => parseAvroSchema(text));
    expect(error.confluentCode).toBe(42201);
  });

  it("gives one canonical text whatever the layout, key order or name qualification", () => {
    const a = parseAvroSchema(
      '{ "type": "record", "name": "R", "namespace": "t", "fields": [ {"name": "a", "type": {"type": "fixed", "name": "F", "size": 2}}, {"name": "b", "type": "F", "order": "ascending"} ] }',
    );
    const b = parseAvroSchema(
      '{"fields":[{"type":{"size":2,"name":"t.F","type":"fixed"},"name":"a"},{"name":"b","type":"t.F"}],"name":"t.R","type":"record"}',
    );
    expect(a.canonical).toBe(b.canonical);
    expect(a.canonical).toBe(
      '{"type":"record","name":"t.R","fields":[{"name":"a","type":{"type":"fixed","name":"t.F","size":2}},{"name":"b","type":"t.F"}]}',
    );
  });

  it("keeps what matters to readers and users: defaults, enum defaults, docs, aliases, logical types", () => {
    const text =
      '{"type":"record","name":"R","doc":"d","aliases":["Old"],"fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"default":"B","aliases":["f"]},{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"m","type":{"type":"map","values":"int"},"default":{"z":1,"a":2}}],"x-custom":{"b":1,"a":2}}';
    expect(parseAvroSchema(text).canonical).toBe(
      '{"type":"record","name":"R","doc":"d","aliases":["Old"],"fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"default":"B","aliases":["f"]},{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"m","type":{"type":"map","values":"int"},"default":{"a":2,"z":1}}],"x-custom":{"a":2,"b":1}}',
    );
  });

  it("keeps a null-namespace type inside a namespaced one from being re-qualified", () => {
    const parsed = parseAvroJson({
      type: "record",
      name: "a.R",
      fields: [{ name: "c", type: { type: "record", name: "C", namespace: "", fields: [] } }],
    });
    expect(parsed.canonical).toBe(
      '{"type":"record","name":"a.R","fields":[{"name":"c","type":{"type":"record","name":"C","namespace":"","fields":[]}}]}',
    );
    expect(parseAvroSchema(parsed.canonical).canonical).toBe(parsed.canonical);
  });

  it("is a fixed point: the canonical text parses to itself", () => {
    const samples = [
      '"string"',
      '["null","int"]',
      '{"type":"array","items":{"type":"record","name":"n.Node","fields":[{"name":"next","type":["null","n.Node"],"default":null}]}}',
    ];
    for (const text of samples)
      expect(parseAvroSchema(parseAvroSchema(text).canonical).canonical).toBe(
        parseAvroSchema(text).canonical,
      );
  });
});
