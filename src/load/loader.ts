// pulse load: raw lake → warehouse raw tables, incremental by (topic, partition, offset) and exactly-once.

/*
 * Each page of raw-lake rows (RawLake.scanAfter from the load state's positions) is decoded through the
 * registry and appended to its raw table in one warehouse transaction with the load-state rows of the
 * partitions it advances; pages commit in order, one at a time, while the next page is decoded. A load killed at any point leaves whole pages behind it, each with its state, so
 * running it again continues after the last committed page: identical tables, never a duplicate row.
 *
 * A day reload (--date) runs after the incremental load, in one transaction per day: the day's rows are
 * deleted by event time and scanned again from the lake (RawLake.scanEventTime), keeping only offsets the
 * load state covers, so a row the incremental load has not reached yet is never loaded twice. Rows the
 * lake's retention has deleted (a prefix of each partition) are kept as they were loaded.
 *
 * With a retention (retentionDays), the raw tables' rows of days before it are deleted first
 * (retention.ts).
 */

import { LoadError, LoadErrorCode } from "../errors.ts";
import { decodeRawEvent } from "../lake/decode.ts";
import type { RawEventRow, RawLake } from "../lake/index.ts";
import type { AvroSerde } from "../serde/avro-serde.ts";
import type { SqlValue, Warehouse } from "../warehouse/index.ts";
import { RAW_TABLES, type RawTable, tableColumns } from "./raw-tables.ts";
import { enforceWarehouseRetention, type WarehouseRetentionResult } from "./retention.ts";
import { createLoadState, type PartitionLoadState, readLoadState, writeLoadState } from "./state.ts";

export interface LoadOptions {
  lake: RawLake;
  serde: AvroSerde;
  warehouse: Warehouse;
  /** The topics to load; every raw table's topic by default. */
  topics?: readonly string[];
  /** Event-time days (YYYY-MM-DD, UTC) to delete and load again from the lake. */
  reloadDays?: readonly string[];
  /** Rows per page, and so per transaction. */
  pageRows?: number;
  /** Called after each committed page. */
  onProgress?: (progress: LoadProgress) => void;
  /** The clock of loaded_at, and of the retention's today. */
  now?: () => number;
  /**
   * Whole UTC days of raw rows to keep before today (config retention.warehouse_days); rows of older
   * days are deleted before the load. 0 or undefined: keep every row.
   */
  retentionDays?: number;
}

export interface LoadProgress {
  topic: string;
  /** Rows loaded so far by this load, over every topic. */
  rows: number;
  /** Of the topic's offsets this load has to cover (from the load state to the lake's last offsets), how many it has. */
  offsetsDone: number;
  offsetsTotal: number;
}

export interface TopicLoad {
  topic: string;
  /** schema.name of the raw table. */
  table: string;
  /** Rows appended by the incremental load. */
  rowsLoaded: number;
  /** Rows written by the day reloads. */
  rowsReloaded: number;
  /** The event-time days (UTC) of the rows appended or reloaded, sorted. */
  days: string[];
  /** The load state after the load, by partition. */
  partitions: PartitionLoadState[];
}

export interface LoadResult {
  topics: TopicLoad[];
  /** What the retention deleted, when it ran. */
  retention?: WarehouseRetentionResult;
  elapsedMs: number;
}

const DEFAULT_PAGE_ROWS = 200_000;
const DAY_MS = 86_400_000;

/** Loads every new raw-lake row of the topics into their raw tables, then reloads the days asked for. */
export async function loadRaw(options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const tables = tablesFor(options.topics);
  const reloadDays = (options.reloadDays ?? []).map(dayRange);
  const { warehouse } = options;
  await createLoadState(warehouse);
  for (const table of tables) await warehouse.createTable(table.relation, tableColumns(table));
  const retention =
    options.retentionDays !== undefined && options.retentionDays > 0
      ? await enforceWarehouseRetention(
          warehouse,
          { days: options.retentionDays, nowMs: options.now?.() ?? Date.now() },
          tables,
        )
      : undefined;
  const progress = { rows: 0 };
  const out: TopicLoad[] = [];
  for (const table of tables) {
    const result = await loadTopic(options, table, progress);
    for (const range of reloadDays) {
      result.rowsReloaded += await reloadDay(options, table, range, result.partitions);
      result.days.push(range.day);
    }
    result.days = [...new Set(result.days)].sort();
    out.push(result);
  }
  return { topics: out, elapsedMs: Date.now() - started, ...(retention && { retention }) };
}

