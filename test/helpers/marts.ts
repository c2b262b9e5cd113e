// Test helpers: the analytics marts written straight into a DuckDB warehouse through the seam, with a few known rows.

import { openDuckDbWarehouse } from "../../src/warehouse/duckdb/index.ts";
import type { Column, SqlValue } from "../../src/warehouse/index.ts";

const SCHEMA = "monitoring_datalake";

type MartRows = { columns: Column[]; rows: SqlValue[][] };

const int = (name: string): Column => ({ name, type: "int64" });
const float = (name: string): Column => ({ name, type: "float64" });
const day: Column = { name: "activity_date", type: "date" };

/** The rows each mart gets: two days in a row, then a gap (no 2024-03-03), so day-over-day has nulls. */
export const MART_ROWS: Readonly<Record<string, MartRows>> = {
  fct_daily_user_metrics: {
    columns: [day, { name: "event_type", type: "string" }, int("event_count"), int("unique_users")],
    rows: [
      ["2024-03-01", "VIEW", 10, 8],
      ["2024-03-01", "PURCHASE", 2, 2],
      ["2024-03-02", "VIEW", 12, 9],
      ["2024-03-02", "PURCHASE", 3, 2],
      ["2024-03-04", "VIEW", 7, 7],
      ["2024-03-04", "CLICK", 5, 1],
    ],
  },
  fct_daily_revenue: {
    columns: [day, int("purchases"), float("revenue"), int("buyers"), float("avg_order_value")],
    rows: [
      ["2024-03-01", 2, 14.75, 2, 7.375],
      ["2024-03-02", 3, 30, 2, 10],
    ],
  },
  fct_daily_funnel: {
    columns: [
      day,
      int("viewers"),
      int("carters"),
      int("buyers"),
      float("view_to_cart"),
      float("cart_to_purchase"),
    ],
    rows: [
      ["2024-03-01", 8, 4, 2, 0.5, 0.5],
      ["2024-03-02", 9, 0, 0, 0, null],
    ],
  },
  fct_daily_wiki_metrics: {
    columns: [
      day,
      { name: "wiki", type: "string" },
      int("edits"),
      int("bot_edits"),
      int("human_edits"),
      int("new_pages"),
      int("bytes_delta"),
      int("unique_editors"),
    ],
    rows: [
      ["2024-03-01", "enwiki", 10, 3, 7, 1, -20, 5],
      ["2024-03-01", 'a "quoted", wiki', 1, 0, 1, 0, 4, 1],
      ["2024-03-02", "enwiki", 4, 4, 0, 0, 120, 2],
    ],
  },
};

/** Writes `marts` (all four by default) into the DuckDB file at `path`, and closes it. */
export async function writeMarts(
  path: string,
  marts: readonly string[] = Object.keys(MART_ROWS),
): Promise<void> {
  const warehouse = await openDuckDbWarehouse({ path, threads: 1 });
  try {
    for (const name of marts) {
      const { columns, rows } = MART_ROWS[name]!;
      const relation = { schema: SCHEMA, name };
      await warehouse.createTable(relation, columns);
      await warehouse.append(
        relation,
        columns.map((c) => c.name),
        rows,
      );
    }
  } finally {
    await warehouse.close();
  }
}
