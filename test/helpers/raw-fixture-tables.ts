// Writes raw.user_activity and raw.wikimedia_recentchange into a DuckDB file from the real fixtures, mapped as Pulse maps them.
import { join } from "node:path";
import { type DuckDBAppender, DuckDBInstance, timestampValue } from "@duckdb/node-api";
import { TOPICS, type UserActivityV2, type WikimediaRecentChange } from "../../src/contracts/types.ts";
import { validateActivity, validateRecentChange } from "../../src/contracts/validate.ts";
import { replayActivityCsv } from "../../src/ingest/activity-csv.ts";
import { mapRecentChange } from "../../src/ingest/wikimedia/mapping.ts";
import { replayWikimedia } from "../../src/ingest/wikimedia/replay.ts";
import { partitionForKey } from "../../src/log/partitioner.ts";
import { REPO_ROOT } from "./cli.ts";

/*
 * The rows `pulse load` would write after replaying the fixtures, without running the platform: each CSV
 * row goes through replayActivityCsv (event_id a v5 UUID of the row's text, REES46 types mapped to the
 * contract's, amount only on purchases), each Wikimedia line through replayWikimedia (canary events
 * dropped) and mapRecentChange, and both through the producer's validation; what it rejects would be
 * dead-lettered and is left out. A row's place in the log is what the embedded log would give it: the
 * partition Kafka's murmur2 partitioner picks for its key (user_id, wiki) and the next offset of that
 * partition, in file order. Duplicates stay: an exact-duplicate CSV row is a second row with the same
 * event_id at its own offset, as the raw lake keeps it. Columns and types follow docs/batch.md; timestamps
 * are TIMESTAMP (no zone) holding UTC.
 */

export const ACTIVITY_FIXTURES = [
  "fixtures/activity/rees46-multicategory-2019-10-01.csv",
  "fixtures/activity/rees46-cosmetics-derived-2022-10-01.csv",
].map((file) => join(REPO_ROOT, file));

export const WIKIMEDIA_FIXTURES = [
  "fixtures/wikimedia/recentchange-enwiki-2023-07-29.ndjson",
  "fixtures/wikimedia/recentchange-wikidata-2018-03-07.legacy.jsonl",
].map((file) => join(REPO_ROOT, file));

export interface RawFixtureTablesOptions {
  activityFiles?: readonly string[];
  wikimediaFiles?: readonly string[];
  /** Partitions of each topic (Pulse's default topics.partitions is 6). */
  partitions?: number;
  /** The _ingested_at of every row, fixed so two writes give identical tables. */
  ingestedAtMs?: number;
}

export interface RawFixtureTablesSummary {
  /** Rows written to raw.user_activity. */
  userActivity: number;
  /** Rows written to raw.wikimedia_recentchange. */
  wikimediaRecentchange: number;
  /** Rows or lines the mapping or the validation rejected (left out, as the producer dead-letters them). */
  rejected: number;
}

type ColumnType = "VARCHAR" | "BIGINT" | "DOUBLE" | "BOOLEAN" | "TIMESTAMP";
type Value = string | number | boolean | null;
/** A raw column: its name, its DuckDB type, and how a mapped event fills it (epoch ms for TIMESTAMP). */
type RawColumn<E> = readonly [name: string, type: ColumnType, value: (event: E) => Value];

/** The event's place in the log, which the load adds to every row. */
interface Located<E> {
  event: E;
  topic: string;
  partition: number;
  offset: number;
  ingestedAtMs: number;
}

const LOG_COLUMNS: readonly RawColumn<Located<unknown>>[] = [
  ["_topic", "VARCHAR", (l) => l.topic],
  ["_log_partition", "BIGINT", (l) => l.partition],
  ["_offset", "BIGINT", (l) => l.offset],
  ["_ingested_at", "TIMESTAMP", (l) => l.ingestedAtMs],
];

const ACTIVITY_COLUMNS: readonly RawColumn<UserActivityV2>[] = [
  ["event_id", "VARCHAR", (e) => e.event_id],
  ["user_id", "VARCHAR", (e) => e.user_id],
  ["session_id", "VARCHAR", (e) => e.session_id],
  ["event_type", "VARCHAR", (e) => e.event_type],
  ["event_time", "TIMESTAMP", (e) => e.event_time],
  ["page", "VARCHAR", (e) => e.page],
  ["referrer", "VARCHAR", (e) => e.referrer],
  ["device", "VARCHAR", (e) => e.device],
  ["country", "VARCHAR", (e) => e.country],
  ["amount", "DOUBLE", (e) => e.amount],
  ["currency", "VARCHAR", (e) => e.currency],
  ["app_version", "VARCHAR", (e) => e.app_version],
];

