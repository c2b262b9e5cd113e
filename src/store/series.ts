// The live series, each described once: its key column, its metrics and how they merge over partitions, its tables, how a merged row reads.
import { StoreError, StoreErrorCode } from "../errors.ts";
import type { ActivityWindow, ActivityWindowRow, WikiWindow, WikiWindowRow, WindowRowKey } from "./index.ts";

/*
 * A series is the window rows of one source, per (window, key, partition): activity per event_type,
 * Wikimedia per wiki. Both stores, the stream job and the live API read its spec; a new source adds a
 * spec to SERIES, and the stores make its tables (embedded) or collections (MongoDB) on open:
 *
 *   <windowTable> (window_ms, window_start, <key>, partition, <metric>…, final)   the live windows
 *   <dailyTable>  (the same columns)                                             per UTC day
 *
 * Readers merge a window's partitions metric by metric as the spec says (every metric is a sum: each
 * topic is keyed by what its distinct counts count, so the partitions' counts are disjoint), and present
 * the merged row as the spec says.
 */

/** How a metric merges over partitions. */
export type MetricMerge = "sum";

/** The columns of `Row` holding values of type `T`. */
type ColumnsOf<Row, T> = { [K in keyof Row]-?: Row[K] extends T ? K : never }[keyof Row] & string;

/** A row's metric columns: its numbers besides the window and partition. */
export type MetricColumn<Row> = Exclude<ColumnsOf<Row, number>, keyof WindowRowKey>;

/** A window merged over partitions, before it is presented: the row without its partition. */
export type MergedRow<Row extends WindowRowKey = WindowRowKey> = Omit<Row, "partition">;

/** A series as the stores handle it, whatever its rows' types (SeriesSpec adds them). */
export interface Series {
  /** Its name: StoreBatch.windows.<name>, GET /api/live/<name>, its alerts' series prefix. */
  readonly name: string;
  /**
   * How messages name its rows ("A wiki row's partition must be …"), and the MongoDB store's redo
   * records (<label>Windows, <label>Daily): stored, so it never changes.
   */
  readonly label: string;
  /** The text column that keys a window's rows besides the partition: event_type, wiki. */
  readonly key: string;
  /** Each metric column, in table order, with how it merges over partitions. */
  readonly metrics: Readonly<Record<string, MetricMerge>>;
  /** The metric columns in table order (the keys of `metrics`). */
  readonly metricColumns: readonly string[];
  /** The embedded table and the MongoDB collection of its windows. */
  readonly windowTable: string;
  /** … and of its per-day rows. */
  readonly dailyTable: string;
  /** How the MongoDB store's index names call the key: by_length_start_<indexKey>, by_day_length_<indexKey>. */
  readonly indexKey: string;
  /** A merged row as the store answers it. */
  present(row: MergedRow): unknown;
}

/** A series whose rows are `Row` and whose merged windows read as `Window`. */
export interface SeriesSpec<Row extends WindowRowKey, Window = MergedRow<Row>, Name extends string = string>
  extends Series {
  readonly name: Name;
  readonly key: ColumnsOf<Row, string>;
  readonly metrics: Readonly<Record<MetricColumn<Row>, MetricMerge>>;
  readonly metricColumns: readonly MetricColumn<Row>[];
  present(row: MergedRow<Row>): Window;
}

/** Names and columns go into SQL and generated code: plain lower-case identifiers only. */
const IDENTIFIER = /^[a-z][a-z0-9_]*$/;

/** A spec with its metric columns listed, every name checked. */
export function defineSeries<Row extends WindowRowKey, Window, Name extends string>(
  spec: Omit<SeriesSpec<Row, Window, Name>, "metricColumns">,
): SeriesSpec<Row, Window, Name> {
  const metricColumns = Object.keys(spec.metrics) as MetricColumn<Row>[];
  const names = [spec.name, spec.label, spec.key, spec.windowTable, spec.dailyTable, spec.indexKey];
  for (const name of [...names, ...metricColumns]) {
    if (!IDENTIFIER.test(name)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `Series "${spec.name}": ${JSON.stringify(name)} is not a plain lower-case identifier ([a-z][a-z0-9_]*).`,
      );
    }
  }
  return Object.freeze({ ...spec, metricColumns: Object.freeze(metricColumns) });
}

