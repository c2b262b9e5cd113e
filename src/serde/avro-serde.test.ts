// AvroSerde against the real in-process registry: round trips, evolution, one fetch per id, and every bad-bytes error.

import { describe, expect, it, type TestContext } from "vitest";
import { SCHEMA_TEXTS, userActivityV1Type, userActivityV2Type } from "../contracts/schemas.ts";
import type { DeadLetter, UserActivity, UserActivityV2 } from "../contracts/types.ts";
import { SerdeError, SerdeErrorCode } from "../errors.ts";
import type { RegisteredSchema, SchemaRegistryClient } from "../registry/index.ts";
import { SchemaRegistry } from "../registry/embedded/registry.ts";
import { AvroSerde } from "./avro-serde.ts";
import { HEADER_BYTES, MAGIC_BYTE, readSchemaId } from "./wire-format.ts";

const SUBJECT = "user-activity-value";

/** The real registry, counting calls on the way through (a delegating wrapper, not a mock). */
class CountingRegistry implements SchemaRegistryClient {
  registers = 0;
  fetches = new Map<number, number>();
  constructor(private readonly inner: SchemaRegistryClient) {}
  register(subject: string, schema: string): Promise<number> {
    this.registers++;
    return this.inner.register(subject, schema);
  }
  getSchemaById(id: number): Promise<string> {
    this.fetches.set(id, (this.fetches.get(id) ?? 0) + 1);
    return this.inner.getSchemaById(id);
  }
  getLatest(subject: string): Promise<RegisteredSchema> {
    return this.inner.getLatest(subject);
  }
}

function openRegistry(ctx: TestContext): { registry: SchemaRegistry; counting: CountingRegistry } {
  const registry = SchemaRegistry.open({ path: ":memory:" });
  ctx.onTestFinished(() => registry.close());
  return { registry, counting: new CountingRegistry(registry) };
}

function event(i: number): UserActivity {
  return {
    event_id: `0b9a3c8e-6f1d-4c2a-9b7e-${i.toString(16).padStart(12, "0")}`,
    user_id: `u-${i % 97}`,
    session_id: `s-${i % 13}`,
    event_type: i % 10 === 0 ? "PURCHASE" : "VIEW",
    event_time: Date.UTC(2024, 0, 1) + i * 1_000,
    page: `/product/${i}`,
    referrer: i % 3 === 0 ? null : "/home",
    device: "MOBILE",
    country: i % 5 === 0 ? null : "PL",
    amount: i % 10 === 0 ? i / 7 : null,
    currency: i % 10 === 0 ? "PLN" : null,
  };
}

function expectSerdeError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SerdeError);
  expect((caught as SerdeError).code).toBe(code);
}

async function expectSerdeRejection(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SerdeError);
  expect((err as SerdeError).code).toBe(code);
}

