// ContractProducer with values a source encoded itself: appended when the check passes, the usual path otherwise.

import { describe, expect, it, type TestContext } from "vitest";
import { embeddedLogAndSerde } from "../../test/helpers/embedded-log.ts";
import { SCHEMA_TEXTS, subjectFor } from "../contracts/schemas.ts";
import { type DeadLetter, TOPICS, type UserActivityV2 } from "../contracts/types.ts";
import { validateActivity } from "../contracts/validate.ts";
import { ActivityFrame } from "../stream/activity-frame.ts";
import { ContractProducer, EncodedRecord } from "./producer.ts";

const NOW = Date.UTC(2024, 2, 10, 12);

function event(i: number, over: Partial<UserActivityV2> = {}): UserActivityV2 {
  return {
    event_id: `5e1c0a4b-2d3f-4a6b-8c9d-${i.toString(16).padStart(12, "0")}`,
    user_id: `u-${i}`,
    session_id: "s",
    event_type: "VIEW",
    event_time: NOW - 1_000,
    page: "/p",
    referrer: null,
    device: "UNKNOWN",
    country: null,
    amount: null,
    currency: null,
    app_version: null,
    ...over,
  };
}

/** An EncodedRecord of `e`'s frame, as a source would make it; raw() counts its calls. */
class Encoded extends EncodedRecord {
  static raws = 0;
  readonly #event: unknown;
  constructor(key: Buffer, value: Buffer, e: unknown) {
    super(key, value);
    this.#event = e;
  }
  raw(): unknown {
    Encoded.raws++;
    return this.#event;
  }
}

async function setup(ctx: TestContext, checkEncoded?: (frame: Buffer, nowMs: number) => boolean) {
  const { log, serde } = embeddedLogAndSerde(ctx);
  const producer = new ContractProducer<UserActivityV2>({
    log,
    serde,
    topic: TOPICS.activity,
    keyOf: (e) => e.user_id,
    validate: (raw, nowMs) => validateActivity(raw, { nowMs }),
    nowMs: () => NOW,
    checkEncoded,
  });
  await producer.ensureTopics(1);
  const encode = await serde.encoder<UserActivityV2>(
    subjectFor(TOPICS.activity),
    SCHEMA_TEXTS.userActivityV2,
  );
  const encoded = (e: UserActivityV2, value = encode(e)) =>
    new Encoded(Buffer.from(e.user_id), Buffer.from(value), e);
  return { log, serde, producer, encoded };
}

describe("ContractProducer and EncodedRecord", () => {
  it("appends frames its check accepts as they are, and sends the rest the usual way, in order", async (ctx) => {
    // The check the platform gives the activity producer: the contract's rules read from the bytes.
    const frame = new ActivityFrame();
    const { log, serde, producer, encoded } = await setup(
      ctx,
      (bytes, nowMs) => frame.read(bytes) && frame.rulesPass({ nowMs }),
    );
    Encoded.raws = 0;
    const future = event(3, { event_time: NOW + 3_600_000 }); // an hour ahead: the rules reject it
    const result = await producer.send([encoded(event(1)), encoded(future), event(4), encoded(event(2))]);
    // Only the future frame went the usual way, and was dead-lettered with its reason.
    expect(Encoded.raws).toBe(1);
    expect(result.accepted).toBe(3);
    expect(result.rejected).toEqual([
      { index: 1, errors: [expect.objectContaining({ field: "event_time" })] },
    ]);
    const records = await log.fetch(TOPICS.activity, 0, 0, { maxRecords: 10 });
    const decoded = await Promise.all(records.map((r) => serde.decode<UserActivityV2>(r.value)));
    expect(decoded).toEqual([event(1), event(4), event(2)]);
    expect(records.map((r) => Buffer.from(r.key!).toString())).toEqual(["u-1", "u-4", "u-2"]);
  });

  it("sends every frame the usual way without a check, or when its schema id is not the producer's", async (ctx) => {
    const { log, serde, producer, encoded } = await setup(ctx);
    Encoded.raws = 0;
    const late = event(3, { event_time: NOW + 3_600_000 });
    const result = await producer.send([encoded(event(1)), encoded(late)]);
    expect(Encoded.raws).toBe(2);
    expect(result.accepted).toBe(1);
    expect(result.rejected.map((r) => r.errors[0]!.field)).toEqual(["event_time"]);
    const letters = await log.fetch(`${TOPICS.activity}.dlq`, 0, 0, { maxRecords: 10 });
    expect((await serde.decode<DeadLetter>(letters[0]!.value)).error_code).toBe(
      "PULSE_VALIDATION_FUTURE_EVENT_TIME",
    );

    const checked = await setup(ctx, () => true);
    Encoded.raws = 0;
    const frame = Buffer.from(checked.encoded(event(5)).value);
    frame.writeUInt32BE(frame.readUInt32BE(1) + 1, 1);
    await checked.producer.send([checked.encoded(event(5), frame)]);
    expect(Encoded.raws).toBe(1);
    expect(await checked.producer.valueSchemaId()).toBe(frame.readUInt32BE(1) - 1);
  });
});
