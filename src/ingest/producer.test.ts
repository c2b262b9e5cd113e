// ContractProducer against the real embedded log and registry: valid events keyed on the topic, rejects on `.dlq`.

import { describe, expect, it } from "vitest";
import { embeddedLogAndSerde } from "../../test/helpers/embedded-log.ts";
import { asBuffer } from "../bytes.ts";
import { deadLetterType, userActivityV2Type } from "../contracts/schemas.ts";
import type { DeadLetter, UserActivity, UserActivityV2 } from "../contracts/types.ts";
import { ValidationCode, validateActivity } from "../contracts/validate.ts";
import type { Log, LogRecord } from "../log/index.ts";
import type { AvroSerde } from "../serde/index.ts";
import { ContractProducer, recentChangeProducer, SOURCE_HEADER } from "./producer.ts";

const NOW = Date.UTC(2024, 2, 10, 12);
const FAILED_AT = NOW + 42;

function activityProducer(log: Log, serde: AvroSerde, maxBatch?: number): ContractProducer<UserActivityV2> {
  return new ContractProducer<UserActivityV2>({
    log,
    serde,
    topic: "user-activity",
    keyOf: (e) => e.user_id,
    validate: (raw) => validateActivity(raw, { nowMs: NOW }),
    nowMs: () => FAILED_AT,
    source: "simulator",
    maxBatch,
  });
}

function event(i: number): UserActivity {
  const purchase = i % 4 === 0;
  return {
    event_id: `5e1c0a4b-2d3f-4a6b-8c9d-${i.toString(16).padStart(12, "0")}`,
    user_id: `u-${i % 5}`,
    session_id: `s-${i % 3}`,
    event_type: purchase ? "PURCHASE" : "CLICK",
    event_time: NOW - 60_000 + i,
    page: `/p/${i}`,
    referrer: null,
    device: "TABLET",
    country: "NL",
    amount: purchase ? 10 + i : null,
    currency: purchase ? "EUR" : null,
  };
}

async function readAll(log: Log, topic: string): Promise<LogRecord[]> {
  const info = await log.describeTopic(topic);
  const records: LogRecord[] = [];
  for (const { partition } of info.offsets)
    records.push(...(await log.fetch(topic, partition, 0, { maxRecords: 10_000 })));
  return records;
}