describe("AvroSerde", () => {
  it("writes the Confluent frame: magic 0, the registry's id big-endian, then Avro binary", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const serde = new AvroSerde(counting);
    const encode = await serde.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const id = await counting.register(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const frame = encode(event(1));
    expect(frame[0]).toBe(MAGIC_BYTE);
    expect(frame.readUInt32BE(1)).toBe(id);
    expect(readSchemaId(frame)).toBe(id);
    expect(frame.subarray(HEADER_BYTES).equals(userActivityV1Type.toBuffer(event(1)))).toBe(true);
  });

  it("round-trips many records through the registry, each frame its own bytes across slabs", async (ctx) => {
    const { counting } = openRegistry(ctx);
    // Frames of about 100 bytes: several to a slab, and frames that do not fit start a new one.
    const serde = new AvroSerde(counting, { slabBytes: 1024 });
    const encode = await serde.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const frames = Array.from({ length: 200 }, (_, i) => encode(event(i)));
    // A fresh serde has nothing cached: it must fetch the writer schema from the registry.
    const reader = new AvroSerde(counting);
    const decoded = await Promise.all(frames.map((f) => reader.decode<UserActivity>(f)));
    expect(decoded.map((d) => ({ ...d }))).toEqual(Array.from({ length: 200 }, (_, i) => event(i)));
  });

  it("gives a record bigger than a slab a slab of its own, which later frames leave alone", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const serde = new AvroSerde(counting, { slabBytes: 16 });
    const encode = await serde.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const big = { ...event(3), page: "p".repeat(100_000) };
    const bigFrame = encode(big);
    expect({ ...serde.decodeSync<UserActivity>(encode(event(4))) }).toEqual(event(4));
    expect({ ...serde.decodeSync<UserActivity>(bigFrame) }).toEqual(big);
  });

  it("registers once per subject and schema, however many encoders ask", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const serde = new AvroSerde(counting);
    await Promise.all([1, 2, 3].map(() => serde.encoder(SUBJECT, SCHEMA_TEXTS.userActivityV1)));
    await serde.encoder(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    expect(counting.registers).toBe(1);
  });

  it("fetches each writer schema once, sharing the fetch among concurrent decodes", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const writer = new AvroSerde(counting);
    const encodeV1 = await writer.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const encodeV2 = await writer.encoder<UserActivityV2>(SUBJECT, SCHEMA_TEXTS.userActivityV2);
    const v1Frames = Array.from({ length: 50 }, (_, i) => encodeV1(event(i)));
    const v2Frames = Array.from({ length: 50 }, (_, i) => encodeV2({ ...event(i), app_version: "9.9" }));

    const reader = new AvroSerde(counting);
    const id1 = readSchemaId(v1Frames[0]!);
    const id2 = readSchemaId(v2Frames[0]!);
    expect(id1).not.toBe(id2);
    expect(reader.hasSchema(id1)).toBe(false);
    await Promise.all([...v1Frames, ...v2Frames].map((f) => reader.decode(f, userActivityV2Type)));
    await Promise.all(v1Frames.map((f) => reader.decode(f, userActivityV1Type)));
    expect(Object.fromEntries(counting.fetches)).toEqual({ [id1]: 1, [id2]: 1 });
    expect(reader.hasSchema(id1) && reader.hasSchema(id2)).toBe(true);
    // Once cached, the synchronous path reads with no registry call at all.
    expect(reader.decodeSync<UserActivityV2>(v1Frames[7]!, userActivityV2Type).app_version).toBeNull();
    expect(Object.fromEntries(counting.fetches)).toEqual({ [id1]: 1, [id2]: 1 });
  });

  it("resolves v1 data into a v2 reader and v2 data into a v1 reader", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const writer = new AvroSerde(counting);
    const encodeV1 = await writer.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const encodeV2 = await writer.encoder<UserActivityV2>(SUBJECT, SCHEMA_TEXTS.userActivityV2);
    const reader = new AvroSerde(counting);

    const asV2 = await reader.decode<UserActivityV2>(encodeV1(event(5)), userActivityV2Type);
    expect({ ...asV2 }).toEqual({ ...event(5), app_version: null });
    const asV1 = await reader.decode<UserActivity>(
      encodeV2({ ...event(6), app_version: "1.2.3" }),
      userActivityV1Type,
    );
    expect({ ...asV1 }).toEqual(event(6));
    expect(asV1).not.toHaveProperty("app_version");
  });

  it("rejects a reader the writer cannot resolve into, as an invalid payload", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const serde = new AvroSerde(counting);
    const encode = await serde.encoder<DeadLetter>("x.dlq-value", SCHEMA_TEXTS.deadLetter);
    const letter: DeadLetter = {
      source_topic: "x",
      source_partition: null,
      source_offset: null,
      error_code: "E",
      error_message: "m",
      raw: Buffer.from("{}"),
      failed_at: 1,
    };
    await expectSerdeRejection(
      serde.decode(encode(letter), userActivityV1Type),
      SerdeErrorCode.invalidPayload,
    );
  });

  describe("bad bytes", () => {
    async function setup(ctx: TestContext) {
      const { counting } = openRegistry(ctx);
      const serde = new AvroSerde(counting);
      const encode = await serde.encoder<UserActivity>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
      return { serde, counting, frame: encode(event(10)) };
    }

    it("wrong magic byte", async (ctx) => {
      const { serde, frame } = await setup(ctx);
      const bad = Buffer.from(frame);
      bad[0] = 1;
      await expectSerdeRejection(serde.decode(bad), SerdeErrorCode.badMagicByte);
      expectSerdeError(() => serde.decodeSync(bad), SerdeErrorCode.badMagicByte);
      await expectSerdeRejection(serde.decode(Buffer.from('{"user_id":"u"}')), SerdeErrorCode.badMagicByte);
    });

    it("fewer than 5 bytes, and Avro cut short at every length", async (ctx) => {
      const { serde, frame } = await setup(ctx);
      for (const len of [0, 1, 4]) {
        await expectSerdeRejection(serde.decode(frame.subarray(0, len)), SerdeErrorCode.truncated);
      }
      for (let len = HEADER_BYTES; len < frame.length; len++) {
        await expectSerdeRejection(serde.decode(frame.subarray(0, len)), SerdeErrorCode.truncated);
        expectSerdeError(() => serde.decodeSync(frame.subarray(0, len)), SerdeErrorCode.truncated);
      }
    });

    it("unknown schema id, not cached as a failure", async (ctx) => {
      const { serde, frame, counting } = await setup(ctx);
      const unknown = Buffer.from(frame);
      unknown.writeUInt32BE(987_654, 1);
      await expectSerdeRejection(serde.decode(unknown), SerdeErrorCode.unknownSchemaId);
      await expectSerdeRejection(serde.decode(unknown), SerdeErrorCode.unknownSchemaId);
      expect(counting.fetches.get(987_654)).toBe(2);
      let caught: unknown;
      try {
        serde.decodeSync(unknown);
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: SerdeErrorCode.unknownSchemaId, retriable: true });
    });

    it("trailing garbage and out-of-range enum or union indexes", async (ctx) => {
      const { serde, frame } = await setup(ctx);
      await expectSerdeRejection(
        serde.decode(Buffer.concat([frame, Buffer.from([0])])),
        SerdeErrorCode.invalidPayload,
      );
      // A frame whose Avro body is an enum index no writer produced: event_type is the fourth field.
      const corrupt = Buffer.from(frame);
      const body = corrupt.subarray(HEADER_BYTES);
      let pos = 0;
      for (let field = 0; field < 3; field++) {
        const len = body[pos]! >> 1; // zigzag varint; the test strings are shorter than 64 bytes
        pos += 1 + len;
      }
      body[pos] = 0x7e; // zigzag 63: no such symbol
      await expectSerdeRejection(serde.decode(corrupt), SerdeErrorCode.invalidPayload);
    });

    it("a null value (tombstone)", async (ctx) => {
      const { serde } = await setup(ctx);
      await expectSerdeRejection(serde.decode(null), SerdeErrorCode.invalidPayload);
      expectSerdeError(() => serde.decodeSync(null), SerdeErrorCode.invalidPayload);
    });

    it("random byte strings never throw anything but a SerdeError", async (ctx) => {
      const { serde, frame } = await setup(ctx);
      const id = readSchemaId(frame);
      let seed = 12345;
      const rand = () => {
        // xorshift32: deterministic, so a failure replays.
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) / 2 ** 32;
      };
      const codes = new Map<string, number>();
      for (let i = 0; i < 3_000; i++) {
        const len = Math.floor(rand() * 80);
        const buf = Buffer.alloc(len);
        for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
        // Most random bytes fail on the magic byte; make most of them real frames of the known id.
        if (len >= HEADER_BYTES && i % 4 !== 0) {
          buf[0] = MAGIC_BYTE;
          buf.writeUInt32BE(id, 1);
        }
        // Mutating a real frame reaches deeper into the record than pure noise.
        const mutated = Buffer.from(frame);
        mutated[HEADER_BYTES + Math.floor(rand() * (frame.length - HEADER_BYTES))] = Math.floor(rand() * 256);
        for (const candidate of [buf, mutated]) {
          try {
            serde.decodeSync(candidate);
            codes.set("ok", (codes.get("ok") ?? 0) + 1);
          } catch (err) {
            expect(err).toBeInstanceOf(SerdeError);
            const code = (err as SerdeError).code;
            codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }
      }
      expect(codes.get(SerdeErrorCode.badMagicByte)).toBeGreaterThan(0);
      expect(codes.get(SerdeErrorCode.truncated)).toBeGreaterThan(0);
      expect(codes.get(SerdeErrorCode.invalidPayload)).toBeGreaterThan(0);
    });
  });

  it("names the fields of a value that does not fit the schema, not the value", async (ctx) => {
    const { counting } = openRegistry(ctx);
    const serde = new AvroSerde(counting);
    const encode = await serde.encoder<unknown>(SUBJECT, SCHEMA_TEXTS.userActivityV1);
    const secret = "hunter2-secret";
    let caught: unknown;
    try {
      encode({ ...event(1), page: 5, device: secret });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: SerdeErrorCode.encodeFailed });
    expect((caught as Error).message).toContain("page, device");
    expect((caught as Error).message).not.toContain(secret);
  });
});