/** User activity per (window, event_type); revenue is read in currency units. */
export const ACTIVITY_SERIES = defineSeries<ActivityWindowRow, ActivityWindow, "activity">({
  name: "activity",
  label: "activity",
  key: "event_type",
  metrics: { event_count: "sum", unique_users: "sum", sessions: "sum", revenue_cents: "sum" },
  windowTable: "activity_windows",
  dailyTable: "activity_daily",
  indexKey: "type",
  present: (row) => ({
    window_start: row.window_start,
    window_end: row.window_end,
    event_type: row.event_type,
    event_count: row.event_count,
    unique_users: row.unique_users,
    sessions: row.sessions,
    // Summed in integer cents and divided once, so merging partitions adds no rounding error.
    revenue: row.revenue_cents / 100,
    final: row.final,
  }),
});

/** Wikimedia recent changes per (window, wiki), read as merged. */
export const WIKIMEDIA_SERIES = defineSeries<WikiWindowRow, WikiWindow, "wikimedia">({
  name: "wikimedia",
  label: "wiki",
  key: "wiki",
  metrics: {
    changes: "sum",
    edits: "sum",
    bot_edits: "sum",
    human_edits: "sum",
    new_pages: "sum",
    byte_delta: "sum",
    unique_editors: "sum",
  },
  windowTable: "wiki_windows",
  dailyTable: "wiki_daily",
  indexKey: "wiki",
  present: (row) => row,
});

/** Every series the stores keep, in the order their tables are made and a batch's rows are written. */
export const SERIES = [ACTIVITY_SERIES, WIKIMEDIA_SERIES] as const;

type AnySeriesSpec = (typeof SERIES)[number];

/** The rows of a series: its spec's row type (any window row for a plain Series). */
export type RowOf<S extends Series> =
  S extends SeriesSpec<infer Row, infer _Window, infer _Name> ? Row : WindowRowKey;

/** A series' merged windows as the store answers them. */
export type WindowOf<S extends Series> = ReturnType<S["present"]>;

/** Rows per series, by name: StoreBatch.windows and .daily. */
export type SeriesRows = { readonly [S in AnySeriesSpec as S["name"]]?: readonly RowOf<S>[] };

/** The same with a growable list for every series: a batch gathering its rows. */
export type SeriesRowLists = { [S in AnySeriesSpec as S["name"]]: RowOf<S>[] };

/** An empty list for every series. */
export function emptySeriesRows(): SeriesRowLists {
  return Object.fromEntries(SERIES.map((series) => [series.name, []])) as unknown as SeriesRowLists;
}

const BY_NAME = new Map<string, Series>(SERIES.map((series) => [series.name, series]));
/** The series' names as messages list them: "activity", "wikimedia". */
const NAMES = SERIES.map((series) => JSON.stringify(series.name)).join(", ");

/** A series the stores keep (one of SERIES, not a copy), or PULSE_STORE_BAD_ARGUMENT. */
export function checkSeries(series: Series): void {
  if (series === undefined || series === null || BY_NAME.get(series.name) !== series) {
    const name = (series as Series | null | undefined)?.name;
    throw new StoreError(
      StoreErrorCode.badArgument,
      `series must be one of the store's series (${NAMES}), got ${name === undefined ? String(series) : `a spec named ${JSON.stringify(name)}`}.`,
    );
  }
}

/** Rows of series the stores keep only: a misspelt name would otherwise leave its rows unwritten. */
export function checkSeriesRows(rows: SeriesRows | undefined, field: string): void {
  if (rows === undefined) return;
  for (const name in rows) {
    if (!BY_NAME.has(name)) {
      throw new StoreError(
        StoreErrorCode.badArgument,
        `StoreBatch.${field} holds rows of an unknown series ${JSON.stringify(name)}; the store keeps ${NAMES}.`,
      );
    }
  }
}
