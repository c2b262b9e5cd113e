// Drives the HTTP collector with batches at a fixed rate (or as fast as it answers), remembers which event
// ids were acknowledged, and counts them back out of a stopped Pulse's embedded log.
//
// Event ids carry their phase and sequence number: `<tag: 8 hex>-0000-4000-8000-<seq: 12 hex>`, so the
// check needs no id list, only one byte per event sent.
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { TOPICS, type UserActivityV2 } from "../../src/contracts/types.ts";
import { EmbeddedLog } from "../../src/log/embedded/index.ts";
import { SchemaRegistry } from "../../src/registry/embedded/registry.ts";
import { AvroSerde } from "../../src/serde/index.ts";

export interface CollectorLoadOptions {
  /** The collector endpoint, e.g. http://127.0.0.1:8501/api/v1/events. */
  url: string;
  apiKey: string;
  /** Eight hex digits that start every event id of this run, so runs sharing one log count apart. */
  tag: string;
  eventsPerBatch: number;
  /** Events per second in processing time; 0 sends as fast as `concurrency` requests in flight allow. */
  eventsPerSec: number;
  durationMs: number;
  /** Requests (and connections) in flight at most. */
  concurrency: number;
}

export interface CollectorLoadReport {
  tag: string;
  requests: number;
  /** 200 answers. */
  ok: number;
  /** 429 answers. */
  throttled: number;
  /** 429 answers without `Retry-After` or without a JSON error with a code and a message. */
  throttledMalformed: number;
  /** Other answers and transport errors, by status or error code. */
  failed: Record<string, number>;
  sentEvents: number;
  /** Events a 200 answer listed as accepted. */
  ackedEvents: number;
  /** Events a 200 answer listed as rejected (the batches are valid: should stay 0). */
  rejectedEvents: number;
  /** Events of requests that ended without an answer: stored or not, nobody knows. */
  unknownEvents: number;
  /** acked[seq] is 1 when event `seq` was acknowledged. */
  acked: Uint8Array;
  /** Request latency of the 200 answers, from sending to the whole answer, sorted ascending. */
  latenciesMs: number[];
  elapsedMs: number;
}

const EVENT_TYPES = ["VIEW", "CLICK", "VIEW", "ADD_TO_CART"] as const;
const DEVICES = ["DESKTOP", "MOBILE", "TABLET"] as const;
const USERS = 10_000;

/** The event id of event `seq` of run `tag`. */
export function loadEventId(tag: string, seq: number): string {
  return `${tag}-0000-4000-8000-${seq.toString(16).padStart(12, "0")}`;
}

function batchBody(tag: string, firstSeq: number, count: number, eventTimeMs: number): string {
  const parts: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i;
    const user = seq % USERS;
    parts[i] =
      `{"event_id":"${loadEventId(tag, seq)}","user_id":"load-${user}","session_id":"${loadEventId(tag, user)}",` +
      `"event_type":"${EVENT_TYPES[seq % EVENT_TYPES.length]}","event_time":${eventTimeMs},` +
      `"page":"/product/${seq % 500}","device":"${DEVICES[seq % DEVICES.length]}"}`;
  }
  return `[${parts.join(",")}]`;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

