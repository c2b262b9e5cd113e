// GET /metrics on a real server with an embedded platform: exact ingest and stream totals, lag equal to the log's, the HTTP histogram, valid exposition text.

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlatform, type RunningPlatform } from "../../src/app/running-platform.ts";
import { loadConfig } from "../../src/config/index.ts";
import { PulseServer } from "../../src/serve/server.ts";
import { SuiteCleanups, tempDir } from "../helpers/cli.ts";
import { type MetricFamily, parsePrometheusText, sampleValue } from "../helpers/prometheus-text.ts";

const OUT_OF_ORDERNESS_MS = 10_000;
/** Event time of the first event: a minute ago, so none is ahead of the clock. */
const T0 = Date.now() - 60_000;

function activity(i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: randomUUID(),
    user_id: `user-${i % 7}`,
    session_id: `s-${i % 7}`,
    event_type: "VIEW",
    event_time: T0 + i * 100,
    page: "/product/42",
    device: "DESKTOP",
    ...overrides,
  };
}

async function scrape(
  url: string,
): Promise<{ contentType: string | null; families: Map<string, MetricFamily> }> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  return {
    contentType: response.headers.get("content-type"),
    families: parsePrometheusText(await response.text()),
  };
}

describe("GET /metrics under pulse up (in process, embedded log)", () => {
  const cleanups = new SuiteCleanups();
  let running: RunningPlatform;
  let families: Map<string, MetricFamily>;
  let contentType: string | null;
  let scrapedFromMs: number;
  let scrapedToMs: number;

  // 40 valid events (one sent twice, so 41 records), 3 refused by the producer, 2 refused by the collector,
  // 5 valid through the collector; then, with the job stopped, 6 more that stay unread (lag).
  beforeAll(async () => {
    const dir = tempDir(cleanups.add, "pulse-metrics-");
    const config = loadConfig({ env: { PULSE_DATA_DIR: dir, PULSE_API_KEYS: "k1" }, cwd: dir });
    running = await startPlatform(config, {
      source: "test",
      port: 0,
      windowMs: 60_000,
      outOfOrdernessMs: OUT_OF_ORDERNESS_MS,
      startTimeMs: T0,
    });
    cleanups.add(() => running.close());
    const { platform, url } = running;

    const events = Array.from({ length: 40 }, (_, i) => activity(i));
    const refused = [activity(40, { user_id: "" }), activity(41, { amount: -5 }), "not an event"];
    const sent = await platform.activity.send([...events, events[3], ...refused]);
    expect([sent.accepted, sent.rejected.length]).toEqual([41, 3]);
    const posted = await fetch(`${url}/api/v1/events`, {
      method: "POST",
      headers: { authorization: "Bearer k1", "content-type": "application/json" },
      body: JSON.stringify([
        ...Array.from({ length: 5 }, (_, i) => activity(50 + i)),
        activity(55, { event_type: "NOPE" }),
        activity(56, { device: 7 }),
      ]),
    });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toMatchObject({ accepted: 5, rejected: 2 });

    // Run the job until it has read all 46 records, then stop it.
    const stop = new AbortController();
    const run = running.job.run(stop.signal);
    while ((running.progress()?.totals.input ?? 0) < 46) await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await run;
    await platform.activity.send(Array.from({ length: 6 }, (_, i) => activity(60 + i)));

    for (let i = 0; i < 2; i++) expect((await fetch(`${url}/api/health`)).status).toBe(200);
    expect((await fetch(`${url}/api/no-such-thing`)).status).toBe(404);
    expect((await fetch(`${url}/api/ops/groups`)).status).toBe(200);
    // The first scrape is itself counted in the second.
    await scrape(url);
    scrapedFromMs = Date.now();
    ({ contentType, families } = await scrape(url));
    scrapedToMs = Date.now();
  });

  afterAll(cleanups.run);

  it("answers the Prometheus text format 0.0.4", () => {
    expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(families.get("pulse_ingest_records_total")?.type).toBe("counter");
    expect(families.get("pulse_http_request_duration_seconds")?.type).toBe("histogram");
    expect(families.get("pulse_stream_batch_duration_seconds")?.type).toBe("histogram");
    expect(families.get("pulse_consumer_group_lag")?.type).toBe("gauge");
    expect(families.get("pulse_retention_deleted_total")?.type).toBe("counter");
    expect(families.get("pulse_retention_raw_partitions_held")?.type).toBe("gauge");
    // Node process metrics, collected on this server's own registry.
    expect(families.get("process_cpu_seconds_total")?.type).toBe("counter");
    expect(families.get("nodejs_heap_size_used_bytes")?.type).toBe("gauge");
  });

  it("counts what the producers wrote and dead-lettered, per topic", () => {
    const at = (name: string, topic: string) => sampleValue(families, name, { topic });
    // 41 sent directly, 5 through the collector, 6 after the job stopped.
    expect(at("pulse_ingest_records_total", "user-activity")).toBe(52);
    expect(at("pulse_ingest_dead_letters_total", "user-activity")).toBe(5);
    expect(at("pulse_ingest_records_total", "wikimedia.recentchange")).toBe(0);
    expect(at("pulse_ingest_dead_letters_total", "wikimedia.recentchange")).toBe(0);
    expect(at("pulse_ingest_bytes_total", "user-activity")).toBe(running.platform.activity.counters.bytes);
  });

  it("reports each consumer group's lag per partition as the log's lag() does", async () => {
    const lags = await running.platform.log.lag();
    const expected = lags.flatMap((g) =>
      g.partitions.map((p) => ({
        group: g.group,
        topic: g.topic,
        partition: String(p.partition),
        lag: p.lag,
      })),
    );
    const reported = (families.get("pulse_consumer_group_lag")?.samples ?? []).map((s) => ({
      ...s.labels,
      lag: s.value,
    }));
    const order = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
    expect(reported.sort(order)).toEqual(expected.sort(order));
    // The 6 records produced after the job stopped are unread by its group, at least.
    const activityLag = lags
      .filter((g) => g.group === running.job.job && g.topic === "user-activity")
      .reduce((sum, g) => sum + g.totalLag, 0);
    expect(activityLag).toBeGreaterThanOrEqual(6);
  });

  it("reports the stream job's totals, state, rates and watermark delay from its progress", () => {
    const progress = running.progress()!;
    expect(progress.totals).toMatchObject({
      input: 46,
      accepted: 45,
      duplicates: 1,
      late: 0,
      deadLettered: 0,
    });
    expect(sampleValue(families, "pulse_stream_input_records_total")).toBe(46);
    expect(sampleValue(families, "pulse_stream_accepted_total")).toBe(45);
    expect(sampleValue(families, "pulse_stream_duplicates_total")).toBe(1);
    expect(sampleValue(families, "pulse_stream_late_total")).toBe(0);
    expect(sampleValue(families, "pulse_stream_partially_late_total")).toBe(0);
    expect(sampleValue(families, "pulse_stream_dead_letters_total")).toBe(0);
    expect(sampleValue(families, "pulse_stream_state_rows")).toBe(progress.stateRows);
    expect(sampleValue(families, "pulse_stream_state_bytes")).toBe(progress.stateBytes);
    expect(sampleValue(families, "pulse_stream_input_records_per_second")).toBe(progress.inputRowsPerSecond);
    expect(sampleValue(families, "pulse_stream_processed_records_per_second")).toBe(
      progress.processedRowsPerSecond,
    );
    // The min over partitions of each one's latest event time less the out-of-orderness: some event's time.
    const watermarkMs = progress.eventTime.watermarkMs!;
    const eventTimes = [...Array(40).keys(), 50, 51, 52, 53, 54].map(
      (i) => T0 + i * 100 - OUT_OF_ORDERNESS_MS,
    );
    expect(eventTimes).toContain(watermarkMs);
    const delay = sampleValue(families, "pulse_stream_watermark_delay_seconds")!;
    expect(delay).toBeGreaterThanOrEqual((scrapedFromMs - watermarkMs) / 1000);
    expect(delay).toBeLessThanOrEqual((scrapedToMs - watermarkMs) / 1000);
  });

  it("observes every batch the job reported in the batch-duration histogram", () => {
    // Batch ids count the reports from 0.
    const batches = running.progress()!.batchId + 1;
    expect(sampleValue(families, "pulse_stream_batch_duration_seconds_count")).toBe(batches);
    expect(sampleValue(families, "pulse_stream_batch_duration_seconds_bucket", { le: "+Inf" })).toBe(batches);
  });

  it("counts every HTTP request made, by method, route and status", () => {
    const count = (method: string, route: string, status: string) =>
      sampleValue(families, "pulse_http_request_duration_seconds_count", { method, route, status });
    expect(count("POST", "/api/v1/events", "200")).toBe(1);
    expect(count("GET", "/api/health", "200")).toBe(2);
    expect(count("GET", "unmatched", "404")).toBe(1);
    expect(count("GET", "/api/ops/groups", "200")).toBe(1);
    expect(count("GET", "/metrics", "200")).toBe(1);
    const all = (families.get("pulse_http_request_duration_seconds")?.samples ?? []).filter((s) =>
      s.name.endsWith("_count"),
    );
    expect(all.reduce((sum, s) => sum + s.value, 0)).toBe(6);
  });
});

describe("GET /metrics on two servers in one process", () => {
  it("keeps a registry per server", async () => {
    const servers = [
      new PulseServer({ host: "127.0.0.1", port: 0 }),
      new PulseServer({ host: "127.0.0.1", port: 0 }),
    ];
    try {
      const [a, b] = await Promise.all(servers.map((s) => s.listen()));
      for (let i = 0; i < 3; i++) await fetch(`${a!.url}/api/health`);
      const count = (families: Map<string, MetricFamily>) =>
        sampleValue(families, "pulse_http_request_duration_seconds_count", {
          method: "GET",
          route: "/api/health",
          status: "200",
        });
      expect(count((await scrape(a!.url)).families)).toBe(3);
      expect(count((await scrape(b!.url)).families)).toBeUndefined();
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});
