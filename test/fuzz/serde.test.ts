// Fuzzes the Confluent wire format and Avro decoding: any bytes give a record or a SerdeError with a code.

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_TEXTS, userActivityV1Type, userActivityV2Type } from "../../src/contracts/schemas.ts";
import type { UserActivityV2 } from "../../src/contracts/types.ts";
import { SerdeError } from "../../src/errors.ts";
import { mapRecentChange } from "../../src/ingest/wikimedia/mapping.ts";
import { projectFile } from "../../src/paths.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/avro-serde.ts";
import { frameSchemaId, readSchemaId } from "../../src/serde/wire-format.ts";
import { fuzzBytes, runs, typedOutcome, typedOutcomeAsync, withoutStacks } from "./fuzz.ts";

function activity(i: number): UserActivityV2 {
  const purchase = i % 3 === 0;
  return {
    event_id: `0b9a3c8e-6f1d-4c2a-9b7e-${i.toString(16).padStart(12, "0")}`,
    user_id: `u-${i}`,
    session_id: `s-${i % 7}`,
    event_type: purchase ? "PURCHASE" : "VIEW",
    event_time: Date.UTC(2024, 0, 1) + i * 1_000,
    page: `/product/${i}`,
    referrer: i % 4 === 0 ? null : "/home",
    device: "MOBILE",
    country: i % 5 === 0 ? null : "PL",
    amount: purchase ? i / 7 : null,
    currency: purchase ? "PLN" : null,
    ...(i % 2 === 0 ? {} : { app_version: "1.2.3", properties: { k: `v${i}` } }),
  } as UserActivityV2;
}

function recentChanges(): unknown[] {
  const text = readFileSync(projectFile("fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson"), "utf8");
  return text
    .split("\n")
    .slice(0, 4)
    .map((line) => mapRecentChange(JSON.parse(line)))
    .flatMap((mapped) => (mapped.ok ? [mapped.value] : []));
}

let registry: SchemaRegistry;
let serde: AvroSerde;
const frames: Uint8Array[] = [];
const ids: number[] = [];

beforeAll(async () => {
  registry = SchemaRegistry.open({ path: ":memory:" });
  serde = new AvroSerde(registry);
  const v1 = await serde.encoder("user-activity-v1-value", SCHEMA_TEXTS.userActivityV1);
  const v2 = await serde.encoder("user-activity-value", SCHEMA_TEXTS.userActivityV2);
  const rc = await serde.encoder("wikimedia.recentchange-value", SCHEMA_TEXTS.wikimediaRecentChange);
  const dl = await serde.encoder("user-activity.dlq-value", SCHEMA_TEXTS.deadLetter);
  for (let i = 0; i < 6; i++) {
    frames.push(Uint8Array.from(v2(activity(i))));
    frames.push(Uint8Array.from(v1(activity(i))));
  }
  for (const change of recentChanges()) frames.push(Uint8Array.from(rc(change)));
  frames.push(
    Uint8Array.from(
      dl({
        source_topic: "user-activity",
        source_partition: 3,
        source_offset: 17,
        error_code: "PULSE_VALIDATION_BAD_AMOUNT",
        error_message: "amount is not a finite number",
        raw: Buffer.from('{"amount":"x"}'),
        failed_at: Date.UTC(2024, 0, 1),
      }),
    ),
  );
  for (const frame of frames) ids.push(readSchemaId(frame));
});

afterAll(() => registry.close());

withoutStacks({ beforeAll, afterAll });

describe("fuzz: Confluent wire format", () => {
  it("readSchemaId gives an id or a SerdeError, and frameSchemaId agrees without throwing", () => {
    fc.assert(
      fc.property(fuzzBytes(frames, 16), (bytes) => {
        const outcome = typedOutcome(() => readSchemaId(bytes));
        expect(frameSchemaId(bytes)).toBe(outcome.ok ? outcome.value : -1);
        if (!outcome.ok) expect(outcome.error).toBeInstanceOf(SerdeError);
        else expect(Number.isInteger(outcome.value) && outcome.value >= 0).toBe(true);
      }),
      runs(101),
    );
  });
});

describe("fuzz: Avro frames", () => {
  it("decodeSync of any bytes is a record of the writer schema or a SerdeError", () => {
    fc.assert(
      fc.property(fuzzBytes(frames), (bytes) => {
        const outcome = typedOutcome(() => serde.decodeSync(bytes));
        if (!outcome.ok) {
          expect(outcome.error).toBeInstanceOf(SerdeError);
          return;
        }
        // A decoded value re-encodes under its own writer schema: no half-read record gets through.
        const writer = serde.cachedWriterType(readSchemaId(bytes))!;
        expect(writer.isValid(outcome.value)).toBe(true);
      }),
      runs(102),
    );
  });

  it("decodeSync into another reader schema gives a record of the reader or a SerdeError", () => {
    const readers = [userActivityV1Type, userActivityV2Type];
    fc.assert(
      fc.property(fuzzBytes(frames), fc.nat({ max: 1 }), (bytes, which) => {
        const reader = readers[which]!;
        const outcome = typedOutcome(() => serde.decodeSync(bytes, reader));
        if (!outcome.ok) {
          expect(outcome.error).toBeInstanceOf(SerdeError);
          return;
        }
        expect(reader.isValid(outcome.value)).toBe(true);
      }),
      runs(103),
    );
  });

  it("decode with a schema id the registry may not hold rejects with a typed error", async () => {
    await fc.assert(
      fc.asyncProperty(
        fuzzBytes(frames, 64),
        fc.oneof(fc.constantFrom(...ids), fc.nat({ max: 50 }), fc.constant(0xffffffff)),
        async (bytes, id) => {
          const framed = Buffer.from(bytes);
          if (framed.length >= 5 && framed[0] === 0) framed.writeUInt32BE(id, 1);
          const outcome = await typedOutcomeAsync(() => serde.decode(framed));
          if (!outcome.ok) expect(outcome.error).toBeInstanceOf(SerdeError);
        },
      ),
      runs(104),
    );
  });
});
