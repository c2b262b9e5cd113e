// Parses Avro schema text, validates it with avsc, and gives it one stable canonical JSON form.

import avro from "avsc";
import { RegistryErrorCode, registryError } from "./errors.ts";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type AvroPrimitive = "null" | "boolean" | "int" | "long" | "float" | "double" | "bytes" | "string";

/** Attributes the Avro spec does not define (logicalType, precision, connect.name, …), kept verbatim. */
export type AvroAttributes = Record<string, Json>;

export interface AvroField {
  name: string;
  type: AvroNode;
  doc?: string;
  /** Present only when the field declares a default (a default may itself be null). */
  default?: { value: Json };
  order?: string;
  aliases: string[];
  attrs: AvroAttributes;
}

export interface AvroRecord {
  kind: "record";
  type: "record" | "error";
  fullName: string;
  /** Full names of the aliases. */
  aliases: string[];
  doc?: string;
  fields: AvroField[];
  attrs: AvroAttributes;
}

export interface AvroEnum {
  kind: "enum";
  fullName: string;
  aliases: string[];
  doc?: string;
  symbols: string[];
  default?: string;
  attrs: AvroAttributes;
}

export interface AvroFixed {
  kind: "fixed";
  fullName: string;
  aliases: string[];
  doc?: string;
  size: number;
  attrs: AvroAttributes;
}

export type AvroNamed = AvroRecord | AvroEnum | AvroFixed;

export type AvroNode =
  | { kind: "primitive"; type: AvroPrimitive; attrs: AvroAttributes }
  /** A use of a named type after its definition (recursion included). */
  | { kind: "ref"; fullName: string }
  | AvroNamed
  | { kind: "array"; items: AvroNode; attrs: AvroAttributes }
  | { kind: "map"; values: AvroNode; attrs: AvroAttributes }
  | { kind: "union"; branches: AvroNode[] };

export interface ParsedSchema {
  /** The canonical JSON text: what the registry stores, compares and returns. */
  canonical: string;
  root: AvroNode;
  /** Every named type by full name, to resolve refs. */
  named: ReadonlyMap<string, AvroNamed>;
}

const primitives = new Set<string>(["null", "boolean", "int", "long", "float", "double", "bytes", "string"]);

/** Longest avsc message we pass on: avsc quotes whole schema fragments, which help little past this. */
const maxCauseChars = 300;

/**
 * Parses and validates Avro schema text. avsc decides validity (names, defaults, duplicates, nesting);
 * this module then rebuilds the schema in the canonical form below, because avsc's own export drops
 * attributes that matter to compatibility (enum defaults) and to users (docs).
 */
export function parseAvroSchema(text: string): ParsedSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`schema is not valid JSON: ${describeCause(error)}`, error);
  }
  return parseAvroJson(json);
}

/** As parseAvroSchema, for a schema already decoded from JSON. */
export function parseAvroJson(json: unknown): ParsedSchema {
  try {
    avro.Type.forSchema(json as avro.Schema);
  } catch (error) {
    throw invalid(`invalid Avro schema: ${describeCause(error)}`, error);
  }
  const named = new Map<string, AvroNamed>();
  const root = normalise(json as Json, "", named);
  return { canonical: serialise(root, ""), root, named };
}

function invalid(message: string, cause?: unknown) {
  return registryError(RegistryErrorCode.invalidSchema, message, { cause });
}

function describeCause(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > maxCauseChars ? `${message.slice(0, maxCauseChars)}…` : message;
}

function qualify(name: string, namespace: string): string {
  return name.includes(".") || namespace === "" ? name : `${namespace}.${name}`;
}

function namespaceOf(fullName: string): string {
  const dot = fullName.lastIndexOf(".");
  return dot < 0 ? "" : fullName.slice(0, dot);
}

export function shortName(fullName: string): string {
  return fullName.slice(fullName.lastIndexOf(".") + 1);
}