const WIKIMEDIA_COLUMNS: readonly RawColumn<WikimediaRecentChange>[] = [
  ["schema_uri", "VARCHAR", (c) => c.schema_uri],
  ["meta_id", "VARCHAR", (c) => c.meta.id],
  ["meta_dt", "TIMESTAMP", (c) => c.meta.dt],
  ["meta_domain", "VARCHAR", (c) => c.meta.domain],
  ["meta_stream", "VARCHAR", (c) => c.meta.stream],
  ["meta_uri", "VARCHAR", (c) => c.meta.uri],
  ["meta_request_id", "VARCHAR", (c) => c.meta.request_id],
  ["meta_topic", "VARCHAR", (c) => c.meta.topic],
  ["meta_partition", "BIGINT", (c) => c.meta.partition],
  ["meta_offset", "BIGINT", (c) => c.meta.offset],
  ["id", "BIGINT", (c) => c.id],
  ["type", "VARCHAR", (c) => c.type],
  ["namespace", "BIGINT", (c) => c.namespace],
  ["title", "VARCHAR", (c) => c.title],
  ["comment", "VARCHAR", (c) => c.comment],
  ["timestamp_unix", "BIGINT", (c) => c.timestamp],
  ["user_name", "VARCHAR", (c) => c.user],
  ["bot", "BOOLEAN", (c) => c.bot],
  ["minor", "BOOLEAN", (c) => c.minor],
  ["patrolled", "BOOLEAN", (c) => c.patrolled],
  ["length_old", "BIGINT", (c) => c.length?.old ?? null],
  ["length_new", "BIGINT", (c) => c.length?.new ?? null],
  ["revision_old", "BIGINT", (c) => c.revision?.old ?? null],
  ["revision_new", "BIGINT", (c) => c.revision?.new ?? null],
  ["server_url", "VARCHAR", (c) => c.server_url],
  ["server_name", "VARCHAR", (c) => c.server_name],
  ["wiki", "VARCHAR", (c) => c.wiki],
  ["log_type", "VARCHAR", (c) => c.log_type],
  ["log_action", "VARCHAR", (c) => c.log_action],
];

/** The contract's columns, then the log's, each reading a located event. */
function rawColumns<E>(columns: readonly RawColumn<E>[]): RawColumn<Located<E>>[] {
  return [
    ...columns.map(([name, type, value]): RawColumn<Located<E>> => [name, type, (l) => value(l.event)]),
    ...(LOG_COLUMNS as readonly RawColumn<Located<E>>[]),
  ];
}

function appendValue(appender: DuckDBAppender, type: ColumnType, value: Value): void {
  if (value === null) appender.appendNull();
  else if (type === "VARCHAR") appender.appendVarchar(value as string);
  else if (type === "BIGINT") appender.appendBigInt(BigInt(value as number));
  else if (type === "DOUBLE") appender.appendDouble(value as number);
  else if (type === "BOOLEAN") appender.appendBoolean(value as boolean);
  else appender.appendTimestamp(timestampValue(BigInt(value as number) * 1000n));
}

/** Gives each event its partition (by key) and the next offset of that partition, in the order given. */
class LogPositions {
  readonly #next: number[];
  constructor(
    readonly topic: string,
    readonly partitions: number,
    readonly ingestedAtMs: number,
  ) {
    this.#next = new Array<number>(partitions).fill(0);
  }
  locate<E>(event: E, key: string): Located<E> {
    const partition = partitionForKey(Buffer.from(key, "utf8"), this.partitions);
    const offset = this.#next[partition]!++;
    return { event, topic: this.topic, partition, offset, ingestedAtMs: this.ingestedAtMs };
  }
}

async function* activityEvents(files: readonly string[], rejected: { count: number }) {
  for (const file of files) {
    for await (const record of replayActivityCsv(file)) {
      const valid = record.ok ? validateActivity(record.event) : undefined;
      if (valid?.ok) yield valid.value;
      else rejected.count++;
    }
  }
}

async function* wikimediaEvents(files: readonly string[], rejected: { count: number }) {
  for (const file of files) {
    for await (const raw of replayWikimedia(file, { onBadLine: () => rejected.count++ })) {
      const mapped = mapRecentChange(raw);
      const valid = mapped.ok ? validateRecentChange(mapped.value) : undefined;
      if (valid?.ok) yield valid.value;
      else rejected.count++;
    }
  }
}

/**
 * Creates (or replaces) raw.user_activity and raw.wikimedia_recentchange in the DuckDB file at `path`,
 * filled from the fixtures, through DuckDB's appender. The same options give identical tables.
 */
export async function writeRawFixtureTables(
  path: string,
  options: RawFixtureTablesOptions = {},
): Promise<RawFixtureTablesSummary> {
  const partitions = options.partitions ?? 6;
  const ingestedAtMs = options.ingestedAtMs ?? Date.UTC(2026, 0, 1);
  const rejected = { count: 0 };
  const instance = await DuckDBInstance.create(path);
  try {
    const connection = await instance.connect();
    try {
      await connection.run("create schema if not exists raw");
      const write = async <E>(
        table: string,
        columns: readonly RawColumn<Located<E>>[],
        events: AsyncIterable<E>,
        positions: LogPositions,
        keyOf: (event: E) => string,
      ): Promise<number> => {
        const ddl = columns.map(([name, type]) => `"${name}" ${type}`).join(", ");
        await connection.run(`create or replace table raw.${table} (${ddl})`);
        const appender = await connection.createAppender(table, "raw");
        let rows = 0;
        try {
          for await (const event of events) {
            const located = positions.locate(event, keyOf(event));
            for (const [, type, value] of columns) appendValue(appender, type, value(located));
            appender.endRow();
            rows++;
          }
          appender.flushSync();
        } finally {
          appender.closeSync();
        }
        return rows;
      };
      const userActivity = await write(
        "user_activity",
        rawColumns(ACTIVITY_COLUMNS),
        activityEvents(options.activityFiles ?? ACTIVITY_FIXTURES, rejected),
        new LogPositions(TOPICS.activity, partitions, ingestedAtMs),
        (e) => e.user_id,
      );
      const wikimediaRecentchange = await write(
        "wikimedia_recentchange",
        rawColumns(WIKIMEDIA_COLUMNS),
        wikimediaEvents(options.wikimediaFiles ?? WIKIMEDIA_FIXTURES, rejected),
        new LogPositions(TOPICS.wikimedia, partitions, ingestedAtMs),
        (c) => c.wiki,
      );
      return { userActivity, wikimediaRecentchange, rejected: rejected.count };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
