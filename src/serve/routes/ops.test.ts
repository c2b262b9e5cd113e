// Tests the /api/ops routes over a real PulseServer, embedded log and registry: offsets, rates, lag, subjects, versions, dead letters.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { SCHEMA_TEXTS } from "../../contracts/schemas.ts";
import type { UserActivityV2 } from "../../contracts/types.ts";
import { activityProducer } from "../../ingest/producer.ts";
import { EmbeddedLog } from "../../log/embedded/index.ts";
import { SchemaRegistry } from "../../registry/embedded/registry.ts";
import { AvroSerde } from "../../serde/index.ts";
import { serveRoutes } from "../../../test/helpers/http-server.ts";
import { SAMPLE_PURCHASE } from "../../../test/helpers/events.ts";
import { decodePayload } from "./dead-letters.ts";
import { opsApiRoutes } from "./ops.ts";
import { topicsRoute } from "./topics.ts";

const NOW = Date.UTC(2024, 0, 1, 12);
const PARTITIONS = 3;

async function platform() {
  const dir = mkdtempSync(join(tmpdir(), "pulse-ops-"));
  const log = EmbeddedLog.open({ path: join(dir, "log.db") });
  const registry = SchemaRegistry.open({ path: ":memory:" });
  onTestFinished(async () => {
    await log.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const serde = new AvroSerde(registry);
  const producer = activityProducer({ log, serde, source: "test", nowMs: () => NOW });
  await producer.ensureTopics(PARTITIONS, {});
  return { log, registry, serde, producer };
}

function event(
  i: number,
  overrides: Partial<Record<keyof UserActivityV2, unknown>> = {},
): Record<string, unknown> {
  return {
    ...SAMPLE_PURCHASE,
    event_id: `0b9a3c8e-6f1d-4c2a-9b7e-${String(i).padStart(12, "0")}`,
    user_id: `user-${i}`,
    event_time: NOW - 1_000 + i,
    ...overrides,
  };
}

describe("/api/ops", () => {
  it("lists the topics with partitions and offsets equal to the log's, and a rate from two samples", async () => {
    const { log, producer } = await platform();
    await producer.send([event(1), event(2), event(3, { amount: -4 }), event(4), event(5, { user_id: "" })]);
    let nowMs = NOW;
    const { get } = await serveRoutes([topicsRoute({ log, nowMs: () => nowMs })]);
    const first = (await get("/api/ops/topics")).body as { topics: Array<Record<string, unknown>> };
    const expected = await Promise.all(
      ["user-activity", "user-activity.dlq"].map(async (name) => {
        const info = await log.describeTopic(name);
        return {
          name,
          partitions: PARTITIONS,
          offsets: info.offsets.map((p) => ({
            partition: p.partition,
            low: p.lowWatermark,
            high: p.highWatermark,
          })),
          end_offset: info.offsets.reduce((sum, p) => sum + p.highWatermark, 0),
          messages: info.offsets.reduce((sum, p) => sum + p.highWatermark - p.lowWatermark, 0),
          rate_per_sec: null,
        };
      }),
    );
    expect(first.topics).toMatchObject(expected);
    expect(first.topics.map((t) => t.end_offset)).toEqual([3, 2]);

    nowMs += 2_000;
    await producer.send([6, 7, 8, 9].map((i) => event(i)));
    const second = (await get("/api/ops/topics")).body as {
      topics: Array<{ name: string; rate_per_sec: number | null }>;
    };
    expect(second.topics.map((t) => [t.name, t.rate_per_sec])).toEqual([
      ["user-activity", 2],
      ["user-activity.dlq", 0],
    ]);
  });

  it("reports each group's committed offsets and lag", async () => {
    const { log, registry, serde, producer } = await platform();
    const positions = (await producer.send([1, 2, 3, 4, 5, 6].map((i) => event(i)))).positions;
    const first = positions[0]!;
    await log.commit("dash", "user-activity", [{ partition: first.partition, offset: first.offset + 1 }]);
    const { get } = await serveRoutes(opsApiRoutes({ log, registry, serde }));
    const answer = (await get("/api/ops/groups")).body as {
      groups: Array<{
        group: string;
        topic: string;
        total_lag: number;
        partitions: Array<{ partition: number; lag: number }>;
      }>;
    };
    const lags = await log.lag("dash");
    expect(answer.groups).toHaveLength(1);
    expect(answer.groups[0]).toMatchObject({
      group: "dash",
      topic: "user-activity",
      total_lag: lags[0]!.totalLag,
    });
    expect(answer.groups[0]!.total_lag).toBe(5);
  });

  it("lists the subjects with versions, serves a version's schema, and answers 404 and 400 to bad names", async () => {
    const { log, registry, serde, producer } = await platform();
    await producer.send([event(1)]);
    const v1 = JSON.parse(SCHEMA_TEXTS.deadLetter) as { fields: unknown[] };
    await registry.register("extra-value", JSON.stringify(v1));
    v1.fields.push({ name: "note", type: ["null", "string"], default: null });
    await registry.register("extra-value", JSON.stringify(v1));
    const { get } = await serveRoutes(opsApiRoutes({ log, registry, serde }));
    const list = (await get("/api/ops/schemas")).body as {
      compatibility: string;
      subjects: Array<{ subject: string; versions: number[]; latest: { version: number; id: number } }>;
    };
    expect(list.compatibility).toBe("BACKWARD");
    expect(list.subjects.map((s) => s.subject)).toEqual((await registry.listSubjects()).sort());
    expect(list.subjects.find((s) => s.subject === "extra-value")).toMatchObject({
      versions: [1, 2],
      latest: { version: 2 },
    });

    const v2 = (await get("/api/ops/schemas/version?subject=extra-value&version=2")).body as {
      schema: { fields: unknown[] };
    };
    expect(v2.schema.fields.at(-1)).toEqual({ name: "note", type: ["null", "string"], default: null });
    const latest = await get("/api/ops/schemas/version?subject=extra-value");
    expect(latest.body).toMatchObject({ version: 2 });

    expect(await get("/api/ops/schemas/version?subject=nope")).toMatchObject({
      status: 404,
      body: { error: { code: "PULSE_HTTP_NOT_FOUND" } },
    });
    expect(await get("/api/ops/schemas/version?subject=extra-value&version=9")).toMatchObject({
      status: 404,
    });
    expect(await get("/api/ops/schemas/version?subject=extra-value&version=x")).toMatchObject({
      status: 400,
      body: { error: { code: "PULSE_HTTP_BAD_PARAM" } },
    });
    expect(await get("/api/ops/schemas/version")).toMatchObject({ status: 400 });
    expect(await get("/api/ops/schemas/version?subject=a&subject=b")).toMatchObject({ status: 400 });
  });

  it("browses dead letters newest first with their reason code and decoded payload, and pages a partition", async () => {
    const { log, registry, serde, producer } = await platform();
    await producer.send([event(1, { amount: -4 })]);
    await producer.send([event(2, { user_id: "" }), event(3)]);
    const { get } = await serveRoutes(opsApiRoutes({ log, registry, serde }));
    const answer = (await get("/api/ops/dead-letters?topic=user-activity.dlq")).body as {
      letters: Array<{
        partition: number;
        offset: number;
        error_code: string;
        payload: { format: string; value: { user_id: string } };
        source_topic: string;
      }>;
    };
    expect(answer.letters.map((l) => l.error_code).sort()).toEqual([
      "PULSE_VALIDATION_EMPTY_USER_ID",
      "PULSE_VALIDATION_NEGATIVE_AMOUNT",
    ]);
    const negative = answer.letters.find((l) => l.error_code === "PULSE_VALIDATION_NEGATIVE_AMOUNT")!;
    expect(negative.source_topic).toBe("user-activity");
    expect(negative.payload).toMatchObject({ format: "json", value: { user_id: "user-1", amount: -4 } });
    // The record really is at that partition and offset of the dead-letter topic.
    const [record] = await log.fetch("user-activity.dlq", negative.partition, negative.offset, {
      maxRecords: 1,
    });
    expect(record!.offset).toBe(negative.offset);

    const limited = (await get("/api/ops/dead-letters?topic=user-activity.dlq&limit=1")).body as {
      letters: unknown[];
    };
    expect(limited.letters).toHaveLength(1);
    const paged = (
      await get(
        `/api/ops/dead-letters?topic=user-activity.dlq&partition=${negative.partition}&before=${negative.offset}`,
      )
    ).body as { letters: Array<{ offset: number }> };
    expect(paged.letters.every((l) => l.offset < negative.offset)).toBe(true);

    for (const bad of [
      "",
      "?topic=user-activity",
      "?topic=.dlq",
      "?topic=user-activity.dlq&limit=0",
      "?topic=user-activity.dlq&before=3",
      "?topic=user-activity.dlq&partition=99",
    ]) {
      expect(await get(`/api/ops/dead-letters${bad}`), bad).toMatchObject({
        status: 400,
        body: { error: { code: "PULSE_HTTP_BAD_PARAM" } },
      });
    }
    expect(await get("/api/ops/dead-letters?topic=nothing.dlq")).toMatchObject({ status: 404 });
    expect(await get("/api/ops/nothing")).toMatchObject({
      status: 404,
      body: { error: { code: "PULSE_HTTP_NOT_FOUND" } },
    });
    expect(await get("/api/ops/topics", { method: "POST" })).toMatchObject({ status: 405 });
  });

  it("decodes a rejected payload as Avro through the registry, JSON, text or base64", async () => {
    const { serde } = await platform();
    const encode = await serde.encoder<UserActivityV2>("user-activity-value", SCHEMA_TEXTS.userActivityV2);
    const frame = encode(SAMPLE_PURCHASE);
    const avro = await decodePayload(serde, frame);
    expect(avro).toMatchObject({
      format: "avro",
      value: { event_id: SAMPLE_PURCHASE.event_id, amount: 12.5 },
    });
    expect(avro.schema_id).toBe(frame.readUInt32BE(1));
    // A frame whose schema id the registry does not know stays bytes.
    const unknown = Buffer.from(frame);
    unknown.writeUInt32BE(999, 1);
    expect((await decodePayload(serde, unknown)).format).toBe("base64");
    expect(await decodePayload(serde, Buffer.from('{"a":1}'))).toEqual({ format: "json", value: { a: 1 } });
    expect(await decodePayload(serde, Buffer.from("not json"))).toEqual({
      format: "text",
      value: "not json",
    });
    expect(await decodePayload(serde, Buffer.from([0xff, 0xfe]))).toEqual({
      format: "base64",
      value: "//4=",
    });
    const big = await decodePayload(serde, Buffer.alloc(70_000, 0x61));
    expect(big).toMatchObject({ format: "text", truncated: true });
    expect((big.value as string).length).toBe(64 * 1024);
  });
});
