// The contract table, and UserActivity v1 ⇄ v2 evolution through avsc schema resolution.

import { describe, expect, it } from "vitest";
import { checkReaderWriter, parseAvroSchema } from "../registry/compatibility.ts";
import {
  CONTRACTS,
  contractFor,
  SCHEMA_TEXTS,
  userActivityV1Type,
  userActivityV2Type,
  wikimediaRecentChangeType,
} from "./schemas.ts";
import type { UserActivity, UserActivityV2 } from "./types.ts";

const v1Event: UserActivity = {
  event_id: "0b9a3c8e-6f1d-4c2a-9b7e-1d2f3a4b5c6d",
  user_id: "u-1",
  session_id: "s-1",
  event_type: "PURCHASE",
  event_time: Date.UTC(2024, 0, 2, 3, 4, 5),
  page: "/checkout",
  referrer: "/cart",
  device: "DESKTOP",
  country: "FR",
  amount: 42.5,
  currency: "EUR",
};

describe("contract table", () => {
  it("maps each topic to its TopicNameStrategy subject, schema and key field", () => {
    expect([...CONTRACTS.values()].map((c) => [c.topic, c.subject, c.keyField])).toEqual([
      ["user-activity", "user-activity-value", "user_id"],
      ["wikimedia.recentchange", "wikimedia.recentchange-value", "wiki"],
      ["user-activity.dlq", "user-activity.dlq-value", null],
      ["wikimedia.recentchange.dlq", "wikimedia.recentchange.dlq-value", null],
    ]);
    expect(contractFor("user-activity").schemaText).toBe(SCHEMA_TEXTS.userActivityV2);
    expect(contractFor("wikimedia.recentchange").type).toBe(wikimediaRecentChangeType);
    expect(contractFor("anything.dlq").schemaText).toBe(SCHEMA_TEXTS.deadLetter);
  });

  it("rejects a topic without a contract with a config error", () => {
    expect(() => contractFor("nope")).toThrow(expect.objectContaining({ code: "PULSE_CONFIG_INVALID" }));
  });

  it("reads timestamp-millis as a plain number of ms", () => {
    const back = userActivityV1Type.fromBuffer(userActivityV1Type.toBuffer(v1Event));
    expect(back.event_time).toBe(v1Event.event_time);
  });
});

describe("UserActivity v1 ⇄ v2", () => {
  it("a v2 reader reads v1 data with app_version = null", () => {
    const resolver = userActivityV2Type.createResolver(userActivityV1Type);
    const read = userActivityV2Type.fromBuffer(userActivityV1Type.toBuffer(v1Event), resolver);
    expect({ ...read }).toEqual({ ...v1Event, app_version: null });
  });

  it("a v1 reader reads v2 data, skipping app_version", () => {
    const v2Event: UserActivityV2 = { ...v1Event, app_version: "2.4.1" };
    const resolver = userActivityV1Type.createResolver(userActivityV2Type);
    const read = userActivityV1Type.fromBuffer(userActivityV2Type.toBuffer(v2Event), resolver);
    expect({ ...read }).toEqual(v1Event);
  });

  it("v2 is BACKWARD (and FORWARD) compatible with v1 by the registry's rules", () => {
    const v1 = parseAvroSchema(SCHEMA_TEXTS.userActivityV1);
    const v2 = parseAvroSchema(SCHEMA_TEXTS.userActivityV2);
    expect(checkReaderWriter(v2, v1)).toEqual([]);
    expect(checkReaderWriter(v1, v2)).toEqual([]);
  });
});