async function loadTopic(
  options: LoadOptions,
  table: RawTable,
  progress: { rows: number },
): Promise<TopicLoad> {
  const { warehouse, lake } = options;
  const pageRows = options.pageRows ?? DEFAULT_PAGE_ROWS;
  const state = await readLoadState(warehouse, table.topic);
  const after = new Map<number, number>([...state].map(([partition, s]) => [partition, s.lastOffset]));
  // How far this load goes: from the state's offsets to the lake's last ones, as they are now.
  const ends = await lake.lastOffsets(table.topic);
  const starts = new Map(
    [...ends.keys()].map((partition) => [partition, state.get(partition)?.lastOffset ?? -1]),
  );
  const offsetsCovered = (): number => {
    let done = 0;
    for (const [partition, end] of ends) {
      const now = Math.min(state.get(partition)?.lastOffset ?? -1, end);
      done += Math.max(0, now - starts.get(partition)!);
    }
    return done;
  };
  let offsetsTotal = 0;
  for (const [partition, end] of ends) offsetsTotal += Math.max(0, end - starts.get(partition)!);
  const columns = tableColumns(table).map((column) => column.name);
  /** Event-time days since the epoch (UTC). */
  const days = new Set<number>();
  /** The state as of the pages read so far; `state` holds what is committed. */
  const planned = new Map(state);
  let rowsLoaded = 0;
  // One page commits while the next is read and decoded: DuckDB writes on its own threads meanwhile.
  let committing: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  for (;;) {
    if (failure !== undefined) break;
    const page = await lake.scanAfter(table.topic, after, pageRows);
    if (page.length === 0) break;
    const values = await rowValues(options.serde, table, page, days);
    const advanced = new Map<number, PartitionLoadState>();
    for (const row of page) {
      const before = advanced.get(row.partition) ?? planned.get(row.partition);
      advanced.set(row.partition, {
        partition: row.partition,
        lastOffset: row.offset,
        rowsLoaded: (before?.rowsLoaded ?? 0) + 1,
      });
    }
    for (const [partition, s] of advanced) {
      planned.set(partition, s);
      after.set(partition, s.lastOffset);
    }
    await committing;
    if (failure !== undefined) break;
    const loadedAt = new Date(options.now?.() ?? Date.now());
    committing = warehouse
      .transaction(async (session) => {
        await session.append(table.relation, columns, values);
        await writeLoadState(session, warehouse.dialect, table.topic, [...advanced.values()], loadedAt);
      })
      .then(
        () => {
          for (const [partition, s] of advanced) state.set(partition, s);
          rowsLoaded += page.length;
          progress.rows += page.length;
          options.onProgress?.({
            topic: table.topic,
            rows: progress.rows,
            offsetsDone: offsetsCovered(),
            offsetsTotal,
          });
        },
        (error: unknown) => {
          failure = { error };
        },
      );
  }
  await committing;
  if (failure !== undefined) throw failure.error;
  return {
    topic: table.topic,
    table: `${table.relation.schema}.${table.relation.name}`,
    rowsLoaded,
    rowsReloaded: 0,
    days: [...days].map((day) => new Date(day * DAY_MS).toISOString().slice(0, 10)),
    partitions: [...state.values()].sort((a, b) => a.partition - b.partition),
  };
}

interface DayRange {
  day: string;
  fromMs: number;
  toMs: number;
}

