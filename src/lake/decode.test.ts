// Reading raw-lake rows back: frames through the registry (with schema resolution), older JSON rows parsed.

import { describe, expect, it } from "vitest";
import { decodeRawEvent } from "./decode.ts";
import { SCHEMA_TEXTS, subjectFor, userActivityV2Type } from "../contracts/schemas.ts";
import type { UserActivityV2 } from "../contracts/types.ts";
import { SchemaRegistry } from "../registry/embedded/registry.ts";
import { AvroSerde } from "../serde/index.ts";
import { decodeRawBatch, RawBatchEncoder } from "./batch.ts";
import type { RawEventRow } from "./index.ts";

const EVENT = {
  event_id: "0b9a3c8e-6f1d-4c2a-9b7e-1d2f3a4b5c6d",
  user_id: "u-42",
  session_id: "s-7",
  event_type: "VIEW",
  event_time: 1_700_000_000_000,
  page: "/home",
  referrer: null,
  device: "MOBILE",
  country: "DE",
  amount: null,
  currency: null,
};

function row(value: Uint8Array, offset = 0): RawEventRow {
  return {
    topic: "user-activity",
    partition: 0,
    offset,
    event_time: EVENT.event_time,
    ingested_at: 1,
    value,
  };
}

describe("decodeRawEvent", () => {
  it("decodes a v1 frame into the v2 reader through the registry, and parses a JSON row", async () => {
    const registry = SchemaRegistry.open({ path: ":memory:" });
    try {
      const writer = new AvroSerde(registry);
      const frame = (await writer.encoder(subjectFor("user-activity"), SCHEMA_TEXTS.userActivityV1))(EVENT);
      // A reader that has never seen the schema fetches it by the frame's id.
      const reader = new AvroSerde(registry);
      const event = await decodeRawEvent<UserActivityV2>(reader, row(frame), userActivityV2Type);
      expect({ ...event }).toEqual({ ...EVENT, app_version: null });
      const json = Buffer.from(JSON.stringify(EVENT), "utf8");
      expect(await decodeRawEvent(reader, row(json))).toEqual(EVENT);
    } finally {
      registry.close();
    }
  });

  it("reads a batch written as JSON text (version 1) and one written as frames (version 2)", () => {
    const rows = [row(Buffer.from('{"a":1}'), 3), row(Buffer.from([0, 0, 0, 0, 9, 255, 0]), 7)];
    const encoded = Buffer.from(new RawBatchEncoder().encode(rows, 0, rows.length).bytes);
    expect(encoded[0]).toBe(2);
    expect(decodeRawBatch(encoded, "user-activity", 0)).toEqual(rows);
    // The same layout with version 1: its values are JSON text, read back as their bytes.
    const legacy = Buffer.from(encoded);
    legacy[0] = 1;
    expect(decodeRawBatch(legacy, "user-activity", 0).map((r) => r.value)).toEqual(rows.map((r) => r.value));
    legacy[0] = 3;
    expect(() => decodeRawBatch(legacy, "user-activity", 0)).toThrow(/corrupt \(header\)/);
  });
});
