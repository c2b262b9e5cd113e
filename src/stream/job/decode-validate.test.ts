// The job's record loop: both schema versions, bytes it cannot judge, dead letters with reasons, future skew.

import { describe, expect, it } from "vitest";
import { SCHEMA_TEXTS, subjectFor } from "../../contracts/schemas.ts";
import type { UserActivityV2 } from "../../contracts/types.ts";
import { ValidationCode } from "../../contracts/validate.ts";
import { ACTIVITY, generate, setup } from "../../../test/helpers/stream-job.ts";
import { DEFAULT_JOB_NAME } from "./index.ts";

describe("StreamJob.drain", () => {
  it("counts records of either schema version, and ids bytes alone cannot judge, as the truth does", async (ctx) => {
    const fx = await setup(ctx);
    const v1 = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV1);
    const v2 = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const events = generate({ seed: 5, count: 3_000, duplicateShare: 0.03, lagShare: 0.05 });
    // v2 frames are read from their bytes; v1 frames (and v2 ones whose ids are only non-ASCII
    // characters, which may be whitespace) are decoded. Both kinds share users and duplicates.
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (i % 7 === 0)
        events[i] = { ...e, user_id: `\u00e9\u00e8${e.user_id.length}`, session_id: "\u00a0\u00e9" };
    }
    await fx.log.produce(
      ACTIVITY,
      events.map((e, i) => ({ key: Buffer.from(e.user_id), value: i % 3 === 0 ? v1(e) : v2(e) })),
    );
    const truth = await fx.truth();
    expect(truth.duplicates).toBeGreaterThan(10);

    const summary = await fx.job({ maxBatchRecords: 500 }).drain();

    await fx.expectTotalsAndWindows(summary, events.length, truth);
    expect(summary.totals.deadLettered).toBe(0);
  });

  it("dead-letters undecodable and invalid records with their source position and reason, and keeps going", async (ctx) => {
    const fx = await setup(ctx);
    const events = generate({ seed: 2, count: 500 });
    await fx.produceActivity(events.slice(0, 250));
    const bad = await fx.produceBadRecords();
    await fx.produceActivity(events.slice(250));

    const summary = await fx.job().drain();

    expect(summary.totals).toMatchObject({
      input: 500 + bad.length,
      deadLettered: bad.length,
      accepted: 500,
    });
    const letters = await fx.deadLetters();
    expect(
      letters.map((l) => ({ partition: l.source_partition, offset: l.source_offset, code: l.error_code })),
    ).toEqual(expect.arrayContaining(bad));
    expect(letters).toHaveLength(bad.length);
    for (const letter of letters) {
      expect(letter).toMatchObject({ source_topic: ACTIVITY, job: DEFAULT_JOB_NAME });
      expect(letter.error_message).not.toBe("");
    }
    const truth = await fx.truth();
    await fx.expectWindows(truth);
  });

  it("judges future event times against the record's log timestamp, so a replay decides the same way", async (ctx) => {
    const fx = await setup(ctx);
    const encode = await fx.serde.encoder<UserActivityV2>(subjectFor(ACTIVITY), SCHEMA_TEXTS.userActivityV2);
    const [a, b] = generate({ seed: 5, count: 2 });
    // Appended "in 2024": b is 10 minutes ahead of its append time, a is not.
    await fx.log.produce(ACTIVITY, [
      { key: Buffer.from(a!.user_id), value: encode(a!), timestampMs: a!.event_time + 60_000, partition: 0 },
      { key: Buffer.from(b!.user_id), value: encode(b!), timestampMs: b!.event_time - 600_000, partition: 0 },
    ]);
    const summary = await fx.job({ maxFutureSkewMs: 300_000 }).drain();
    expect(summary.totals).toMatchObject({ accepted: 1, deadLettered: 1 });
    expect((await fx.deadLetters())[0]).toMatchObject({
      source_offset: 1,
      error_code: ValidationCode.futureEventTime,
    });
  });
});
