// The Avro contracts as parsed types, and the table saying which topic carries which schema under which key.

import { readFileSync } from "node:fs";
import avro from "avsc";
import { ConfigError } from "../errors.ts";
import { projectFile } from "../paths.ts";
import { deadLetterTopic, TOPICS } from "./types.ts";

export type AvroType = avro.Type;

function readSchema(file: string): string {
  // Resolved against the project, not the working directory, so the CLI works from any folder.
  return readFileSync(projectFile(`src/contracts/schemas/${file}`), "utf8");
}

/** Schema texts exactly as stored in the .avsc files (the source of truth). */
export const SCHEMA_TEXTS = {
  userActivityV1: readSchema("user-activity.v1.avsc"),
  userActivityV2: readSchema("user-activity.v2.avsc"),
  wikimediaRecentChange: readSchema("wikimedia-recentchange.avsc"),
  deadLetter: readSchema("dead-letter.avsc"),
} as const;

/**
 * Parses a schema text into an avsc Type. Logical types stay unwrapped on purpose: timestamp-millis
 * reads as a plain number of ms, which is what the TypeScript shapes in types.ts promise.
 */
export function parseSchema(schemaText: string): AvroType {
  const type = avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema);
  withoutPrototypeLookups(type, new Set());
  return type;
}

/** The parts of avsc's types walked below (its .d.ts does not declare them). */
interface TypeInternals {
  typeName: string;
  _indices?: Record<string, number>;
  fields?: Array<{ type: TypeInternals }>;
  types?: TypeInternals[];
  itemsType?: TypeInternals;
  valuesType?: TypeInternals;
  underlyingType?: TypeInternals;
}

/**
 * avsc finds an enum's symbol in a plain object, so "constructor", "toString" or "__proto__" passed
 * isValid as a symbol (and then failed to encode): each enum's table loses its prototype, which leaves
 * the declared symbols alone in it.
 */
function withoutPrototypeLookups(type: AvroType, seen: Set<unknown>): void {
  const t = type as unknown as TypeInternals;
  if (seen.has(t)) return;
  seen.add(t);
  if (t._indices !== undefined && Object.getPrototypeOf(t._indices) !== null)
    Object.setPrototypeOf(t._indices, null);
  const children = [
    ...(t.fields ?? []).map((field) => field.type),
    ...(t.types ?? []),
    t.itemsType,
    t.valuesType,
    t.underlyingType,
  ];
  for (const child of children)
    if (child !== undefined) withoutPrototypeLookups(child as unknown as AvroType, seen);
}

export const userActivityV1Type: AvroType = parseSchema(SCHEMA_TEXTS.userActivityV1);
export const userActivityV2Type: AvroType = parseSchema(SCHEMA_TEXTS.userActivityV2);
/** The version producers write today. */
export const userActivityType: AvroType = userActivityV2Type;
export const wikimediaRecentChangeType: AvroType = parseSchema(SCHEMA_TEXTS.wikimediaRecentChange);
export const deadLetterType: AvroType = parseSchema(SCHEMA_TEXTS.deadLetter);

export interface TopicContract {
  topic: string;
  /** Confluent TopicNameStrategy: `<topic>-value`. */
  subject: string;
  schemaText: string;
  type: AvroType;
  /** Field whose value keys the record on the log; null when records carry no key. */
  keyField: string | null;
}

/** Confluent's TopicNameStrategy for record values. */
export function subjectFor(topic: string): string {
  return `${topic}-value`;
}

function contract(topic: string, schemaText: string, type: AvroType, keyField: string | null): TopicContract {
  return { topic, subject: subjectFor(topic), schemaText, type, keyField };
}

/** Every topic Pulse writes Avro to. Dead letters carry no key: a rejected event may have no usable one. */
export const CONTRACTS: ReadonlyMap<string, TopicContract> = new Map(
  [
    contract(TOPICS.activity, SCHEMA_TEXTS.userActivityV2, userActivityV2Type, "user_id"),
    contract(TOPICS.wikimedia, SCHEMA_TEXTS.wikimediaRecentChange, wikimediaRecentChangeType, "wiki"),
    contract(deadLetterTopic(TOPICS.activity), SCHEMA_TEXTS.deadLetter, deadLetterType, null),
    contract(deadLetterTopic(TOPICS.wikimedia), SCHEMA_TEXTS.deadLetter, deadLetterType, null),
  ].map((c) => [c.topic, c]),
);

/** The contract of a topic; any `<topic>.dlq` gets the dead-letter contract even when `<topic>` is not listed. */
export function contractFor(topic: string): TopicContract {
  const known = CONTRACTS.get(topic);
  if (known) return known;
  if (topic.endsWith(".dlq")) return contract(topic, SCHEMA_TEXTS.deadLetter, deadLetterType, null);
  throw new ConfigError(
    `No contract for topic "${topic}"; known topics: ${[...CONTRACTS.keys()].join(", ")} (or any <topic>.dlq)`,
  );
}