describe("ContractProducer", () => {
  it("creates the topic and its dead-letter topic", async (ctx) => {
    const { log, serde } = embeddedLogAndSerde(ctx);
    const producer = activityProducer(log, serde);
    const infos = await producer.ensureTopics(3);
    expect(infos.map((t) => [t.name, t.partitions])).toEqual([
      ["user-activity", 3],
      ["user-activity.dlq", 3],
    ]);
    // Idempotent: a second call on topics that hold records changes neither the topics nor their records.
    const sent = await producer.send([event(0), event(1), { nope: true }]);
    const again = await producer.ensureTopics(3);
    expect(again.map((t) => [t.name, t.partitions])).toEqual([
      ["user-activity", 3],
      ["user-activity.dlq", 3],
    ]);
    const highs = (info: (typeof again)[number]) => info.offsets.reduce((n, o) => n + o.highWatermark, 0);
    expect(again.map(highs)).toEqual([2, 1]);
    expect((await log.listTopics()).map((t) => t.name).sort()).toEqual([
      "user-activity",
      "user-activity.dlq",
    ]);
    expect((await readAll(log, "user-activity")).map((r) => [r.partition, r.offset]).sort()).toEqual(
      sent.positions.map((p) => [p.partition, p.offset]).sort(),
    );
    expect(await readAll(log, "user-activity.dlq")).toHaveLength(1);
  });

  it("lands valid events keyed and decodable, and each invalid one on .dlq with its reason", async (ctx) => {
    const { log, serde } = embeddedLogAndSerde(ctx);
    const producer = activityProducer(log, serde);
    await producer.ensureTopics(4);

    const valid = Array.from({ length: 30 }, (_, i) => event(i));
    const rawText = '{"user_id":"u-9","event_type":"CLICK"}';
    const rawBytes = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const invalid: Array<[unknown, string]> = [
      [{ ...event(100), user_id: "" }, ValidationCode.emptyUserId],
      [{ ...event(101), amount: -5 }, ValidationCode.negativeAmount],
      [{ ...event(102), event_type: "HOVER" }, ValidationCode.schemaMismatch],
      [JSON.parse(rawText), ValidationCode.schemaMismatch],
      [rawBytes, ValidationCode.schemaMismatch],
    ];
    // Interleave so indexes are not trivially the tail.
    const raws: unknown[] = [...valid];
    const badIndexes = [0, 7, 13, 21, 34];
    for (const [k, at] of badIndexes.entries()) raws.splice(at, 0, invalid[k]![0]);

    const result = await producer.send(raws);
    expect(result.accepted).toBe(30);
    expect(result.positions).toHaveLength(30);
    expect(result.rejected.map((r) => r.index)).toEqual(badIndexes);
    expect(result.rejected.map((r) => r.errors[0]!.code)).toEqual(invalid.map(([, code]) => code));
    expect(result.deadLetterPositions).toHaveLength(5);

    const onTopic = await readAll(log, "user-activity");
    expect(onTopic).toHaveLength(30);
    const byId = new Map(valid.map((e) => [e.event_id, e]));
    for (const record of onTopic) {
      const decoded = await serde.decode<UserActivityV2>(record.value!, userActivityV2Type);
      expect({ ...decoded }).toEqual({ ...byId.get(decoded.event_id), app_version: null });
      expect(asBuffer(record.key!).toString("utf8")).toBe(decoded.user_id);
      expect(record.headers[SOURCE_HEADER]!.toString()).toBe("simulator");
    }
    // Same key, same partition: per-user order survives.
    const partitionsOfUser = new Map<string, Set<number>>();
    for (const r of onTopic) {
      const key = asBuffer(r.key!).toString();
      partitionsOfUser.set(key, (partitionsOfUser.get(key) ?? new Set()).add(r.partition));
    }
    for (const parts of partitionsOfUser.values()) expect(parts.size).toBe(1);

    const letters = await readAll(log, "user-activity.dlq");
    expect(letters).toHaveLength(5);
    const decodedLetters = await Promise.all(
      letters.map((r) => serde.decode<DeadLetter>(r.value!, deadLetterType)),
    );
    decodedLetters.sort((a, b) => a.error_message.localeCompare(b.error_message));
    for (const letter of decodedLetters) {
      expect(letter.source_topic).toBe("user-activity");
      expect(letter.source_partition).toBeNull();
      expect(letter.source_offset).toBeNull();
      expect(letter.failed_at).toBe(FAILED_AT);
      expect(letter.error_message).toContain(letter.error_code);
    }
    expect(decodedLetters.map((l) => l.error_code).sort()).toEqual(invalid.map(([, code]) => code).sort());
    const raws5 = decodedLetters.map((l) => Buffer.from(l.raw));
    expect(raws5.some((r) => r.equals(rawBytes))).toBe(true);
    expect(raws5.some((r) => r.toString() === rawText)).toBe(true);
    expect(raws5.some((r) => r.toString() === JSON.stringify({ ...event(101), amount: -5 }))).toBe(true);

    const stored = [...onTopic, ...letters].reduce(
      (sum, r) => sum + (r.key?.length ?? 0) + r.value!.length + SOURCE_HEADER.length + "simulator".length,
      0,
    );
    expect(producer.counters).toEqual({ accepted: 30, rejected: 5, bytes: stored });
  });

  it("splits a send larger than maxBatch, keeping positions in input order, and adds up counters across sends", async (ctx) => {
    const { log, serde } = embeddedLogAndSerde(ctx);
    const producer = activityProducer(log, serde, 7);
    await producer.ensureTopics(1);
    const first = await producer.send(Array.from({ length: 30 }, (_, i) => event(i)));
    expect(first.positions.map((p) => p.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const second = await producer.send([event(30), { nope: true }, event(31)]);
    expect(second.positions.map((p) => p.offset)).toEqual([30, 31]);
    expect(second.rejected.map((r) => r.index)).toEqual([1]);
    expect(producer.counters).toMatchObject({ accepted: 32, rejected: 1 });
    expect((await readAll(log, "user-activity")).length).toBe(32);
    expect((await readAll(log, "user-activity.dlq")).length).toBe(1);
  });

  it("sends nothing for an empty batch", async (ctx) => {
    const { log, serde } = embeddedLogAndSerde(ctx);
    const producer = activityProducer(log, serde);
    await producer.ensureTopics(2);
    expect(await producer.send([])).toEqual({
      accepted: 0,
      rejected: [],
      positions: [],
      deadLetterPositions: [],
    });
    expect(producer.counters).toEqual({ accepted: 0, rejected: 0, bytes: 0 });
  });

  it("keys Wikimedia changes by wiki (the ready-made recentChangeProducer)", async (ctx) => {
    const { log, serde } = embeddedLogAndSerde(ctx);
    const producer = recentChangeProducer({ log, serde, nowMs: () => Date.UTC(2023, 6, 30) });
    await producer.ensureTopics(2);
    const change = (wiki: string) => ({
      meta: {
        id: "97e4dc39-fb32-4774-9c9a-b2caea391c9e",
        dt: "2023-07-29T07:51:42Z",
        domain: "x",
        stream: "s",
      },
      type: "edit",
      server_name: `${wiki}.org`,
      wiki,
    });
    const result = await producer.send([change("enwiki"), change("dewiki"), change("")]);
    expect(result.accepted).toBe(2);
    expect(result.rejected).toEqual([
      // Raw EventStreams JSON is mapped before validation, so the mapper names the empty wiki.
      {
        index: 2,
        errors: [
          expect.objectContaining({
            code: "PULSE_WIKIMEDIA_BAD_FIELD",
            message: expect.stringContaining("wiki"),
          }),
        ],
      },
    ]);
    const keys = (await readAll(log, "wikimedia.recentchange"))
      .map((r) => asBuffer(r.key!).toString())
      .sort();
    expect(keys).toEqual(["dewiki", "enwiki"]);
  });
});