const recordKeys = new Set(["type", "name", "namespace", "doc", "aliases", "fields"]);
const fieldKeys = new Set(["name", "type", "doc", "default", "order", "aliases"]);
const enumKeys = new Set(["type", "name", "namespace", "doc", "aliases", "symbols", "default"]);
const fixedKeys = new Set(["type", "name", "namespace", "doc", "aliases", "size"]);

function extraAttributes(object: { [key: string]: Json }, known: Set<string>): AvroAttributes {
  const attrs: AvroAttributes = {};
  for (const key of Object.keys(object).sort()) {
    if (!known.has(key)) attrs[key] = object[key];
  }
  return attrs;
}

function optionalString(value: Json | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function stringList(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

// avsc has already validated the shape, so this walk only rebuilds; it checks just what avsc lets through.
function normalise(schema: Json, namespace: string, named: Map<string, AvroNamed>): AvroNode {
  if (typeof schema === "string") {
    if (primitives.has(schema)) return { kind: "primitive", type: schema as AvroPrimitive, attrs: {} };
    return { kind: "ref", fullName: qualify(schema, namespace) };
  }
  if (Array.isArray(schema)) {
    return { kind: "union", branches: schema.map((branch) => normalise(branch, namespace, named)) };
  }
  if (schema === null || typeof schema !== "object")
    throw invalid(`unexpected schema value ${String(schema)}`);
  const type = schema.type;
  if (typeof type !== "string") {
    // avsc accepts {"type": <schema>} wrappers; they mean the inner schema.
    return normalise(type ?? null, namespace, named);
  }
  switch (type) {
    case "record":
    case "error": {
      // Defined before the fields are read, so recursive references resolve.
      const record = define<AvroRecord>(named, {
        kind: "record",
        type,
        ...namedParts(schema, namespace, recordKeys),
        fields: [],
      });
      const ownNamespace = namespaceOf(record.fullName);
      const fields = Array.isArray(schema.fields) ? schema.fields : [];
      for (const field of fields) {
        if (field === null || typeof field !== "object" || Array.isArray(field)) continue;
        record.fields.push({
          name: String(field.name),
          type: normalise(field.type ?? null, ownNamespace, named),
          doc: optionalString(field.doc),
          default: "default" in field ? { value: field.default } : undefined,
          order: optionalString(field.order) === "ascending" ? undefined : optionalString(field.order),
          aliases: stringList(field.aliases),
          attrs: extraAttributes(field, fieldKeys),
        });
      }
      return record;
    }
    case "enum":
      return define<AvroEnum>(named, {
        kind: "enum",
        ...namedParts(schema, namespace, enumKeys),
        symbols: stringList(schema.symbols),
        default: optionalString(schema.default),
      });
    case "fixed":
      return define<AvroFixed>(named, {
        kind: "fixed",
        ...namedParts(schema, namespace, fixedKeys),
        size: Number(schema.size),
      });
    case "array":
      return {
        kind: "array",
        items: normalise(schema.items ?? null, namespace, named),
        attrs: extraAttributes(schema, new Set(["type", "items"])),
      };
    case "map":
      return {
        kind: "map",
        values: normalise(schema.values ?? null, namespace, named),
        attrs: extraAttributes(schema, new Set(["type", "values"])),
      };
    default:
      if (primitives.has(type)) {
        return {
          kind: "primitive",
          type: type as AvroPrimitive,
          attrs: extraAttributes(schema, new Set(["type"])),
        };
      }
      return { kind: "ref", fullName: qualify(type, namespace) };
  }
}

/** Adds a named type to the schema's definitions by its full name. */
function define<T extends AvroNamed>(named: Map<string, AvroNamed>, node: T): T {
  named.set(node.fullName, node);
  return node;
}

/**
 * What every named type has: its full name, its aliases qualified in its own namespace, its doc, and the
 * attributes beyond its type's `known` keys.
 */
function namedParts(
  schema: { [key: string]: Json },
  enclosing: string,
  known: Set<string>,
): Pick<AvroNamed, "fullName" | "aliases" | "doc" | "attrs"> {
  const fullName = definedName(schema, enclosing, String(schema.type));
  const namespace = namespaceOf(fullName);
  return {
    fullName,
    aliases: stringList(schema.aliases).map((alias) => qualify(alias, namespace)),
    doc: optionalString(schema.doc),
    attrs: extraAttributes(schema, known),
  };
}

function definedName(schema: { [key: string]: Json }, enclosing: string, type: string): string {
  const name = schema.name;
  // avsc tolerates anonymous records and enums; the Avro spec and Confluent require names.
  if (typeof name !== "string" || name === "") throw invalid(`every ${type} needs a "name"`);
  const namespace = typeof schema.namespace === "string" ? schema.namespace : enclosing;
  return qualify(name, namespace);
}

/**
 * Canonical form: no whitespace; named types defined once under their full name, later uses by full name;
 * fixed key order (type, name, doc, aliases, then the type's own keys, then other attributes sorted);
 * `"namespace": ""` only where a null-namespace type sits inside a namespaced one, so re-parsing cannot
 * re-qualify it; object-valued defaults and attributes with sorted keys; "order": "ascending" dropped.
 */
function serialise(node: AvroNode, enclosing: string): string {
  switch (node.kind) {
    case "primitive":
      return Object.keys(node.attrs).length === 0
        ? JSON.stringify(node.type)
        : objectText([["type", JSON.stringify(node.type)], ...attributeEntries(node.attrs)]);
    case "ref":
      return JSON.stringify(node.fullName);
    case "union":
      return `[${node.branches.map((branch) => serialise(branch, enclosing)).join(",")}]`;
    case "array":
      return objectText([
        ["type", '"array"'],
        ["items", serialise(node.items, enclosing)],
        ...attributeEntries(node.attrs),
      ]);
    case "map":
      return objectText([
        ["type", '"map"'],
        ["values", serialise(node.values, enclosing)],
        ...attributeEntries(node.attrs),
      ]);
    case "record": {
      const own = namespaceOf(node.fullName);
      const fields = node.fields.map((field) =>
        objectText([
          ["name", JSON.stringify(field.name)],
          ["type", serialise(field.type, own)],
          ...optional("doc", field.doc),
          ...(field.default === undefined ? [] : [["default", stableJson(field.default.value)] as Entry]),
          ...optional("order", field.order),
          ...(field.aliases.length === 0 ? [] : [["aliases", JSON.stringify(field.aliases)] as Entry]),
          ...attributeEntries(field.attrs),
        ]),
      );
      return objectText([
        ...namedHeader(node, node.type, enclosing),
        ["fields", `[${fields.join(",")}]`],
        ...attributeEntries(node.attrs),
      ]);
    }
    case "enum":
      return objectText([
        ...namedHeader(node, "enum", enclosing),
        ["symbols", JSON.stringify(node.symbols)],
        ...optional("default", node.default),
        ...attributeEntries(node.attrs),
      ]);
    case "fixed":
      return objectText([
        ...namedHeader(node, "fixed", enclosing),
        ["size", JSON.stringify(node.size)],
        ...attributeEntries(node.attrs),
      ]);
  }
}

type Entry = [string, string];

function namedHeader(node: AvroNamed, type: string, enclosing: string): Entry[] {
  const entries: Entry[] = [
    ["type", JSON.stringify(type)],
    ["name", JSON.stringify(node.fullName)],
  ];
  if (namespaceOf(node.fullName) === "" && enclosing !== "") entries.push(["namespace", '""']);
  entries.push(...optional("doc", node.doc));
  if (node.aliases.length > 0) entries.push(["aliases", JSON.stringify(node.aliases)]);
  return entries;
}

function optional(key: string, value: string | undefined): Entry[] {
  return value === undefined ? [] : [[key, JSON.stringify(value)]];
}

function attributeEntries(attrs: AvroAttributes): Entry[] {
  return Object.keys(attrs)
    .sort()
    .map((key) => [key, stableJson(attrs[key])]);
}

function objectText(entries: Entry[]): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}

function stableJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return objectText(
      Object.keys(value)
        .sort()
        .map((key) => [key, stableJson(value[key])]),
    );
  }
  return JSON.stringify(value);
}
