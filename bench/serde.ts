// Benchmark: UserActivity Avro encode/decode rates in the Confluent wire format, through the in-process registry.

import { SCHEMA_TEXTS, userActivityV2Type } from "../src/contracts/schemas.ts";
import { EVENT_TYPES, DEVICES, type UserActivityV2 } from "../src/contracts/types.ts";
import { SchemaRegistry } from "../src/registry/embedded/registry.ts";
import { AvroSerde } from "../src/serde/index.ts";
import { HEADER_BYTES } from "../src/serde/wire-format.ts";
import { type BenchResult, isMain, printResults } from "./types.ts";

const OPERATIONS = 1_000_000;
// Distinct records cycled through; a pool keeps memory flat while still defeating per-value caching.
const POOL = 50_000;
const COUNTRIES = ["US", "DE", "PL", "FR", "GB", "IN", "BR", "JP", null];

function makeRecords(count: number): UserActivityV2[] {
  const start = Date.UTC(2024, 0, 1);
  const records: UserActivityV2[] = [];
  for (let i = 0; i < count; i++) {
    const type = EVENT_TYPES[(i * 7) % EVENT_TYPES.length]!;
    const purchase = type === "PURCHASE";
    records.push({
      event_id: `${(0x10000000 + i).toString(16)}-6f1d-4c2a-9b7e-${(i * 2654435761).toString(16).padStart(12, "0").slice(-12)}`,
      user_id: `user-${(i * 31) % 20_000}`,
      session_id: `sess-${Math.floor(i / 12)}`,
      event_type: type,
      event_time: start + i * 137,
      page: `/catalog/category-${i % 40}/product-${(i * 13) % 5_000}`,
      referrer: i % 4 === 0 ? null : "https://www.google.com/",
      device: DEVICES[i % DEVICES.length]!,
      country: COUNTRIES[i % COUNTRIES.length]!,
      amount: purchase ? Math.round(((i % 500) + 0.99) * 100) / 100 : null,
      currency: purchase ? "USD" : null,
      app_version: i % 3 === 0 ? "5.12.0" : null,
    });
  }
  return records;
}

function rate(ops: number, startNs: bigint): number {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  return Math.round(ops / seconds);
}

export async function run(): Promise<BenchResult[]> {
  const registry = SchemaRegistry.open({ path: ":memory:" });
  try {
    const serde = new AvroSerde(registry);
    const subject = "user-activity-value";
    const encode = await serde.encoder<UserActivityV2>(subject, SCHEMA_TEXTS.userActivityV2);
    const encodeV1 = await serde.encoder<UserActivityV2>(subject, SCHEMA_TEXTS.userActivityV1);
    const records = makeRecords(POOL);
    const results: BenchResult[] = [];
    const detail = `${OPERATIONS.toLocaleString("en")} records cycling over ${POOL.toLocaleString("en")} distinct ones`;

    // Warm-up so the JIT has compiled avsc's generated record writers and readers before timing.
    const frames: Buffer[] = records.map((r) => encode(r));
    for (let round = 0; round < 4; round++) {
      for (const r of records) encode(r);
      for (const f of frames) serde.decodeSync(f);
    }

    let bytes = 0;
    let t = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) bytes += encode(records[i % POOL]!).length;
    results.push({ name: "serde.encode", value: rate(OPERATIONS, t), unit: "records/s", detail });
    results.push({
      name: "serde.frame_size",
      value: Math.round((bytes / OPERATIONS) * 10) / 10,
      unit: "bytes/record",
      detail: `mean Confluent frame (${HEADER_BYTES}-byte header + Avro body)`,
    });

    // The obvious way (avsc's toBuffer, then prepend the header) for comparison with the scratch-buffer encoder.
    const header = frames[0]!.subarray(0, HEADER_BYTES);
    t = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) {
      Buffer.concat([header, userActivityV2Type.toBuffer(records[i % POOL]!)]);
    }
    results.push({
      name: "serde.encode_baseline",
      value: rate(OPERATIONS, t),
      unit: "records/s",
      detail: "toBuffer + Buffer.concat (two copies), for comparison",
    });

    let checksum = 0;
    t = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) {
      checksum += serde.decodeSync<UserActivityV2>(frames[i % POOL]!).event_time;
    }
    results.push({
      name: "serde.decode",
      value: rate(OPERATIONS, t),
      unit: "records/s",
      detail: `${detail}, sync, writer = reader`,
    });

    t = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) {
      checksum += (await serde.decode<UserActivityV2>(frames[i % POOL]!)).event_time;
    }
    results.push({
      name: "serde.decode_async",
      value: rate(OPERATIONS, t),
      unit: "records/s",
      detail: "await decode(), cached id",
    });

    const v1Frames = records.map((r) => encodeV1(r));
    serde.decodeSync(v1Frames[0]!, userActivityV2Type);
    t = process.hrtime.bigint();
    for (let i = 0; i < OPERATIONS; i++) {
      checksum += serde.decodeSync<UserActivityV2>(v1Frames[i % POOL]!, userActivityV2Type).event_time;
    }
    results.push({
      name: "serde.decode_resolved",
      value: rate(OPERATIONS, t),
      unit: "records/s",
      detail: "v1 frames read with the v2 reader (schema resolution)",
    });
    // Keeps the decode loops from being optimised away.
    if (checksum === 0) results.push({ name: "serde.checksum", value: checksum, unit: "" });
    return results;
  } finally {
    registry.close();
  }
}

if (isMain(import.meta.url)) {
  printResults(await run());
}