async function reloadDay(
  options: LoadOptions,
  table: RawTable,
  range: DayRange,
  loaded: readonly PartitionLoadState[],
): Promise<number> {
  const { warehouse, lake } = options;
  const pageRows = options.pageRows ?? DEFAULT_PAGE_ROWS;
  const covered = new Map(loaded.map((state) => [state.partition, state.lastOffset]));
  const columns = tableColumns(table).map((column) => column.name);
  const { dialect } = warehouse;
  const q = (name: string) => dialect.quoteIdentifier(name);
  const time = q(table.eventTimeColumn);
  return warehouse.transaction(async (session) => {
    // Only the rows the lake still holds are deleted, to be written again: retention deleted a prefix
    // of each partition, whose rows stay as they were loaded.
    const firsts = await lakeFirstOffsets(lake, table.topic);
    const held = [...firsts].map(
      ([partition, first]) =>
        `(${q("_log_partition")} = ${dialect.quoteLiteral(partition)} AND ${q("_offset")} >= ${dialect.quoteLiteral(first)})`,
    );
    if (held.length > 0) {
      await session.query(
        `DELETE FROM ${dialect.relationName(table.relation)} WHERE ${time} >= $1 AND ${time} < $2 AND (${held.join(" OR ")})`,
        [new Date(range.fromMs), new Date(range.toMs)],
      );
    }
    let written = 0;
    let position: { partition: number; offset: number } | undefined;
    for (;;) {
      const page = await lake.scanEventTime(
        table.topic,
        { fromMs: range.fromMs, toMs: range.toMs },
        pageRows,
        position,
      );
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      position = { partition: last.partition, offset: last.offset };
      const kept = page.filter((row) => row.offset <= (covered.get(row.partition) ?? -1));
      if (kept.length === 0) continue;
      written += await session.append(table.relation, columns, await rowValues(options.serde, table, kept));
    }
    // Retention deleting rows between the delete and the scan would lose them: start again instead.
    const after = await lakeFirstOffsets(lake, table.topic);
    if (
      [...firsts].some(([partition, first]) => (after.get(partition) ?? Number.POSITIVE_INFINITY) !== first)
    ) {
      throw new LoadError(
        LoadErrorCode.lakeMoved,
        `the raw lake's retention deleted ${table.topic} rows while ${range.day} was being reloaded; nothing was changed, run the load again.`,
        { retriable: true },
      );
    }
    return written;
  });
}

/** Each partition's first offset in the lake (retention deletes a prefix of each partition). */
async function lakeFirstOffsets(lake: RawLake, topic: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const [partition, last] of await lake.lastOffsets(topic)) {
    const [first] = await lake.scanOffsets(topic, partition, { fromOffset: 0, toOffset: last + 1 }, 1);
    if (first !== undefined) out.set(partition, first.offset);
  }
  return out;
}

/** The table rows of a page of raw-lake rows: the event's columns, then the row's place in the log. */
async function rowValues(
  serde: AvroSerde,
  table: RawTable,
  rows: readonly RawEventRow[],
  days?: Set<number>,
): Promise<SqlValue[][]> {
  const out: SqlValue[][] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const event = await decodeRow(serde, row);
    const values = table.values(event);
    values.push(row.topic, row.partition, row.offset, new Date(row.ingested_at));
    out[i] = values;
    days?.add(Math.floor(row.event_time / DAY_MS));
  }
  return out;
}

/** The event a row holds (decodeRawEvent: a frame through the registry, or an older row's JSON text). */
async function decodeRow(serde: AvroSerde, row: RawEventRow): Promise<unknown> {
  try {
    return await decodeRawEvent(serde, row);
  } catch (error) {
    throw new LoadError(
      LoadErrorCode.undecodable,
      `${row.topic} partition ${row.partition} offset ${row.offset}: the raw-lake row cannot be decoded (${error instanceof Error ? error.message : String(error)}); is the registry the one the stream job used (registry: in the config)?`,
      { cause: error },
    );
  }
}

function tablesFor(topics: readonly string[] | undefined): RawTable[] {
  if (topics === undefined) return [...RAW_TABLES];
  return topics.map((topic) => {
    const table = RAW_TABLES.find((t) => t.topic === topic);
    if (table === undefined)
      throw new LoadError(
        LoadErrorCode.badArgument,
        `no raw table loads topic '${topic}'; the loaded topics are ${RAW_TABLES.map((t) => t.topic).join(", ")}.`,
      );
    return table;
  });
}

function dayRange(day: string): DayRange {
  const fromMs = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(fromMs) || new Date(fromMs).toISOString().slice(0, 10) !== day)
    throw new LoadError(
      LoadErrorCode.badArgument,
      `--date '${day}' is not a day; write it YYYY-MM-DD, e.g. 2026-01-31.`,
    );
  return { day, fromMs, toMs: fromMs + DAY_MS };
}