function post(agent: Agent, url: URL, apiKey: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${apiKey}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const retryAfter = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function parseResults(body: string): Array<{ index: number; status: string }> {
  try {
    return (JSON.parse(body) as { results: Array<{ index: number; status: string }> }).results;
  } catch {
    return [];
  }
}

function wellFormedBusy(answer: Answer): boolean {
  if (answer.retryAfter === undefined || !/^\d+$/.test(answer.retryAfter)) return false;
  try {
    const { error } = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === "string" && typeof error.message === "string" && error.message !== "";
  } catch {
    return false;
  }
}

/**
 * Sends batches of `eventsPerBatch` valid events for `durationMs`, paced to `eventsPerSec` (a batch is due
 * every eventsPerBatch / eventsPerSec seconds; one waits while `concurrency` requests are in flight, and
 * the run catches up after), then waits for every answer. No retries: a 429 is counted, not resent.
 */
export async function driveCollector(options: CollectorLoadOptions): Promise<CollectorLoadReport> {
  const { tag, eventsPerBatch, eventsPerSec, durationMs, concurrency } = options;
  if (!/^[0-9a-f]{8}$/.test(tag)) throw new Error(`tag must be 8 lowercase hex digits, got '${tag}'`);
  const url = new URL(options.url);
  // Idle sockets close after 4 s, before the server's 5 s keep-alive timeout (src/serve/server.ts): a
  // request on a socket the server is closing at that moment fails with ECONNRESET.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, timeout: 4_000 });
  const intervalMs = eventsPerSec > 0 ? (eventsPerBatch * 1000) / eventsPerSec : 0;
  const report: CollectorLoadReport = {
    tag,
    requests: 0,
    ok: 0,
    throttled: 0,
    throttledMalformed: 0,
    failed: {},
    sentEvents: 0,
    ackedEvents: 0,
    rejectedEvents: 0,
    unknownEvents: 0,
    acked: new Uint8Array(0),
    latenciesMs: [],
    elapsedMs: 0,
  };
  let acked = new Uint8Array(1 << 16);
  const fail = (what: string): void => {
    report.failed[what] = (report.failed[what] ?? 0) + 1;
  };
  const start = performance.now();
  let inFlight = 0;
  let stopped = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const send = (): void => {
    const firstSeq = report.sentEvents;
    report.sentEvents += eventsPerBatch;
    report.requests++;
    if (acked.length < report.sentEvents) {
      const grown = new Uint8Array(Math.max(acked.length * 2, report.sentEvents));
      grown.set(acked);
      acked = grown;
    }
    inFlight++;
    const sentAt = performance.now();
    void post(agent, url, options.apiKey, batchBody(tag, firstSeq, eventsPerBatch, Date.now())).then(
      (answer) => {
        if (answer.status === 200) {
          report.ok++;
          report.latenciesMs.push(performance.now() - sentAt);
          for (const { index, status } of parseResults(answer.body)) {
            if (status === "accepted") {
              acked[firstSeq + index] = 1;
              report.ackedEvents++;
            } else {
              report.rejectedEvents++;
            }
          }
        } else if (answer.status === 429) {
          report.throttled++;
          if (!wellFormedBusy(answer)) report.throttledMalformed++;
        } else {
          fail(String(answer.status));
        }
        settle();
      },
      (error: unknown) => {
        fail((error as NodeJS.ErrnoException).code ?? "error");
        report.unknownEvents += eventsPerBatch;
        settle();
      },
    );
  };
  const settle = (): void => {
    inFlight--;
    fill();
  };
  const fill = (): void => {
    const elapsed = performance.now() - start;
    if (elapsed >= durationMs) stopped = true;
    if (stopped) {
      if (inFlight === 0) finish();
      return;
    }
    const due = intervalMs > 0 ? Math.floor(elapsed / intervalMs) + 1 : Number.POSITIVE_INFINITY;
    while (report.requests < due && inFlight < concurrency) send();
  };
  // Timers are only a few ms late at worst; answers fill the free slots as they come.
  const timer = setInterval(fill, Math.max(1, Math.min(5, intervalMs / 2)));
  fill();
  try {
    await finished;
  } finally {
    clearInterval(timer);
    agent.destroy();
  }
  report.elapsedMs = performance.now() - start;
  report.acked = acked.subarray(0, report.sentEvents);
  report.latenciesMs.sort((a, b) => a - b);
  return report;
}

export interface StoredCheck {
  /** Records of the run's tag on the topic. */
  stored: number;
  /** Acknowledged events whose id is not on the topic. */
  missing: number;
  /** Ids stored more than once (each extra copy counted). */
  duplicates: number;
  /** Stored ids that were not acknowledged (their request ended without an answer, or 429/5xx). */
  unacked: number;
}

/**
 * Reads every record of user-activity in `<dataDir>/log.db` (Pulse stopped) and checks each run's ids
 * against what it acknowledged.
 */
export async function checkStored(
  dataDir: string,
  runs: readonly CollectorLoadReport[],
): Promise<Map<string, StoredCheck>> {
  const counts = new Map(runs.map((r) => [r.tag, new Uint8Array(r.sentEvents)]));
  const log = EmbeddedLog.open({ path: join(dataDir, "log.db") });
  const registry = SchemaRegistry.open({ path: join(dataDir, "registry.db") });
  try {
    const serde = new AvroSerde(registry);
    const info = await log.describeTopic(TOPICS.activity);
    for (const { partition, lowWatermark, highWatermark } of info.offsets) {
      let next = lowWatermark;
      while (next < highWatermark) {
        const batch = await log.fetch(TOPICS.activity, partition, next, { maxRecords: 10_000 });
        if (batch.length === 0) throw new Error(`${TOPICS.activity}[${partition}]: nothing at ${next}`);
        for (const record of batch) {
          const { event_id } = await serde.decode<UserActivityV2>(record.value);
          const count = counts.get(event_id.slice(0, 8));
          if (count === undefined) continue;
          const seq = Number.parseInt(event_id.slice(24), 16);
          if (seq < count.length && count[seq]! < 255) count[seq]!++;
        }
        next = batch[batch.length - 1]!.offset + 1;
      }
    }
  } finally {
    await log.close();
    registry.close();
  }
  const checks = new Map<string, StoredCheck>();
  for (const run of runs) {
    const count = counts.get(run.tag)!;
    const check: StoredCheck = { stored: 0, missing: 0, duplicates: 0, unacked: 0 };
    for (let seq = 0; seq < count.length; seq++) {
      const n = count[seq]!;
      check.stored += n;
      if (n > 1) check.duplicates += n - 1;
      if (run.acked[seq] === 1 && n === 0) check.missing++;
      if (run.acked[seq] !== 1 && n > 0) check.unacked++;
    }
    checks.set(run.tag, check);
  }
  return checks;
}

/** Resident set size of process `pid` in bytes (Linux /proc), or undefined where it cannot be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** User plus system CPU time process `pid` has used, in seconds (Linux /proc), or undefined where unreadable. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    // The command name (field 2) may hold spaces; utime and stime are fields 14 and 15, in clock ticks (100/s).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Samples `pid`'s RSS every `everyMs` until stopped; `stop` gives the samples in bytes. */
export function sampleRss(pid: number, everyMs = 1000): { stop(): number[] } {
  const samples: number[] = [];
  const take = (): void => {
    const rss = rssBytes(pid);
    if (rss !== undefined) samples.push(rss);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** The q-quantile of ascending `sorted` (nearest rank), NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
