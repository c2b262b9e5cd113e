// The hand-written UserActivity v2 writer against avsc: the same bytes for every value it takes, FALLBACK for the rest.

import { describe, expect, it } from "vitest";
import { SAMPLE_PURCHASE } from "../../test/helpers/events.ts";
import { SCHEMA_TEXTS, userActivityV2Type } from "../contracts/schemas.ts";
import type { UserActivityV2 } from "../contracts/types.ts";
import { SerdeError } from "../errors.ts";
import { simulateActivity } from "../ingest/simulator.ts";
import { SchemaRegistry } from "../registry/embedded/registry.ts";
import { FALLBACK, writeActivityV2 } from "./activity-writer.ts";
import { AvroSerde } from "./avro-serde.ts";
import { HEADER_BYTES } from "./wire-format.ts";

const BASE: UserActivityV2 = { ...SAMPLE_PURCHASE };

/** What the writer writes, or the number it returned when that is not an end. */
function written(e: UserActivityV2, size = 1 << 16): Buffer | number {
  const buf = Buffer.alloc(size);
  const end = writeActivityV2(e, buf, 3);
  return end < 0 ? end : buf.subarray(3, end);
}

describe("writeActivityV2", () => {
  it("writes avsc's bytes for every event the simulator makes", () => {
    let count = 0;
    for (const record of simulateActivity({ seed: 5, count: 20_000, malformedShare: 0 })) {
      if (record.kind === "malformed") continue;
      expect(written(record.event)).toEqual(userActivityV2Type.toBuffer(record.event));
      count++;
    }
    expect(count).toBe(20_000);
  });

  const edges: [string, Partial<UserActivityV2>][] = [
    ...["CLICK", "VIEW", "ADD_TO_CART", "REMOVE_FROM_CART", "SEARCH", "LOGIN", "LOGOUT", "SIGNUP"].map(
      (t): [string, Partial<UserActivityV2>] => [
        `event_type ${t}`,
        { event_type: t as UserActivityV2["event_type"] },
      ],
    ),
    ...["DESKTOP", "MOBILE", "UNKNOWN"].map((d): [string, Partial<UserActivityV2>] => [
      `device ${d}`,
      { device: d as UserActivityV2["device"] },
    ]),
    ...[
      0,
      1,
      -1,
      63,
      64,
      -64,
      -65,
      2 ** 30 - 1,
      2 ** 30,
      -(2 ** 30),
      -(2 ** 30) - 1,
      2 ** 31,
      -(2 ** 31),
    ].map((t): [string, Partial<UserActivityV2>] => [`event_time ${t}`, { event_time: t }]),
    ["event_time 2^52 − 1", { event_time: 2 ** 52 - 1 }],
    ["event_time −(2^52 − 1)", { event_time: -(2 ** 52 - 1) }],
    ...[0, -0, 1e-300, -3.25, 1.7976931348623157e308].map((a): [string, Partial<UserActivityV2>] => [
      `amount ${a}`,
      { amount: a },
    ]),
    [
      "every nullable null",
      { referrer: null, country: null, amount: null, currency: null, app_version: null },
    ],
    ...[0, 1, 63, 64, 127, 128, 8191, 8192, 100_000].map((n): [string, Partial<UserActivityV2>] => [
      `strings of ${n} characters`,
      { user_id: "u".repeat(n), page: "p".repeat(n), referrer: "r".repeat(n), app_version: "v".repeat(n) },
    ]),
  ];
  for (const [name, change] of edges) {
    it(`writes avsc's bytes: ${name}`, () => {
      const e = { ...BASE, ...change };
      expect(written(e, 1_000_000)).toEqual(userActivityV2Type.toBuffer(e));
    });
  }

  const others: [string, unknown][] = [
    ["a non-ASCII string", { ...BASE, page: "/café" }],
    ["a string of CJK characters", { ...BASE, user_id: "利用者" }],
    ["a lone surrogate", { ...BASE, referrer: "\ud800" }],
    ["an event type not in the enum", { ...BASE, event_type: "TELEPORT" }],
    ["a device not in the enum", { ...BASE, device: "WATCH" }],
    ["a fractional event_time", { ...BASE, event_time: 1.5 }],
    ["an event_time of 2^52", { ...BASE, event_time: 2 ** 52 }],
    ["an amount that is NaN", { ...BASE, amount: Number.NaN }],
    ["an infinite amount", { ...BASE, amount: Number.POSITIVE_INFINITY }],
    ["an amount as a string", { ...BASE, amount: "12.50" }],
    ["a number for a string", { ...BASE, user_id: 7 }],
    ["a missing field", { ...BASE, app_version: undefined }],
    ["an ISO string for event_time", { ...BASE, event_time: "2024-01-01T00:00:00Z" }],
  ];
  for (const [name, value] of others) {
    it(`leaves ${name} to avsc (FALLBACK)`, () => {
      expect(written(value as UserActivityV2)).toBe(FALLBACK);
    });
  }

  it("asks for the bytes it needs when the buffer is too small, and fits in exactly that", () => {
    const needed = -(written(BASE, 20) as number);
    expect(needed).toBeGreaterThan(20);
    const exact = written(BASE, 3 + needed);
    expect(exact).toEqual(userActivityV2Type.toBuffer(BASE));
  });

  it("through AvroSerde: frames equal avsc's for values it takes and for those it leaves, and bad values still fail", async ({
    onTestFinished,
  }) => {
    const registry = SchemaRegistry.open({ path: ":memory:" });
    onTestFinished(() => registry.close());
    const serde = new AvroSerde(registry, { slabBytes: 16 });
    const encode = await serde.encoder<UserActivityV2>("user-activity-value", SCHEMA_TEXTS.userActivityV2);
    for (const e of [
      BASE,
      { ...BASE, page: "/café", user_id: "利用者" },
      { ...BASE, page: "x".repeat(50_000) },
      { ...BASE, event_time: 2 ** 52 + 2 },
    ]) {
      const frame = encode(e);
      expect(frame.subarray(HEADER_BYTES)).toEqual(userActivityV2Type.toBuffer(e));
      expect(await serde.decode(frame)).toEqual(e);
    }
    // With the default slab, many frames share one: each keeps its bytes while later ones are written.
    const shared = await new AvroSerde(registry).encoder<UserActivityV2>(
      "user-activity-value",
      SCHEMA_TEXTS.userActivityV2,
    );
    const events = Array.from({ length: 2_000 }, (_, i) => ({
      ...BASE,
      user_id: `user-${i}`,
      page: "/p".repeat(i % 40),
    }));
    const frames = events.map((e) => shared(e));
    for (const [i, frame] of frames.entries()) {
      expect(frame.subarray(HEADER_BYTES)).toEqual(userActivityV2Type.toBuffer(events[i]));
    }
    for (const bad of [{ ...BASE, event_type: "TELEPORT" }, { ...BASE, user_id: 7 }, null]) {
      expect(() => encode(bad as UserActivityV2)).toThrow(SerdeError);
    }
  });
});
